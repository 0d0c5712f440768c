import ArgumentParser
import Engine
import Foundation
import Format

/// `ckpt probe add|list`: inputs stored with their reference outputs, which `ckpt verify`
/// runs on the CPU engine.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Store inputs with reference outputs in a checkpoint; `ckpt verify` reruns them.",
        subcommands: [Add.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a probe to a .ckpt (the file is rewritten atomically).",
            discussion: "With --expect the probe holds ground truth from elsewhere (e.g. PyTorch). Without it the engine's own output is recorded: that guards against regressions but proves nothing about correctness.")

        @Argument(help: "The .ckpt to add the probe to.")
        var file: String

        @Option(help: "The probe's input (.npy).")
        var input: String

        @Option(help: "The expected output (.npy); omit to record the engine's own output.")
        var expect: String?

        @Option(help: "Relative tolerance.")
        var rtol: Double = 1e-5

        @Option(help: "Absolute tolerance.")
        var atol: Double = 1e-6

        @Option(help: "The probe's name (default: the input file's name).")
        var name: String?

        func validate() throws {
            guard rtol >= 0, atol >= 0 else { throw ValidationError("--rtol and --atol must not be negative") }
        }

        func run() throws {
            let url = URL(fileURLWithPath: file)
            guard try FileKind.detect(url) == .ckpt else { throw FormatError(.refused(what: "adding a probe", why: "probes are stored in .ckpt files only; import it first"), file: file) }
            var checkpoint = try CheckpointFile.read(contentsOf: url)
            let probeName = name ?? URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent
            guard !checkpoint.probes.contains(where: { $0.name == probeName }) else {
                throw CLIError.usage("\(file): a probe named '\(probeName)' exists already (choose another with --name)")
            }
            let x = try Npy.read(contentsOf: URL(fileURLWithPath: input))
            let probe: Probe
            var note: String
            if let expect {
                let y = try Npy.read(contentsOf: URL(fileURLWithPath: expect))
                probe = Probe(name: probeName, inputs: [x], outputs: [y], rtol: rtol, atol: atol, origin: .expected)
                note = "expected output from \(expect)"
                // Show at once how the engine does against it; a network that cannot run still gets its probe.
                if let actual = try? Network(checkpoint: checkpoint).run(x) {
                    let report = try compareOutput(actual, expected: y, rtol: rtol, atol: atol)
                    note += report.passed ? "; the engine agrees (max abs error \(ProbeCommand.number(report.maxAbsoluteError)))"
                                          : "; WARNING: the engine does not agree now (max abs error \(ProbeCommand.number(report.maxAbsoluteError)), max rel error \(ProbeCommand.number(report.maxRelativeError)))"
                }
            } else {
                let y: Tensor
                do { y = try Network(checkpoint: checkpoint).run(x) } catch let error as EngineError {
                    throw error.naming(file)
                }
                probe = Probe(name: probeName, inputs: [x], outputs: [y], rtol: rtol, atol: atol, origin: .recorded)
                note = "recorded the engine's own output: a guard against regressions, not evidence of correctness (give --expect for that)"
            }
            checkpoint.probes.append(probe)
            let codec = try ContainerReader(contentsOf: url).manifest.tensors.first?.codec ?? .default
            try CheckpointFile.write(checkpoint, to: url, options: WriteOptions(codec: codec))
            Terminal.say("\(file): probe '\(probeName)' added, input \(Tensor.describe(x.shape)), output \(Tensor.describe(probe.outputs[0].shape)), rtol \(rtol), atol \(atol); \(note)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a checkpoint's probes.")

        @Argument(help: "A .ckpt.")
        var file: String

        @Flag(help: "Print JSON for scripts.")
        var json = false

        /// One probe as `--json` prints it.
        struct Entry: Encodable {
            var name: String
            var origin: String
            var inputs: [[Int]]
            var outputs: [[Int]]
            var rtol: Double
            var atol: Double
        }

        func run() throws {
            let checkpoint = try CheckpointFile.read(contentsOf: URL(fileURLWithPath: file))
            if json {
                return print(try Terminal.json(checkpoint.probes.map { probe in
                    Entry(name: probe.name, origin: probe.origin.rawValue, inputs: probe.inputs.map(\.shape),
                          outputs: probe.outputs.map(\.shape), rtol: probe.rtol, atol: probe.atol)
                }))
            }
            let rows = checkpoint.probes.map { probe in
                [probe.name, probe.origin.rawValue, probe.inputs.map { Tensor.describe($0.shape) }.joined(separator: " "),
                 probe.outputs.map { Tensor.describe($0.shape) }.joined(separator: " "), "\(probe.rtol)", "\(probe.atol)"]
            }
            Terminal.say(block: rows.isEmpty ? "\(file): no probes" : Terminal.table(["name", "origin", "inputs", "outputs", "rtol", "atol"], rows))
        }
    }

    static func number(_ value: Double) -> String { value.isFinite ? String(format: "%.3g", value) : "\(value)" }
}
