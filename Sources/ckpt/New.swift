import ArgumentParser
import Engine
import Foundation
import Format

struct New: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a checkpoint with freshly initialised parameters for an architecture document.",
        discussion: """
        Parameters take PyTorch's defaults unless a rule says otherwise; the last matching rule wins:
          --init '*.weight=xavier_uniform' --init '*.bias=zeros' --init '0.weight=normal(0, 0.02)'
        Initialisers: default, zeros, ones, constant(v), normal(mean, std), uniform(a, b), xavier_uniform(gain),
        xavier_normal(gain), kaiming_uniform(a, mode, nonlinearity), kaiming_normal(a, mode, nonlinearity).
        One seed gives the same bytes on every machine (spec/ARCH.md).
        """)

    @Argument(help: "The architecture document (.json).")
    var arch: String

    @Option(name: .shortAndLong, help: "The .ckpt to write.")
    var output: String

    @Option(name: .customLong("init"), help: "PATTERN=INITIALIZER; may be repeated.")
    var rules: [String] = []

    @Option(help: "Seed of the random streams.")
    var seed: UInt64 = 0

    @Option(help: "Input shape (batch axis included, e.g. 1,20) from which sizes the document leaves out are inferred.")
    var inputShape: ShapeArgument?

    func run() throws {
        let document = try ArchitectureDocument.read(contentsOf: URL(fileURLWithPath: arch))
        let checkpoint: Checkpoint
        do {
            let parsed = try rules.map(InitRule.init(parsing:))
            checkpoint = try Initialization.checkpoint(for: document, rules: parsed, seed: seed, inputShape: inputShape?.shape)
        } catch let error as EngineError {
            throw error.naming(arch)
        } catch {
            throw error.attributed(to: arch)
        }
        try CheckpointFile.write(checkpoint, to: URL(fileURLWithPath: output))
        let specs = try checkpoint.architecture!.moduleTree().tensorSpecs()
        let parameters = specs.filter { $0.role == .parameter }.reduce(0) { $0 + $1.elementCount }
        Terminal.say("\(output): \(Terminal.count(checkpoint.tensors.count, "tensor")), \(ArchitecturePrinter.grouped(parameters)) parameter\(parameters == 1 ? "" : "s"), seed \(seed)")
    }
}
