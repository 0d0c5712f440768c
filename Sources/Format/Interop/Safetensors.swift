import Foundation

/// Hugging Face safetensors: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}`, then the
/// data buffer. Reading validates the way the Rust `safetensors` crate does before
/// trusting any offset; writing produces what the Python library would.
public enum Safetensors {
    /// The Rust crate's limit on the header.
    static let maxHeaderLength = 100_000_000
    static let metadataKey = "__metadata__"
    /// Names that were aliases in ckpt, as JSON text of `{alias: name}`: safetensors
    /// stores each tensor once, so ties would otherwise be lost on a round trip.
    public static let aliasesKey = "ckpt.aliases"
    /// Checkpoint metadata that is not a JSON object, as JSON text.
    public static let nonObjectMetadataKey = "ckpt.metadata"
    /// The checkpoint's nesting (`CheckpointStructure`, FORMAT.md 4.1) as its encoded JSON
    /// text: safetensors holds only a flat map of tensors, so the rest travels here and a
    /// reader that knows the key (ckpt) gets the structure back.
    public static let structureKey = "ckpt.structure"

    /// Dtypes safetensors defines that ckpt cannot hold, with what they are.
    static let unsupportedDTypes = [
        "F4": "4-bit float", "F6_E2M3": "6-bit float", "F6_E3M2": "6-bit float",
        "F8_E4M3FNUZ": "8-bit fnuz float", "F8_E5M2FNUZ": "8-bit fnuz float",
    ]

    // MARK: Reading

    public static func read(contentsOf url: URL) throws -> Checkpoint {
        try read(data: InteropFile.mapped(url))
    }

    /// Tensors are zero-copy slices of `data`.
    public static func read(data: Data) throws -> Checkpoint {
        let header = try parseHeader(data)
        let bufferStart = data.startIndex + header.bufferOffset
        var tensors = try header.entries.map { entry in
            let bytes = data[(bufferStart + entry.begin) ..< (bufferStart + entry.end)]
            return NamedTensor(name: entry.name, tensor: try Tensor(dtype: entry.dtype, shape: entry.shape, data: bytes))
        }
        var metadata = header.metadata
        if let text = metadata?[aliasesKey], let aliases = parseAliases(text, names: Set(tensors.map(\.name))) {
            metadata?.removeValue(forKey: aliasesKey)
            for index in tensors.indices {
                tensors[index].aliases = aliases[tensors[index].name, default: []]
            }
            if metadata?.isEmpty == true { metadata = nil }
        }
        var structure: CheckpointStructure?
        if let text = metadata?[structureKey] {
            let decoded = try CheckpointStructure.decode(Data(text.utf8))
            try decoded.validate(against: Set(tensors.flatMap(\.allNames)))
            structure = decoded
            metadata?.removeValue(forKey: structureKey)
            if metadata?.isEmpty == true { metadata = nil }
        }
        return Checkpoint(tensors: tensors, metadata: checkpointMetadata(metadata), structure: structure)
    }

    struct Entry {
        var name: String
        var dtype: DType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    struct Header {
        /// In data-buffer order.
        var entries: [Entry]
        var metadata: [String: String]?
        /// Where the data buffer starts, from the start of the file.
        var bufferOffset: Int
    }

    static func parseHeader(_ data: Data) throws -> Header {
        guard data.count >= 8 else {
            throw FormatError(.truncated(what: "a safetensors header length (too short for a safetensors header)", needed: 8, available: UInt64(data.count)))
        }
        let declared = data.littleEndian(UInt64.self, at: 0)
        guard declared <= UInt64(maxHeaderLength), let headerLength = Int(exactly: declared) else {
            throw FormatError(.limitExceeded(what: "the safetensors header length", value: declared, limit: UInt64(maxHeaderLength)))
        }
        guard headerLength <= data.count - 8 else {
            throw FormatError(.truncated(what: "the safetensors header", needed: UInt64(headerLength), available: UInt64(data.count - 8)))
        }
        let text = data[(data.startIndex + 8) ..< (data.startIndex + 8 + headerLength)]
        guard text.first == UInt8(ascii: "{") else {
            throw FormatError(.unrecognisedFile(detail: "the header does not start with '{': not a safetensors file"))
        }
        guard String(bytes: text, encoding: .utf8) != nil else {
            throw Fault.malformed("the safetensors header", "it is not valid UTF-8")
        }
        let document: HeaderDocument
        do {
            document = try JSONDecoder().decode(HeaderDocument.self, from: text)
        } catch let error as FormatError {
            throw error
        } catch {
            throw Fault.malformed("the safetensors header", "it is not valid JSON")
        }
        let bufferLength = data.count - 8 - headerLength
        return Header(entries: try checkLayout(document.entries, bufferLength: bufferLength),
                      metadata: document.metadata, bufferOffset: 8 + headerLength)
    }

