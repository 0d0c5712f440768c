import Engine
import Format
import Foundation
import XCTest

/// Graph documents built in code: what the engine refuses (unsupported ops, shapes outside
/// the exported ranges) and a small program checked against sums computed here.
final class GraphRefusalTests: XCTestCase {
    private func tensorType(_ dtype: DType, _ shape: [SymbolicSize]) -> GraphTensorType { GraphTensorType(dtype: dtype, shape: shape) }

    /// y = relu(x · Wᵀ + b) with a dynamic batch of 1...8 and 4 features.
    private func program(ops: [String] = []) throws -> (GraphDocument, Checkpoint) {
        let x = GraphValue(name: "x", type: .tensor(tensorType(.f32, [.symbol("batch"), .constant(4)])))
        var nodes = [
            GraphNode(name: "linear", op: "aten.linear.default",
                      inputs: [GraphNamedArgument(name: "input", value: .tensor("x")), GraphNamedArgument(name: "weight", value: .tensor("w")),
                               GraphNamedArgument(name: "bias", value: .tensor("b"))],
                      outputs: [.value(GraphValue(name: "y", type: .tensor(tensorType(.f32, [.symbol("batch"), .constant(3)]))))]),
            GraphNode(name: "relu", op: "aten.relu.default", inputs: [GraphNamedArgument(name: "self", value: .tensor("y"))],
                      outputs: [.value(GraphValue(name: "z", type: .tensor(tensorType(.f32, [.symbol("batch"), .constant(3)]))))]),
        ]
        for (index, op) in ops.enumerated() {
            nodes.append(GraphNode(name: "extra\(index)", op: op, inputs: [GraphNamedArgument(name: "self", value: .tensor("y"))],
                                   outputs: [.value(GraphValue(name: "e\(index)", type: .tensor(tensorType(.f32, [.symbol("batch"), .constant(3)]))))]))
        }
        let document = try GraphDocument(
            symbols: [GraphSymbol(name: "batch", min: 1, max: 8)],
            tensors: [GraphTensorBinding(value: "w", tensor: "fc.weight", role: .parameter, type: tensorType(.f32, [.constant(3), .constant(4)])),
                      GraphTensorBinding(value: "b", tensor: "fc.bias", role: .parameter, type: tensorType(.f32, [.constant(3)]))],
            inputs: [x], nodes: nodes, outputs: [.tensor("z")]).validated()
        let weight = (0 ..< 12).map { Float($0 % 5) - 2 }
        let bias: [Float] = [0.5, -1, 0.25]
        let checkpoint = Checkpoint(tensors: [NamedTensor(name: "fc.weight", tensor: try Fixtures.tensor([3, 4], weight)),
                                              NamedTensor(name: "fc.bias", tensor: try Fixtures.tensor([3], bias))])
        return (document, checkpoint)
    }

    func testEveryUnsupportedOpIsListedWithItsCountInOneError() throws {
        let (document, checkpoint) = try program(ops: ["aten.frobnicate.default", "aten.nonzero.default", "aten.frobnicate.default"])
        XCTAssertThrowsError(try GraphNetwork(document: document, checkpoint: checkpoint)) { error in
            XCTAssertEqual(error as? EngineError, .unsupportedOps([UnsupportedOp(op: "aten.frobnicate.default", count: 2),
                                                                   UnsupportedOp(op: "aten.nonzero.default", count: 1)]))
        }
    }

    func testDynamicBatchRunsAtAnySizeInItsRangeAndMatchesSumsComputedHere() throws {
        let (document, checkpoint) = try program()
        let network = try GraphNetwork(document: document, checkpoint: checkpoint)
        let weight = (0 ..< 12).map { Float($0 % 5) - 2 }
        let bias: [Float] = [0.5, -1, 0.25]
        for batch in [1, 3, 8] {
            let x = (0 ..< batch * 4).map { Float($0) * 0.25 - 1 }
            let y = try network.run([try Fixtures.tensor([batch, 4], x)])
            XCTAssertEqual(y.count, 1)
            XCTAssertEqual(y[0].shape, [batch, 3])
            var expected: [Float] = []
            for r in 0 ..< batch {
                for o in 0 ..< 3 {
                    var sum = bias[o]
                    for i in 0 ..< 4 { sum += x[r * 4 + i] * weight[o * 4 + i] }
                    expected.append(max(sum, 0))
                }
            }
            XCTAssertEqual(try Fixtures.floats(y[0]), expected)
        }
    }

