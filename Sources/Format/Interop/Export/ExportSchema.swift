/// The numbering of torch.export's schema (`torch/_export/serde/schema.py`, SCHEMA_VERSION
/// 8.20 in torch 2.15): which major versions this reader knows, and torch's enums in ckpt's terms.
enum ExportSchema {
    /// Major versions whose layout this reader was written against. A major version is bumped
    /// on every breaking change, so another one is refused by number rather than misread.
    static let knownMajors: Set<Int> = [8]

    /// `ScalarType` → ckpt's dtype; nil for the ones ckpt has no dtype for (complex half and
    /// double, the fnuz float8 formats).
    static func dtype(_ code: Int) -> DType? {
        switch code {
        case 1: return .u8
        case 2: return .i8
        case 3: return .i16
        case 4: return .i32
        case 5: return .i64
        case 6: return .f16
        case 7: return .f32
        case 8: return .f64
        case 10: return .c64
        case 12: return .bool
        case 13: return .bf16
        case 28: return .u16
        case 29: return .f8e4m3
        case 30: return .f8e5m2
        case 33: return .f8e8m0
        case 34: return .u32
        case 35: return .u64
        default: return nil
        }
    }

    /// torch's name of a `ScalarType`, for messages about ones ckpt cannot hold.
    static func scalarTypeName(_ code: Int) -> String {
        let names = [0: "unknown", 9: "complex32", 11: "complex128", 31: "float8_e4m3fnuz", 32: "float8_e5m2fnuz"]
        return "torch." + (names[code] ?? "scalar type \(code)")
    }

    /// `Layout` → torch's name.
    static func layout(_ code: Int) -> String? {
        [0: "unknown", 1: "sparse_coo", 2: "sparse_csr", 3: "sparse_csc", 4: "sparse_bsr", 5: "sparse_bsc", 6: "_mkldnn", 7: "strided"][code]
    }

    /// `MemoryFormat` → torch's name.
    static func memoryFormat(_ code: Int) -> String? {
        [0: "unknown", 1: "contiguous_format", 2: "channels_last", 3: "channels_last_3d", 4: "preserve_format"][code]
    }
}
