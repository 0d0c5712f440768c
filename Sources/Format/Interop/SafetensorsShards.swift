import Foundation

/// Hugging Face's sharded safetensors, as `save_pretrained(max_shard_size=...)` writes it:
/// `NAME.safetensors.index.json` (`{"metadata": {"total_size": N, ...}, "weight_map":
/// {tensor: shard file}}`) beside the shards `NAME-0000K-of-0000N.safetensors`, each an
/// ordinary safetensors file. Reading gives one checkpoint; writing splits one.
///
/// The index is as hostile as any file: it is bounded in size, every shard name is a plain
/// file name in the index's own folder (no path separators, no `..`), every tensor of every
/// shard must be listed in `weight_map` under that shard, and every listed tensor must be in
/// its shard. The index's `metadata` becomes the checkpoint's (less `total_size` and
/// `total_parameters`, which the tensors themselves say); ckpt's own keys (`ckpt.structure`,
/// `ckpt.metadata`) travel there, and aliases in each shard's `ckpt.aliases` as in one file.
public enum SafetensorsShards {
    /// How an index file's name ends.
    public static let indexSuffix = ".safetensors.index.json"
    /// The largest index read (the Rust crate's header limit): a real one is kilobytes.
    static let maxIndexLength = 100_000_000
    /// Index metadata that describes the shards rather than the checkpoint.
    static let sizeKeys: Set<String> = ["total_size", "total_parameters"]

    /// Whether `url` names a shard index (by its name: the JSON inside is checked on reading).
    public static func isIndex(_ url: URL) -> Bool {
        url.lastPathComponent.lowercased().hasSuffix(indexSuffix)
    }

    // MARK: Reading

    /// The shard files an index's bytes name, in order, after every check of the index alone
    /// (its size, JSON shape, the file names): what `read(index:)` would open.
    public static func shardFiles(inIndex data: Data) throws -> [String] {
        try ShardIndex.parse(data, file: "index").shards
    }

    /// The checkpoint the index at `url` and its shards hold together. Errors name the file
    /// they are about (the index, or one shard).
    public static func read(index url: URL) throws -> Checkpoint {
        let index = try ShardIndex.parse(InteropFile.mapped(url), file: url.path)
        let folder = url.deletingLastPathComponent()
        var tensors: [NamedTensor] = []
        var seen = Set<String>()
        for shard in index.shards {
            let shardURL = folder.appendingPathComponent(shard)
            let part: Checkpoint
            do { part = try Safetensors.read(contentsOf: shardURL) } catch { throw error.attributed(to: shardURL.path) }
            let listed = index.tensorsByShard[shard, default: []]
            for named in part.tensors {
                guard listed.contains(named.name) else {
                    throw FormatError(.malformed(what: "tensor '\(named.name)'",
                                                 detail: "it is in shard '\(shard)' but weight_map does not place it there"),
                                      file: url.path)
                }
                for name in named.allNames {
                    guard seen.insert(name).inserted else { throw FormatError(.duplicateName(kind: "tensor", name: name), file: url.path) }
                }
            }
            let present = Set(part.tensors.map(\.name))
            if let missing = listed.sorted().first(where: { !present.contains($0) }) {
                throw FormatError(.notFound(kind: "tensor '\(missing)' of weight_map in shard", name: shard), file: url.path)
            }
            tensors += part.tensors
        }
        var metadata = index.metadata
        var structure: CheckpointStructure?
        do {
            if let entry = metadata.removeValue(forKey: Safetensors.structureKey) {
                guard case .string(let text) = entry else {
                    throw Fault.invalid("metadata['\(Safetensors.structureKey)']", entry.jsonText, expected: "the structure's JSON as a string")
                }
                let decoded = try CheckpointStructure.decode(Data(text.utf8))
                try decoded.validate(against: seen)
                structure = decoded
            }
        } catch { throw error.attributed(to: url.path) }
        let checkpointMetadata: JSONValue?
        if let text = metadata.removeValue(forKey: Safetensors.nonObjectMetadataKey)?.stringValue, metadata.isEmpty {
            checkpointMetadata = try? JSONValue.parse(Data(text.utf8))
        } else {
            checkpointMetadata = metadata.isEmpty ? nil : .object(metadata)
        }
        return Checkpoint(tensors: tensors, metadata: checkpointMetadata, structure: structure)
    }