    /// Sorts entries by offset and checks that they tile the data buffer exactly:
    /// no overlaps, no holes, nothing past the end or left over after the last tensor.
    static func checkLayout(_ entries: [Entry], bufferLength: Int) throws -> [Entry] {
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        var previous: Entry?
        for entry in sorted {
            if entry.begin < covered, let previous {
                throw Fault.malformed("tensor '\(entry.name)'", "data_offsets [\(entry.begin), \(entry.end)] overlap tensor '\(previous.name)' [\(previous.begin), \(previous.end)]")
            }
            if entry.begin > covered {
                throw Fault.malformed("tensor '\(entry.name)'", "data_offsets begin at \(entry.begin), leaving bytes \(covered)..<\(entry.begin) of the data buffer to no tensor")
            }
            guard entry.end <= bufferLength else {
                throw Fault.malformed("tensor '\(entry.name)'", "data_offsets end \(entry.end) is past the end of the \(bufferLength)-byte data buffer")
            }
            covered = entry.end
            previous = entry
        }
        guard covered == bufferLength else {
            throw Fault.malformed("the data buffer", "it has \(bufferLength - covered) bytes after the last tensor that belong to no tensor")
        }
        return sorted
    }

    /// `{alias: name}` from the aliases key, or nil if it is not valid: every name must
    /// be a stored tensor and no alias may shadow one.
    static func parseAliases(_ text: String, names: Set<String>) -> [String: [String]]? {
        guard case .object(let object)? = try? JSONValue.parse(Data(text.utf8)) else { return nil }
        var aliases: [String: [String]] = [:]
        for (alias, target) in object.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            guard let name = target.stringValue, names.contains(name), !names.contains(alias) else { return nil }
            aliases[name, default: []].append(alias)
        }
        return aliases
    }

    static func checkpointMetadata(_ metadata: [String: String]?) -> JSONValue? {
        guard let metadata else { return nil }
        if metadata.count == 1, let text = metadata[nonObjectMetadataKey],
           let value = try? JSONValue.parse(Data(text.utf8)) {
            if case .object = value {} else { return value }
        }
        return .object(metadata.mapValues { .string($0) })
    }

    // MARK: Writing

    public static func encode(_ checkpoint: Checkpoint) throws -> Data {
        let (prefix, tensors) = try layout(checkpoint)
        var data = prefix
        data.reserveCapacity(prefix.count + tensors.reduce(0) { $0 + $1.data.count })
        for tensor in tensors { data.append(tensor.data) }
        return data
    }

    public static func write(_ checkpoint: Checkpoint, to url: URL) throws {
        let (prefix, tensors) = try layout(checkpoint)
        let file = try AtomicFile(destination: url)
        try file.write(prefix)
        for tensor in tensors { try file.write(tensor.data) }
        try file.commit()
    }

    /// The length field and header, and the tensors in the order their data follows.
    /// Like the Python library, tensors go by dtype width (widest first, so every
    /// tensor starts aligned to its element size) and then by name.
    static func layout(_ checkpoint: Checkpoint) throws -> (prefix: Data, tensors: [Tensor]) {
        var taken: Set<String> = [metadataKey]
        var aliases: [String: JSONValue] = [:]
        for named in checkpoint.tensors {
            for name in named.allNames {
                guard taken.insert(name).inserted else {
                    throw name == metadataKey
                        ? Fault.refused("tensor name '\(metadataKey)'", "it is reserved by safetensors")
                        : FormatError(.duplicateName(kind: "tensor", name: name))
                }
            }
            for alias in named.aliases { aliases[alias] = .string(named.name) }
        }
        var metadata = try safetensorsMetadata(checkpoint.metadata)
        if !aliases.isEmpty {
            guard metadata[aliasesKey] == nil else {
                throw Fault.refused("metadata key '\(aliasesKey)'", "it is reserved for recording aliases")
            }
            metadata[aliasesKey] = String(decoding: try JSONValue.object(aliases).serialized(), as: UTF8.self)
        }

        if let structure = checkpoint.structure, !structure.isFlatStateDict {
            guard metadata[structureKey] == nil else {
                throw Fault.refused("metadata key '\(structureKey)'", "it is reserved for recording the structure")
            }
            try checkpoint.validateStructure()
            metadata[structureKey] = String(decoding: try structure.encoded(), as: UTF8.self)
        }

        let ordered = checkpoint.tensors.sorted { left, right in
            let (l, r) = (left.tensor.dtype.safetensorsRank, right.tensor.dtype.safetensorsRank)
            return l != r ? l > r : left.name.utf8.lexicographicallyPrecedes(right.name.utf8)
        }
        var json = "{"
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            json += "\(jsonString(metadataKey)):{"
                + pairs.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",") + "},"
        }
        var offset = 0
        for named in ordered {
            let tensor = named.tensor
            let expected = try Tensor.byteCount(dtype: tensor.dtype, shape: tensor.shape)
            guard tensor.data.count == expected else {
                throw FormatError(.truncated(what: "tensor '\(named.name)' \(tensor.dtype.rawValue)\(Tensor.describe(tensor.shape))",
                                             needed: UInt64(expected), available: UInt64(tensor.data.count)))
            }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            json += "\(jsonString(named.name)):{\"dtype\":\"\(tensor.dtype.safetensorsName)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + expected)]},"
            offset += expected
        }
        if json.hasSuffix(",") { json.removeLast() }
        json += "}"
        // Spaces pad the header so that the data buffer starts 8-byte aligned.
        var header = Array(json.utf8)
        header += Array(repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        var prefix = Data(withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init))
        prefix.append(contentsOf: header)
        return (prefix, ordered.map(\.tensor))
    }

    /// safetensors metadata holds only strings: other values become their JSON text.
    static func safetensorsMetadata(_ metadata: JSONValue?) throws -> [String: String] {
        switch metadata {
        case nil:
            return [:]
        case .object(let object)?:
            return try object.mapValues { value in
                try value.stringValue ?? String(decoding: value.serialized(), as: UTF8.self)
            }
        case let value?:
            return [nonObjectMetadataKey: String(decoding: try value.serialized(), as: UTF8.self)]
        }
    }

    static func jsonString(_ text: String) -> String { JSONText.quote(text) }
}

