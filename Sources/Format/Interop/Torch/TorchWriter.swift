import Foundation

extension TorchFile {
    /// Writes the checkpoint as a zip-format torch file that `torch.load(path,
    /// weights_only=True)` accepts: its `structure` (dicts with their key types, ordered
    /// dicts, lists, tuples, numbers, strings, bytes, None; opaque values as None), or without
    /// one a state_dict (an OrderedDict of name to tensor). Each stored tensor is one storage;
    /// every leaf naming it (aliases, tied weights) is the same tensor object in the pickle.
    /// The architecture document, metadata and probes have no place in it. A structure that
    /// does not reach every tensor (`Checkpoint.tensorsOutsideStructure`) is replaced by the
    /// flat state_dict of all of them (`Checkpoint.exportStructure`): no tensor is dropped.
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
        try checkpoint.validateStructure()
        let pickle = try TorchPickleWriter.pickle(checkpoint.exportStructure, tensors: checkpoint.tensors)
        records.append(Record(name: "data.pkl", data: pickle.bytes))
        records.append(Record(name: ".format_version", data: Data("1".utf8)))
        records.append(Record(name: ".storage_alignment", data: Data("64".utf8)))
        records.append(Record(name: "byteorder", data: Data("little".utf8)))
        // Only the storages the pickle refers to: a tensor no leaf reaches has no place.
        for index in pickle.storages {
            records.append(Record(name: "data/\(index)", data: checkpoint.tensors[index].tensor.data))
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

    /// The pickle of `structure` over `tensors`, and the indices of the tensors it stores
    /// (each once, in the order first met; the storage key is the index).
    static func pickle(_ structure: CheckpointStructure, tensors: [NamedTensor]) throws -> (bytes: Data, storages: [Int]) {
        var byName: [String: Int] = [:]
        for (index, named) in tensors.enumerated() { for name in named.allNames { byName[name] = index } }
        var p = PickleBytes()
        p.op(0x80); p.byte(2)
        var globals: [String: Int] = [:]
        func global(_ module: String, _ name: String) {
            let key = module + "\n" + name
            if let index = globals[key] { p.get(index); return }
            p.global(module, name)
            globals[key] = p.memoize()
        }
        var tensorMemo: [Int: Int] = [:]
        var storages: [Int] = []

        func tensor(_ index: Int) throws {
            if let memo = tensorMemo[index] { p.get(memo); return }
            let named = tensors[index]
            let tensor = named.tensor
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
            global("collections", "OrderedDict"); p.op(0x29); p.op(0x52) // OrderedDict(): backward hooks
            if storageClass == nil { global("torch", torchDTypeName(tensor.dtype)) }
            p.op(0x74) // TUPLE
            p.op(0x52) // REDUCE
            tensorMemo[index] = p.memoize()
            storages.append(index)
        }

        // Depth is bounded by `validateStructure` (CheckpointStructure.Limits.maxDepth).
        func node(_ value: CheckpointStructure) throws {
            switch value {
            case .none, .opaque: p.op(0x4E) // NONE
            case .bool(let flag): p.op(flag ? 0x88 : 0x89)
            case .int(let n): p.int(Int(n))
            case .bigInt(let text):
                guard let bytes = CheckpointStructure.twosComplement(decimal: text) else {
                    throw FormatError(.invalidValue(field: "integer", value: "'\(text.prefix(40))'", expected: "decimal digits"))
                }
                p.long(bytes)
            case .float(let x): p.float(x)
            case .string(let text): p.string(text)
            case .bytes(let data):
                // Protocol 2 has no bytes opcode: `_codecs.encode(latin-1 text, 'latin1')`, as Python writes it.
                global("_codecs", "encode")
                p.string(String(String.UnicodeScalarView(data.map { Unicode.Scalar($0) })))
                p.string("latin1")
                p.op(0x86); p.op(0x52) // TUPLE2 REDUCE
            case .tensor(let name):
                guard let index = byName[name] else { throw FormatError(.notFound(kind: "tensor", name: name)) }
                try tensor(index)
            case .list(let items):
                p.op(0x5D) // EMPTY_LIST
                for batch in stride(from: 0, to: items.count, by: 1000) {
                    p.op(0x28)
                    for item in items[batch..<min(batch + 1000, items.count)] { try node(item) }
                    p.op(0x65) // APPENDS
                }
            case .tuple(let items):
                if items.isEmpty { p.op(0x29); return }
                p.op(0x28)
                for item in items { try node(item) }
                p.op(0x74) // TUPLE
            case .dict(let entries, let ordered):
                if ordered { global("collections", "OrderedDict"); p.op(0x29); p.op(0x52) } else { p.op(0x7D) } // EMPTY_DICT
                for batch in stride(from: 0, to: entries.count, by: 1000) {
                    p.op(0x28)
                    for entry in entries[batch..<min(batch + 1000, entries.count)] {
                        try node(entry.key.node)
                        try node(entry.value)
                    }
                    p.op(0x75) // SETITEMS
                }
            }
        }
        try node(structure)
        p.op(0x2E) // STOP
        return (Data(p.bytes), storages)
    }
}

extension CheckpointStructure.Key {
    /// The key as the value it is.
    var node: CheckpointStructure {
        switch self {
        case .string(let text): return .string(text)
        case .int(let n): return .int(n)
        case .bool(let flag): return .bool(flag)
        case .float(let x): return .float(x)
        case .none: return .none
        }
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

    /// LONG1 (or, past 255 bytes, LONG4, which only an unrestricted unpickler reads) of
    /// little-endian two's-complement bytes.
    mutating func long(_ raw: [UInt8]) {
        if raw.count < 256 { op(0x8A); byte(UInt8(raw.count)) } else { op(0x8B); u32(UInt32(raw.count)) }
        bytes += raw
    }

    /// BINFLOAT: the IEEE-754 bits, big-endian.
    mutating func float(_ value: Double) {
        op(0x47)
        let bits = value.bitPattern
        for i in (0..<8).reversed() { byte(UInt8((bits >> (8 * UInt64(i))) & 0xFF)) }
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
