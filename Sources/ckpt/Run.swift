import ArgumentParser
import Engine
import Foundation
import Format

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a checkpoint's network on its inputs (.npy) and write its outputs (.npy).",
        discussion: """
        A module tree takes one input and gives one output. A graph (imported from a torch.export \
        .pt2) takes its inputs in the graph's order, `--input` once each, of the dtype the graph \
        declares (token ids as integers), and gives its outputs in order: give `--output` once per \
        output, or once with a path containing `{}`, which is replaced by 0, 1, ... Floats are \
        written as f32, integers as i64, booleans as bool.
        """)

    @Argument(help: "A .ckpt that carries an architecture document.")
    var file: String

    @Option(help: "An input .npy (repeat for several, in the graph's input order).")
    var input: [String] = []

    @Option(help: "Where to write an output .npy (repeat for several, or one path with `{}`).")
    var output: [String] = []

    @Option(help: ArgumentHelp("Where the network runs: \(DeviceChoice.help).", valueName: "device"))
    var device: DeviceChoice = .cpu

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give at least one --input") }
        guard !output.isEmpty else { throw ValidationError("give at least one --output") }
    }

    func run() throws {
        let backend = try device.backend()
        let checkpoint = try Importer.load(contentsOf: URL(fileURLWithPath: file))
        let inputs = try input.map { try Npy.read(contentsOf: URL(fileURLWithPath: $0)) }
        let outputs: [Tensor]
        let started = Date()
        do {
            outputs = try makeNetwork(for: checkpoint, backend: backend).run(inputs)
        } catch let error as EngineError {
            throw error.naming(file)
        } catch {
            throw error.attributed(to: file)
        }
        let seconds = Date().timeIntervalSince(started)
        let paths = try outputPaths(count: outputs.count)
        for (tensor, path) in zip(outputs, paths) { try Npy.write(tensor, to: URL(fileURLWithPath: path)) }
        let given = inputs.map { "\($0.dtype.rawValue)\(Tensor.describe($0.shape))" }.joined(separator: ", ")
        for (tensor, path) in zip(outputs, paths) {
            Terminal.say("\(path): \(tensor.dtype.rawValue)\(Tensor.describe(tensor.shape)) from \(given) on \(backend.name) in \(String(format: "%.2f", seconds * 1000)) ms (load included)")
        }
    }

    /// One path per output: as given, or the one pattern with `{}` numbered.
    private func outputPaths(count: Int) throws -> [String] {
        if output.count == 1, output[0].contains("{}") {
            return (0 ..< count).map { output[0].replacingOccurrences(of: "{}", with: String($0)) }
        }
        guard output.count == count else {
            throw CLIError.usage("the network gives \(count) output\(count == 1 ? "" : "s"); give --output \(count == 1 ? "once" : "\(count) times, or once with {} in the path")")
        }
        return output
    }
}
