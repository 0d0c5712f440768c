import Foundation

/// The file kinds ckpt reads, told apart by their first bytes (and the extension
/// where the bytes cannot tell, as for a zip that might be .npz or a torch .pt).
public enum FileKind: String, Sendable {
    case ckpt, safetensors, npz, npy
    /// A `torch.save` file: a zip holding `<folder>/data.pkl`, or the legacy pre-1.6 format.
    case torch
    /// A `torch.export.save` archive: a zip holding `<folder>/archive_format` and `models/*.json`.
    case pt2
    /// A sharded Hugging Face checkpoint: `NAME.safetensors.index.json` naming its shards
    /// (`SafetensorsShards`), told by its name, since JSON has no magic bytes.
    case safetensorsIndex = "safetensors-index"

    public static func detect(_ url: URL) throws -> FileKind {
        try DetectedFile(url).kind
    }
}

/// A file whose kind has been detected, with what detection had to read: for a zip, the
/// mapped bytes and the parsed central directory (telling a torch zip from an npz means
/// parsing it). Reading the file through this value maps and parses nothing again.
public struct DetectedFile {
    public let url: URL
    public let kind: FileKind
    /// The mapped file and its parsed directory, when detection found a torch zip or a pt2 archive.
    let torchZip: (data: Data, zip: TorchZip)?

    /// Detects the kind of the file at `url`.
    public init(_ url: URL) throws {
        self.url = url
        (kind, torchZip) = try Self.detect(url)
    }

    private static func detect(_ url: URL) throws -> (FileKind, (data: Data, zip: TorchZip)?) {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw InteropFile.ioError("open", url, error)
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 16)) ?? Data())
        if SafetensorsShards.isIndex(url) { return (.safetensorsIndex, nil) }
        if head.starts(with: ContainerLimits.headerMagic) { return (.ckpt, nil) }
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) { return (.npy, nil) }
        if head.starts(with: TorchFile.legacyMagic) { return (.torch, nil) }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            // A zip is torch's when its folder holds data.pkl; numpy's .npz holds .npy members.
            if let data = try? InteropFile.mapped(url) {
                if let zip = TorchArchive.torchZip(data) { return (.torch, (data, zip)) }
                if let zip = ExportArchive.zip(data) { return (.pt2, (data, zip)) }
            }
            // A damaged torch file: let the torch or pt2 reader say what is wrong with it.
            let ext = url.pathExtension.lowercased()
            if ext == "pt2" { return (.pt2, nil) }
            return (["pt", "pth", "bin"].contains(ext) ? .torch : .npz, nil)
        }
        let ext = url.pathExtension.lowercased()
        if ext == "safetensors" || (head.count >= 9 && head[8] == UInt8(ascii: "{")) { return (.safetensors, nil) }
        throw FormatError(.unrecognisedFile(detail: "not a .ckpt, .safetensors (or a shard index .safetensors.index.json), .npz, .npy, torch .pt or torch.export .pt2"), file: url.path)
    }
}

/// How `Importer.load(contentsOf:options:)` picks and renames what it imports.
public struct ImportOptions: Sendable {
    /// A dotted path to the part of the file to import (`model` of a training checkpoint,
    /// `model.encoder`); names become relative to it. For files of flat names (safetensors,
    /// npz, .ckpt) it keeps the tensors named `KEY.*`.
    public var key: String?
    /// Prefixes removed from every tensor name, in order (`module.`, as DataParallel saves).
    public var stripPrefixes: [String]

    public init(key: String? = nil, stripPrefixes: [String] = []) {
        self.key = key
        self.stripPrefixes = stripPrefixes
    }
}

/// Loads any file ckpt can read into a `Checkpoint`.
public enum Importer {
    public static func load(contentsOf url: URL, options: ImportOptions) throws -> Checkpoint {
        do {
            return try load(DetectedFile(url), options: options)
        } catch {
            throw error.attributed(to: url.path)
        }
    }

    public static func load(contentsOf url: URL) throws -> Checkpoint {
        try load(contentsOf: url, options: ImportOptions())
    }

