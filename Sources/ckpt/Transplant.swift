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

    @Option(name: .shortAndLong, help: "The file to write: OUT.ckpt (which alone keeps the provenance and probes), or .pt, .safetensors, .npz.")
    var output: String

    func run() throws {
        let format = try OutputFile.format(output)
        let resolver = CheckpointResolver()
        let src = try Self.input(source, resolver)
        let dst = try Self.input(destination, resolver)
        let outcome: TransplantOutcome
        do {
            outcome = try TransplantWorkflow.transplant(src, into: dst, TransplantRequest(layers: layers, to: to, maps: maps,
                                                                                            skipMismatches: onMismatch == .skip))
        } catch let error as TransplantFailure where error.isUsage {
            throw CLIError.usage(error.description)
        }
        for mismatch in outcome.skipped { print("skipped \(mismatch.description.escapedForDisplay): kept the destination's tensor") }
        for path in outcome.unprobed { Terminal.warn("module '\(path.escapedForDisplay)': cannot run it alone, so no probe is recorded for it") }
        if outcome.droppedProbes > 0 {
            print("dropped \(Terminal.count(outcome.droppedProbes, "probe")) of the destination: the network they describe has changed")
        }
        try OutputFile.write(outcome.checkpoint, as: format, to: output, label: "writing")
        let dropped = format.leftOut(of: outcome.checkpoint)
        if !dropped.isEmpty { Terminal.warn("note: \(format.rawValue) cannot hold \(dropped.joined(separator: " or ")); left out (write a .ckpt to keep the provenance)") }
        for module in outcome.provenance.modules {
            let shapes = module.probe.map { " (probe \(Tensor.describe($0.input.shape)) -> \(Tensor.describe($0.output.shape)))" } ?? ""
            let from = module.source.isEmpty ? "(root)" : module.source.escapedForDisplay
            let into = module.target.isEmpty ? "(root)" : module.target.escapedForDisplay
            print("  \(from) -> \(into): \(Terminal.count(module.tensors.count, "tensor"))\(module.skipped.isEmpty ? "" : ", \(module.skipped.count) skipped")\(shapes)")
        }
        if src.hashOf == "store version hash", dst.hashOf == "store version hash" {
            print("save it with both parents: ckpt save \(output) --parent \(destination) --parent \(source) -m 'graft \(layers) from \(source)'")
        }
        let moved = outcome.movedTensors
        print("\(output): \(Terminal.count(moved, "tensor")) of \(source) (sha256 \(src.hash.prefix(12))) grafted into \(destination)")
    }

    /// SRC or DST through the one resolver: a file (its SHA-256) or a stored version (its hash).
    static func input(_ argument: String, _ resolver: CheckpointResolver) throws -> TransplantInput {
        let source: any Format.CheckpointSource
        do { source = try resolver.source(argument) } catch let error as CheckpointResolverError {
            throw CLIError.unresolved(error)
        }
        let checkpoint: Checkpoint
        do { checkpoint = try source.checkpoint() } catch { throw error.attributed(to: argument) }
        let identity = try CheckpointResolver.identity(of: source)
        return TransplantInput(name: argument, checkpoint: checkpoint, hash: identity.hash, hashOf: identity.of)
    }
}
