import Foundation
import Format

/// How one tensor differs between two versions.
public struct TensorChange: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case added, removed, changed, same }
    public var name: String
    public var status: Status
    public var dtype: [String]
    public var shape: [[Int]]
    /// Aliases before and after, when they differ.
    public var aliases: [[String]]?
    /// Elements whose bytes differ (same dtype and shape only).
    public var differingElements: Int?
    /// max |b - a| over elements, and ||b - a|| / ||a|| (Euclidean norms), for tensors of
    /// equal dtype and shape, as `TensorDifference` defines them; nil where not defined
    /// (||a|| = 0 with a != b, a NaN or an infinity, a dtype without arithmetic).
    public var maxAbsDifference: Double?
    public var relativeNorm: Double?
}

/// The differences between versions `a` and `b`.
public struct VersionDiff: Codable, Sendable {
    public var a: String
    public var b: String
    /// Every tensor of either version, in `a`'s order then `b`'s additions.
    public var tensors: [TensorChange]
    public var architecture: [JSONChange]
    public var metadata: [JSONChange]
    /// The nesting (`CheckpointStructure`), compared as the JSON of its stored form.
    public var structure: [JSONChange] = []
    public var probesAdded: [String]
    public var probesRemoved: [String]
    public var probesChanged: [String]

    public func count(_ status: TensorChange.Status) -> Int { tensors.filter { $0.status == status }.count }
}

extension Store {
    /// Compares two versions. Tensors with the same object are the same without reading
    /// anything; changed ones of equal dtype and shape are read (checked as any read is)
    /// to measure the change.
    public func diff(_ a: VersionContent, _ b: VersionContent) throws -> VersionDiff {
        let before = Dictionary(a.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(b.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var changes: [TensorChange] = []
        for old in a.tensors {
            guard let new = after[old.name] else {
                changes.append(TensorChange(name: old.name, status: .removed, dtype: [old.dtype.rawValue], shape: [old.shape]))
                continue
            }
            var change = TensorChange(name: old.name, status: old.object == new.object ? .same : .changed,
                                      dtype: [old.dtype.rawValue, new.dtype.rawValue], shape: [old.shape, new.shape])
            if old.aliases != new.aliases {
                change.aliases = [old.aliases, new.aliases]
                if change.status == .same { change.status = .changed }
            }
            if old.object != new.object, old.dtype == new.dtype, old.shape == new.shape {
                let x = try tensor(old, of: a.info), y = try tensor(new, of: b.info)
                Self.measure(x, y, into: &change)
            }
            changes.append(change)
        }
        for new in b.tensors where before[new.name] == nil {
            changes.append(TensorChange(name: new.name, status: .added, dtype: [new.dtype.rawValue], shape: [new.shape]))
        }

        // A document that is not JSON is compared as its text.
        let architecture = JSONDiff.diff(a.architectureValue ?? a.architecture.map { .string(String(decoding: $0, as: UTF8.self)) },
                                         b.architectureValue ?? b.architecture.map { .string(String(decoding: $0, as: UTF8.self)) })
        let metadata = JSONDiff.diff(a.metadataValue, b.metadataValue)
        let oldProbes = Dictionary(a.probes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newProbes = Dictionary(b.probes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let changedProbes = a.probes.filter { probe in
            guard let other = newProbes[probe.name] else { return false }
            return probe.inputs.map(\.object) != other.inputs.map(\.object) || probe.outputs.map(\.object) != other.outputs.map(\.object)
                || probe.rtol != other.rtol || probe.atol != other.atol || probe.origin != other.origin
        }
        return VersionDiff(a: a.info.reference, b: b.info.reference, tensors: changes, architecture: architecture, metadata: metadata,
                           structure: JSONDiff.diff(a.structure?.jsonValue, b.structure?.jsonValue),
                           probesAdded: b.probes.map(\.name).filter { oldProbes[$0] == nil },
                           probesRemoved: a.probes.map(\.name).filter { newProbes[$0] == nil },
                           probesChanged: changedProbes.map(\.name))
    }

    /// Everything from Format's `TensorDifference`, the one definition of the change:
    /// differing elements, max |b - a| and ||b - a|| / ||a|| (NaN that stays NaN is no
    /// change; NaN or infinity appearing makes the numbers undefined, nil). A dtype without
    /// arithmetic (c64) has no measure; only its differing elements are counted.
    static func measure(_ x: Tensor, _ y: Tensor, into change: inout TensorChange) {
        if let difference = TensorDifference.compare(x, y) {
            change.differingElements = difference.differingElements
            change.maxAbsDifference = difference.maxAbs
            change.relativeNorm = difference.relative
            return
        }
        let width = x.dtype.size
        change.differingElements = x.data.withUnsafeBytes { p in
            y.data.withUnsafeBytes { q in
                guard let a = p.baseAddress, let b = q.baseAddress else { return 0 }
                return (0..<x.elementCount).reduce(0) { $0 + (memcmp(a + $1 * width, b + $1 * width, width) != 0 ? 1 : 0) }
            }
        }
    }
}
