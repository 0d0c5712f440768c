import Engine
import Format
import Foundation
import XCTest

/// The engine reads f16 and bf16 through Format's one `HalfFloat`; known bit patterns.
final class FloatConversionTests: XCTestCase {
    private func tensor(_ dtype: DType, _ patterns: [UInt16]) throws -> Tensor {
        var data = Data()
        for bits in patterns { withUnsafeBytes(of: bits.littleEndian) { data.append(contentsOf: $0) } }
        return try Tensor(dtype: dtype, shape: [patterns.count], data: data)
    }

    func testHalfAndBFloat16PatternsDecodeExactly() throws {
        let half = try FloatConversion.floats(try tensor(.f16, [0x3C00, 0xC000, 0x7C00, 0x0001, 0x7BFF, 0x8000]))
        XCTAssertEqual(half, [1, -2, .infinity, 0x1p-24, 65504, -0.0])
        XCTAssertEqual(half[5].sign, .minus)
        let brain = try FloatConversion.floats(try tensor(.bf16, [0x3F80, 0xC040, 0xFF80, 0x0001]))
        XCTAssertEqual(brain, [1, -3, -.infinity, Float(bitPattern: 0x0001_0000)])
        XCTAssertTrue(try FloatConversion.floats(try tensor(.f16, [0x7E00]))[0].isNaN)
    }

    func testUnsupportedDTypeIsTyped() throws {
        let bools = try Tensor(dtype: .bool, shape: [2], data: Data([0, 1]))
        XCTAssertThrowsError(try FloatConversion.floats(bools)) { XCTAssertEqual($0 as? EngineError, .unsupportedDType(.bool)) }
    }
}
