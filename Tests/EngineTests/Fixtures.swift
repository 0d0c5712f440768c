import Engine
import Format
import Foundation
import XCTest

/// Paths into the package's fixtures and small helpers shared by the engine tests.
enum Fixtures {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func url(_ path: String) -> URL { root.appendingPathComponent("fixtures").appendingPathComponent(path) }

    static func document(_ name: String) throws -> ArchitectureDocument {
        try ArchitectureDocument.read(contentsOf: url("arch/\(name).json"))
    }

    static func npy(_ path: String) throws -> Tensor { try Npy.read(contentsOf: url(path)) }

    /// A torch fixture's weights with its document attached, as `ckpt import --arch` makes it.
    static func imported(weights: String, arch: ArchitectureDocument) throws -> Checkpoint {
        try attachArchitecture(arch, to: try Importer.load(contentsOf: url(weights)))
    }

    static func floats(_ tensor: Tensor) throws -> [Float] { try FloatConversion.floats(tensor) }

    static func tensor(_ shape: [Int], _ values: [Float]) throws -> Tensor { try FloatConversion.tensor(shape: shape, values: values) }
}

/// Asserts |a - e| <= atol + rtol·|e| everywhere (numpy's allclose) and equal shapes.
func assertClose(_ actual: Tensor, _ expected: Tensor, rtol: Double, atol: Double, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) throws {
    let report = try compareOutput(actual, expected: expected, rtol: rtol, atol: atol)
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    XCTAssertTrue(report.passed, "\(message): max abs error \(report.maxAbsoluteError), max rel error \(report.maxRelativeError)",
                  file: file, line: line)
}
