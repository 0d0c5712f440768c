import Foundation
import Format

/// Why a transplant was refused (nothing is written). Each case carries the facts.
public enum TransplantFailure: Error, Equatable, Sendable {
    /// The destination has no architecture document (it gives the result's architecture).
    case destinationWithoutArchitecture(destination: String)
    /// `--layers` or `--to` (`option`) does not select modules of `file`.
    case selection(option: String, file: String, error: FormatError)
    /// `--layers` and `--to` select different numbers of modules.
    case selectionCounts(sources: [String], targets: [String])
    /// A source path with no module of the same path in the destination (and no `--to`).
    case noTargetModule(source: String, destination: String, path: String)
    /// Selected pairs that do not fit, under `--on-mismatch fail`.
    case mismatches(source: String, destination: String, [TransplantMismatch])
    /// Every selected tensor mismatched and was skipped.
    case nothingToMove(source: String, destination: String)

    /// True for the ones the command line got wrong (exit 2), not the files.
    public var isUsage: Bool {
        if case .selectionCounts = self { return true }
        return false
    }
}

extension TransplantFailure: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .destinationWithoutArchitecture(destination):
            return "\(destination.escapedForDisplay): the destination has no architecture document (it gives the result's architecture)"
        case let .selection(option, file, error):
            return "\(file.escapedForDisplay): \(option): \(error.message)"
        case let .selectionCounts(sources, targets):
            return "--layers selects \(sources.count) module(s) (\(sources.joined(separator: ", ").escapedForDisplay)) but --to selects \(targets.count) (\(targets.joined(separator: ", ").escapedForDisplay))"
        case let .noTargetModule(source, destination, path):
            return "cannot transplant \(source.escapedForDisplay) into \(destination.escapedForDisplay): no module '\(path.escapedForDisplay)' in the destination (name one with --to)"
        case let .mismatches(source, destination, mismatches):
            return "cannot transplant \(source.escapedForDisplay) into \(destination.escapedForDisplay): \(mismatches.count) mismatch\(mismatches.count == 1 ? "" : "es") (nothing written; --on-mismatch skip keeps the destination's tensors):\n"
                + mismatches.map { "  " + $0.description.escapedForDisplay }.joined(separator: "\n")
        case let .nothingToMove(source, destination):
            return "cannot transplant \(source.escapedForDisplay) into \(destination.escapedForDisplay): nothing left to move (every selected tensor mismatched)"
        }
    }

    public var errorDescription: String? { description }
}

/// One side of a transplant: its checkpoint, the name it was given and the hash that names
/// it in provenance (a file's SHA-256, or a stored version's hash).
public struct TransplantInput {
    public var name: String
    public var checkpoint: Checkpoint
    public var hash: String
    public var hashOf: String

    public init(name: String, checkpoint: Checkpoint, hash: String, hashOf: String) {
        self.name = name
        self.checkpoint = checkpoint
        self.hash = hash
        self.hashOf = hashOf
    }
}

/// What `ckpt transplant` asks for.
public struct TransplantRequest {
    public var layers: String
    public var to: String?
    /// `FROM=TO` tensor-name prefix rewrites of the source, applied first.
    public var maps: [String]
    /// Keep the destination's tensor for each mismatch instead of refusing.
    public var skipMismatches: Bool

    public init(layers: String, to: String? = nil, maps: [String] = [], skipMismatches: Bool = false) {
        self.layers = layers
        self.to = to
        self.maps = maps
        self.skipMismatches = skipMismatches
    }
}

/// The result of a transplant, not yet written.
public struct TransplantOutcome {
    /// The destination with the moved tensors, its provenance in the metadata, its probes dropped.
    public var checkpoint: Checkpoint
    public var provenance: TransplantProvenance
    /// Mismatches skipped (each kept the destination's tensor).
    public var skipped: [TransplantMismatch]
    /// Modules that moved tensors but cannot run alone, so no probe is recorded for them.
    public var unprobed: [String]
    /// How many of the destination's probes were dropped (the network they describe changed).
    public var droppedProbes: Int
    public var movedTensors: Int
}

