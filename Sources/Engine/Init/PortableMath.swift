/// Functions computed with IEEE-754 double additions, multiplications, divisions and
/// square roots only, which every conforming machine rounds alike. The platform's libm
/// may differ in the last bit between systems; initialisers must not, or `ckpt new` with
/// one seed would give different bytes on different machines.
public enum PortableMath {
    /// ln 2 split so that k·ln2High is exact for the exponents a double can have.
    static let ln2High = 6.93147180369123816490e-01
    static let ln2Low = 1.90821492927058770002e-10

    /// Natural logarithm of a positive, finite x (accurate to about one unit in the last place).
    public static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "PortableMath.log takes positive finite values")
        // x = m · 2^k with m in [sqrt(1/2), sqrt(2)); exponent and significand read from the bits.
        var m = x
        var k = 0
        if m < 0x1p-1022 { m *= 0x1p54; k -= 54 } // subnormal: scale into the normal range first
        let bits = m.bitPattern
        k += Int((bits >> 52) & 0x7FF) - 1023
        m = Double(bitPattern: (bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000) // in [1, 2)
        if m > 1.4142135623730951 { m *= 0.5; k += 1 }
        // ln m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.1716: the odd series to s^27 is exact to double precision.
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var series = 1.0 / 27
        var n = 25.0
        while n >= 1 {
            series = series * s2 + 1 / n
            n -= 2
        }
        let lnM = 2 * s * series
        return Double(k) * ln2High + (lnM + Double(k) * ln2Low)
    }
}
