import Foundation
import Format
#if canImport(Glibc)
import Glibc
#endif

/// Delta objects (CATALOG.md, section 2.1): a tensor of a training run changes a little
/// between checkpoints, and the XOR of its bits with the previous checkpoint's keeps the
/// sign, the exponent and the top of the mantissa at zero, which the plane coder stores
/// in almost nothing. A delta object is still named by the SHA-256 of the *decoded*
/// tensor, so the catalog, version identity and `checkout` do not change; only the
/// object file differs: it holds the XOR and names its base in its metadata.
///
/// Chains are one deep: a delta's base is always a full object (a new delta against a
/// delta goes against that delta's base instead), so reading any version decodes at most
/// two objects per tensor. When the XOR stops paying (the run has drifted from the base),
/// the tensor is stored whole and becomes the base of the deltas after it.
extension ObjectStore {
    /// The metadata member of a delta object.
    static let deltaKey = "ckpt.delta"
    /// A delta is kept only when it stores in at most this fraction of its base's stored
    /// bytes; otherwise the tensor is stored whole (a fresh base for later deltas).
    static let deltaKeepFraction = 0.75
    /// Tensors smaller than this are stored whole: the metadata costs more than a delta saves.
    static let deltaMinimumBytes = 4096

    /// A tensor of the parent version a new tensor may be stored against.
    public struct DeltaCandidate: Sendable {
        public var object: String
        public var dtype: DType
        public var shape: [Int]

        public init(object: String, dtype: DType, shape: [Int]) {
            self.object = object
            self.dtype = dtype
            self.shape = shape
        }
    }

    /// The base an object file names, or nil for a full object. Refuses metadata that
    /// claims a delta but is malformed, and a delta whose dtype or shape differs.
    static func deltaBase(of reader: ContainerReader) throws -> String? {
        guard reader.manifest.sections[Manifest.metadataSection] != nil,
              let delta = try reader.metadata()?[deltaKey] else { return nil }
        guard delta["operation"]?.stringValue == "xor", let base = delta["base"]?.stringValue,
              base.utf8.count == 64, Digest.isHex(base), base == base.lowercased() else {
            throw FormatError("delta metadata is malformed (needs operation \"xor\" and a 64-hex-digit base)")
        }
        return base
    }

    /// The base object of `hash` if it is a delta (nil for a full or missing object).
    /// gc and fsck use it to keep and count bases that no version names any more.
    public func deltaBase(of hash: String) -> String? {
        guard let reader = try? ContainerReader(contentsOf: url(for: hash)) else { return nil }
        return try? Self.deltaBase(of: reader)
    }

    /// `objects` plus the bases of the deltas among them (one level: bases are full).
    public func closingOverBases(_ objects: Set<String>) -> Set<String> {
        var all = objects
        for hash in objects { if let base = deltaBase(of: hash) { all.insert(base) } }
        return all
    }

    /// Turns what an object file holds into the tensor it names: a full object as is, a
    /// delta XORed with its base, which must be a full object of the same dtype and shape.
    func resolve(_ stored: Tensor, of reader: ContainerReader, dtype: DType, shape: [Int]) throws -> Tensor {
        guard let base = try Self.deltaBase(of: reader) else { return stored }
        let baseURL = url(for: base)
        guard FileManager.default.fileExists(atPath: baseURL.path) else {
            throw FormatError("its delta base \(Self.label(base)) is missing")
        }
        let baseTensor: Tensor
        do {
            let baseReader = try ContainerReader(contentsOf: baseURL)
            let record = try Self.soleRecord(of: baseReader, dtype: dtype, shape: shape)
            guard try Self.deltaBase(of: baseReader) == nil else {
                throw FormatError("is itself a delta (chains are one deep)")
            }
            baseTensor = try baseReader.tensor(record)
            guard Digest.object(baseTensor) == base else {
                throw FormatError("content does not hash to the object's name (damaged)")
            }
        } catch {
            throw FormatError("its delta base \(Self.label(base)): \(Self.reason(error))")
        }
        return try Tensor(dtype: dtype, shape: shape, data: Self.xor(stored.data, baseTensor.data))
    }

