import Foundation

extension TorchFile {
    /// Writes the checkpoint's tensors as a zip-format state_dict (an OrderedDict of name to
    /// tensor) that `torch.load(path, weights_only=True)` accepts. Each stored tensor is one
    /// storage; its aliases are the same tensor object in the pickle, so tied weights stay
    /// tied. The architecture document, metadata and probes have no place in a state_dict.
    public static func write(_ checkpoint: Checkpoint, to url: URL) throws {
        let plan = try TorchWriter(checkpoint, folder: TorchWriter.folderName(for: url))
        let file = try AtomicFile(destination: url)
        try plan.write { try file.write($0) }
        try file.commit()
    }

    /// The bytes `write` would put in a file (named `archive`).
    public static func encode(_ checkpoint: Checkpoint) throws -> Data {
        let plan = try TorchWriter(checkpoint, folder: "archive")
        var out = Data()
        try plan.write { out.append(contentsOf: $0) }
        return out
    }
}

/// Lays out a torch zip archive: `data.pkl`, `.format_version`, `.storage_alignment`,
/// `byteorder`, `data/0..N-1`, `version`, `.data/serialization_id`, each record stored and
/// starting at a multiple of 64 (the local header's "FB" extra field pads), ZIP64 records
/// at the end as torch writes them.
struct TorchWriter {
    struct Record {
        var name: String
        var data: Data
    }

    let folder: String
    var records: [Record] = []

    static func folderName(for url: URL) -> String {
        let base = url.deletingPathExtension().lastPathComponent
        let clean = base.unicodeScalars.filter { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }
        return clean.isEmpty ? "archive" : String(String.UnicodeScalarView(clean))
    }

    init(_ checkpoint: Checkpoint, folder: String) throws {
        self.folder = folder
        var names = Set<String>()
        for named in checkpoint.tensors {
            for name in named.allNames {
                guard names.insert(name).inserted else { throw FormatError(.duplicateName(kind: "tensor", name: name)) }
            }
            let tensor = named.tensor
            let expected = try Tensor.byteCount(dtype: tensor.dtype, shape: tensor.shape)
            guard tensor.data.count == expected else {
                throw FormatError(.truncated(what: "tensor '\(named.name)' \(tensor.dtype.rawValue)\(Tensor.describe(tensor.shape))",
                                             needed: UInt64(expected), available: UInt64(tensor.data.count)))

            }
        }
        records.append(Record(name: "data.pkl", data: try TorchPickleWriter.stateDict(checkpoint.tensors)))
        records.append(Record(name: ".format_version", data: Data("1".utf8)))
        records.append(Record(name: ".storage_alignment", data: Data("64".utf8)))
        records.append(Record(name: "byteorder", data: Data("little".utf8)))
        for (index, named) in checkpoint.tensors.enumerated() {
            records.append(Record(name: "data/\(index)", data: named.tensor.data))
        }
        records.append(Record(name: "version", data: Data("3\n".utf8)))
        // torch writes a random 40-digit id; a fixed one keeps the bytes reproducible.
        let total = checkpoint.tensors.reduce(0) { $0 &+ $1.tensor.data.count }
        let id = String(String(format: "%020llu", UInt64(truncatingIfNeeded: total)) + String(format: "%020llu", UInt64(checkpoint.tensors.count)))
        records.append(Record(name: ".data/serialization_id", data: Data(id.utf8)))
    }

