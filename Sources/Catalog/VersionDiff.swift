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
    /// max |a - b| over elements, and ||a - b|| / ||a|| (Euclidean norms), for float
    /// tensors of equal dtype and shape; nil where not defined (||a|| = 0 with a != b).
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
                measure(x, y, into: &change)
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
                           probesAdded: b.probes.map(\.name).filter { oldProbes[$0] == nil },
                           probesRemoved: a.probes.map(\.name).filter { newProbes[$0] == nil },
                           probesChanged: changedProbes.map(\.name))
    }

    private func measure(_ x: Tensor, _ y: Tensor, into change: inout TensorChange) {
        let width = x.dtype.size
        let count = x.elementCount
        x.data.withUnsafeBytes { p in
            y.data.withUnsafeBytes { q in
                var differing = 0
                for k in 0..<count where memcmp(p.baseAddress! + k * width, q.baseAddress! + k * width, width) != 0 {
                    differing += 1
                }
                change.differingElements = differing
                guard let read = FloatElements.reader(for: x.dtype) else { return }
                var maxAbs = 0.0, squaredChange = 0.0, squaredBefore = 0.0
                for k in 0..<count {
                    let u = read(p, k), v = read(q, k)
                    let d = abs(u - v)
                    if d > maxAbs || d.isNaN { maxAbs = d.isNaN ? .nan : d }
                    squaredChange += (u - v) * (u - v)
                    squaredBefore += u * u
                }
                change.maxAbsDifference = maxAbs.isFinite ? maxAbs : nil
                if squaredBefore > 0 {
                    let ratio = (squaredChange / squaredBefore).squareRoot()
                    change.relativeNorm = ratio.isFinite ? ratio : nil
                } else {
                    change.relativeNorm = squaredChange == 0 ? 0 : nil
                }
            }
        }
    }
}

/// Float elements read as Double: f64, f32, f16 (IEEE binary16) and bf16.
enum FloatElements {
    static func reader(for dtype: DType) -> ((UnsafeRawBufferPointer, Int) -> Double)? {
        switch dtype {
        case .f64: return { Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 8, as: UInt64.self))) }
        case .f32: return { Double(Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 4, as: UInt32.self)))) }
        case .bf16: return { Double(Float(bitPattern: UInt32(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self))) << 16)) }
        case .f16: return { half(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self))) }
        default: return nil
        }
    }

    /// IEEE binary16 to Double, subnormals, infinities and NaN included.
    static func half(_ bits: UInt16) -> Double {
        let sign: Double = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1F)
        let fraction = Double(bits & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}
