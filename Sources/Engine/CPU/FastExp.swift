/// e^x in float32 from Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial
/// for e^r, and 2^n assembled from bits. Within 2 ulp of libm and, unlike a libm call, free of
/// calls and traps, so a loop of it vectorises: Sigmoid and SiLU run several times faster.
/// Inputs are clamped to [-87, 88.38]; below, the result (≤ 1.7e-38) stands in for a smaller
/// number or zero.
@inline(__always)
func fastExp(_ value: Float) -> Float {
    let x = min(max(value, -87), 88.376_26)
    // Adding 1.5·2^23 rounds to an integer (nearest) held in the low mantissa bits: no floor
    // call (baseline x86-64 has no rounding instruction) and no trapping Float→Int conversion.
    let shifted = x * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4 // ln2 in two parts, so n·ln2 is exact enough
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let er = p * r * r + r + 1
    let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
    return er * Float(bitPattern: exponent)
}

/// `fastExp` on eight lanes at once; Swift's SIMD types lower to vector instructions where
/// LLVM's loop vectoriser gives up on the scalar loop.
@inline(__always)
func fastExp(_ value: SIMD8<Float>) -> SIMD8<Float> {
    // replacing(with:where:) inlines where pointwiseMin/Max stay calls.
    let x = value.replacing(with: -87, where: value .< -87).replacing(with: 88.376_26, where: value .> 88.376_26)
    let shifted = x * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let er = p * r * r + r + 1
    let exponent = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return er * unsafeBitCast(exponent, to: SIMD8<Float>.self)
}

/// Applies `lanes` to x in groups of eight and `scalar` to the rest.
@inline(__always)
func mapEight(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
              _ lanes: (SIMD8<Float>) -> SIMD8<Float>, _ scalar: (Float) -> Float) {
    var i = 0
    while i + 8 <= count {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: lanes(v), as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { y[i] = scalar(x[i]); i += 1 }
}