    func write(_ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        func put(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try emit($0) }
            offset += bytes.count
        }
        func put(_ data: Data) throws {
            try data.withUnsafeBytes { try emit($0) }
            offset += data.count
        }
        var central: [UInt8] = []
        for record in records {
            let name = Array("\(folder)/\(record.name)".utf8)
            let size = record.data.count
            let crc = CRC32.checksum(record.data)
            let big = size >= 0xFFFF_FFFF
            let headerOffset = offset
            // Local header: sizes in a zip64 extra field when they do not fit 32 bits; then
            // an "FB" padding field so the data starts at a multiple of 64.
            var local = ZipBytes()
            local.u32(TorchZip.localSignature)
            local.u16(big ? 45 : 20)
            local.u16(0x0800) // UTF-8 names; sizes and CRC given here, no data descriptor
            local.u16(0) // stored
            local.u16(0); local.u16(0x21) // time, date: 1980-01-01
            local.u32(crc)
            local.u32(big ? 0xFFFF_FFFF : UInt32(size))
            local.u32(big ? 0xFFFF_FFFF : UInt32(size))
            local.u16(UInt16(name.count))
            var extra = ZipBytes()
            if big {
                extra.u16(0x0001); extra.u16(16)
                extra.u64(UInt64(size)); extra.u64(UInt64(size))
            }
            let unpadded = headerOffset + 30 + name.count + extra.bytes.count
            var padding = (64 - (unpadded + 4) % 64) % 64
            if unpadded % 64 == 0 { padding = -4 } // already aligned: no FB field
            if padding >= 0 {
                extra.u16(0x4246); extra.u16(UInt16(padding))
                extra.bytes += [UInt8](repeating: UInt8(ascii: "Z"), count: padding)
            }
            local.u16(UInt16(extra.bytes.count))
            local.bytes += name
            local.bytes += extra.bytes
            try put(local.bytes)
            try put(record.data)

            var entry = ZipBytes()
            let needs64 = big || headerOffset >= 0xFFFF_FFFF
            entry.u32(TorchZip.centralSignature)
            entry.u16(needs64 ? 45 : 20); entry.u16(needs64 ? 45 : 20)
            entry.u16(0x0800); entry.u16(0)
            entry.u16(0); entry.u16(0x21)
            entry.u32(crc)
            entry.u32(big ? 0xFFFF_FFFF : UInt32(size))
            entry.u32(big ? 0xFFFF_FFFF : UInt32(size))
            entry.u16(UInt16(name.count))
            var centralExtra = ZipBytes()
            if needs64 {
                var fields = ZipBytes()
                if big { fields.u64(UInt64(size)); fields.u64(UInt64(size)) }
                if headerOffset >= 0xFFFF_FFFF { fields.u64(UInt64(headerOffset)) }
                centralExtra.u16(0x0001); centralExtra.u16(UInt16(fields.bytes.count))
                centralExtra.bytes += fields.bytes
            }
            entry.u16(UInt16(centralExtra.bytes.count))
            entry.u16(0); entry.u16(0); entry.u16(0); entry.u32(0)
            entry.u32(headerOffset >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(headerOffset))
            entry.bytes += name
            entry.bytes += centralExtra.bytes
            central += entry.bytes
        }
        let directoryOffset = offset
        try put(central)
        let zip64EndOffset = offset
        var end = ZipBytes()
        end.u32(TorchZip.zip64EndSignature)
        end.u64(44)
        end.u16(45); end.u16(45)
        end.u32(0); end.u32(0)
        end.u64(UInt64(records.count)); end.u64(UInt64(records.count))
        end.u64(UInt64(central.count)); end.u64(UInt64(directoryOffset))
        end.u32(TorchZip.zip64LocatorSignature)
        end.u32(0); end.u64(UInt64(zip64EndOffset)); end.u32(1)
        end.u32(TorchZip.endSignature)
        end.u16(0); end.u16(0)
        end.u16(UInt16(min(records.count, 0xFFFF))); end.u16(UInt16(min(records.count, 0xFFFF)))
        end.u32(UInt32(min(central.count, 0xFFFF_FFFF)))
        end.u32(UInt32(min(directoryOffset, 0xFFFF_FFFF)))
        end.u16(0)
        try put(end.bytes)
    }
}

struct ZipBytes {
    var bytes: [UInt8] = []
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for i in 0 ..< 4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
    mutating func u64(_ v: UInt64) { for i in 0 ..< 8 { bytes.append(UInt8((v >> (8 * UInt64(i))) & 0xFF)) } }
}

/// The pickle of a state_dict, protocol 2, as torch writes it: `OrderedDict` of
/// `_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())` (v3 with an
/// untyped storage for the dtypes that need it). Aliases reuse the memoized tensor.
enum TorchPickleWriter {
    static func storageClass(_ dtype: DType) -> String? {
        switch dtype {
        case .f64: return "DoubleStorage"
        case .f32: return "FloatStorage"
        case .f16: return "HalfStorage"
        case .bf16: return "BFloat16Storage"
        case .i64: return "LongStorage"
        case .i32: return "IntStorage"
        case .i16: return "ShortStorage"
        case .i8: return "CharStorage"
        case .u8: return "ByteStorage"
        case .bool: return "BoolStorage"
        case .c64: return "ComplexFloatStorage"
        case .u16, .u32, .u64, .f8e4m3, .f8e5m2, .f8e8m0: return nil
        }
    }

    static func torchDTypeName(_ dtype: DType) -> String {
        switch dtype {
        case .u16: return "uint16"
        case .u32: return "uint32"
        case .u64: return "uint64"
        case .f8e4m3: return "float8_e4m3fn"
        case .f8e5m2: return "float8_e5m2"
        case .f8e8m0: return "float8_e8m0fnu"
        default: return dtype.rawValue
        }
    }

