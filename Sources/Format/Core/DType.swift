/// The element type of a tensor.
///
/// The raw value is the spelling used in the `.ckpt` index (see `spec/FORMAT.md`).
/// 8-bit float formats are carried as raw bytes: ckpt stores and moves them but does
/// no arithmetic on them.
public enum DType: String, CaseIterable, Codable, Sendable {
    case f64, f32, f16, bf16
    case f8e4m3 = "f8_e4m3"
    case f8e5m2 = "f8_e5m2"
    case f8e8m0 = "f8_e8m0"
    case i64, i32, i16, i8
    case u64, u32, u16, u8
    case bool
    case c64

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64, .c64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .f8e4m3, .f8e5m2, .f8e8m0, .i8, .u8, .bool: return 1
        }
    }

    /// Floating-point formats whose top bit is the sign: the shuffle codec moves that
    /// bit to the bottom so the exponent fills one byte plane (see FORMAT.md, "shuffle").
    public var isSignedFloat: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: return true
        default: return false
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2, .f8e8m0, .c64: return true
        default: return false
        }
    }

    /// The name safetensors uses for this dtype.
    public var safetensorsName: String {
        switch self {
        case .f64: return "F64"
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f8e4m3: return "F8_E4M3"
        case .f8e5m2: return "F8_E5M2"
        case .f8e8m0: return "F8_E8M0"
        case .i64: return "I64"
        case .i32: return "I32"
        case .i16: return "I16"
        case .i8: return "I8"
        case .u64: return "U64"
        case .u32: return "U32"
        case .u16: return "U16"
        case .u8: return "U8"
        case .bool: return "BOOL"
        case .c64: return "C64"
        }
    }

    public init?(safetensorsName: String) {
        guard let match = DType.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = match
    }
}
