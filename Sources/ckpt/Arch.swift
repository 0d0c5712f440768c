import ArgumentParser
import Engine
import Foundation
import Format

struct Arch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a checkpoint's network as PyTorch prints a module, with shapes and parameter counts.",
        discussion: "FILE is a .ckpt or an architecture document (.json, see spec/ARCH.md). Shapes are shown for --input-shape, else the document's input_shape, else the first probe's input.")

    @Argument(help: "A .ckpt or an architecture document (.json).")
    var file: String

    @Option(help: "Input shape to trace, batch axis included, e.g. 1,20.")
    var inputShape: ShapeArgument?

    @Flag(help: "Print the architecture document itself (JSON).")
    var json = false

    func run() throws {
        let url = URL(fileURLWithPath: file)
        var shape = inputShape?.shape
        let architecture: Architecture
        var probeShape: [Int]?
        if url.pathExtension.lowercased() == "json" {
            architecture = try Architecture.read(contentsOf: url)
        } else {
            let checkpoint = try Importer.load(contentsOf: url)
            guard let carried = checkpoint.architecture else {
                throw CLIError.noArchitecture(file: file)
            }
            architecture = carried
            probeShape = checkpoint.probes.first?.inputs.first?.shape
        }
        if json {
            print(Terminal.jsonSafe(String(decoding: architecture.text, as: UTF8.self)), terminator: "")
            return
        }
        guard let document = architecture.modules else {
            // A graph prints as the module tree its nodes came from (their module paths), with op counts.
            do { Terminal.say(block: try GraphPrinter.render(architecture.graph!)) } catch { throw error.attributed(to: file) }
            return
        }
        if shape == nil, document.inputShape == nil { shape = probeShape }
        do { Terminal.say(block: try ArchitecturePrinter.render(document, inputShape: shape)) } catch { throw error.attributed(to: file) }
    }
}

/// A shape on the command line: sizes separated by commas (`1,20` or `64,1,28,28`).
struct ShapeArgument: ExpressibleByArgument {
    var shape: [Int]

    init?(argument: String) {
        let sizes = argument.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        shape = sizes.map { $0! }
    }
}
