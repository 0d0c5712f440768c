import ArgumentParser
import Catalog
import Engine
import Foundation
import Format

/// `ckpt verify`: parse, resolve (a file or a stored version), verify with the engine's one
/// verification path (`CheckpointVerifier`), print.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum and structural rule of a checkpoint, then its architecture and probes.",
        discussion: """
        FILE may be a file or a stored version (NAME@N, a tag, a hash prefix); both are checked alike.
        Exit status: 0 the checkpoint is good, 1 it is bad (each problem is named with where it is), \
        2 usage error (also: the device asked for is not on this machine, e.g. no OpenCL driver).
        """)

    @Argument(help: "A .ckpt, .safetensors, .npz, .npy or .pt file, or a stored version.")
    var file: String

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @Flag(name: .customLong("no-run"), help: "Check checksums and structure only: neither match the architecture against the tensors nor run the probes.")
    var noRun = false

    @Option(help: ArgumentHelp("Where the probes run: \(DeviceChoice.help); or all (the CPU and every OpenCL device, compared with each other).",
                               valueName: "device"))
    var device: DeviceChoice = .cpu

    /// The JSON `--json` prints.
    struct Report: Encodable {
        var file: String
        var ok: Bool
        var problems: [String]
        var tensors: Int
        var probeTensors: Int
        var chunks: Int
        var bytes: Int
        var probes: [ProbeResult] = []
        /// With several devices: per probe output, the largest difference of each device from the first (the CPU).
        var deviceComparisons: [DeviceComparison] = []
        var transplants: [TransplantResult] = []
    }

    /// One transplanted module rerun alone.
    struct TransplantResult: Encodable {
        var source: String
        var module: String
        var target: String
        var passed: Bool
        var problem: String?
        var note: String
    }

    struct ProbeResult: Encodable {
        var device: String
        var name: String
        var origin: String
        var maxAbsoluteError: Double
        var maxRelativeError: Double
        var rtol: Double
        var atol: Double
        var passed: Bool
    }

    func run() throws {
        let source: any Format.CheckpointSource
        do { source = try CheckpointResolver().source(file) } catch let error as CheckpointResolverError {
            throw CLIError.unresolved(error)
        }
        let verifier = CheckpointVerifier(run: !noRun, devices: device.selection)
        let found: CheckpointVerification
        let bar = ProgressBar("verifying")
        (source as? ContainerFileSource)?.progress = bar.callback
        do {
            defer { bar.finish() }
            found = try verifier.verify(source)
        } catch let error as OpenCLError where error.isMissingDevice {
            throw CLIError.usage(error.description) // the machine's problem, not the checkpoint's
        }
        try emit(Self.report(found))
    }

    static func report(_ found: CheckpointVerification) -> Report {
        Report(file: found.name, ok: found.ok, problems: found.problems.map(\.description), tensors: found.structure.tensors,
               probeTensors: found.structure.probeTensors, chunks: found.structure.chunks, bytes: found.structure.bytes,
               probes: found.probes.map { run in
                   ProbeResult(device: run.device, name: run.report.name, origin: run.report.origin.rawValue, maxAbsoluteError: run.maxAbsoluteError,
                               maxRelativeError: run.maxRelativeError, rtol: run.report.rtol, atol: run.report.atol, passed: run.report.passed)
               },
               deviceComparisons: found.deviceComparisons,
               transplants: found.transplants.map { module in
                   TransplantResult(source: module.sourceFile, module: module.source, target: module.target, passed: module.passed,
                                    problem: module.problem?.description, note: module.note)
               })
    }

    private func emit(_ report: Report) throws {
        if json {
            print(try Terminal.json(report))
            if !report.ok { throw ExitCode(1) }
            return
        }
        let name = report.file.escapedForDisplay
        for module in report.transplants {
            print("\(name): transplant '\(module.module.escapedForDisplay)' of \(module.source.escapedForDisplay) -> '\(module.target.escapedForDisplay)' \(module.passed ? "ok (\(module.note))" : "FAILED: \(module.problem ?? "")")")
        }
        for probe in report.probes {
            let place = device == .cpu ? "" : " on \(probe.device)"
            let errors = String(format: "max abs error %.3g, max rel error %.3g (rtol %g, atol %g)",
                                probe.maxAbsoluteError, probe.maxRelativeError, probe.rtol, probe.atol)
            print("\(name): probe '\(probe.name.escapedForDisplay)' (\(probe.origin))\(place) \(probe.passed ? "ok" : "FAILED"): \(errors)")
        }
        for c in report.deviceComparisons {
            print("\(name): probe '\(c.probe.escapedForDisplay)' output \(c.output): \(c.device) vs \(c.reference): "
                  + String(format: "max rel difference %.3g, max abs difference %.3g", c.maxRelativeDifference, c.maxAbsoluteDifference))
        }
        if report.ok {
            let probeTensors = report.probeTensors == 0 ? "" : ", \(Self.count(report.probeTensors, "probe tensor"))"
            print("\(name): ok (\(Self.count(report.tensors, "tensor"))\(probeTensors), \(Self.count(report.chunks, "chunk")), \(Terminal.bytes(report.bytes)) checked)")
        } else {
            for problem in report.problems { print("\(name): \(problem)") }
            print("\(name): BAD (\(Self.count(report.problems.count, "problem")))")
        }
        if !report.ok { throw ExitCode(1) }
    }

    /// `1 tensor`, `2 tensors`.
    static func count(_ n: Int, _ noun: String) -> String { Terminal.count(n, noun) }
}
