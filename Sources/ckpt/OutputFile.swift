import Catalog
import Foundation
import Format

/// How every verb that writes a checkpoint picks the format (`ExportFormat`, from the
/// output's extension) and says what it wrote: one definition for `export`, `import`,
/// `checkout` and `transplant`, so `-o best.pt` is a torch file whichever verb writes it.
enum OutputFile {
    /// The format `path` asks for, or `unknownExtension` (a usage error) naming what is accepted.
    static func format(_ path: String) throws -> ExportFormat {
        guard let format = ExportFormat(path: path) else {
            throw CLIError.unknownExtension(path: path, extension: URL(fileURLWithPath: path).pathExtension, accepted: ExportFormat.extensions)
        }
        return format
    }

    /// Writes `checkpoint` as `format` (a progress line for `.ckpt`, whose encoding takes time).
    static func write(_ checkpoint: Checkpoint, as format: ExportFormat, to path: String, options: WriteOptions = WriteOptions(),
                      label: String) throws {
        let bar = ProgressBar(label)
        defer { bar.finish() }
        try format.write(checkpoint, to: URL(fileURLWithPath: path), options: options, progress: format == .ckpt ? bar.callback : nil)
    }

    /// Writes `checkpoint` as safetensors shards beside `path` and their index (`SafetensorsShards`).
    static func writeShards(_ checkpoint: Checkpoint, to path: String, maxShardSize: Int) throws -> [URL] {
        let url = URL(fileURLWithPath: path)
        do { return try SafetensorsShards.write(checkpoint, to: url, maxShardSize: maxShardSize) } catch {
            throw error.attributed(to: path)
        }
    }

    /// One line per file written (`FILE: SIZE`: the shards, then the index), the count of
    /// tensors and shards, then what safetensors leaves out.
    static func reportShards(_ checkpoint: Checkpoint, files: [URL]) {
        for file in files { Terminal.say("\(file.path): \(Terminal.bytes(fileSize(file.path)))") }
        Terminal.say("\(Terminal.count(checkpoint.tensors.count, "tensor")) in \(Terminal.count(max(1, files.count - 1), "shard"))")
        warnLeftOut(checkpoint, as: .safetensors, to: files.first?.path ?? "")
    }

    /// On stderr, what `format` could not hold of `checkpoint` (nothing when it holds it all).
    static func warnLeftOut(_ checkpoint: Checkpoint, as format: ExportFormat, to path: String) {
        let dropped = format.leftOut(of: checkpoint)
        if !dropped.isEmpty {
            Terminal.warn("note: .\(URL(fileURLWithPath: path).pathExtension) (\(format.rawValue)) cannot hold \(dropped.joined(separator: " or ")); left out")
        }
    }

    /// The size of the file at `path` (0 when it cannot be read).
    static func fileSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// `path: N tensors, M aliases ...` and, on stderr, what the format could not hold.
    static func report(_ checkpoint: Checkpoint, as format: ExportFormat, to path: String) {
        let aliases = checkpoint.tensors.reduce(0) { $0 + $1.aliases.count }
        var line = "\(path): \(Terminal.count(checkpoint.tensors.count, "tensor"))"
        if aliases > 0 {
            let counted = ", " + Terminal.count(aliases, "alias")
            switch format {
            case .safetensors: line += counted + " kept once and listed in __metadata__ as ckpt.aliases"
            case .npz: line += counted + " written as copies"
            case .torch: line += counted + " sharing \(aliases == 1 ? "its" : "their") tensor's storage"
            case .ckpt: line += counted
            }
        }
        // What TorchWriter writes (`exportStructure`): the nesting only when it reaches every tensor.
        if format == .torch, !checkpoint.exportStructure.isFlatStateDict { line += ", with its nesting (dicts, lists, values)" }
        for kept in format.kept(of: checkpoint) { line += "; \(kept)" }
        Terminal.say(line)
        warnLeftOut(checkpoint, as: format, to: path)
    }

    /// What `--json` of a verb that wrote a file prints about it.
    struct Written: Encodable {
        var path: String
        var format: String
        var tensors: Int
        var aliases: Int
        var bytes: Int
        var leftOut: [String]
    }

    static func written(_ checkpoint: Checkpoint, as format: ExportFormat, to path: String) -> Written {
        Written(path: path, format: format.rawValue, tensors: checkpoint.tensors.count,
                aliases: checkpoint.tensors.reduce(0) { $0 + $1.aliases.count }, bytes: fileSize(path),
                leftOut: format.leftOut(of: checkpoint))
    }
}

/// A FILE|REF argument (`CheckpointResolver`: an existing file wins, else a stored
/// version), with the resolver's errors as the CLI's.
enum InputArgument {
    static func locate(_ argument: String, store: String?) throws -> CheckpointResolver.Target {
        do { return try CheckpointResolver(store: store).locate(argument) } catch let error as CheckpointResolverError {
            throw CLIError.unresolved(error)
        }
    }

    /// The whole checkpoint `argument` names: a file read by the importer, or a version
    /// read under the store's shared lock (every object checked end to end).
    static func checkpoint(_ argument: String, store: String?) throws -> Checkpoint {
        switch try locate(argument, store: store) {
        case .file(let url): return try Importer.load(contentsOf: url)
        case .version(let content, let store):
            let bar = ProgressBar("reading")
            defer { bar.finish() }
            // Resolved again under the lock, by its full hash: gc cannot remove it mid-read.
            return try store.reading { try store.checkpoint(of: try store.content(content.info.hash), progress: bar.callback) }
        }
    }
}
