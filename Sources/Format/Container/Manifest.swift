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
    public var offset: Int
    /// Stored bytes.
    public var length: Int
    /// Decoded bytes.
    public var size: Int
    public var xxh3: UInt64
}

/// One stored tensor, validated against its dtype, shape, codec and the file.
public struct TensorRecord: Sendable {
    public var name: String
    public var aliases: [String]
    public var dtype: DType
    public var shape: [Int]
    public var codec: Codec
    public var chunks: [ChunkRecord]
    /// dtype x shape.
    public var byteCount: Int
    public var storedCount: Int { chunks.reduce(0) { $0 + $1.length } }
    public var allNames: [String] { [name] + aliases }
}

/// A checksummed blob (architecture document, metadata).
public struct SectionRecord: Sendable {
    public var offset: Int
    public var length: Int
    public var xxh3: UInt64
}

public struct ProbeRecord: Sendable {
    public var name: String
    public var origin: Probe.Origin
    public var rtol: Double
    public var atol: Double
    public var inputs: [TensorRecord]
    public var outputs: [TensorRecord]
}

/// The validated index.
public struct Manifest: Sendable {
    public var version: FormatVersion
    public var writer: String?
    public var tensors: [TensorRecord]
    public var sections: [String: SectionRecord]
    public var probes: [ProbeRecord]

    public static let architectureSection = "architecture"
    public static let metadataSection = "metadata"

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
