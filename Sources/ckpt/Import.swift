import ArgumentParser
import Engine
import Foundation
import Format

extension Codec: ExpressibleByArgument {}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a .safetensors, .npz, .npy, torch .pt/.pth/.bin, torch.export .pt2 or .ckpt file into a compressed .ckpt (or the format the output's extension names).",
        discussion: "A .pt2 (torch.export.save) becomes a graph architecture document, its weights and constants under their state_dict names, and its example inputs as a probe named sample (inputs only; give it an expected output with ckpt probe add).")

    @Argument(help: "The file to import.")
    var source: String

    @Option(name: .shortAndLong, help: "The file to write: OUT.ckpt (also .safetensors, .npz, .pt, .pth, .bin).")
    var output: String

    @Option(help: "How tensors are stored: raw, zstd, shuffle-zstd or shuffle-ans.")
    var codec: Codec = .default

    @Option(help: "zstd level (1 is fastest and, on byte planes, also the tightest below 10).")
    var level: Int32 = 1

    @Option(help: "Import only this part of the file: a dotted path into a torch file's dicts and modules (e.g. model), or a name prefix.")
    var key: String?

    @Option(name: .customLong("strip-prefix"), help: "Remove this prefix from every tensor name (e.g. module.); repeatable.")
    var stripPrefix: [String] = []

    @Option(help: "An architecture document (spec/ARCH.md) to store with the weights; every parameter must match it in name and shape.")
    var arch: String?

    @Flag(help: "Print JSON for scripts.")
    var json = false

    struct Report: Encodable {
        var output: OutputFile.Written
        var raw: Int
        /// Stored tensor bytes (`.ckpt` only: the other formats store elements as they are).
        var stored: Int
        var codec: String?
    }

    func validate() throws {
        guard (-7...22).contains(level) else { throw ValidationError("--level must be between -7 and 22") }
    }

    func run() throws {
        let format = try OutputFile.format(output)
        var checkpoint = try Importer.load(contentsOf: URL(fileURLWithPath: source), options: ImportOptions(key: key, stripPrefixes: stripPrefix))
        if let arch {
            let document = try ArchitectureDocument.read(contentsOf: URL(fileURLWithPath: arch))
            do {
                checkpoint = try attachArchitecture(document, to: checkpoint)
            } catch let error as EngineError {
                throw error.naming(source) // keeps its one-line-per-mismatch list
            } catch {
                throw error.attributed(to: source)
            }
        }
        try OutputFile.write(checkpoint, as: format, to: output, options: WriteOptions(codec: codec, level: level, releasesSourcePages: true), label: "importing")
        let raw = checkpoint.tensors.reduce(0) { $0 + $1.tensor.data.count }
        guard format == .ckpt else {
            if json {
                print(try Terminal.json(Report(output: OutputFile.written(checkpoint, as: format, to: output), raw: raw, stored: raw, codec: nil)))
            } else {
                OutputFile.report(checkpoint, as: format, to: output)
                Import.noteOpaque(checkpoint)
            }
            return
        }
        let reader = try ContainerReader(contentsOf: URL(fileURLWithPath: output))
        let stored = reader.manifest.tensors.reduce(0) { $0 + $1.storedCount }
        if json {
            print(try Terminal.json(Report(output: OutputFile.written(checkpoint, as: format, to: output), raw: raw, stored: stored, codec: codec.rawValue)))
            return
        }
        Terminal.say("\(output): \(Terminal.count(reader.manifest.tensors.count, "tensor")), \(Terminal.bytes(raw)) raw, \(Terminal.bytes(stored)) stored (\(Terminal.ratio(stored, raw)) of raw, \(codec.rawValue))")
        Import.noteOpaque(checkpoint)
    }

    /// Says at import, not first at `ckpt run`, that the rebuilt network has Opaque modules
    /// (every one, with its reason) and how to export a runnable `.pt2` instead.
    static func noteOpaque(_ checkpoint: Checkpoint) {
        guard let document = checkpoint.architecture?.modules, let tree = try? document.tree() else { return }
        let opaque = Network.opaqueModules(tree)
        if !opaque.isEmpty { Terminal.say("note: \(EngineError.opaqueModules(opaque))") }
    }
}
