import ArgumentParser
import Catalog
import Foundation
import Format

struct Save: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save a checkpoint into the store as a new version; prints its reference.",
        discussion: """
            FILE is a .ckpt or anything `ckpt import` reads. Tensors the store already holds are \
            not stored again. The parent is the model's latest version unless --parent says \
            otherwise; give --parent twice for a merge. REF is NAME@N, NAME@latest, NAME, a tag \
            or a version-hash prefix.
            """)

    @Argument(help: "The checkpoint to save.")
    var file: String

    @Option(help: "The model it is a version of (default: the file's name without extension).")
    var model: String?

    @Option(name: .shortAndLong, help: "What this version is.")
    var message: String = ""

    @Option(help: "Tag the new version (may be repeated).")
    var tag: [String] = []

    @Option(help: ArgumentHelp("A parent version (may be repeated: a merge).", valueName: "REF"))
    var parent: [String] = []

    @Option(help: "How new tensors are stored: raw, zstd, shuffle-zstd or shuffle-ans.")
    var codec: Codec = .default

    @Flag(name: .customLong("no-delta"), help: "Store every new tensor whole, not as a delta against the parent's (spec/CATALOG.md 2.1).")
    var noDelta = false

    @Option(help: "Save only this part of the file: a dotted path into a torch file's dicts and modules (e.g. model), or a name prefix.")
    var key: String?

    @Option(name: .customLong("strip-prefix"), help: "Remove this prefix from every tensor name (e.g. module.); repeatable.")
    var stripPrefix: [String] = []

    @Flag(help: "Print JSON for scripts (the new version's reference and hash).")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    /// What `--json` prints: a training script reads `reference` and `hash` from it.
    struct Report: Encodable {
        var reference: String
        var hash: String
        var model: String
        var number: Int
        var parents: [String]
        var tags: [String]
        var tensors: Int
        var probeTensors: Int
        var newObjects: Int
        var writtenBytes: Int
        var reusedObjects: Int
        var sameContentAs: String?

        init(_ result: SaveResult) {
            let version = result.version
            reference = version.reference
            hash = version.hash
            model = version.model
            number = version.number
            parents = version.parents.map(\.reference)
            tags = version.tags
            tensors = result.tensors
            probeTensors = result.probeTensors
            newObjects = result.newObjects
            writtenBytes = result.writtenBytes
            reusedObjects = result.reusedObjects
            sameContentAs = result.sameContentAs
        }
    }

    func run() throws {
        let url = URL(fileURLWithPath: file)
        guard FileManager.default.fileExists(atPath: file) else { throw CLIError.noSuchFile(file) }
        let store = try storeOptions.open()
        let name = model ?? Self.modelName(for: url)
        let checkpoint = try Importer.load(contentsOf: url, options: ImportOptions(key: key, stripPrefixes: stripPrefix))
        let bar = ProgressBar("saving")
        let result: SaveResult
        do {
            defer { bar.finish() }
            result = try store.save(SaveRequest(checkpoint: checkpoint, model: name, message: message, tags: tag,
                                                parents: parent.isEmpty ? nil : parent, codec: codec, deltas: !noDelta),
                                progress: bar.callback)
        }
        if json {
            print(try Terminal.json(Report(result)))
        } else {
            print(Self.summary(result).escapedForDisplay)
        }
    }

    /// `m@2 3fa2c1d0e9b8: 10 tensors (2 probe tensors), 3 new objects (1.2 MB written), 9 already stored; parent m@1`.
    /// Tensors are the checkpoint's, objects the store's (equal tensors share one).
    static func summary(_ result: SaveResult) -> String {
        let version = result.version
        var line = "\(version.reference) \(version.shortHash)\(StoreText.decoration(version)): \(StoreText.count(result.tensors, "tensor"))"
        if result.probeTensors > 0 { line += " (\(StoreText.count(result.probeTensors, "probe tensor")))" }
        line += ", \(StoreText.count(result.newObjects, "new object")) (\(Terminal.bytes(result.writtenBytes)) written), "
            + "\(result.reusedObjects) already stored"
        if !version.parents.isEmpty { line += "; parent \(version.parents.map(\.reference).joined(separator: ", "))" }
        if let same = result.sameContentAs { line += "; same content as \(same) (saved as a new version all the same)" }
        return line
    }

    /// `runs/bert-base.safetensors` -> `bert-base`.
    static func modelName(for url: URL) -> String {
        let base = url.deletingPathExtension().lastPathComponent
        return base.isEmpty ? url.lastPathComponent : base
    }
}
