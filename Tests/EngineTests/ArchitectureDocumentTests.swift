import Engine
import Format
import Foundation
import XCTest

final class ArchitectureDocumentTests: XCTestCase {
    private func parse(_ text: String) throws -> ArchitectureDocument { try ArchitectureDocument.parse(Data(text.utf8)) }

    private func assertRefused(_ text: String, containing fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "\(error)", file: file, line: line)
        }
    }

    private func module(_ body: String, inputShape: String? = nil) -> String {
        "{\"version\": 1, \(inputShape.map { "\"input_shape\": \($0), " } ?? "")\"module\": \(body)}"
    }

    func testEveryFixtureRoundTripsThroughItsSerialisation() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.url("arch").path).filter { $0.hasSuffix(".json") }
        XCTAssertGreaterThanOrEqual(names.count, 9)
        for name in names {
            let document = try ArchitectureDocument.read(contentsOf: Fixtures.url("arch/\(name)"))
            let again = try ArchitectureDocument.parse(document.serialized())
            XCTAssertEqual(again, document, name)
            XCTAssertEqual(again.serialized(), document.serialized(), name)
        }
    }

    func testSequentialChildrenDefaultToTheirIndex() throws {
        let document = try parse(module(#"{"type": "Sequential", "children": [{"type": "Linear", "in_features": 3, "out_features": 2}, {"type": "ReLU"}]}"#))
        XCTAssertEqual(try document.tensorSpecs().map(\.name), ["0.weight", "0.bias"])
    }

    func testRepeatNamesCopiesFromItsPattern() throws {
        let names = try Fixtures.document("hydra").tensorSpecs().map(\.name)
        XCTAssertEqual(names.first, "0.block 0.0.weight")
        XCTAssertTrue(names.contains("0.block 3.2.bias"))
        XCTAssertEqual(names.count, 18)
    }

    func testSharedGivesAliasesNotNewTensors() throws {
        let specs = try Fixtures.document("tied").tensorSpecs()
        XCTAssertEqual(specs.map(\.name), ["0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias"])
        XCTAssertEqual(specs[2].aliases, ["4.weight"])
    }

    /// A Shared target that holds a Shared module of its own: every name PyTorch would list appears.
    func testSharingAContainerThatSharesInside() throws {
        let document = try parse(module(#"""
        {"type": "Sequential", "children": [
          {"name": "a", "type": "Sequential", "children": [
            {"name": "0", "type": "Linear", "in_features": 4, "out_features": 4},
            {"name": "1", "type": "Shared", "target": "a.0"}]},
          {"name": "b", "type": "Shared", "target": "a"}]}
        """#))
        let specs = try document.tensorSpecs()
        XCTAssertEqual(specs.count, 2)
        XCTAssertEqual(Set(specs[0].allNames), ["a.0.weight", "a.1.weight", "b.0.weight", "b.1.weight"])
    }

    func testLazySizesAreInferredFromTheInputShape() throws {
        let document = try Fixtures.document("nested")
        XCTAssertFalse(document.isResolved)
        let resolved = try document.resolved(inputShape: [1, 20])
        XCTAssertTrue(resolved.isResolved)
        let specs = try resolved.tree().tensorSpecs()
        XCTAssertEqual(specs.first { $0.name == "0.net.2.weight" }?.shape, [32, 64])
        XCTAssertEqual(specs.first { $0.name == "1.weight" }?.shape, [20, 16])
    }

    func testLazySizesAreReadOffTensorShapes() throws {
        let document = try parse(module(#"{"type": "Sequential", "children": [{"type": "Conv2d", "out_channels": 6, "kernel_size": 3, "groups": 2}, {"type": "Linear", "out_features": 2}]}"#))
        let resolved = document.resolved(tensorShapes: ["0.weight": [6, 4, 3, 3], "1.weight": [2, 7]])
        guard case .conv2d(let conv) = resolved.root.children[0].layer else { return XCTFail() }
        XCTAssertEqual(conv.inChannels, 8)
        guard case .linear(let linear) = resolved.root.children[1].layer else { return XCTFail() }
        XCTAssertEqual(linear.inFeatures, 7)
    }

    func testShapesThroughTheTree() throws {
        let trace = try Fixtures.document("lenet").tree().traceShapes(input: [64, 1, 28, 28])
        XCTAssertEqual(trace.outputs["0"], [64, 6, 28, 28])
        XCTAssertEqual(trace.outputs["5"], [64, 16, 5, 5])
        XCTAssertEqual(trace.outputs["6"], [64, 400])
        XCTAssertEqual(trace.output, [64, 10])
        let parallel = try Fixtures.document("parallel").tree().traceShapes(input: [3, 20])
        XCTAssertEqual(parallel.outputs["0"], [3, 12])
    }

    func testPoolingOutputSizesFollowPyTorch() throws {
        // torch.nn.MaxPool2d(3, 2, padding=1, ceil_mode=True) on 16 gives 9; without ceil 8.
        XCTAssertEqual(try ShapeRules.poolOutput(16, kernel: 3, stride: 2, padding: 1, dilation: 1, ceilMode: true), 9)
        XCTAssertEqual(try ShapeRules.poolOutput(16, kernel: 3, stride: 2, padding: 1, dilation: 1, ceilMode: false), 8)
        // The last window must start inside the input: 5 with k=2, s=2, ceil -> 3, not 4.
        XCTAssertEqual(try ShapeRules.poolOutput(5, kernel: 2, stride: 2, padding: 0, dilation: 1, ceilMode: true), 3)
        XCTAssertEqual(try ShapeRules.convolutionOutput(17, kernel: 3, stride: 2, padding: 1, dilation: 1), 9)
    }

    func testMismatchedShapesAreRefusedWithTheModuleNamed() throws {
        let document = try Fixtures.document("mlp")
        XCTAssertThrowsError(try document.tree().traceShapes(input: [2, 21])) { error in
            XCTAssertTrue("\(error)".contains("module '0' (Linear): expects 20 input features, got 21"), "\(error)")
        }
    }

    /// `text` is refused with `reason` (matched past any context naming the module).
    private func assertRefused(_ text: String, reason: FormatError.Reason, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            XCTAssertEqual((error as? FormatError)?.reason.root, reason, "\(error)", file: file, line: line)
        }
    }

    func testRefusals() {
        assertRefused(#"{"version": 2, "module": {"type": "Identity"}}"#, reason: .unsupportedVersion(what: "architecture document", found: "2", supported: "1"))
        assertRefused(module(#"{"type": "Linearr", "out_features": 2}"#), containing: "type is 'Linearr'")
        assertRefused(module(#"{"type": "Linear", "out_features": 2, "bias": true, "in": 3}"#), reason: .unknownKeys(["in"]))
        assertRefused(module(#"{"type": "Linear"}"#), reason: .missingField("out_features"))
        assertRefused(module(#"{"type": "Linear", "out_features": 2.5}"#), reason: .invalidValue(field: "out_features", value: "2.5", expected: "an integer"))
        assertRefused(module(#"{"type": "Sequential", "children": [{"name": "a.b", "type": "ReLU"}]}"#), containing: "child name is 'a.b'")
        assertRefused(module(#"{"type": "Sequential", "children": [{"name": "a", "type": "ReLU"}, {"name": "a", "type": "Tanh"}]}"#),
                      reason: .duplicateName(kind: "child module", name: "a"))
        assertRefused(module(#"{"type": "Sequential", "children": [{"type": "Shared", "target": "7"}]}"#), reason: .notFound(kind: "target module", name: "7"))
        assertRefused(module(#"{"type": "Sequential", "children": [{"name": "s", "type": "Sequential", "children": [{"type": "Shared", "target": "s"}]}]}"#),
                      containing: "contains this module")
        assertRefused(module(#"{"type": "Repeat", "count": 2, "pattern": "b", "children": [{"type": "ReLU"}]}"#),
                      reason: .invalidValue(field: "pattern", value: "'b'", expected: "a pattern containing {i}"))
        assertRefused(module(#"{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "groups": 2}"#),
                      reason: .invalidValue(field: "in_channels", value: "3", expected: "a multiple of groups 2"))
        assertRefused("{not json", containing: "not valid JSON")
    }

    func testOpaqueKeepsItsTensorsAndClass() throws {
        let document = try parse(module(#"""
        {"type": "Sequential", "children": [
          {"type": "Linear", "in_features": 4, "out_features": 4},
          {"type": "Opaque", "class": "my.Attention", "tensors": [{"name": "qkv", "shape": [12, 4]}, {"name": "mask", "shape": [4, 4], "dtype": "bool", "buffer": true}],
           "config": {"heads": 2}}]}
        """#))
        let specs = try document.tensorSpecs()
        XCTAssertEqual(specs.map(\.name), ["0.weight", "0.bias", "1.qkv", "1.mask"])
        XCTAssertEqual(specs[3].dtype, .bool)
        XCTAssertEqual(try ArchitectureDocument.parse(document.serialized()), document)
    }

    func testSummaryPrintsLikePyTorchWithShapesAndCounts() throws {
        let text = try ArchitecturePrinter.render(try Fixtures.document("mlp"))
        XCTAssertTrue(text.hasPrefix("Sequential("), text)
        XCTAssertTrue(text.contains("(0): Linear(in_features=20, out_features=256, bias=True)"), text)
        XCTAssertTrue(text.contains("[2, 256]"), text)
        XCTAssertTrue(text.contains("5,376 params"), text)
        XCTAssertTrue(text.contains("parameters: 7,946"), text)
        let lenet = try ArchitecturePrinter.render(try Fixtures.document("lenet"))
        XCTAssertTrue(lenet.contains("(0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"), lenet)
        XCTAssertTrue(lenet.contains("(2): AvgPool2d(kernel_size=2, stride=2, padding=0)"), lenet)
        let tied = try ArchitecturePrinter.render(try Fixtures.document("tied"))
        XCTAssertTrue(tied.contains("shared with 2"), tied)
    }
}
