import ArgumentParser
import Catalog
import Engine
import Foundation
import Format

enum MismatchPolicy: String, ExpressibleByArgument, CaseIterable {
    case fail, skip
}

struct Transplant: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move modules' tensors from one network into another, checked, with their provenance recorded.",
        discussion: """
        DST gives the architecture of the result, SRC the tensors of the selected modules. Every selected pair is checked \
        first (module type and configuration, every parameter and buffer by name, shape and dtype); a mismatch fails and \
        lists every difference, unless --on-mismatch skip keeps DST's tensor for each (and reports it). The result records \
        in its metadata (`ckpt.transplant`) the SHA-256 of SRC's file bytes (or SRC's stored version hash), source -> target \
        paths, every tensor moved, and per module a probe (a seeded input and the output the module gave inside SRC) that \
        `ckpt verify` reruns. DST's own probes are dropped: the network they describe has changed.
        Exit status: 0 written, 1 a mismatch or a bad file (nothing written), 2 usage error.
        """)

    @Argument(help: "Where the tensors come from: a file (any importable format, a bare state_dict too) or a store reference.")
    var source: String

    @Argument(help: "The network that receives them: a file or store reference with an architecture document.")
    var destination: String

    @Option(help: "The modules to take from SRC: a path (0.net), a list (0,2), a range of a Sequential (0:3) or a glob (encoder.layer.[0-1]).")
    var layers: String

    @Option(help: "Where in DST they go, in order (same forms as --layers); default: the same paths.")
    var to: String?

    @Option(name: .customLong("map"), help: "Rewrite SRC's tensor-name prefix FROM to TO before anything else (module.= strips DataParallel's prefix); repeatable.")
    var maps: [String] = []

    @Option(name: .customLong("on-mismatch"), help: "fail (default): refuse and list every difference; skip: keep DST's tensor for each and report it.")
    var onMismatch: MismatchPolicy = .fail

    @Option(name: .shortAndLong, help: "The .ckpt to write.")
    var output: String

    func run() throws {
        let rules = try maps.map(TransplantSelection.parseRule)
        let src = try TransplantInput.load(source)
        let dst = try TransplantInput.load(destination)
        var sourceCheckpoint = src.checkpoint
        if !rules.isEmpty { sourceCheckpoint = TransplantInput.renaming(sourceCheckpoint, rules: rules) }

        guard let dstData = dst.checkpoint.architecture else {
            throw FormatError("the destination has no architecture document (it gives the result's architecture)", file: destination)
        }
        let dstDocument = try TransplantInput.resolved(ArchitectureDocument.parse(dstData), dst.checkpoint)
        let dstTree = try dstDocument.tree()
        // With --map the source's document no longer names its tensors: it is then read as a bare state_dict.
        var srcDocument: ArchitectureDocument?
        if rules.isEmpty, let data = src.checkpoint.architecture {
            srcDocument = try TransplantInput.resolved(ArchitectureDocument.parse(data), src.checkpoint)
        }
        let srcTree = try srcDocument?.tree()

        let sourcePaths: [String]
        do {
            sourcePaths = try TransplantSelection.resolve(layers, in: srcTree ?? dstTree)
        } catch let error as FormatError { throw FormatError("--layers: \(error.message)", file: srcTree == nil ? destination : source) }
        let targetPaths: [String]
        if let to {
            do { targetPaths = try TransplantSelection.resolve(to, in: dstTree) } catch let error as FormatError {
                throw FormatError("--to: \(error.message)", file: destination)
            }
            guard targetPaths.count == sourcePaths.count else {
                throw CLIError.usage("--layers selects \(sourcePaths.count) module(s) (\(sourcePaths.joined(separator: ", "))) but --to selects \(targetPaths.count) (\(targetPaths.joined(separator: ", ")))")
            }
        } else {
            targetPaths = sourcePaths
            for path in targetPaths where dstTree.module(at: path) == nil {
                throw FormatError("cannot transplant \(source) into \(destination): no module '\(path)' in the destination (name one with --to)")
            }
        }
        let plan = try TransplantPlan(pairs: Array(zip(sourcePaths, targetPaths)).map { (source: $0.0, target: $0.1) },
                                      sourceTree: srcTree, source: sourceCheckpoint, targetTree: dstTree, target: dst.checkpoint)
        let mismatches = plan.mismatches
        if !mismatches.isEmpty, onMismatch == .fail {
            throw FormatError("cannot transplant \(source) into \(destination): \(mismatches.count) mismatch\(mismatches.count == 1 ? "" : "es") (nothing written; --on-mismatch skip keeps the destination's tensors):\n"
                + mismatches.map { "  " + $0.description }.joined(separator: "\n"))
        }
        for mismatch in mismatches { print("skipped \(mismatch.description): kept the destination's tensor") }
        guard !plan.moves.isEmpty else {
            throw FormatError("cannot transplant \(source) into \(destination): nothing left to move (every selected tensor mismatched)")
        }

        var result = plan.apply(source: sourceCheckpoint, to: dst.checkpoint)
        try checkArchitecture(dstDocument, against: result)
        var modules: [TransplantProvenance.Module] = []
        for module in plan.modules {
            var probe: TransplantProvenance.ModuleProbe?
            if module.mismatches.isEmpty, !module.moves.isEmpty {
                probe = try? Self.probe(module, srcDocument: srcDocument, source: sourceCheckpoint, dstDocument: dstDocument)
                if probe == nil { Terminal.warn("module '\(module.targetPath)': cannot run it alone, so no probe is recorded for it") }
            }
            modules.append(TransplantProvenance.Module(source: module.sourcePath, target: module.targetPath, tensors: module.moves,
                                                       skipped: module.mismatches, probe: probe))
        }
        let provenance = TransplantProvenance(source: source, sourceHash: src.hash, sourceHashOf: src.hashOf, destination: destination,
                                              layers: layers, to: to, maps: maps, modules: modules)
        result.metadata = provenance.appended(to: dst.checkpoint.metadata)
        if !result.probes.isEmpty {
            print("dropped \(result.probes.count) probe(s) of the destination: the network they describe has changed")
            result.probes = []
        }
        try CheckpointFile.write(result, to: URL(fileURLWithPath: output), options: WriteOptions())
        for module in modules {
            let shapes = module.probe.map { " (probe \(Tensor.describe($0.input.shape)) -> \(Tensor.describe($0.output.shape)))" } ?? ""
            print("  \(module.source.isEmpty ? "(root)" : module.source) -> \(module.target.isEmpty ? "(root)" : module.target): \(module.tensors.count) tensor\(module.tensors.count == 1 ? "" : "s")\(module.skipped.isEmpty ? "" : ", \(module.skipped.count) skipped")\(shapes)")
        }
        if src.hashOf == "store version hash", dst.hashOf == "store version hash" {
            print("save it with both parents: ckpt save \(output) --parent \(destination) --parent \(source) -m 'graft \(layers) from \(source)'")
        }
        print("\(output): \(plan.moves.count) tensor\(plan.moves.count == 1 ? "" : "s") of \(source) (sha256 \(src.hash.prefix(12))) grafted into \(destination)")
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
}

