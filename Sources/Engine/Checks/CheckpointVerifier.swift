import Foundation
import Format

/// One problem `verify` found, with its facts; the line printed is derived.
public enum VerificationProblem: Equatable, Sendable, CustomStringConvertible {
    /// A checksum, section or layout problem (the structural check's own line).
    case structure(String)
    /// The structure was clean but the checkpoint could not be loaded whole.
    case unloadable(String)
    /// The tensors do not fit the architecture document.
    case architecture([ArchitectureMismatch])
    /// The architecture document itself cannot be used (does not parse, shapes do not trace).
    case architectureUnusable(String)
    /// A probe's outputs differ beyond its tolerance on `device` (`showDevice`: more than the CPU was asked for).
    case probeFailed(probe: String, device: String, showDevice: Bool, maxAbsoluteError: Double, maxRelativeError: Double, rtol: Double, atol: Double)
    /// The network cannot run the probes at all (an Opaque module, a missing tensor, ...).
    case probesCannotRun(String)
    /// A transplanted module, rerun alone, failed.
    case transplantFailed(source: String, sourceFile: String, target: String, problem: TransplantModuleProblem)
    /// The transplant provenance cannot be checked at all.
    case transplantUnchecked(String)

    public var description: String {
        switch self {
        case let .structure(line): return line
        case let .unloadable(why): return "cannot load: \(why)"
        case let .architecture(mismatches):
            return "architecture: \(EngineError.architectureMismatch(mismatches).description)"
        case let .architectureUnusable(why): return "architecture: \(why)"
        case let .probeFailed(probe, device, showDevice, maxAbs, maxRel, rtol, atol):
            return "probe '\(probe.escapedForDisplay)'\(showDevice ? " on \(device)" : ""): outputs differ beyond rtol \(rtol), atol \(atol) (max abs error \(maxAbs), max rel error \(maxRel))"
        case let .probesCannotRun(why): return "cannot run probes: \(why)"
        case let .transplantFailed(source, sourceFile, target, problem):
            return "transplant '\(source.escapedForDisplay)' of \(sourceFile.escapedForDisplay) -> '\(target.escapedForDisplay)': \(problem)"
        case let .transplantUnchecked(why): return "transplant: \(why)"
        }
    }
}

/// One probe run on one device.
public struct ProbeRun: Sendable {
    public var device: String
    public var report: ProbeReport
    public var maxAbsoluteError: Double { report.outputs.map(\.maxAbsoluteError).max() ?? 0 }
    public var maxRelativeError: Double { report.outputs.map(\.maxRelativeError).max() ?? 0 }
}

/// With several devices: per probe output, the largest difference of each device from the first.
public struct DeviceComparison: Sendable, Encodable, Equatable {
    public var probe: String
    public var output: Int
    public var device: String
    public var reference: String
    public var maxAbsoluteDifference: Double
    public var maxRelativeDifference: Double
}

/// Everything `verify` found about one source.
public struct CheckpointVerification: Sendable {
    /// The source's display name.
    public var name: String
    /// What the structural check counted (tensors and probe tensors apart).
    public var structure: StructureVerification
    /// Every problem, in the order found: structure, architecture, probes, transplants.
    public var problems: [VerificationProblem] = []
    /// Every probe on every chosen device, in device order.
    public var probes: [ProbeRun] = []
    public var deviceComparisons: [DeviceComparison] = []
    /// Every transplanted module, rerun alone.
    public var transplants: [TransplantModuleReport] = []
    /// Whether the functional checks (architecture, probes, transplants) ran.
    public var ran = false
    public var ok: Bool { problems.isEmpty }
}

/// The one verification path for files and store references alike: the structure first;
/// then, unless told not to run and when the structure is clean, the architecture against
/// the tensors, every probe on every chosen device, the devices compared with each other,
/// and every transplanted module rerun alone.
public struct CheckpointVerifier {
    /// Whether to run the checks that need the engine (`--no-run` turns this off).
    public var run: Bool
    /// Where the probes run.
    public var devices: DeviceSelection
    /// Bounds the memory each network's plans allocate.
    public var budget: MemoryBudget