/// Transplant planning, probes and provenance: the library half of `ckpt transplant`.
public enum TransplantWorkflow {
    /// Plans the transplant of `request.layers` of `source` into `destination`, checks every
    /// pair, moves the tensors, records per module a probe (a seeded input and the output the
    /// module gave inside the source) and the provenance. Throws `TransplantFailure`.
    public static func transplant(_ source: TransplantInput, into destination: TransplantInput,
                                  _ request: TransplantRequest) throws -> TransplantOutcome {
        let rules = try request.maps.map(TransplantSelection.parseRule)
        var sourceCheckpoint = source.checkpoint
        if !rules.isEmpty { sourceCheckpoint = renaming(sourceCheckpoint, rules: rules) }
        guard let dstArchitecture = destination.checkpoint.architecture else {
            throw TransplantFailure.destinationWithoutArchitecture(destination: destination.name)
        }
        let dstDocument = try resolve(dstArchitecture.moduleTree(for: "transplant"), destination.checkpoint)
        let dstTree = try dstDocument.tree()
        // With --map the source's document no longer names its tensors: it is then read as a bare state_dict.
        var srcDocument: ArchitectureDocument?
        if rules.isEmpty, let architecture = source.checkpoint.architecture {
            srcDocument = try resolve(architecture.moduleTree(for: "transplant"), source.checkpoint)
        }
        let srcTree = try srcDocument?.tree()

        let sourcePaths: [String]
        do { sourcePaths = try TransplantSelection.resolve(request.layers, in: srcTree ?? dstTree) } catch let error as FormatError {
            throw TransplantFailure.selection(option: "--layers", file: srcTree == nil ? destination.name : source.name, error: error)
        }
        let targetPaths: [String]
        if let to = request.to {
            do { targetPaths = try TransplantSelection.resolve(to, in: dstTree) } catch let error as FormatError {
                throw TransplantFailure.selection(option: "--to", file: destination.name, error: error)
            }
            guard targetPaths.count == sourcePaths.count else { throw TransplantFailure.selectionCounts(sources: sourcePaths, targets: targetPaths) }
        } else {
            targetPaths = sourcePaths
            for path in targetPaths where dstTree.module(at: path) == nil {
                throw TransplantFailure.noTargetModule(source: source.name, destination: destination.name, path: path)
            }
        }
        let plan = try TransplantPlan(pairs: zip(sourcePaths, targetPaths).map { (source: $0.0, target: $0.1) },
                                      sourceTree: srcTree, source: sourceCheckpoint, targetTree: dstTree, target: destination.checkpoint)
        if !plan.mismatches.isEmpty, !request.skipMismatches {
            throw TransplantFailure.mismatches(source: source.name, destination: destination.name, plan.mismatches)
        }
        guard !plan.moves.isEmpty else { throw TransplantFailure.nothingToMove(source: source.name, destination: destination.name) }

        var result = plan.apply(source: sourceCheckpoint, to: destination.checkpoint)
        try checkArchitecture(dstDocument, against: result)
        var modules: [TransplantProvenance.Module] = []
        var unprobed: [String] = []
        for module in plan.modules {
            var probe: TransplantProvenance.ModuleProbe?
            if module.mismatches.isEmpty, !module.moves.isEmpty {
                // A module that cannot run alone (an Opaque part, no input shape) still moves; it is only not probed.
                probe = try? Self.probe(module, srcDocument: srcDocument, source: sourceCheckpoint, dstDocument: dstDocument)
                if probe == nil { unprobed.append(module.targetPath) }
            }
            modules.append(TransplantProvenance.Module(source: module.sourcePath, target: module.targetPath, tensors: module.moves,
                                                       skipped: module.mismatches, probe: probe))
        }
        let provenance = TransplantProvenance(source: source.name, sourceHash: source.hash, sourceHashOf: source.hashOf,
                                              destination: destination.name, layers: request.layers, to: request.to, maps: request.maps,
                                              modules: modules)
        result.metadata = provenance.appended(to: destination.checkpoint.metadata)
        let dropped = result.probes.count
        result.probes = []
        return TransplantOutcome(checkpoint: result, provenance: provenance, skipped: plan.mismatches, unprobed: unprobed,
                                 droppedProbes: dropped, movedTensors: plan.moves.count)
    }

    /// A seeded input of the module's input shape and the output the module gives inside the source.
    static func probe(_ module: TransplantModulePlan, srcDocument: ArchitectureDocument?, source: Checkpoint,
                      dstDocument: ArchitectureDocument) throws -> TransplantProvenance.ModuleProbe? {
        guard let shape = try ModuleRunner.inputShape(document: dstDocument, path: module.targetPath) else { return nil }
        let input = try ModuleRunner.seededInput(shape: shape)
        let network: Network
        if let srcDocument {
            network = try ModuleRunner.network(document: srcDocument, path: module.sourcePath, tensor: source.tensor(named:))
        } else {
            // A bare state_dict: the destination's module (checked to have the same tensors) with the source's values.
            let base = module.targetPath
            network = try ModuleRunner.network(document: dstDocument, path: base, tensor: { name in
                let relative = base.isEmpty ? name : String(name.dropFirst(base.count + 1))
                return source.tensor(named: joinPath(module.sourcePath, relative))
            })
        }
        return TransplantProvenance.ModuleProbe(input: input, output: try network.run(input))
    }

    /// Every tensor name (aliases too) rewritten by the first matching `--map` rule.
    static func renaming(_ checkpoint: Checkpoint, rules: [(from: String, to: String)]) -> Checkpoint {
        var result = checkpoint
        result.architecture = nil
        result.tensors = checkpoint.tensors.map { named in
            NamedTensor(name: TransplantSelection.mapped(named.name, rules: rules),
                        aliases: named.aliases.map { TransplantSelection.mapped($0, rules: rules) }, tensor: named.tensor)
        }
        return result
    }
}
