import Foundation

/// A storage a persistent id names: the record `data/<key>` (zip) or the key's bytes in the
/// legacy stream. `numel` counts elements of `dtype`, or bytes for an untyped storage.
final class TorchStorage: PickleNode {
    let key: String
    /// nil for `UntypedStorage` (bytes; the tensor brings its dtype).
    let dtype: DType?
    let numel: Int
    let location: String
    /// Legacy storage views (`view_metadata`): this storage is bytes
    /// `viewByteOffset ..< viewByteOffset + byteCount` of the root storage `key`.
    let viewByteOffset: Int
    let byteCount: Int
    /// The root storage's size in bytes (equal to `byteCount` unless a legacy view).
    let rootByteCount: Int

    init(key: String, dtype: DType?, numel: Int, location: String, viewByteOffset: Int = 0, viewCount: Int? = nil) throws {
        self.key = key
        self.dtype = dtype
        self.numel = numel
        self.location = location
        let size = dtype?.size ?? 1
        guard numel >= 0 else { throw Fault.invalid("storage '\(key)' size", String(numel), expected: "a non-negative count") }
        rootByteCount = try checkedMultiply(numel, size, "storage '\(key)' size")
        self.viewByteOffset = viewByteOffset
        if let viewCount {
            byteCount = try checkedMultiply(viewCount, size, "storage view size")
            let end = try checkedAdd(viewByteOffset, byteCount, "storage view end")
            guard viewByteOffset >= 0, viewCount >= 0, end <= rootByteCount else {
                throw Fault.malformed("storage view of '\(key)'", "bytes \(viewByteOffset)..<\(end) lie outside its \(rootByteCount)-byte storage")
            }
        } else {
            byteCount = rootByteCount
        }
    }

    /// Builds a storage from a zip-format persistent id `('storage', type, key, location, numel)`.
    static func fromPersistentID(_ pid: PickleValue, legacy: Bool, arena: PickleArena) throws -> PickleValue {
        guard let items = pid.sequence, let tag = items.first?.stringValue, tag == "storage" else {
            throw Fault.refused("a persistent id of \(pid.kindName)", "only ('storage', ...) tuples name storages")
        }
        guard items.count == (legacy ? 6 : 5) else {
            throw Fault.invalid("storage persistent id field count", String(items.count), expected: legacy ? "6" : "5")
        }
        guard case .global(let type) = items[1], case .storageType(let dtype) = type.symbol else {
            throw Fault.invalid("storage persistent id type", items[1].kindName, expected: "a torch storage type")
        }
        let key: String
        switch items[2] {
        case .string(let text): key = text
        case .int(let value): key = String(value)
        default: throw Fault.invalid("storage key", items[2].kindName, expected: "a string")
        }
        guard !key.isEmpty, key.utf8.count <= 256, !key.contains("/"), !key.contains("\\"), key != "..", key != "." else {
            throw Fault.refused("storage key '\(key)'", "it is not a plain name")
        }
        let location = items[3].stringValue ?? "cpu"
        guard let numel = items[4].intValue else { throw Fault.invalid("storage '\(key)' size", items[4].kindName, expected: "an int") }
        if legacy, let view = items[5].sequence {
            // (view_key, offset, view_size), in elements of the storage's dtype.
            guard view.count == 3, let offset = view[1].intValue, let count = view[2].intValue else {
                throw Fault.malformed("storage '\(key)'", "its view metadata is not (key, offset, size)")
            }
            let byteOffset = try checkedMultiply(offset, dtype?.size ?? 1, "storage view offset")
            return .storage(try arena.adopt(TorchStorage(key: key, dtype: dtype, numel: numel, location: location,
                                                         viewByteOffset: byteOffset, viewCount: count)))
        }
        return .storage(try arena.adopt(TorchStorage(key: key, dtype: dtype, numel: numel, location: location)))
    }
}

/// A tensor the pickle rebuilt: a strided view of a storage. Its bytes are read only when
/// the checkpoint is materialized, after every bound has been checked.
final class TorchTensor: PickleNode {
    let storage: TorchStorage
    let dtype: DType
    /// In elements of `dtype`, from the start of the storage.
    let offset: Int
    let shape: [Int]
    let stride: [Int]
    let conjugate: Bool
    let negative: Bool
    var isParameter = false

    init(storage: TorchStorage, dtype: DType, offset: Int, shape: [Int], stride: [Int], conjugate: Bool, negative: Bool) {
        self.storage = storage
        self.dtype = dtype
        self.offset = offset
        self.shape = shape
        self.stride = stride
        self.conjugate = conjugate
        self.negative = negative
    }

    /// Two tensors with the same view key read the same bytes the same way: one is an alias of the other.
    struct ViewKey: Hashable {
        var storage: String
        var byteOffset: Int
        var dtype: DType
        var shape: [Int]
        var stride: [Int]
        var conjugate: Bool
        var negative: Bool
    }