    /// Stores `tensor` as a delta against `candidate` (or against the candidate's base when
    /// the candidate is a delta) when that is small enough, else whole (`put`).
    public func put(_ tensor: Tensor, hash: String, codec: Codec, against candidate: DeltaCandidate?) throws -> Stored {
        guard let candidate, candidate.object != hash, candidate.dtype == tensor.dtype, candidate.shape == tensor.shape,
              tensor.data.count >= Self.deltaMinimumBytes, codec != .raw else {
            return try put(tensor, hash: hash, codec: codec)
        }
        let target = url(for: hash)
        if let existing = try? ContainerReader(contentsOf: target), let record = try? Self.soleRecord(of: existing, dtype: tensor.dtype, shape: tensor.shape) {
            return Stored(codec: record.codec, storedBytes: record.storedCount, written: 0)
        }
        // The base: the candidate if it is whole, else the candidate's own base.
        let baseHash = deltaBase(of: candidate.object) ?? candidate.object
        guard let baseReader = try? ContainerReader(contentsOf: url(for: baseHash)),
              let baseRecord = try? Self.soleRecord(of: baseReader, dtype: tensor.dtype, shape: tensor.shape),
              (try? Self.deltaBase(of: baseReader)) == .some(nil),
              let baseTensor = try? baseReader.tensor(baseRecord), Digest.object(baseTensor) == baseHash else {
            // An unreadable base is fsck's business; this save stores the tensor whole.
            return try put(tensor, hash: hash, codec: codec)
        }
        let delta = try Tensor(dtype: tensor.dtype, shape: tensor.shape, data: Self.xor(tensor.data, baseTensor.data))
        try makeFanDirectory(target.deletingLastPathComponent())
        // Written under a temporary name (which gc counts as a leftover if we die) and
        // renamed into place only if it is worth keeping.
        let staging = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).tmp-delta-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        do {
            let writer = try ContainerWriter(destination: staging, options: WriteOptions(codec: codec))
            try writer.add(NamedTensor(name: Self.tensorName, tensor: delta))
            try writer.setMetadata(.object([Self.deltaKey: .object(["base": .string(baseHash), "operation": .string("xor")])]))
            try writer.finish()
        } catch {
            throw error.attributed(to: target.path)
        }
        let record = try Self.soleRecord(of: try ContainerReader(contentsOf: staging), dtype: tensor.dtype, shape: tensor.shape)
        guard Double(record.storedCount) <= Self.deltaKeepFraction * Double(baseRecord.storedCount) else {
            unlink(staging.path)
            return try put(tensor, hash: hash, codec: codec)
        }
        guard rename(staging.path, target.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(staging.path)
            throw FormatError("cannot move a delta object into place: \(reason)", file: target.path)
        }
        let fan = open(target.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if fan >= 0 { fsync(fan); close(fan) }
        let size = (try? FileManager.default.attributesOfItem(atPath: target.path)[.size] as? Int) ?? 0
        return Stored(codec: record.codec, storedBytes: record.storedCount, written: size)
    }

    /// Bitwise XOR of two equally long byte strings (its own inverse).
    static func xor(_ a: Data, _ b: Data) throws -> Data {
        guard a.count == b.count else { throw FormatError("a delta and its base differ in length (\(a.count) and \(b.count) bytes)") }
        var out = Data(count: a.count)
        out.withUnsafeMutableBytes { o in
            a.withUnsafeBytes { x in
                b.withUnsafeBytes { y in
                    let n = o.count, words = n / 8
                    for k in 0..<words {
                        let v = x.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self) ^ y.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)
                        o.storeBytes(of: v, toByteOffset: 8 * k, as: UInt64.self)
                    }
                    for k in (8 * words)..<n { o[k] = x[k] ^ y[k] }
                }
            }
        }
        return out
    }
}

extension Store {
    /// The tensors a save may store deltas against: the first parent's (the model's
    /// latest version when no parent is given), by name. Empty for a first version.
    func deltaCandidates(for request: SaveRequest) throws -> [String: ObjectStore.DeltaCandidate] {
        guard request.deltas else { return [:] }
        return try read { db in
            let parent: VersionInfo?
            if let first = request.parents?.first {
                parent = try Reference.resolve(first, in: db)
            } else {
                parent = try CatalogQueries.versions(db, where: "m.name = ?", arguments: [request.model]).first
            }
            guard let parent else { return [:] }
            var candidates: [String: ObjectStore.DeltaCandidate] = [:]
            for entry in try CatalogQueries.content(db, of: parent).tensors {
                candidates[entry.name] = ObjectStore.DeltaCandidate(object: entry.object, dtype: entry.dtype, shape: entry.shape)
            }
            return candidates
        }
    }
}
