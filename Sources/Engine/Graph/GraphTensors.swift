import Foundation
import Format

/// Tensors in and out of a graph plan. The engine holds every value as float32: floats of
/// any width are converted (as `FloatConversion` does), integers must lie within ±2^24 where
/// float32 is exact (token ids, positions, sizes), booleans become 0 and 1.
enum GraphTensors {
    static let exactIntegerLimit: Int64 = 1 << 24

    /// The values of `tensor` as float32; `what` names it in errors.
    static func floats(_ tensor: Tensor, _ what: String) throws -> [Float] {
        switch tensor.dtype {
        case .f32, .f16, .bf16, .f64:
            return try FloatConversion.floats(tensor)
        case .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64:
            let count = tensor.elementCount, size = tensor.dtype.size
            return try tensor.data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                var values = [Float](repeating: 0, count: count)
                for i in 0 ..< count {
                    let at = i * size
                    let value: Int64
                    switch tensor.dtype {
                    case .bool, .u8: value = Int64(raw[at])
                    case .i8: value = Int64(Int8(bitPattern: raw[at]))
                    case .i16: value = Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int16.self)))
                    case .u16: value = Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                    case .i32: value = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                    case .u32: value = Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    case .u64:
                        let wide = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                        value = wide > UInt64(Int64.max) ? Int64.max : Int64(wide)
                    default: value = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
                    }
                    guard value.magnitude <= UInt64(exactIntegerLimit) else { throw EngineError.integerTooLarge(what: what, value: value) }
                    values[i] = Float(value)
                }
                return values
            }
        default:
            throw EngineError.unsupportedDType(tensor.dtype)
        }
    }

    /// A tensor of `dtype` holding `values` (integers rounded toward zero, booleans non-zero).
    static func tensor(_ values: [Float], shape: [Int], dtype: DType) throws -> Tensor {
        switch dtype {
        case .bool:
            return try Tensor(dtype: .bool, shape: shape, data: Data(values.map { $0 != 0 ? 1 : 0 }))
        case .i64, .i32:
            var data = Data(count: values.count * dtype.size)
            data.withUnsafeMutableBytes { raw in
                for (i, value) in values.enumerated() {
                    let integer = value.isFinite ? Int64(value.rounded(.towardZero)) : 0
                    if dtype == .i64 { raw.storeBytes(of: integer.littleEndian, toByteOffset: 8 * i, as: Int64.self) }
                    else { raw.storeBytes(of: Int32(truncatingIfNeeded: integer).littleEndian, toByteOffset: 4 * i, as: Int32.self) }
                }
            }
            return try Tensor(dtype: dtype, shape: shape, data: data)
        default:
            return try FloatConversion.tensor(shape: shape, values: values)
        }
    }

    /// The dtype an output of `kind` is written in: the declared one where it is an integer
    /// or boolean type the kind matches, else i64, bool or f32.
    static func outputDType(_ kind: ElementKind, declared: DType?) -> DType {
        switch kind {
        case .boolean: return .bool
        case .integer: return declared == .i32 ? .i32 : .i64
        case .float: return .f32
        }
    }
}
