import Foundation
import XCTest
@testable import Format

/// The graph form of the architecture document (spec/ARCH.md, "Graph documents"): the
/// spec's own example parses to the values it describes, serialization round-trips, and
/// every rule refuses a crafted document with a typed reason.
final class GraphDocumentTests: XCTestCase {
    /// The example of spec/ARCH.md, with a second node that uses the first's symint.
    static let example = #"""
    {
      "version": 2,
      "symbols": [{"name": "s77", "min": 1, "max": 64}],
      "modules": [{"path": "", "class": "__main__.M"}, {"path": "fc", "class": "torch.nn.modules.linear.Linear"}],
      "tensors": [{"value": "p_fc_weight", "tensor": "fc.weight", "role": "parameter", "dtype": "f32", "shape": [3, 4]}],
      "inputs": [{"name": "x", "type": "tensor", "dtype": "f32", "shape": ["s77", 4]}],
      "nodes": [
        {"name": "sym_size_int_1", "op": "aten.sym_size.int", "inputs": [{"name": "self", "value": {"tensor": "x"}}, {"name": "dim", "value": {"int": 0}}],
         "outputs": [{"name": "sym_size_int_1", "type": "symint", "expr": "s77"}]},
        {"name": "linear", "op": "aten.linear.default", "inputs": [{"name": "input", "value": {"tensor": "x"}}, {"name": "weight", "value": {"tensor": "p_fc_weight"}}, {"name": "bias", "value": null}],
         "outputs": [{"name": "linear", "type": "tensor", "dtype": "f32", "shape": ["s77", 3]}], "module": ["", "fc"]},
        {"name": "view", "op": "aten.view.default", "inputs": [{"name": "self", "value": {"tensor": "linear"}}, {"name": "size", "value": {"symints": ["sym_size_int_1", 3]}}],
         "outputs": [{"name": "view", "type": "tensor", "dtype": "f32", "shape": [{"mul": [1, "s77"]}, 3]}]},
        {"name": "slice", "op": "aten.slice.Tensor", "inputs": [{"name": "self", "value": {"tensor": "view"}}, {"name": "end", "value": {"int": 9223372036854775807}}, {"name": "fill", "value": {"float": "-inf"}, "keyword": true}],
         "outputs": [{"list": [{"name": "a", "type": "tensor", "dtype": "f32", "shape": [{"floordiv": ["s77", 2]}, 3]}]}, null]}
      ],
      "outputs": [{"tensor": "slice"}, {"tensor": "a"}]
    }
    """#

    func testTheSpecExampleParsesToItsValues() throws {
        let text = Self.example.replacingOccurrences(of: #"{"tensor": "slice"}, "#, with: "")
        let document = try GraphDocument.parse(Data(text.utf8))
        XCTAssertEqual(document.symbols, [GraphSymbol(name: "s77", min: 1, max: 64)])
        XCTAssertEqual(document.tensors.first?.tensor, "fc.weight")
        XCTAssertEqual(document.inputs, [GraphValue(name: "x", type: .tensor(GraphTensorType(dtype: .f32, shape: [.symbol("s77"), .constant(4)])))])
        XCTAssertEqual(document.nodes.map(\.op), ["aten.sym_size.int", "aten.linear.default", "aten.view.default", "aten.slice.Tensor"])
        XCTAssertEqual(document.nodes[1].module, "fc")
        XCTAssertEqual(document.nodes[1].input("bias"), GraphArgument.none)
        XCTAssertEqual(document.nodes[2].input("size"), .symInts([.value("sym_size_int_1"), .constant(3)]))
        XCTAssertEqual(document.nodes[3].input("end"), .int(Int.max), "an int above 2^53 stays exact")
        XCTAssertEqual(document.nodes[3].input("fill"), .float(-.infinity))
        XCTAssertEqual(document.nodes[3].inputs[2].keyword, true)
        XCTAssertEqual(document.nodes[3].outputs.last, GraphOutputSlot.none)
        XCTAssertEqual(document.outputs, [.tensor("a")])
        let size = try XCTUnwrap(document.nodes[3].definedValues.first?.type.tensor?.shape.first)
        XCTAssertEqual(try size.evaluate(["s77": 7], what: "size"), 3)
        XCTAssertEqual(try SymbolicSize.floorDiv(.constant(-7), .constant(2)).evaluate([:], what: "x"), -4, "Python's floor division")
        XCTAssertEqual(try SymbolicSize.mod(.constant(-7), .constant(2)).evaluate([:], what: "x"), 1, "Python's modulo")
        XCTAssertThrowsError(try SymbolicSize.mul([.constant(1 << 40), .constant(1 << 40)]).evaluate([:], what: "x"))
    }

    func testSerializationRoundTripsAndIsStable() throws {
        let text = Self.example.replacingOccurrences(of: #"{"tensor": "slice"}, "#, with: "")
        let document = try GraphDocument.parse(Data(text.utf8))
        let bytes = document.serialized()
        // NaN is the one value unequal to itself; the example has none.
        XCTAssertEqual(try GraphDocument.parse(bytes), document)
        XCTAssertEqual(try GraphDocument.parse(bytes).serialized(), bytes)
        let architecture = try Architecture.parse(bytes)
        XCTAssertEqual(architecture.graph, document)
        XCTAssertNil(architecture.modules)
        XCTAssertEqual(architecture.text, bytes, "a parsed document keeps its bytes")
    }

    private func refusal(_ edit: (String) -> String, file: StaticString = #filePath, line: UInt = #line) -> FormatError.Reason? {
        let text = edit(Self.example)
        do {
            _ = try Architecture.parse(Data(text.utf8))
            XCTFail("accepted", file: file, line: line)
            return nil
        } catch let error as FormatError {
            return error.reason.root
        } catch {
            XCTFail("untyped \(error)", file: file, line: line)
            return nil
        }
    }

    func testEveryRuleRefusesWithATypedReason() {
        // The example as written names "slice", which is a node, not a value: a dangling reference.
        XCTAssertEqual(refusal { $0 }, .notFound(kind: "value defined before the value", name: "slice"))
        let valid: (String) -> String = { $0.replacingOccurrences(of: #"{"tensor": "slice"}, "#, with: "") }
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #""version": 2"#, with: #""version": 3"#) },
                       .unsupportedVersion(what: "architecture document", found: "3", supported: "1 (module tree) and 2 (graph)"))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #"{"tensor": "p_fc_weight"}"#, with: #"{"tensor": "linear"}"#) },
                       .notFound(kind: "value defined before argument 'weight'", name: "linear"), "used before it is defined")
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #"{"name": "size", "value": {"symints": ["sym_size_int_1", 3]}}"#,
                                                                with: #"{"name": "size", "value": {"symint": "linear"}}"#) },
                       .invalidValue(field: "argument 'size' ('linear')", value: "tensor", expected: "a symint"))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #""name": "a""#, with: #""name": "view""#) },
                       .duplicateName(kind: "graph value", name: "view"))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #""shape": [3, 4]"#, with: #""shape": [3, 4], "stride": [4, 1]"#) },
                       .unknownKeys(["stride"]))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #"["s77", 4]"#, with: #"["s78", 4]"#) },
                       .notFound(kind: "declared symbol", name: "s78"))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #"["s77", 4]"#, with: #"["s77", 4294967296]"#) },
                       .invalidValue(field: "a size", value: "4294967296", expected: "0 to 2147483648"))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #""shape": [3, 4]"#, with: #""shape": [2147483648, 2147483648]"#) },
                       .limitExceeded(what: "the elements of the shape [2147483648, 2147483648]", value: 1 << 62, limit: 1 << 48))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #""module": ["", "fc"]"#, with: #""module": ["", "fc2"]"#) },
                       .notFound(kind: "module in the document's table", name: "fc2"))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #""max": 64"#, with: #""max": 0"#) },
                       .invalidValue(field: "the range of symbol 's77'", value: "1...0", expected: "0 <= min <= max"))
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #"{"int": 0}"#, with: #"{"tensor_list": 0}"#) },
                       .invalidValue(field: "the kind of an argument", value: "'tensor_list'",
                                     expected: "one of " + GraphArgument.kindNames.joined(separator: ", ")))
        // A size expression nested past the bound, and JSON nested past its bound.
        let deepSize = String(repeating: #"{"add": ["#, count: 40) + "1" + String(repeating: "]}", count: 40)
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #"["s77", 4]"#, with: "[\(deepSize), 4]") },
                       .tooDeep(what: "a symbolic size", limit: GraphLimits.maxExpressionDepth))
        let deepJSON = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertEqual(refusal { valid($0).replacingOccurrences(of: #""outputs": [{"tensor": "a"}]"#, with: #""outputs": \#(deepJSON)"#) },
                       .tooDeep(what: "architecture document", limit: 2 * ArchitectureLimits.maxDepth + 8))
    }

    func testModuleTreesStayAsTheyAre() throws {
        let text = #"{"version": 1, "module": {"type": "Sequential", "children": [{"type": "Linear", "in_features": 2, "out_features": 3}]}}"#
        let architecture = try Architecture.parse(Data(text.utf8))
        XCTAssertEqual(architecture.text, Data(text.utf8), "the stored bytes are kept, not rewritten")
        XCTAssertEqual(architecture.modules, try ArchitectureDocument.parse(Data(text.utf8)))
        XCTAssertNil(architecture.graph)
    }
}