// MARK: - Header decoding

/// The header as JSON, each entry checked on its own so errors name the tensor.
private struct HeaderDocument: Decodable {
    var entries: [Safetensors.Entry] = []
    var metadata: [String: String]?

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    enum Field: String, CodingKey {
        case dtype, shape
        case dataOffsets = "data_offsets"
    }

    init(from decoder: Decoder) throws {
        guard let container = try? decoder.container(keyedBy: Key.self) else {
            throw Fault.invalid("the safetensors header", "not an object", expected: "a JSON object")
        }
        for key in container.allKeys {
            if key.stringValue == Safetensors.metadataKey {
                guard let values = try? container.decode([String: String].self, forKey: key) else {
                    throw Fault.malformed(Safetensors.metadataKey, "must be an object of string values")
                }
                metadata = values
            } else {
                guard let fields = try? container.nestedContainer(keyedBy: Field.self, forKey: key) else {
                    throw Fault.malformed("tensor '\(key.stringValue)'", "entry is not an object")
                }
                entries.append(try Self.entry(named: key.stringValue, fields: fields))
            }
        }
    }

    private static func entry(named name: String, fields: KeyedDecodingContainer<Field>) throws -> Safetensors.Entry {
        func failure(_ problem: String) -> FormatError { Fault.malformed("tensor '\(name)'", problem) }

        guard let dtypeName = try? fields.decode(String.self, forKey: .dtype) else {
            throw failure("missing or non-string 'dtype'")
        }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            if let kind = Safetensors.unsupportedDTypes[dtypeName] {
                throw FormatError(.context("tensor '\(name)'", .unsupportedDType("\(dtypeName) (\(kind))")))
            }
            throw FormatError(.context("tensor '\(name)'", .unsupportedDType(dtypeName)))
        }
        guard let shape = try? fields.decode([Int].self, forKey: .shape) else {
            throw failure("'shape' must be a list of integers")
        }
        guard let offsets = try? fields.decode([Int].self, forKey: .dataOffsets), offsets.count == 2 else {
            throw failure("'data_offsets' must be [begin, end]")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, end >= begin else {
            throw failure("data_offsets [\(begin), \(end)] are not a valid range")
        }
        let expected: Int
        do {
            expected = try Tensor.byteCount(dtype: dtype, shape: shape)
        } catch {
            throw Fault.within("tensor '\(name)'", error)
        }

        guard end - begin == expected else {
            throw failure("\(dtypeName)\(Tensor.describe(shape)) needs \(expected) bytes, but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        return Safetensors.Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }
}

extension DType {
    /// Where the Rust crate's `Dtype` enum puts this type; the writer sorts by it, widest first.
    var safetensorsRank: Int {
        switch self {
        case .bool: return 0
        case .u8: return 4
        case .i8: return 5
        case .f8e5m2: return 6
        case .f8e4m3: return 7
        case .f8e8m0: return 8
        case .i16: return 11
        case .u16: return 12
        case .f16: return 13
        case .bf16: return 14
        case .i32: return 15
        case .u32: return 16
        case .f32: return 17
        case .c64: return 18
        case .f64: return 19
        case .i64: return 20
        case .u64: return 21
        }
    }
}