    // MARK: Writing

    /// The files `write` makes for `url` (`DIR/NAME.safetensors`), in order: the shards, then
    /// the index; a checkpoint that fits in one shard is one file at `url` and no index, as
    /// `save_pretrained` does.
    public struct Layout: Equatable, Sendable {
        /// One shard file and the names (primary) of the tensors it holds.
        public struct Shard: Equatable, Sendable {
            public var file: String
            public var tensors: [String]
        }
        public var shards: [Shard]
        /// The index's file name, or nil for one unsharded file.
        public var index: String?
    }

    /// Splits `checkpoint` into shards of at most `maxShardSize` bytes of tensor data the way
    /// huggingface_hub's `split_torch_state_dict_into_shards` does: tensors in order, a new
    /// shard when the next tensor would overflow the current one, a tensor larger than the
    /// limit alone in a shard of its own. Aliases stay with their tensor.
    public static func layout(_ checkpoint: Checkpoint, named url: URL, maxShardSize: Int) throws -> Layout {
        guard maxShardSize > 0 else { throw Fault.invalid("max shard size", String(maxShardSize), expected: "a positive number of bytes") }
        var groups: [[String]] = []
        var current: [String] = []
        var size = 0
        for named in checkpoint.tensors {
            let bytes = named.tensor.data.count
            if bytes > maxShardSize {
                groups.append([named.name])
                continue
            }
            let (sum, overflow) = size.addingReportingOverflow(bytes)
            if !current.isEmpty && (overflow || sum > maxShardSize) {
                groups.append(current)
                current = []
                size = 0
            }
            current.append(named.name)
            size += bytes
        }
        if !current.isEmpty || groups.isEmpty { groups.append(current) }
        let base = url.deletingPathExtension().lastPathComponent
        guard groups.count > 1 else { return Layout(shards: [Layout.Shard(file: url.lastPathComponent, tensors: groups[0])], index: nil) }
        let digits = max(5, String(groups.count).count)
        func number(_ n: Int) -> String { String(repeating: "0", count: max(0, digits - String(n).count)) + String(n) }
        let shards = groups.enumerated().map { offset, names in
            Layout.Shard(file: "\(base)-\(number(offset + 1))-of-\(number(groups.count)).safetensors", tensors: names)
        }
        return Layout(shards: shards, index: base + indexSuffix)
    }

    /// Writes `checkpoint` as shards of at most `maxShardSize` bytes beside `url` and their
    /// index (`layout`), each file atomically and the index last, so a reader never finds an
    /// index whose shards are not all there; on failure every file written is removed.
    /// Each shard's metadata says `{"format": "pt"}` (transformers refuses a shard whose
    /// metadata lacks it); the checkpoint's metadata and structure go in the index.
    /// Returns the files written.
    @discardableResult
    public static func write(_ checkpoint: Checkpoint, to url: URL, maxShardSize: Int) throws -> [URL] {
        let plan = try layout(checkpoint, named: url, maxShardSize: maxShardSize)
        guard let indexName = plan.index else {
            try Safetensors.write(checkpoint, to: url)
            return [url]
        }
        try checkpoint.validateStructure()
        let folder = url.deletingLastPathComponent()
        let byName = Dictionary(checkpoint.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var written: [URL] = []
        do {
            var weightMap: [(String, String)] = []
            var totalSize = 0
            for shard in plan.shards {
                let tensors = shard.tensors.compactMap { byName[$0] }
                let part = Checkpoint(tensors: tensors, metadata: .object(["format": .string("pt")]))
                let shardURL = folder.appendingPathComponent(shard.file)
                try Safetensors.write(part, to: shardURL)
                written.append(shardURL)
                for named in tensors {
                    totalSize = try checkedAdd(totalSize, named.tensor.data.count, "the total size of the shards")
                    // Primary names only: transformers takes every weight_map key for a tensor
                    // in that file; aliases travel in the shard's own ckpt.aliases.
                    weightMap.append((named.name, shard.file))
                }
            }
            // The index is JSON: metadata keeps its JSON values (a shard's could hold strings only).
            var metadata: [String: JSONValue]
            switch checkpoint.metadata {
            case nil: metadata = [:]
            case .object(let object)?: metadata = object
            case let value?: metadata = [Safetensors.nonObjectMetadataKey: .string(String(decoding: try value.serialized(), as: UTF8.self))]
            }
            for key in sizeKeys.union([Safetensors.structureKey]) where metadata[key] != nil {
                throw Fault.refused("metadata key '\(key)'", "a shard index reserves it")
            }
            metadata["total_size"] = .number(Double(totalSize))
            if let structure = checkpoint.structure, !structure.isFlatStateDict {
                metadata[Safetensors.structureKey] = .string(String(decoding: try structure.encoded(), as: UTF8.self))
            }
            let indexURL = folder.appendingPathComponent(indexName)
            let file = try AtomicFile(destination: indexURL)
            try file.write(ShardIndex.text(metadata: metadata, weightMap: weightMap))
            try file.commit()
            written.append(indexURL)
            return written
        } catch {
            for url in written { try? FileManager.default.removeItem(at: url) }
            throw error
        }
    }
}

/// A parsed, validated `*.safetensors.index.json`.
struct ShardIndex {
    /// The index's `metadata` object (values kept as JSON).
    var metadata: [String: JSONValue]
    /// Shard file names, in their own numbering (sorted).
    var shards: [String]
    /// The tensor names `weight_map` places in each shard.
    var tensorsByShard: [String: Set<String>]