/// A transplant's SRC or DST: a file or a version in the store, with the hash that names it.
struct TransplantInput {
    var checkpoint: Checkpoint
    var hash: String
    var hashOf: String

    static func load(_ argument: String) throws -> TransplantInput {
        if FileManager.default.fileExists(atPath: argument) {
            let url = URL(fileURLWithPath: argument)
            let checkpoint = try Importer.load(contentsOf: url)
            let bytes: Data
            do { bytes = try Data(contentsOf: url, options: .alwaysMapped) } catch { throw FormatError("cannot read", file: argument) }
            return TransplantInput(checkpoint: checkpoint, hash: Digest.sha256(bytes), hashOf: "file bytes")
        }
        guard let store = try? StoreOptions.open(explicit: nil) else { throw CLIError.usage("\(argument): no such file or stored version") }
        let content: VersionContent
        do { content = try store.content(argument) } catch let error as CatalogError {
            throw CLIError.usage("\(argument): no such file, nor a version in \(store.path) (\(error))")
        }
        return TransplantInput(checkpoint: try store.checkpoint(of: content), hash: content.info.hash, hashOf: "store version hash")
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

    /// Lazy sizes filled in from the document's input shape, then from the tensors' shapes.
    static func resolved(_ document: ArchitectureDocument, _ checkpoint: Checkpoint) throws -> ArchitectureDocument {
        var shapes: [String: [Int]] = [:]
        for named in checkpoint.tensors {
            for name in named.allNames where shapes[name] == nil { shapes[name] = named.tensor.shape }
        }
        return try document.resolvingLazySizes().resolved(tensorShapes: shapes)
    }
}