    func testSizesOutsideTheExportedRangeOrFixedSizeAreRefusedNamingBothShapes() throws {
        let (document, checkpoint) = try program()
        let network = try GraphNetwork(document: document, checkpoint: checkpoint)
        XCTAssertThrowsError(try network.run([try Fixtures.tensor([9, 4], [Float](repeating: 0, count: 36))])) { error in
            XCTAssertEqual(error as? EngineError, .symbolOutOfRange(symbol: "batch", value: 9, low: 1, high: 8))
        }
        XCTAssertThrowsError(try network.run([try Fixtures.tensor([2, 5], [Float](repeating: 0, count: 10))])) { error in
            XCTAssertEqual(error as? EngineError, .inputShapeMismatch(input: "x", declared: "[batch, 4]", given: [2, 5]))
            XCTAssertTrue("\(error)".contains("[batch, 4]") && "\(error)".contains("[2, 5]"), "\(error)")
        }
        XCTAssertThrowsError(try network.run([])) { error in
            XCTAssertEqual(error as? EngineError, .graphInputCount(expected: 1, given: 0))
        }
    }

    /// embedding(table [3, 4], ids i64 [n]).
    private func lookup() throws -> GraphNetwork {
        let ids = GraphValue(name: "ids", type: .tensor(tensorType(.i64, [.symbol("n")])))
        let node = GraphNode(name: "embedding", op: "aten.embedding.default",
                             inputs: [GraphNamedArgument(name: "weight", value: .tensor("w")), GraphNamedArgument(name: "indices", value: .tensor("ids"))],
                             outputs: [.value(GraphValue(name: "e", type: .tensor(tensorType(.f32, [.symbol("n"), .constant(4)]))))])
        let document = try GraphDocument(
            symbols: [GraphSymbol(name: "n", min: 1, max: nil)],
            tensors: [GraphTensorBinding(value: "w", tensor: "table", role: .parameter, type: tensorType(.f32, [.constant(3), .constant(4)]))],
            inputs: [ids], nodes: [node], outputs: [.tensor("e")]).validated()
        let checkpoint = Checkpoint(tensors: [NamedTensor(name: "table", tensor: try Fixtures.tensor([3, 4], (0 ..< 12).map(Float.init)))])
        return try GraphNetwork(document: document, checkpoint: checkpoint)
    }

    private func ids(_ values: [Int64]) throws -> Tensor {
        var data = Data()
        for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        return try Tensor(dtype: .i64, shape: [values.count], data: data)
    }

    func testTokenIdsSelectRowsAndBadIdsAreRefused() throws {
        let network = try lookup()
        let rows = try network.run([try ids([2, 0, -1])])
        XCTAssertEqual(try Fixtures.floats(rows[0]), [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11])
        XCTAssertThrowsError(try network.run([try ids([1, 3])])) { error in
            XCTAssertEqual(error as? EngineError, .indexOutOfRange(index: 3, size: 3))
        }
        XCTAssertThrowsError(try network.run([try ids([1, 1 << 30])])) { error in
            XCTAssertEqual(error as? EngineError, .integerTooLarge(what: "input 'ids'", value: 1 << 30))
        }
        XCTAssertThrowsError(try network.run([try Fixtures.tensor([2], [0, 1])])) { error in
            XCTAssertEqual(error as? EngineError, .inputDTypeMismatch(input: "ids", declared: .i64, given: .f32))
        }
    }
}