    /// The view's identity. Strides of size-1 axes are never stepped along, so they do not
    /// tell views apart; the byte offset is checked (it comes from the file).
    func viewKey() throws -> ViewKey {
        let byteOffset = try checkedAdd(storage.viewByteOffset, try checkedMultiply(offset, dtype.size, "tensor offset"), "tensor offset")
        return ViewKey(storage: storage.key, byteOffset: byteOffset, dtype: dtype, shape: shape,
                       stride: TorchTensor.steppedStrides(shape: shape, stride: stride), conjugate: conjugate, negative: negative)
    }

    /// `stride` with 0 for every axis of size 1, whose stride (any value a file likes) is
    /// never stepped along: what addresses the same elements, and keeps arithmetic on
    /// strides within the bounds checked for the view.
    static func steppedStrides(shape: [Int], stride: [Int]) -> [Int] {
        zip(shape, stride).map { $0 == 1 ? 0 : $1 }
    }

    var summary: String { "\(dtype.rawValue)\(Tensor.describe(shape))" }

    static let maxRank = 64
    /// The most bytes a view that repeats its storage's elements may expand to.
    static let maxRepeatingViewBytes = 1 << 30

    /// Interprets `_rebuild_tensor[_v2|_v3](storage, offset, size, stride, ...)`.
    static func rebuild(version: Int, _ args: [PickleValue], arena: PickleArena) throws -> PickleValue {
        let name = version == 1 ? "_rebuild_tensor" : "_rebuild_tensor_v\(version)"
        let expected: ClosedRange<Int> = version == 1 ? 4 ... 4 : version == 2 ? 6 ... 7 : 7 ... 8
        guard expected.contains(args.count) else {
            throw Fault.invalid("\(name) argument count", String(args.count),
                                expected: expected.lowerBound == expected.upperBound ? "\(expected.lowerBound)" : "\(expected.lowerBound) or \(expected.upperBound)")
        }
        guard case .storage(let storage) = args[0] else { throw Fault.invalid("\(name) storage", args[0].kindName, expected: "a storage") }
        guard let offset = args[1].intValue, offset >= 0 else {
            throw Fault.invalid("\(name) storage offset", args[1].intValue.map(String.init) ?? args[1].kindName, expected: "a non-negative int")
        }
        let shape = try ints(args[2], "size", of: name)
        let stride = try ints(args[3], "stride", of: name)
        guard shape.count == stride.count else {
            throw Fault.malformed(name, "size has \(shape.count) dimensions but stride has \(stride.count)")
        }
        guard shape.count <= maxRank else {
            throw FormatError(.limitExceeded(what: "\(name) dimension count", value: UInt64(shape.count), limit: UInt64(maxRank)))
        }
        var dtype = storage.dtype
        var metadata: PickleValue?
        if version == 3 {
            guard case .global(let global) = args[6] else { throw Fault.invalid("\(name) dtype", args[6].kindName, expected: "a torch dtype") }
            let declared: DType
            switch global.symbol {
            case .dtype(let value): declared = value
            case .unsupportedDType(let torchName): throw FormatError(.unsupportedDType("torch.\(torchName)"))
            default: throw Fault.invalid("\(name) dtype", global.qualifiedName, expected: "a torch dtype")
            }
            if let typed = storage.dtype, typed != declared {
                throw Fault.malformed(name, "a \(declared.rawValue) tensor on a typed \(typed.rawValue) storage")
            }
            dtype = declared
            metadata = args.count == 8 ? args[7] : nil
        } else if version == 2 {
            metadata = args.count == 7 ? args[6] : nil
        }
        guard let dtype else { throw Fault.malformed(name, "an untyped storage with no dtype for the tensor") }
        var conjugate = false, negative = false
        if case .dict(let dict)? = metadata {
            for (key, value) in dict.entries {
                let flag = value.boolValue ?? true
                switch key.stringValue {
                case "conj": conjugate = flag
                case "neg": negative = flag
                default:
                    if flag { throw Fault.refused("tensor metadata '\(key.stringValue ?? key.kindName)'", "ckpt does not support it") }
                }
            }
        }
        if conjugate, dtype != .c64 { throw Fault.refused("a conjugated \(dtype.rawValue) tensor", "only complex tensors conjugate") }
        if negative, !dtype.isSignedFloat, dtype != .c64 {
            throw Fault.refused("a negated-view \(dtype.rawValue) tensor", "only float and complex views negate")
        }
        return .tensor(try arena.adopt(TorchTensor(storage: storage, dtype: dtype, offset: offset, shape: shape, stride: stride,
                                                   conjugate: conjugate, negative: negative)))
    }

