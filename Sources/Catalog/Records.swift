import Foundation
import Format

/// One tensor of a version: its names and the object holding its bytes.
public struct TensorEntry: Sendable, Codable {
    public var name: String
    public var aliases: [String]
    /// The object's name (SHA-256, see `Digest.object`).
    public var object: String
    public var dtype: DType
    public var shape: [Int]
    /// How the object stores it, and how many bytes that takes (for `show`).
    public var codec: Codec
    public var storedBytes: Int

    /// Decoded bytes. The shape was checked when the row was read (`CatalogQueries`), so the
    /// product fits; it saturates rather than traps should a caller build an entry by hand.
    public var rawBytes: Int {
        shape.reduce(dtype.size) { total, dimension in
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            return overflow ? Int.max : product
        }
    }
}

/// A probe of a version: its tolerances and the objects of its input and output tensors.
public struct ProbeEntry: Sendable {
    public var name: String
    public var origin: Probe.Origin
    public var rtol: Double
    public var atol: Double
    public var inputs: [TensorEntry]
    public var outputs: [TensorEntry]
}

/// A parent as people name it.
public struct ParentLink: Sendable, Codable {
    public var id: Int64
    public var hash: String
    public var model: String
    public var number: Int
    public var reference: String { "\(model)@\(number)" }
}

/// A version's catalog row with its parents and tags.
public struct VersionInfo: Sendable, Codable {
    public var id: Int64
    public var model: String
    public var number: Int
    public var hash: String
    public var content: String
    public var message: String
    /// Milliseconds since 1970 as stored (the version hash covers this exact number).
    public var createdMilliseconds: Int64
    public var parents: [ParentLink]
    public var tags: [String]
    /// Versions removed by pruning that stood between this one and its parents, oldest
    /// first (`NAME@N` as they were called). Empty for a history never pruned.
    public var prunedAncestors: [String] = []
    /// The parents' hashes this version was saved with, when pruning has re-parented it
    /// (its hash covers these, spec/CATALOG.md section 4); nil when `parents` are those.
    public var savedParentHashes: [String]?

    /// The parent hashes the version hash is computed over.
    public var hashedParentHashes: [String] { savedParentHashes ?? parents.map(\.hash) }

    /// `name@3`: how people and other verbs name this version.
    public var reference: String { "\(model)@\(number)" }
    public var shortHash: String { String(hash.prefix(12)) }
    public var created: Date { Date(timeIntervalSince1970: Double(createdMilliseconds) / 1000) }
}

/// Everything a version holds, read in one snapshot of the catalog.
public struct VersionContent: Sendable {
    public var info: VersionInfo
    public var tensors: [TensorEntry]
    public var probes: [ProbeEntry]
    /// The architecture document's bytes as saved.
    public var architecture: Data?
    /// Metadata as compact JSON text.
    public var metadata: Data?

    /// Metadata parsed (the catalog refuses a row that does not parse).
    public var metadataValue: JSONValue?
    /// The nesting of the checkpoint (checked against `tensors` when read); nil for a flat state_dict.
    public var structure: CheckpointStructure?
    /// The structure's encoded bytes as saved (what the content digest covers).
    public var structureData: Data?
    /// The architecture document parsed, nil when there is none or it is not JSON (the
    /// catalog keeps the bytes as saved; `diff` then compares them as text).
    public var architectureValue: JSONValue?

    /// Every tensor whose bytes live in an object, with the label a message names it by.
    public var objectReferences: [(label: String, entry: TensorEntry)] {
        var all = tensors.map { ("tensor '\($0.name)'", $0) }
        for probe in probes {
            all += probe.inputs.enumerated().map { ("probe '\(probe.name)' input \($0.offset)", $0.element) }
            all += probe.outputs.enumerated().map { ("probe '\(probe.name)' output \($0.offset)", $0.element) }
        }
        return all
    }
}
