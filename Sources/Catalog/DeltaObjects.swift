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

    /// The base an object file names, or nil for a whole object. Refuses metadata that
    /// claims a delta but is malformed.
    static func deltaBase(of reader: ContainerReader, hash: String) throws -> String? {
        try delta(of: reader, hash: hash)?.base
    }

    /// How a delta's bytes combine with its base's (CATALOG.md 2.1).
    enum DeltaOperation: String {
        /// Bitwise XOR of the element bytes.
        case xor
        /// Each element as a little-endian unsigned integer of its width: the zigzag of
        /// (new - base) modulo 2^bits. The reference writer's choice: between consecutive
        /// training checkpoints its planes hold 0.55 of standalone entropy, XOR's 0.65, because
        /// a small change that carries across a bit boundary flips many XOR bits but
        /// leaves the difference small.
        case sub
    }

    /// The base and operation an object file names, or nil for a whole object.
    static func delta(of reader: ContainerReader, hash: String) throws -> (base: String, operation: DeltaOperation)? {
        guard reader.manifest.sections[Manifest.metadataSection] != nil else { return nil }
        let metadata: JSONValue?
        do { metadata = try reader.metadata() } catch let error as FormatError {
            throw CatalogError.objectDamaged(hash: hash, problem: .unreadable(error))
        }
        guard let delta = metadata?[deltaKey] else { return nil }
        guard let operation = delta["operation"]?.stringValue.flatMap(DeltaOperation.init(rawValue:)), let base = delta["base"]?.stringValue,
              base.utf8.count == 64, Digest.isHex(base), base == base.lowercased() else {
            throw CatalogError.objectDamaged(hash: hash, problem: .deltaMalformed)
        }
        return (base, operation)
    }

    /// The base object of `hash` if it is a delta, nil for a whole or absent object.
    /// Throws when the object is there but cannot be read: gc must not guess whether a
    /// damaged object needs a base.
    public func deltaBase(of hash: String) throws -> String? {
        let url = url(for: hash)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try Self.deltaBase(of: try open(url, hash: hash), hash: hash)
    }

    /// `deltaBase(of:)` for fsck, which reports an unreadable object on its own.
    func readableDeltaBase(of hash: String) -> String? {
        do { return try deltaBase(of: hash) } catch { return nil }
    }

    /// `objects` plus the bases of the deltas among them (one level: bases are whole).
    /// What gc keeps: it throws rather than drop the base of an unreadable delta.
    public func closingOverBases(_ objects: Set<String>) throws -> Set<String> {
        var all = objects
        for hash in objects { if let base = try deltaBase(of: hash) { all.insert(base) } }
        return all
    }

    /// `closingOverBases` for fsck's count of unreferenced objects.
    func readableClosure(_ objects: Set<String>) -> Set<String> {
        var all = objects
        for hash in objects { if let base = readableDeltaBase(of: hash) { all.insert(base) } }
        return all
    }

    /// Turns what an object file holds into the tensor it names: a whole object as is, a
    /// delta XORed with its base, which must be a whole object of the same dtype and shape
    /// that hashes to its name. (The caller checks the result against the delta's name.)
    func resolve(_ stored: Tensor, of reader: ContainerReader, hash: String, dtype: DType, shape: [Int]) throws -> Tensor {
        guard let (base, operation) = try Self.delta(of: reader, hash: hash) else { return stored }
        let baseTensor: Tensor
        do {
            baseTensor = try wholeTensor(base, dtype: dtype, shape: shape)
        } catch CatalogError.objectMissing {
            throw CatalogError.objectDamaged(hash: hash, problem: .deltaBaseMissing(base: base))
        } catch CatalogError.objectDamaged(_, .deltaBaseIsDelta) {
            throw CatalogError.objectDamaged(hash: hash, problem: .deltaBaseIsDelta(base: base))
        } catch CatalogError.objectDamaged(_, let problem) {
            throw CatalogError.objectDamaged(hash: hash, problem: .deltaBaseDamaged(base: base, problem: problem))
        }
        let data = operation == .xor ? Self.xor(stored.data, baseTensor.data)
                                     : Self.add(stored.data, to: baseTensor.data, width: dtype.size)
        return try Tensor(dtype: dtype, shape: shape, data: data)
    }

    /// A whole object's tensor, checked against its name. A delta is refused with
    /// `deltaBaseIsDelta` (the caller, reading a delta's base, names the delta).
    private func wholeTensor(_ hash: String, dtype: DType, shape: [Int]) throws -> Tensor {
        let url = url(for: hash)
        guard FileManager.default.fileExists(atPath: url.path) else { throw CatalogError.objectMissing(hash: hash, path: url.path) }
        let reader = try open(url, hash: hash)
        let record = try Self.soleRecord(of: reader, hash: hash, dtype: dtype, shape: shape)
        if try Self.deltaBase(of: reader, hash: hash) != nil {
            throw CatalogError.objectDamaged(hash: hash, problem: .deltaBaseIsDelta(base: hash))
        }
        let tensor: Tensor
        do { tensor = try reader.tensor(record) } catch let error as FormatError {
            throw CatalogError.objectDamaged(hash: hash, problem: .unreadable(error))
        }
        guard Digest.object(tensor) == hash else { throw CatalogError.objectDamaged(hash: hash, problem: .contentMismatch) }
        return tensor
    }

    /// Stores `tensor` as a delta against `candidate` (or against the candidate's base when
    /// the candidate is a delta) when that is small enough, else whole (`put`).
    public func put(_ tensor: Tensor, hash: String, codec: Codec, against candidate: DeltaCandidate?) throws -> Stored {
        guard let candidate, candidate.object != hash, candidate.dtype == tensor.dtype, candidate.shape == tensor.shape,
              tensor.data.count >= Self.deltaMinimumBytes, codec != .raw else {
            return try put(tensor, hash: hash, codec: codec)
        }
        let target = url(for: hash)
        if FileManager.default.fileExists(atPath: target.path) {
            // Already stored (whole or as a delta) or damaged: `put` reuses or rewrites it.
            return try put(tensor, hash: hash, codec: codec)
        }
        // The base: the candidate if it is whole, else the candidate's own base. A base
        // that cannot be read is fsck's business; this save then stores the tensor whole.
        let baseHash: String
        let baseTensor: Tensor
        let baseStored: Int
        do {
            baseHash = try deltaBase(of: candidate.object) ?? candidate.object
            baseTensor = try wholeTensor(baseHash, dtype: tensor.dtype, shape: tensor.shape)
            baseStored = try Self.soleRecord(of: try open(url(for: baseHash), hash: baseHash), hash: baseHash,
                                             dtype: tensor.dtype, shape: tensor.shape).storedCount
        } catch is CatalogError {
            return try put(tensor, hash: hash, codec: codec)
        }
        let delta = try Tensor(dtype: tensor.dtype, shape: tensor.shape,
                               data: Self.subtract(tensor.data, baseTensor.data, width: tensor.dtype.size))
        try makeFanDirectory(target.deletingLastPathComponent())
        // Written under a temporary name (which gc counts as a leftover if we die) and
        // renamed into place only if it is worth keeping.
        let staging = target.deletingLastPathComponent().appendingPathComponent(
            ".\(target.lastPathComponent).tmp-delta-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        let record: TensorRecord
        do {
            let writer = try ContainerWriter(destination: staging, options: WriteOptions(codec: codec))
            try writer.add(NamedTensor(name: Self.tensorName, tensor: delta))
            try writer.setMetadata(.object([Self.deltaKey: .object(["base": .string(baseHash), "operation": .string(DeltaOperation.sub.rawValue)])]))
            try writer.finish()
            guard let written = try ContainerReader(contentsOf: staging).manifest.tensors.first else {
                throw FormatError(.malformed(what: "delta object", detail: "written without its tensor"))
            }
            record = written
        } catch {
            unlink(staging.path)
            throw CatalogError.format(error.attributed(to: target.path))
        }
        guard Double(record.storedCount) <= Self.deltaKeepFraction * Double(baseStored) else {
            unlink(staging.path)
            return try put(tensor, hash: hash, codec: codec)
        }
        guard rename(staging.path, target.path) == 0 else {
            let code = errno
            unlink(staging.path)
            throw CatalogError.io(operation: "rename a delta object to", path: target.path, errno: code)
        }
        let fan = Glibc.open(target.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if fan >= 0 { fsync(fan); close(fan) }
        var status = stat()
        guard stat(target.path, &status) == 0 else { throw CatalogError.io(operation: "stat", path: target.path, errno: errno) }
        return Stored(codec: record.codec, storedBytes: record.storedCount, written: Int(status.st_size))
    }

    /// The `sub` delta: per element of `width` bytes, zigzag(new - base) modulo 2^(8 width).
    static func subtract(_ new: Data, _ base: Data, width: Int) -> Data {
        precondition(new.count == base.count, "a tensor and its delta base differ in length")
        return elementwise(new, base, width: width) { x, y, mask, top in
            let d = (x &- y) & mask
            return ((d << 1) ^ (0 &- (d >> top))) & mask
        }
    }

    /// The inverse of `subtract`: base + unzigzag(delta) modulo 2^(8 width).
    static func add(_ delta: Data, to base: Data, width: Int) -> Data {
        precondition(delta.count == base.count, "a delta and its base differ in length")
        return elementwise(delta, base, width: width) { z, y, mask, _ in
            (y &+ ((z >> 1) ^ (0 &- (z & 1)))) & mask
        }
    }

    /// Applies `combine(a, b, mask, top)` to each pair of elements read as little-endian
    /// unsigned integers of `width` bytes (in a 64-bit lane: `mask` keeps the element's
    /// bits, `top` is the index of its top bit), one definition for every width.
    private static func elementwise(_ a: Data, _ b: Data, width: Int, _ combine: (UInt64, UInt64, UInt64, UInt64) -> UInt64) -> Data {
        let mask: UInt64 = width >= 8 ? .max : (1 << UInt64(8 * width)) - 1
        let top = UInt64(8 * min(width, 8) - 1)
        var out = Data(count: a.count)
        out.withUnsafeMutableBytes { o in
            a.withUnsafeBytes { x in
                b.withUnsafeBytes { y in
                    func load(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt64 {
                        switch width {
                        case 1: return UInt64(p[i])
                        case 2: return UInt64(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                        case 4: return UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                        default: return UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                        }
                    }
                    for i in 0..<(o.count / width) {
                        let r = combine(load(x, i), load(y, i), mask, top)
                        switch width {
                        case 1: o[i] = UInt8(truncatingIfNeeded: r)
                        case 2: o.storeBytes(of: UInt16(truncatingIfNeeded: r).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                        case 4: o.storeBytes(of: UInt32(truncatingIfNeeded: r).littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                        default: o.storeBytes(of: r.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Bitwise XOR of two equally long byte strings (its own inverse).
    static func xor(_ a: Data, _ b: Data) -> Data {
        // Both come from records checked to the same dtype and shape.
        precondition(a.count == b.count, "a delta and its base differ in length")
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
