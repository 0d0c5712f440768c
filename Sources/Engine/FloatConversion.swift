import Foundation
import Format

/// The engine computes in float32; weights and inputs of other float types are converted
/// when loaded (f16 and bf16 exactly, by Format's one `HalfFloat`; f64 rounded to nearest).
public enum FloatConversion {
    /// The values of `tensor` as float32, in C order.
    public static func floats(_ tensor: Tensor) throws -> [Float] {
        let count = tensor.elementCount
        var values = [Float](repeating: 0, count: count)
        try tensor.data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            try values.withUnsafeMutableBufferPointer { out in
                switch tensor.dtype {
                case .f32:
                    for i in 0 ..< count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case .f16:
                    for i in 0 ..< count { out[i] = HalfFloat.float(fromHalf: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                case .bf16:
                    for i in 0 ..< count {
                        out[i] = HalfFloat.float(fromBFloat16: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                    }
                case .f64:
                    for i in 0 ..< count {
                        out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    }
                case .i64:
                    for i in 0 ..< count { out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                case .i32:
                    for i in 0 ..< count { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
                default:
                    throw EngineError.unsupportedDType(tensor.dtype)
                }
            }
        }
        return values
    }

    /// A float32 tensor holding `values`.
    public static func tensor(shape: [Int], values: [Float]) throws -> Tensor {
        var data = Data(count: values.count * 4)
        data.withUnsafeMutableBytes { raw in
            for (i, value) in values.enumerated() { raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        return try Tensor(dtype: .f32, shape: shape, data: data)
    }
}