    private static func ints(_ value: PickleValue, _ what: String, of name: String) throws -> [Int] {
        guard let items = value.sequence else { throw Fault.invalid("\(name) \(what)", value.kindName, expected: "a tuple") }
        return try items.map {
            guard let n = $0.intValue, n >= 0 else {
                throw Fault.invalid("\(name) \(what) item", $0.intValue.map(String.init) ?? $0.kindName, expected: "a non-negative int")
            }
            return n
        }
    }

    // MARK: Materializing

    /// The tensor's bytes in little-endian C order, from its storage's bytes (`record`,
    /// the whole root storage). A contiguous little-endian view is a zero-copy slice.
    func materialize(record: Data, bigEndian: Bool, name: String, budget: MemoryBudget) throws -> Tensor {
        let elementSize = dtype.size
        let count: Int
        do { count = try Tensor.elementCount(shape) } catch let error as FormatError { throw error.within("tensor '\(name)'") }
        let storageBytes = storage.byteCount
        guard storageBytes % elementSize == 0 || storage.dtype == nil else {
            throw Fault.malformed("tensor '\(name)'", "storage '\(storage.key)' is not a whole number of \(dtype.rawValue) elements")
        }
        let storageElements = storageBytes / elementSize
        if count == 0 {
            return try Tensor(dtype: dtype, shape: shape, data: Data())
        }
        // The last element the view touches: offset + sum((size - 1) * stride), overflow-checked.
        var last = offset
        for (size, step) in zip(shape, stride) {
            last = try checkedAdd(last, try checkedMultiply(size - 1, step, "tensor '\(name)' extent"), "tensor '\(name)' extent")
        }
        guard last < storageElements else {
            throw Fault.malformed("tensor '\(name)' \(dtype.rawValue)\(Tensor.describe(shape)) at offset \(offset)",
                                  "needs \(last + 1) elements, but storage '\(storage.key)' holds \(storageElements)")
        }
        let base = record.startIndex + storage.viewByteOffset
        var bytes: Data
        if ElementBytes.isCContiguous(shape: shape, stride: stride) {
            let start = base + offset * elementSize
            bytes = record[start ..< start + count * elementSize]
        } else {
            // A view that repeats elements (stride 0, overlapping strides) can be far larger than
            // its storage: refuse absurd ones rather than allocate them.
            let outputBytes = try checkedMultiply(count, elementSize, "tensor '\(name)' size")
            guard count <= storageElements || outputBytes <= TorchTensor.maxRepeatingViewBytes else {
                throw Fault.refused("tensor '\(name)' \(dtype.rawValue)\(Tensor.describe(shape))",
                                    "it repeats the elements of its \(storageBytes)-byte storage into \(outputBytes) bytes")

            }
            // Every axis longer than 1 has (size - 1) x stride within the storage (checked
            // above), so these byte strides and the walk over them cannot overflow.
            let byteStrides = try TorchTensor.steppedStrides(shape: shape, stride: stride).map {
                try checkedMultiply($0, elementSize, "tensor '\(name)' stride")
            }
            bytes = try ElementBytes.gather(record, origin: base - record.startIndex + offset * elementSize, shape: shape,
                                            byteStrides: byteStrides, elementSize: elementSize, count: count,
                                            budget: budget, what: "tensor '\(name)' (a strided view)")
        }
        if bigEndian, elementSize > 1 {
            bytes = try ElementBytes.byteSwapped(bytes, unit: dtype == .c64 ? 4 : elementSize, budget: budget,
                                                 what: "tensor '\(name)' (big-endian)")
        }
        if conjugate || negative {
            bytes = try TorchTensor.flippingSigns(bytes, dtype: dtype, real: negative, imaginary: conjugate != negative, budget: budget,
                                                  what: "tensor '\(name)' (sign bits)")
        }
        return try Tensor(dtype: dtype, shape: shape, data: bytes)
    }

    /// Applies torch's lazy negation and conjugation bits: flips the sign bit of real
    /// parts (`real`) and of imaginary parts (`imaginary`) of little-endian elements.
    static func flippingSigns(_ data: Data, dtype: DType, real: Bool, imaginary: Bool, budget: MemoryBudget,
                              what: @autoclosure () -> String) throws -> Data {
        var out = try ElementBytes.allocate(data.count, budget: budget, for: what())
        out.withUnsafeMutableBytes { to in data.withUnsafeBytes { from in to.copyMemory(from: from) } }
        let (unit, top): (Int, Int) = {
            switch dtype {
            case .c64: return (8, 3)
            case .f64: return (8, 7)
            case .f32: return (4, 3)
            default: return (2, 1) // f16, bf16
            }
        }()
        out.withUnsafeMutableBytes { (bytes: UnsafeMutableRawBufferPointer) in
            var at = 0
            while at + unit <= bytes.count {
                if dtype == .c64 {
                    if real { bytes[at + 3] ^= 0x80 }
                    if imaginary { bytes[at + 7] ^= 0x80 }
                } else if real {
                    bytes[at + top] ^= 0x80
                }
                at += unit
            }
        }
        return out
    }
}