    static func parse(_ data: Data, file: String) throws -> ShardIndex {
        func bad(_ detail: String) -> FormatError { FormatError(.malformed(what: "shard index", detail: detail), file: file) }
        guard data.count <= SafetensorsShards.maxIndexLength else {
            throw FormatError(.limitExceeded(what: "shard index bytes", value: UInt64(data.count), limit: UInt64(SafetensorsShards.maxIndexLength)), file: file)
        }
        let value: JSONValue
        do { value = try JSONValue.parse(data) } catch { throw bad("it is not JSON") }
        guard case .object(let root) = value else { throw bad("it is not a JSON object") }
        guard case .object(let map)? = root["weight_map"] else { throw bad("it has no weight_map object") }
        var metadata: [String: JSONValue] = [:]
        switch root["metadata"] {
        case nil, .null?: break
        case .object(let object)?: metadata = object.filter { !SafetensorsShards.sizeKeys.contains($0.key) }
        default: throw bad("its metadata is not an object")
        }
        var tensorsByShard: [String: Set<String>] = [:]
        // Sorted, so that the shard order (and every message) does not hang on hash order.
        for (name, entry) in map.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            guard case .string(let shard) = entry else { throw bad("weight_map['\(name)'] is not a file name") }
            guard isPlainFileName(shard) else {
                throw FormatError(.refused(what: "shard '\(shard)'", why: "a shard must be a file name in the index's own folder ending .safetensors"), file: file)
            }
            tensorsByShard[shard, default: []].insert(name)
        }
        guard !tensorsByShard.isEmpty else { throw bad("its weight_map is empty") }
        // Shards in their own numbering (model-00001-of-...), which sorting the names gives.
        return ShardIndex(metadata: metadata, shards: tensorsByShard.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) },
                          tensorsByShard: tensorsByShard)
    }

    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
            && name.lowercased().hasSuffix(".safetensors")
    }

    /// The index as `save_pretrained` writes it: two-space indents, keys sorted.
    static func text(metadata: [String: JSONValue], weightMap: [(String, String)]) throws -> Data {
        func quote(_ s: String) -> String { JSONText.quote(s) }
        var lines = ["{", "  \"metadata\": {"]
        let meta = try metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { key, value -> String in
            let text: String
            if case .number(let n) = value, n.rounded() == n, abs(n) < 9e15 { text = String(Int64(n)) }
            else { text = String(decoding: try value.serialized(), as: UTF8.self) }
            return "    \(quote(key)): \(text)"
        }
        lines.append(meta.joined(separator: ",\n"))
        lines.append("  },")
        lines.append("  \"weight_map\": {")
        let sorted = weightMap.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        lines.append(sorted.map { "    \(quote($0.0)): \(quote($0.1))" }.joined(separator: ",\n"))
        lines.append("  }")
        lines.append("}")
        return Data((lines.joined(separator: "\n") + "\n").utf8)
    }
}
