import ArgumentParser
import Catalog
import Engine
import Foundation
import Format

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum and structural rule of a checkpoint.",
        discussion: "Exit status: 0 the checkpoint is good, 1 it is bad (each problem is named with where it is), 2 usage error.")

    @Argument(help: "A .ckpt, .safetensors, .npz or .npy file.")
    var file: String

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @Flag(name: .customLong("no-run"), help: "Check checksums and structure only: neither match the architecture against the tensors nor run the probes.")
    var noRun = false

    @Option(help: "Where the probes run: cpu, opencl, opencl:N, or all (every device, compared with each other).")
    var device: DeviceChoice = .cpu

    struct Report: Encodable {
        var file: String
        var ok: Bool
        var problems: [String]
        var tensors: Int
        var chunks: Int
        var bytes: Int
        var probes: [ProbeResult] = []
        /// With `--device all`: per probe output, the largest difference of each device from the first (the CPU).
        var deviceComparisons: [DeviceComparison] = []
        var transplants: [TransplantResult] = []
    }

    /// One transplanted module rerun alone (see `verifyTransplants`).
    struct TransplantResult: Encodable {
        var source: String
        var module: String
        var target: String
        var passed: Bool
        var problem: String?
        var note: String
    }

    struct DeviceComparison: Encodable {
        var probe: String
        var output: Int
        var device: String
        var reference: String
        var maxAbsoluteDifference: Double
        var maxRelativeDifference: Double
    }

    struct ProbeResult: Encodable {
        var device: String = "cpu"
        var name: String
        var origin: String
        var maxAbsoluteError: Double
        var maxRelativeError: Double
        var rtol: Double
        var atol: Double
        var passed: Bool
    }

    func run() throws {
        let url = URL(fileURLWithPath: file)
        guard FileManager.default.fileExists(atPath: file) else {
            // Not a file: a version in the store (NAME@N, a tag, a hash prefix), checked alike.
            guard var stored = try StoreVerification.report(for: file) else { throw CLIError.usage("\(file): no such file or stored version") }
            if stored.ok, !noRun, let store = try? StoreOptions.open(explicit: nil), let content = try? store.content(file),
               let checkpoint = try? store.checkpoint(of: content) {
                stored.problems += transplantProblems(checkpoint, into: &stored)
                stored.ok = stored.problems.isEmpty
            }
            try emit(stored)
            return
        }
        var report = Report(file: file, ok: true, problems: [], tensors: 0, chunks: 0, bytes: 0)
        do {
            if try FileKind.detect(url) == .ckpt {
                let reader = try ContainerReader(contentsOf: url)
                let found = reader.verify()
                report.problems = found.problems
                report.tensors = found.tensorsChecked
                report.chunks = found.chunksChecked
                report.bytes = found.bytesDecoded
                if found.ok, !noRun { report.problems += try functionalProblems(reader, into: &report) }
            } else {
                // Other formats have no checksums: reading them checks their structure.
                let checkpoint = try Importer.load(contentsOf: url)
                report.tensors = checkpoint.tensors.count
                report.bytes = checkpoint.tensors.reduce(0) { $0 + $1.tensor.data.count }
            }
        } catch let error as FormatError {
            report.problems.append(error.message)
        }
        report.ok = report.problems.isEmpty
        try emit(report)
    }

    /// The checks that need the engine: the document matches the tensors, and every
    /// probe's outputs are reproduced within its tolerance on the CPU.
    private func functionalProblems(_ reader: ContainerReader, into report: inout Report) throws -> [String] {
        guard reader.manifest.sections[Manifest.architectureSection] != nil else { return [] }
        let checkpoint = try reader.checkpoint()
        var problems: [String] = []
        if let bytes = checkpoint.architecture {
            do {
                try checkArchitecture(ArchitectureDocument.parse(bytes), against: checkpoint)
            } catch {
                problems.append("architecture: \((error as? FormatError)?.message ?? "\(error)")")
                return problems
            }
        }
        do {
            let backends = try device.backends()
            let runs = try backends.flatMap { backend in try verifyProbes(of: checkpoint, backend: backend).map { (backend, $0) } }
            for (backend, probe) in runs {
                let worstAbsolute = probe.outputs.map(\.maxAbsoluteError).max() ?? 0
                let worstRelative = probe.outputs.map(\.maxRelativeError).max() ?? 0
                report.probes.append(ProbeResult(device: backend.name, name: probe.name, origin: probe.origin.rawValue, maxAbsoluteError: worstAbsolute,
                                                 maxRelativeError: worstRelative, rtol: probe.rtol, atol: probe.atol, passed: probe.passed))
                if !probe.passed {
                    problems.append("probe '\(probe.name)'\(device == .cpu ? "" : " on \(backend.name)"): outputs differ beyond rtol \(probe.rtol), atol \(probe.atol) (max abs error \(worstAbsolute), max rel error \(worstRelative))")
                }
            }
            if backends.count > 1 { report.deviceComparisons = try compareDevices(checkpoint, backends) }
        } catch {
            if !checkpoint.probes.isEmpty { problems.append("cannot run probes: \(error)") }
        }
        problems += transplantProblems(checkpoint, into: &report)
        return problems
    }

    /// Each transplanted module (metadata `ckpt.transplant`), run alone, must give its source's output bit for bit.
    private func transplantProblems(_ checkpoint: Checkpoint, into report: inout Report) -> [String] {
        let found: [TransplantModuleReport]
        do { found = try verifyTransplants(of: checkpoint) } catch {
            return ["transplant: \(error)"]
        }
        var problems: [String] = []
        for module in found {
            report.transplants.append(TransplantResult(source: module.sourceFile, module: module.source, target: module.target,
                                                       passed: module.passed, problem: module.problem, note: module.note))
            if let problem = module.problem {
                problems.append("transplant '\(module.source)' of \(module.sourceFile) -> '\(module.target)': \(problem)")
            }
        }
        return problems
    }

    /// Runs each probe's input on every backend and compares each output with the first backend's.
    private func compareDevices(_ checkpoint: Checkpoint, _ backends: [Backend]) throws -> [DeviceComparison] {
        let networks = try backends.map { try Network(checkpoint: checkpoint, backend: $0) }
        var comparisons: [DeviceComparison] = []
        for probe in checkpoint.probes where probe.inputs.count == 1 {
            let outputs = try networks.map { try $0.run(probe.inputs[0]) }
            for (index, output) in outputs.enumerated().dropFirst() {
                let difference = try compareOutput(output, expected: outputs[0], rtol: 0, atol: 0)
                comparisons.append(DeviceComparison(probe: probe.name, output: 0, device: backends[index].name, reference: backends[0].name,
                                                    maxAbsoluteDifference: difference.maxAbsoluteError,
                                                    maxRelativeDifference: difference.maxRelativeError))
            }
        }
        return comparisons
    }

    private func emit(_ report: Report) throws {
        if !json {
            for module in report.transplants {
                print("\(report.file): transplant '\(module.module)' of \(module.source) -> '\(module.target)' \(module.passed ? "ok (\(module.note))" : "FAILED: \(module.problem ?? "")")")
            }
            for probe in report.probes {
                let place = device == .cpu ? "" : " on \(probe.device)"
                let errors = String(format: "max abs error %.3g, max rel error %.3g (rtol %g, atol %g)",
                                    probe.maxAbsoluteError, probe.maxRelativeError, probe.rtol, probe.atol)
                print("\(report.file): probe '\(probe.name)' (\(probe.origin))\(place) \(probe.passed ? "ok" : "FAILED"): \(errors)")
            }
        }
        if !json {
            for c in report.deviceComparisons {
                print("\(report.file): probe '\(c.probe)' output \(c.output): \(c.device) vs \(c.reference): "
                      + String(format: "max rel difference %.3g, max abs difference %.3g", c.maxRelativeDifference, c.maxAbsoluteDifference))
            }
        }
        if json {
            print(try Terminal.json(report))
        } else if report.ok {
            print("\(report.file): ok (\(report.tensors) tensors, \(report.chunks) chunks, \(Terminal.bytes(report.bytes)) checked)")
        } else {
            for problem in report.problems { print("\(report.file): \(problem)") }
            print("\(report.file): BAD (\(report.problems.count) problem\(report.problems.count == 1 ? "" : "s"))")
        }
        if !report.ok { throw ExitCode(1) }
    }
}