    public init(run: Bool = true, devices: DeviceSelection = .cpu, budget: MemoryBudget = MemoryBudget()) {
        self.run = run
        self.devices = devices
        self.budget = budget
    }

    /// Verifies `source`. Every fault of the checkpoint is a problem in the result; the only
    /// error thrown is the machine lacking a chosen device (`OpenCLError.isMissingDevice`),
    /// raised before anything is checked, as it says nothing about the checkpoint.
    public func verify(_ source: any CheckpointSource) throws -> CheckpointVerification {
        let backends = run ? try devices.backends() : []
        // A weights-only file has nothing to run: its structural check is the whole check, and
        // nothing of it is kept (bounded memory however large the file).
        let loads = run && source.hasChecksBeyondStructure
        var result = CheckpointVerification(name: source.displayName, structure: source.verifyStructure(keepingContents: loads))
        result.problems = result.structure.problems.map(VerificationProblem.structure)
        guard loads, result.structure.ok else { return result }
        let checkpoint: Checkpoint
        do { checkpoint = try source.checkpoint() } catch {
            result.problems.append(.unloadable(Self.describe(error)))
            return result
        }
        result.ran = true
        if let architecture = checkpoint.architecture {
            do {
                try checkArchitecture(try architecture.moduleTree(for: "checking the architecture"), against: checkpoint)
            } catch let error as EngineError {
                if case .architectureMismatch(let mismatches) = error.root {
                    result.problems.append(.architecture(mismatches))
                } else {
                    result.problems.append(.architectureUnusable(error.description))
                }
                return result
            } catch {
                result.problems.append(.architectureUnusable(Self.describe(error)))
                return result
            }
            runProbes(checkpoint, on: backends, into: &result)
        } else if !checkpoint.probes.isEmpty {
            result.problems.append(.probesCannotRun(EngineError.noArchitecture.description))
        }
        checkTransplants(checkpoint, into: &result)
        return result
    }

    private func runProbes(_ checkpoint: Checkpoint, on backends: [Backend], into result: inout CheckpointVerification) {
        guard !checkpoint.probes.isEmpty else { return }
        do {
            var outputs: [[Tensor]] = [] // per backend, per probe: the first output
            for backend in backends {
                let network = try Network(checkpoint: checkpoint, backend: backend, budget: budget)
                var mine: [Tensor] = []
                for probe in checkpoint.probes {
                    let (report, output) = try verifyProbe(probe, on: network)
                    result.probes.append(ProbeRun(device: backend.name, report: report))
                    mine.append(output)
                    if !report.passed {
                        let run = result.probes[result.probes.count - 1]
                        result.problems.append(.probeFailed(probe: probe.name, device: backend.name, showDevice: !devices.isCPUOnly,
                                                            maxAbsoluteError: run.maxAbsoluteError, maxRelativeError: run.maxRelativeError,
                                                            rtol: probe.rtol, atol: probe.atol))
                    }
                }
                outputs.append(mine)
            }
            for (index, backend) in backends.enumerated().dropFirst() {
                for (k, probe) in checkpoint.probes.enumerated() {
                    let difference = try compareOutput(outputs[index][k], expected: outputs[0][k], rtol: 0, atol: 0)
                    result.deviceComparisons.append(DeviceComparison(probe: probe.name, output: 0, device: backend.name, reference: backends[0].name,
                                                                     maxAbsoluteDifference: difference.maxAbsoluteError,
                                                                     maxRelativeDifference: difference.maxRelativeError))
                }
            }
        } catch {
            result.problems.append(.probesCannotRun(Self.describe(error)))
        }
    }

    private func checkTransplants(_ checkpoint: Checkpoint, into result: inout CheckpointVerification) {
        do {
            result.transplants = try verifyTransplants(of: checkpoint)
        } catch {
            result.problems.append(.transplantUnchecked(Self.describe(error)))
            return
        }
        for module in result.transplants {
            if let problem = module.problem {
                result.problems.append(.transplantFailed(source: module.source, sourceFile: module.sourceFile, target: module.target, problem: problem))
            }
        }
    }

    static func describe(_ error: Error) -> String {
        if let error = error as? FormatError { return error.message }
        return "\(error)".escapedForDisplay
    }
}