    /// Loads a file whose kind is already detected, reading it once: one memory budget for
    /// the whole input, and a torch zip's mapping and directory as detection left them.
    public static func load(_ file: DetectedFile, options: ImportOptions = ImportOptions(),
                            budget: MemoryBudget? = nil) throws -> Checkpoint {
        do {
            var checkpoint: Checkpoint
            let key = options.key.flatMap { $0.isEmpty ? nil : $0 }
            if file.kind == .torch {
                checkpoint = try TorchFile.read(file, key: key, budget: budget)
            } else if file.kind == .pt2 {
                checkpoint = try Pt2File.read(data: file.torchZip?.data ?? InteropFile.mapped(file.url), zip: file.torchZip?.zip, budget: budget)
                if let key { checkpoint = try selecting(key, from: checkpoint) }
            } else {
                checkpoint = try read(file, budget: budget ?? MemoryBudget())
                if let key { checkpoint = try selecting(key, from: checkpoint) }
            }
            if !options.stripPrefixes.isEmpty { checkpoint = try stripping(options.stripPrefixes, from: checkpoint) }
            return checkpoint
        } catch {
            throw error.attributed(to: file.url.path)
        }
    }

    private static func read(_ file: DetectedFile, budget: MemoryBudget) throws -> Checkpoint {
        let url = file.url
        switch file.kind {
        case .ckpt: return try CheckpointFile.read(contentsOf: url)
        case .safetensors: return try Safetensors.read(contentsOf: url)
        case .safetensorsIndex: return try SafetensorsShards.read(index: url)
        case .npz: return try Npz.read(contentsOf: url, budget: budget)
        case .torch: return try TorchFile.read(file, key: nil, budget: budget)
        case .pt2: return try Pt2File.read(data: file.torchZip?.data ?? InteropFile.mapped(file.url), zip: file.torchZip?.zip, budget: budget)
        case .npy:
            let name = url.deletingPathExtension().lastPathComponent
            return Checkpoint(tensors: [NamedTensor(name: name, tensor: try Npy.read(contentsOf: url, budget: budget))])
        }
    }

    /// The tensors named `key.*`, renamed without `key.`.
    static func selecting(_ key: String, from checkpoint: Checkpoint) throws -> Checkpoint {
        let prefix = key.hasSuffix(".") ? key : key + "."
        var result = checkpoint
        result.architecture = nil
        result.tensors = checkpoint.tensors.compactMap { named in
            let names = named.allNames.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            guard let first = names.first else { return nil }
            return NamedTensor(name: first, aliases: Array(names.dropFirst()), tensor: named.tensor)
        }
        guard !result.tensors.isEmpty else {
            throw FormatError(.context("no tensor name starts with '\(prefix)'", .notFound(kind: "key", name: key)))
        }
        // The nesting under the key, its tensor references renamed as the tensors were;
        // none when the key does not name a node, or the part is a flat state_dict.
        result.structure = checkpoint.structure?.subtree(at: key).map { part in
            part.renamingTensors { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 }
        }
        if result.structure?.isFlatStateDict == true || (try? result.validateStructure()) == nil { result.structure = nil }
        return result
    }

    /// Every name with the first matching prefix of each in turn removed.
    static func stripping(_ prefixes: [String], from checkpoint: Checkpoint) throws -> Checkpoint {
        func strip(_ name: String) -> String {
            var name = name
            for prefix in prefixes where !prefix.isEmpty && name.hasPrefix(prefix) && name.count > prefix.count {
                name.removeFirst(prefix.count)
            }
            return name
        }
        var result = checkpoint
        var seen: [String: String] = [:]
        var changed = false
        for index in result.tensors.indices {
            let named = result.tensors[index]
            let renamed = named.allNames.map(strip)
            for (old, new) in zip(named.allNames, renamed) {
                if old != new { changed = true }
                if let other = seen.updateValue(old, forKey: new) {
                    throw FormatError(.context("stripping prefixes makes '\(other)' and '\(old)' the same",
                                               .duplicateName(kind: "tensor", name: new)))
                }
            }
            result.tensors[index].name = renamed[0]
            result.tensors[index].aliases = Array(renamed.dropFirst())
        }
        // The structure's references follow the tensors; its keys stay as they were.
        result.structure = checkpoint.structure?.renamingTensors(strip)
        if changed, checkpoint.architecture != nil {
            throw Fault.refused("stripping prefixes", "it would rename the tensors of a checkpoint that carries an architecture document; pick a module with a key instead")

        }
        return result
    }
}
