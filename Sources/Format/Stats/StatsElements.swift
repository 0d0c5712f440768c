import Foundation

/// One element type read as Double from little-endian bytes. Kernels are generic over
/// it so that each dtype gets its own specialised loop.
protocol StatsElement {
    static var width: Int { get }
    static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double
}

enum F64Element: StatsElement {
    static var width: Int { 8 }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self)))
    }
}

enum F32Element: StatsElement {
    static var width: Int { 4 }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        Double(Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))))
    }
}

enum F16Element: StatsElement {
    static var width: Int { 2 }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        HalfFloat.double(fromHalf: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self)))
    }
}

enum BF16Element: StatsElement {
    static var width: Int { 2 }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        HalfFloat.double(fromBFloat16: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self)))
    }
}

/// float8 e5m2: the top byte of an IEEE binary16.
enum F8E5M2Element: StatsElement {
    static var width: Int { 1 }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        HalfFloat.double(fromHalf: UInt16(base.load(fromByteOffset: index, as: UInt8.self)) << 8)
    }
}

/// float8 e4m3fn: bias 7, no infinities, S.1111.111 is NaN.
enum F8E4M3Element: StatsElement {
    static var width: Int { 1 }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        let byte = base.load(fromByteOffset: index, as: UInt8.self)
        let negative = byte & 0x80 != 0
        let exponent = Int((byte >> 3) & 0xF), mantissa = Double(byte & 0x7)
        if exponent == 15, byte & 0x7 == 7 { return .nan }
        let magnitude = exponent == 0 ? mantissa * 0x1p-9 : (1 + mantissa / 8) * Double(sign: .plus, exponent: exponent - 7, significand: 1)
        return negative ? -magnitude : magnitude
    }
}

/// float8 e8m0 (scales): 2^(e - 127), 0xFF is NaN.
enum F8E8M0Element: StatsElement {
    static var width: Int { 1 }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        let byte = base.load(fromByteOffset: index, as: UInt8.self)
        return byte == 0xFF ? .nan : Double(sign: .plus, exponent: Int(byte) - 127, significand: 1)
    }
}

/// Every integer dtype: the same little-endian load, one specialised loop per width and sign.
enum IntegerElement<T: FixedWidthInteger>: StatsElement {
    static var width: Int { MemoryLayout<T>.size }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        Double(T(littleEndian: base.loadUnaligned(fromByteOffset: index &* MemoryLayout<T>.size, as: T.self)))
    }
}

/// bool: any non-zero byte is true (1).
enum BoolElement: StatsElement {
    static var width: Int { 1 }
    @inline(__always) static func value(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        base.load(fromByteOffset: index, as: UInt8.self) == 0 ? 0 : 1
    }
}

/// Work generic over the element type, run by `dispatch` with the type of a dtype.
protocol StatsElementVisitor {
    associatedtype Result
    func visit<E: StatsElement>(_ type: E.Type) -> Result
}

enum StatsElements {
    /// Whether `dtype` has figures (everything but complex).
    static func supports(_ dtype: DType) -> Bool { dtype != .c64 }

    /// Runs `visitor` with the element type of `dtype`; nil for a dtype without arithmetic.
    static func dispatch<V: StatsElementVisitor>(_ dtype: DType, _ visitor: V) -> V.Result? {
        switch dtype {
        case .f64: return visitor.visit(F64Element.self)
        case .f32: return visitor.visit(F32Element.self)
        case .f16: return visitor.visit(F16Element.self)
        case .bf16: return visitor.visit(BF16Element.self)
        case .f8e4m3: return visitor.visit(F8E4M3Element.self)
        case .f8e5m2: return visitor.visit(F8E5M2Element.self)
        case .f8e8m0: return visitor.visit(F8E8M0Element.self)
        case .i64: return visitor.visit(IntegerElement<Int64>.self)
        case .i32: return visitor.visit(IntegerElement<Int32>.self)
        case .i16: return visitor.visit(IntegerElement<Int16>.self)
        case .i8: return visitor.visit(IntegerElement<Int8>.self)
        case .u64: return visitor.visit(IntegerElement<UInt64>.self)
        case .u32: return visitor.visit(IntegerElement<UInt32>.self)
        case .u16: return visitor.visit(IntegerElement<UInt16>.self)
        case .u8: return visitor.visit(IntegerElement<UInt8>.self)
        case .bool: return visitor.visit(BoolElement.self)
        case .c64: return nil
        }
    }
}
