import Foundation
import XCTest
@testable import Format

/// Hostile architecture documents, generated here: sizes whose products overflow, paddings
/// that ask the engine for terabytes, Repeats that multiply, nesting that exhausts the stack.
/// Each is refused when parsed (or traced) with a typed reason; nothing traps.
final class ArchitectureLimitsTests: XCTestCase {
    func document(_ module: String, inputShape: String? = nil) -> Data {
        Data("{\"version\": 1, \(inputShape.map { "\"input_shape\": \($0), " } ?? "")\"module\": \(module)}".utf8)
    }

    func reason(_ body: () throws -> Void) -> FormatError.Reason? {
        do { try body(); return nil } catch { return (error as? FormatError)?.reason.root ?? .unclassified("\(error)") }
    }

    func parse(_ module: String, inputShape: String? = nil) -> FormatError.Reason? {
        reason { _ = try ArchitectureDocument.parse(document(module, inputShape: inputShape)) }
    }

    let limit = UInt64(ArchitectureLimits.maxSize)

    func testEveryIntegerIsBoundedAtParseTime() {
        // ckpt arch used to overflow counting this Linear's parameters.
        XCTAssertEqual(parse(#"{"type": "Linear", "in_features": 9e15, "out_features": 9e15}"#),
                       .limitExceeded(what: "in_features", value: 9_000_000_000_000_000, limit: limit))
        // The plan builder used to trap (or try to allocate 17 TB) on this padding.
        XCTAssertEqual(parse(#"{"type": "Conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 3, "padding": 4503599627370496}"#),
                       .limitExceeded(what: "padding", value: 1 << 52, limit: limit))
        XCTAssertEqual(parse(#"{"type": "Conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": [3, 4294967296]}"#),
                       .limitExceeded(what: "kernel_size", value: 1 << 32, limit: limit))
        XCTAssertEqual(parse(#"{"type": "Softmax", "dim": 100}"#), .invalidValue(field: "dim", value: "100", expected: "an axis from -64 to 63"))
        XCTAssertEqual(parse(#"{"type": "Flatten", "start_dim": -65}"#), .invalidValue(field: "start_dim", value: "-65", expected: "an axis from -64 to 63"))
        XCTAssertEqual(parse(#"{"type": "Repeat", "count": 65537, "children": [{"type": "ReLU"}]}"#),
                       .limitExceeded(what: "count", value: 65537, limit: 65536))
        XCTAssertEqual(parse(#"{"type": "LayerNorm", "normalized_shape": [4, -1]}"#),
                       .invalidValue(field: "normalized_shape", value: "-1", expected: "a positive integer"))
        XCTAssertEqual(parse(#"{"type": "Dropout", "p": 1e999}"#) != nil, true)
        // The largest allowed sizes pass on their own.
        XCTAssertNil(parse(#"{"type": "Linear", "in_features": 16777216, "out_features": 16777216}"#))
    }

    func testProductsOfSizesAreChecked() {
        // Each size is allowed; the weight's element count (2^62) is not.
        if case .limitExceeded(let what, _, let max) = parse(#"{"type": "Linear", "in_features": 2147483648, "out_features": 2147483648}"#) {
            XCTAssertTrue(what.contains("tensor 'weight'"), what)
            XCTAssertEqual(max, UInt64(ArchitectureLimits.maxElements))
        } else { XCTFail("a Linear of 2^62 weights is accepted") }
        // in x in x out overflows 64 bits outright.
        if case .limitExceeded = parse(#"{"type": "TensorReduction", "in_features": 2147483648, "out_features": 2147483648}"#) {} else {
            XCTFail("a TensorReduction of 2^93 weights is accepted")
        }
        if case .limitExceeded = parse(#"{"type": "Conv2d", "in_channels": 65536, "out_channels": 65536, "kernel_size": 65536}"#) {} else {
            XCTFail("a Conv2d of 2^64 weights is accepted")
        }
        if case .limitExceeded = parse(#"{"type": "Identity"}"#, inputShape: "[2147483648, 2147483648, 2147483648]") {} else {
            XCTFail("an input_shape of 2^93 elements is accepted")
        }
        let opaque = #"{"type": "Opaque", "class": "x.Y", "tensors": [{"name": "t", "shape": [%@]}]}"#
        XCTAssertEqual(parse(opaque.replacingOccurrences(of: "%@", with: "3, -1")),
                       .invalidValue(field: "a dimension of tensor 't'", value: "-1", expected: "a non-negative size"))
        if case .limitExceeded = parse(opaque.replacingOccurrences(of: "%@", with: "2147483648, 2147483648")) {} else {
            XCTFail("an Opaque tensor of 2^62 elements is accepted")
        }
    }

    func testTracedShapesStayWithinTheLimits() throws {
        // Every size is within bounds, but the padded output is 2^32 x 2^32 per channel.
        let doc = try ArchitectureDocument.parse(document(#"{"type": "Conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 1, "padding": 2147483647}"#))
        if case .limitExceeded(let what, _, _) = reason({ _ = try doc.tree().traceShapes(input: [1, 1, 8, 8]) }) {
            XCTAssertTrue(what.hasPrefix("the elements of the output"), what)
        } else { XCTFail("an output of 2^64 elements is accepted") }
        // A hostile runtime input (from a probe file or a command line) is checked too.
        let linear = try ArchitectureDocument.parse(document(#"{"type": "Linear", "in_features": 4, "out_features": 2}"#))
        if case .limitExceeded = reason({ _ = try linear.tree().traceShapes(input: [1 << 62, 4]) }) {} else { XCTFail("an input of 2^64 elements is accepted") }
        XCTAssertEqual(try ShapeRules.convolutionOutput(17, kernel: 3, stride: 2, padding: 1, dilation: 1), 9)
        XCTAssertEqual(reason { _ = try ShapeRules.convolutionOutput(1, kernel: Int.max, stride: 1, padding: 0, dilation: 4) }, .arithmeticOverflow(what: "a size"))
        XCTAssertEqual(reason { _ = try ShapeRules.poolOutput(Int.max, kernel: 2, stride: 2, padding: 1, dilation: 1, ceilMode: true) }, .arithmeticOverflow(what: "a size"))
        // Flatten multiplies axes: checked.
        let flatten = try ArchitectureDocument.parse(document(#"{"type": "Flatten", "start_dim": 0}"#))
        XCTAssertEqual(try flatten.tree().traceShapes(input: [4, 5, 6]).output, [120])
    }

    func testExpansionAndNestingAreBounded() {
        let nested = #"{"type": "Repeat", "count": 300, "children": [{"type": "Repeat", "count": 300, "children": [{"type": "ReLU"}]}]}"#
        XCTAssertEqual(parse(nested), .walkBudgetExceeded(what: "the expanded module tree", limit: ArchitectureLimits.maxModules))
        var deep = #"{"type": "ReLU"}"#
        for _ in 0 ..< ArchitectureLimits.maxDepth + 2 { deep = #"{"type": "Sequential", "children": ["# + deep + "]}" }
        XCTAssertEqual(parse(deep), .tooDeep(what: "the module tree", limit: ArchitectureLimits.maxDepth))
        // A Repeat of 2,000 blocks that each share the first: more Shared modules than allowed.
        let shares = #"{"type": "Sequential", "children": [{"name": "t", "type": "Linear", "in_features": 2, "out_features": 2},"#
            + #"{"name": "r", "type": "Repeat", "count": 2000, "children": [{"type": "Shared", "target": "t"}]}]}"#
        XCTAssertEqual(parse(shares), .walkBudgetExceeded(what: "the Shared modules of the expanded tree", limit: ArchitectureLimits.maxSharedModules))
    }

    func testLazySizesReadOffHostileTensorShapesStayLazy() throws {
        // A checkpoint's weight shapes are from the file: [4, 2^62] used to trap (2^62 x groups).
        let conv = try ArchitectureDocument.parse(document(#"{"type": "Conv2d", "out_channels": 4, "kernel_size": 1, "groups": 2}"#))
        let resolved = conv.resolved(tensorShapes: ["weight": [4, 1 << 62, 1, 1]])
        XCTAssertFalse(resolved.isResolved, "an out-of-bounds size is not taken")
        XCTAssertTrue(conv.resolved(tensorShapes: ["weight": [4, 3, 1, 1]]).isResolved)
        let linear = try ArchitectureDocument.parse(document(#"{"type": "Linear", "out_features": 2}"#))
        XCTAssertFalse(linear.resolved(tensorShapes: ["weight": [2, 1 << 40]]).isResolved)
    }

    func testParameterCountsOfTheLargestAllowedLayers() throws {
        // 2^24 x 2^24 weights and 2^24 biases: counted exactly, no overflow.
        let doc = try ArchitectureDocument.parse(document(#"{"type": "Linear", "in_features": 16777216, "out_features": 16777216}"#))
        let text = try ArchitecturePrinter.render(doc)
        XCTAssertTrue(text.contains("parameters: 281,474,993,487,872"), text)
    }
}