    /// C-order strides as torch computes them (sizes of 0 count as 1). A zero-element
    /// tensor holds no bytes, yet its other sizes may be huge (a 111-byte safetensors file
    /// can declare [0, 2^62, 2^62]); strides that do not fit in 64 bits are refused.
    static func contiguousStrides(_ shape: [Int], name: String) throws -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = step
            guard axis > 0 else { break }
            step = try checkedMultiply(step, max(shape[axis], 1), "the strides of tensor '\(name)' \(Tensor.describe(shape))")
        }
        return strides
    }

    static func stateDict(_ tensors: [NamedTensor]) throws -> Data {
        var p = PickleBytes()
        p.op(0x80); p.byte(2)
        p.global("collections", "OrderedDict")
        p.memoize() // 0: OrderedDict
        p.op(0x29); p.op(0x52) // EMPTY_TUPLE REDUCE
        p.memoize()
        let orderedDict = 0
        var globals: [String: Int] = [:]
        func global(_ module: String, _ name: String) {
            let key = module + "\n" + name
            if let index = globals[key] { p.get(index); return }
            p.global(module, name)
            globals[key] = p.memoize()
        }
        var pending = 0
        p.op(0x28) // MARK
        for (index, named) in tensors.enumerated() {
            let tensor = named.tensor
            p.string(named.name)
            let storageClass = storageClass(tensor.dtype)
            global("torch._utils", storageClass == nil ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2")
            p.op(0x28) // MARK: args
            p.op(0x28) // MARK: persistent id
            p.string("storage")
            if let storageClass { global("torch", storageClass) } else { global("torch.storage", "UntypedStorage") }
            p.string(String(index))
            p.string("cpu")
            p.int(storageClass == nil ? tensor.data.count : try Tensor.elementCount(tensor.shape))
            p.op(0x74) // TUPLE
            p.op(0x51) // BINPERSID
            p.int(0)
            p.tuple(tensor.shape)
            p.tuple(try contiguousStrides(tensor.shape, name: named.name))
            p.op(0x89) // False: requires_grad
            p.get(orderedDict); p.op(0x29); p.op(0x52) // OrderedDict(): backward hooks
            if storageClass == nil { global("torch", torchDTypeName(tensor.dtype)) }
            p.op(0x74) // TUPLE
            p.op(0x52) // REDUCE
            let memo = p.memoize()
            pending += 1
            for alias in named.aliases {
                p.string(alias)
                p.get(memo)
                pending += 1
            }
            if pending >= 1000 {
                p.op(0x75); p.op(0x28) // SETITEMS, MARK
                pending = 0
            }
        }
        p.op(0x75) // SETITEMS
        p.op(0x2E) // STOP
        return Data(p.bytes)
    }
}

/// Pickle opcodes with their operands.
struct PickleBytes {
    var bytes: [UInt8] = []
    private var memoCount = 0

    mutating func op(_ code: UInt8) { bytes.append(code) }
    mutating func byte(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ v: UInt32) { for i in 0 ..< 4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }

    mutating func global(_ module: String, _ name: String) {
        op(0x63)
        bytes += Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
    }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        op(0x58); u32(UInt32(utf8.count)); bytes += utf8
    }

    mutating func int(_ value: Int) {
        if value >= 0, value < 256 { op(0x4B); byte(UInt8(value)) }
        else if value >= 0, value < 65536 { op(0x4D); byte(UInt8(value & 0xFF)); byte(UInt8(value >> 8)) }
        else if value >= Int(Int32.min), value <= Int(Int32.max) { op(0x4A); u32(UInt32(bitPattern: Int32(value))) }
        else {
            // LONG1: minimal little-endian two's complement.
            var raw = withUnsafeBytes(of: Int64(value).littleEndian, Array.init)
            while raw.count > 1, (raw[raw.count - 1] == 0 && raw[raw.count - 2] & 0x80 == 0)
                || (raw[raw.count - 1] == 0xFF && raw[raw.count - 2] & 0x80 != 0) { raw.removeLast() }
            op(0x8A); byte(UInt8(raw.count)); bytes += raw
        }
    }

    mutating func tuple(_ values: [Int]) {
        switch values.count {
        case 0: op(0x29)
        case 1: int(values[0]); op(0x85)
        case 2: int(values[0]); int(values[1]); op(0x86)
        case 3: int(values[0]); int(values[1]); int(values[2]); op(0x87)
        default: op(0x28); values.forEach { int($0) }; op(0x74)
        }
    }

    /// BINPUT/LONG_BINPUT of the top of the stack; returns its memo index.
    @discardableResult
    mutating func memoize() -> Int {
        let index = memoCount
        memoCount += 1
        if index < 256 { op(0x71); byte(UInt8(index)) } else { op(0x72); u32(UInt32(index)) }
        return index
    }

    mutating func get(_ index: Int) {
        if index < 256 { op(0x68); byte(UInt8(index)) } else { op(0x6A); u32(UInt32(index)) }
    }
}
