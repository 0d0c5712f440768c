import Foundation

/// The one definition of the two 16-bit float formats a checkpoint can hold: IEEE 754
/// binary16 (`f16`) and bfloat16 (`bf16`), decoded to and encoded from `Float`/`Double`.
///
/// Written with bit operations only, not the platform's `Float16`, which Swift does not
/// provide on every architecture (it is missing on x86_64 macOS). Decoding is exact for
/// every bit pattern (both formats are subsets of binary32): subnormals, signed zeros,
/// infinities and NaN payloads are kept. Encoding rounds to nearest, ties to even, as
/// PyTorch's `tensor.half()` / `tensor.bfloat16()` do; NaN stays a quiet NaN of the same sign.
public enum HalfFloat {
    // MARK: binary16 (f16): 1 sign, 5 exponent (bias 15), 10 fraction bits

    /// The binary32 value of the binary16 `bits` (exact).
    @inline(__always)
    public static func float(fromHalf bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let fraction = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: fraction x 2^-24, exact in binary32 (11 significant bits at most).
            return Float(bitPattern: sign | (Float(fraction) * 0x1p-24).bitPattern)
        case 0x1F:
            // Infinity (fraction 0) or NaN, payload kept in the top fraction bits.
            return Float(bitPattern: sign | 0x7F80_0000 | (fraction << 13))
        default:
            // Rebias the exponent (15 -> 127) and widen the fraction (10 -> 23 bits).
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (fraction << 13))
        }
    }

    /// The binary64 value of the binary16 `bits` (exact).
    @inline(__always)
    public static func double(fromHalf bits: UInt16) -> Double {
        Double(float(fromHalf: bits))
    }

    /// `value` rounded to the nearest binary16 (ties to even). Values beyond the largest
    /// finite half (65504, rounding up from 65520) become infinity; NaN becomes a quiet NaN
    /// keeping the top fraction bits of its payload.
    public static func half(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let fraction = bits & 0x7F_FFFF
        if exponent == 0xFF {
            if fraction == 0 { return sign | 0x7C00 }
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: fraction >> 13)
        }
        // Unbiased exponent; binary16 normals cover -14 ... 15.
        let unbiased = exponent - 127
        if unbiased > 15 { return sign | 0x7C00 }
        if unbiased >= -14 {
            // Normal: keep 10 of the 23 fraction bits, round the dropped 13 to nearest even.
            // A carry out of the fraction correctly bumps the exponent (up to infinity).
            let kept = UInt32(unbiased + 15) << 10 | (fraction >> 13)
            return sign | UInt16(truncatingIfNeeded: roundShifted(kept, dropped: fraction & 0x1FFF, width: 13))
        }
        // Subnormal half (or zero): the value is m x 2^-24 for an integer m < 1024.
        // With the implicit bit, the binary32 significand is s x 2^(unbiased - 23); shift it
        // right by (-14 - unbiased) + 13 places.
        if exponent == 0 { return sign } // binary32 zero or subnormal: far below 2^-25
        let significand = fraction | 0x80_0000
        let shift = -unbiased - 1 // = (-14 - unbiased) + 13
        if shift > 24 { return sign } // below half of the smallest subnormal: rounds to zero
        let kept = significand >> UInt32(shift)
        let dropped = significand & ((1 << UInt32(shift)) - 1)
        return sign | UInt16(truncatingIfNeeded: roundShifted(kept, dropped: dropped, width: shift))
    }

    // MARK: bfloat16 (bf16): the top 16 bits of a binary32

    /// The binary32 value of the bfloat16 `bits` (exact: the top half of a binary32).
    @inline(__always)
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The binary64 value of the bfloat16 `bits` (exact).
    @inline(__always)
    public static func double(fromBFloat16 bits: UInt16) -> Double {
        Double(float(fromBFloat16: bits))
    }

    /// `value` rounded to the nearest bfloat16 (ties to even); NaN stays a quiet NaN of the
    /// same sign (truncating a NaN's payload could otherwise make it an infinity).
    public static func bfloat16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: roundShifted(bits >> 16, dropped: bits & 0xFFFF, width: 16))
    }

    /// `kept` plus one when the `width` dropped low bits are above half, or exactly half and
    /// `kept` is odd (round to nearest, ties to even).
    @inline(__always)
    private static func roundShifted(_ kept: UInt32, dropped: UInt32, width: Int) -> UInt32 {
        let halfway: UInt32 = 1 << UInt32(width - 1)
        if dropped > halfway || (dropped == halfway && kept & 1 == 1) { return kept + 1 }
        return kept
    }
}
