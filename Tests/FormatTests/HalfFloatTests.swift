import Foundation
import XCTest
import Format

/// `HalfFloat` against independent ground truth: the platform's hardware-backed `Float16`
/// (on the architectures that have it) for all 65,536 patterns, and hand-computed values.
final class HalfFloatTests: XCTestCase {
    func testEveryHalfPatternDecodesExactly() throws {
        #if arch(x86_64) || arch(arm64)
        for raw in 0...UInt32(0xFFFF) {
            let bits = UInt16(raw)
            let expected = Float(Float16(bitPattern: bits))
            let decoded = HalfFloat.float(fromHalf: bits)
            if expected.isNaN {
                XCTAssertTrue(decoded.isNaN, "\(bits)")
                XCTAssertEqual(decoded.sign, expected.sign, "\(bits)")
            } else {
                XCTAssertEqual(decoded.bitPattern, expected.bitPattern, "\(bits)")
            }
            let wide = HalfFloat.double(fromHalf: bits)
            XCTAssertTrue(wide.isNaN ? decoded.isNaN : wide == Double(decoded))
        }
        #else
        throw XCTSkip("no platform Float16 to compare against")
        #endif
    }

    func testHandComputedHalfValues() {
        XCTAssertEqual(HalfFloat.float(fromHalf: 0x3C00), 1)
        XCTAssertEqual(HalfFloat.float(fromHalf: 0xC000), -2)
        XCTAssertEqual(HalfFloat.float(fromHalf: 0x7BFF), 65504)
        XCTAssertEqual(HalfFloat.float(fromHalf: 0x0001), 0x1p-24) // smallest subnormal
        XCTAssertEqual(HalfFloat.float(fromHalf: 0x03FF), 1023 * 0x1p-24) // largest subnormal
        XCTAssertEqual(HalfFloat.float(fromHalf: 0x8000).bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertEqual(HalfFloat.float(fromHalf: 0xFC00), -.infinity)
        XCTAssertTrue(HalfFloat.float(fromHalf: 0x7E00).isNaN)
    }

    func testHalfEncodingRoundsToNearestEven() throws {
        XCTAssertEqual(HalfFloat.half(from: 1), 0x3C00)
        XCTAssertEqual(HalfFloat.half(from: 65504), 0x7BFF)
        XCTAssertEqual(HalfFloat.half(from: 65519), 0x7BFF) // below the midpoint to 65536
        XCTAssertEqual(HalfFloat.half(from: 65520), 0x7C00) // the midpoint, ties to even: infinity
        XCTAssertEqual(HalfFloat.half(from: 1e10), 0x7C00)
        XCTAssertEqual(HalfFloat.half(from: -.infinity), 0xFC00)
        XCTAssertEqual(HalfFloat.half(from: 1 + 0x1p-11), 0x3C00) // tie between 1 and 1+2^-10: even
        XCTAssertEqual(HalfFloat.half(from: 1 + 3 * 0x1p-11), 0x3C02) // tie, odd below: up
        XCTAssertEqual(HalfFloat.half(from: 0x1p-25), 0x0000) // half the smallest subnormal: even
        XCTAssertEqual(HalfFloat.half(from: 0x1.8p-25), 0x0001)
        XCTAssertEqual(HalfFloat.half(from: 0x1p-26), 0x0000)
        XCTAssertEqual(HalfFloat.half(from: -0.0), 0x8000)
        XCTAssertTrue(HalfFloat.float(fromHalf: HalfFloat.half(from: .nan)).isNaN)
        #if arch(x86_64) || arch(arm64)
        // Every half value, every midpoint between neighbours and points either side of it.
        for raw in 0...UInt32(0x7BFF) {
            let low = Float(Float16(bitPattern: UInt16(raw)))
            let high = Float(Float16(bitPattern: UInt16(raw + 1)))
            let mid = (low + high) / 2 // exact in binary32
            for value in [low, mid, mid.nextDown, mid.nextUp, -mid] {
                XCTAssertEqual(HalfFloat.half(from: value), Float16(value).bitPattern, "\(value)")
            }
        }
        #endif
    }

    func testBFloat16() {
        XCTAssertEqual(HalfFloat.float(fromBFloat16: 0x3F80), 1)
        XCTAssertEqual(HalfFloat.float(fromBFloat16: 0xC049), Float(bitPattern: 0xC049_0000))
        XCTAssertEqual(HalfFloat.double(fromBFloat16: 0x0001), 0x1p-133)
        XCTAssertEqual(HalfFloat.bfloat16(from: .pi), 0x4049) // 0x40490FDB: low half below the midpoint
        XCTAssertEqual(HalfFloat.bfloat16(from: Float(bitPattern: 0x3F80_8000)), 0x3F80) // tie, even
        XCTAssertEqual(HalfFloat.bfloat16(from: Float(bitPattern: 0x3F81_8000)), 0x3F82) // tie, odd: up
        XCTAssertEqual(HalfFloat.bfloat16(from: Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(HalfFloat.bfloat16(from: .greatestFiniteMagnitude), 0x7F80) // rounds to infinity
        // A NaN whose payload lives only in the low half must not become infinity.
        let lowPayloadNaN = Float(bitPattern: 0x7F80_0001)
        XCTAssertTrue(HalfFloat.float(fromBFloat16: HalfFloat.bfloat16(from: lowPayloadNaN)).isNaN)
    }
}
