import Foundation

/// The index as it is written: JSON, read with unknown keys ignored so newer minor
/// versions can add fields. Nothing here is trusted until `ManifestValidator` says so.
struct ManifestWire: Codable {
    struct Chunk: Codable {
        var offset: Int
        var length: Int
        var size: Int
        var xxh3: String
    }
    struct Tensor: Codable {
        var name: String
        var aliases: [String]?
        var dtype: String
        var shape: [Int]
        var codec: String
        var chunks: [Chunk]
    }
    struct Section: Codable {
        var offset: Int
        var length: Int
        var xxh3: String
    }
    struct Probe: Codable {
        var name: String
        var origin: String
        var rtol: Double
        var atol: Double
        var inputs: [Tensor]
        var outputs: [Tensor]
    }
    var writer: String?
    var tensors: [Tensor]
    var sections: [String: Section]?
    var probes: [Probe]?
}

/// One stored chunk, validated: inside the data region, sized within limits.
public struct ChunkRecord: Sendable {
    public internal(set) var offset: Int
    /// Stored bytes.
    public internal(set) var length: Int
    /// Decoded bytes.
    public internal(set) var size: Int
    public internal(set) var xxh3: UInt64
}

/// One stored tensor, validated against its dtype, shape, codec and the file.
public struct TensorRecord: Sendable {
    public internal(set) var name: String
    public internal(set) var aliases: [String]
    public internal(set) var dtype: DType
    public internal(set) var shape: [Int]
    public internal(set) var codec: Codec
    public internal(set) var chunks: [ChunkRecord]
    /// dtype x shape.
    public internal(set) var byteCount: Int
    /// Stored bytes of every chunk (each chunk lies inside the file, so the sum fits).
    public var storedCount: Int { chunks.reduce(0) { $0 + $1.length } }
    /// The stored name, then the aliases.
    public var allNames: [String] { [name] + aliases }
}

/// A checksummed blob (architecture document, metadata).
public struct SectionRecord: Sendable {
    public internal(set) var offset: Int
    public internal(set) var length: Int
    public internal(set) var xxh3: UInt64
}

/// One probe: its tolerances and its input and output tensors, validated like model tensors.
public struct ProbeRecord: Sendable {
    public internal(set) var name: String
    public internal(set) var origin: Probe.Origin
    public internal(set) var rtol: Double
    public internal(set) var atol: Double
    public internal(set) var inputs: [TensorRecord]
    public internal(set) var outputs: [TensorRecord]
}

/// The validated index. Its records can only be made by `ManifestValidator`, so every
/// offset, length and size in them has been checked against the file.
public struct Manifest: Sendable {
    public internal(set) var version: FormatVersion
    public internal(set) var writer: String?
    public internal(set) var tensors: [TensorRecord]
    /// Every section the file has, known or not (unknown names are kept, checked and ignored).
    public internal(set) var sections: [String: SectionRecord]
    public internal(set) var probes: [ProbeRecord]

    /// The section holding the architecture document (`spec/ARCH.md`).
    public static let architectureSection = "architecture"
    /// The section holding free-form JSON metadata.
    public static let metadataSection = "metadata"
    /// The section holding the checkpoint's nesting (`CheckpointStructure`).
    public static let structureSection = "structure"

    /// The model tensor known by `name`, stored name or alias.
    public func record(named name: String) -> TensorRecord? {
        tensors.first(where: { $0.name == name || $0.aliases.contains(name) })
    }

    /// Every blob in the data region, sorted by offset, each with a label for messages.
    var blobs: [(label: String, offset: Int, length: Int)] {
        var all: [(String, Int, Int)] = []
        for tensor in tensors {
            for (k, chunk) in tensor.chunks.enumerated() { all.append(("tensor '\(tensor.name)' chunk \(k)", chunk.offset, chunk.length)) }
        }
        for (name, section) in sections { all.append(("section '\(name)'", section.offset, section.length)) }
        for probe in probes {
            for tensor in probe.inputs + probe.outputs {
                for (k, chunk) in tensor.chunks.enumerated() { all.append(("probe '\(probe.name)' tensor '\(tensor.name)' chunk \(k)", chunk.offset, chunk.length)) }
            }
        }
        return all.sorted { $0.1 < $1.1 }
    }
}
