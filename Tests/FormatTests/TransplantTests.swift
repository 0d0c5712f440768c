import Format
import Foundation
import XCTest

/// Selection parsing, key mapping, the plan of moves and mismatches, and the provenance record.
final class TransplantTests: XCTestCase {
    func tensor(_ shape: [Int], _ fill: Float = 1, dtype: DType = .f32) throws -> Tensor {
        let count = shape.reduce(1, *)
        if dtype == .f16 { return try Tensor(dtype: .f16, shape: shape, data: Data(count: count * 2)) }
        return try Tensor(dtype: .f32, shape: shape, data: [Float](repeating: fill, count: count).withUnsafeBytes { Data($0) })
    }

    /// Sequential(Linear(in, hidden), ReLU, Linear(hidden, out)) with every tensor filled with `fill`.
    func mlp(_ inFeatures: Int, _ hidden: Int, _ out: Int, fill: Float) throws -> (ModuleTree, Checkpoint) {
        let root = ModuleNode.sequential("", [.linear(LinearConfig(inFeatures: inFeatures, outFeatures: hidden)), .activation(.relu),
                                              .linear(LinearConfig(inFeatures: hidden, outFeatures: out))])
        let document = ArchitectureDocument(root: root)
        let checkpoint = Checkpoint(tensors: [
            NamedTensor(name: "0.weight", tensor: try tensor([hidden, inFeatures], fill)), NamedTensor(name: "0.bias", tensor: try tensor([hidden], fill)),
            NamedTensor(name: "2.weight", tensor: try tensor([out, hidden], fill)), NamedTensor(name: "2.bias", tensor: try tensor([out], fill)),
        ], architecture: Architecture(document))
        return (try document.tree(), checkpoint)
    }

    func testSelectionPathsListsRangesAndGlobs() throws {
        let (tree, _) = try mlp(4, 8, 2, fill: 1)
        XCTAssertEqual(try TransplantSelection.resolve("0", in: tree), ["0"])
        XCTAssertEqual(try TransplantSelection.resolve("0,2", in: tree), ["0", "2"])
        XCTAssertEqual(try TransplantSelection.resolve("0:3", in: tree), ["0", "1", "2"])
        XCTAssertEqual(try TransplantSelection.resolve("1:", in: tree), ["1", "2"])
        XCTAssertEqual(try TransplantSelection.resolve("[0-1]", in: tree), ["0", "1"])
        XCTAssertThrowsError(try TransplantSelection.resolve("7", in: tree))
        XCTAssertThrowsError(try TransplantSelection.resolve("0,", in: tree))
        XCTAssertThrowsError(try TransplantSelection.resolve("2:1", in: tree))
    }

    func testNestedRangeAndGlob() throws {
        let inner = ModuleNode.sequential("layer", [.identity, .identity, .identity])
        let tree = try ModuleTree(ModuleNode(name: "", layer: .sequential, children: [ModuleNode(name: "encoder", layer: .sequential, children: [inner])]))
        XCTAssertEqual(try TransplantSelection.resolve("encoder.layer.1:3", in: tree), ["encoder.layer.1", "encoder.layer.2"])
        XCTAssertEqual(try TransplantSelection.resolve("encoder.layer.[0-1]", in: tree), ["encoder.layer.0", "encoder.layer.1"])
    }

    func testMapRules() throws {
        let rules = try ["module.=", "enc.=encoder."].map(TransplantSelection.parseRule)
        XCTAssertEqual(TransplantSelection.mapped("module.0.weight", rules: rules), "0.weight")
        XCTAssertEqual(TransplantSelection.mapped("enc.1.bias", rules: rules), "encoder.1.bias")
        XCTAssertEqual(TransplantSelection.mapped("head.bias", rules: rules), "head.bias")
        XCTAssertThrowsError(try TransplantSelection.parseRule("nothing"))
    }

    func testPlanMovesMatchingTensorsAndListsEveryMismatch() throws {
        let (srcTree, src) = try mlp(4, 8, 3, fill: 2)
        let (dstTree, dst) = try mlp(4, 8, 2, fill: 1)
        let plan = try TransplantPlan(pairs: [("0", "0"), ("2", "2")], sourceTree: srcTree, source: src, targetTree: dstTree, target: dst)
        XCTAssertEqual(plan.moves, [TransplantMove(source: "0.weight", target: "0.weight"), TransplantMove(source: "0.bias", target: "0.bias")])
        XCTAssertTrue(plan.mismatches.contains { $0.path == "2.weight" && $0.sourceShape == [3, 8] && $0.targetShape == [2, 8] })
        XCTAssertTrue(plan.mismatches.contains { $0.path == "2.bias" && $0.sourceShape == [3] && $0.targetShape == [2] })
        XCTAssertTrue(plan.mismatches.contains { $0.detail.hasPrefix("configuration") }, "\(plan.mismatches)")
        let result = plan.apply(source: src, to: dst)
        XCTAssertEqual(result.tensor(named: "0.weight")?.data, src.tensor(named: "0.weight")?.data)
        XCTAssertEqual(result.tensor(named: "2.weight")?.data, dst.tensor(named: "2.weight")?.data)
    }

    func testBareStateDictIsComparedByNameShapeAndDType() throws {
        let (dstTree, dst) = try mlp(4, 8, 2, fill: 1)
        let bare = Checkpoint(tensors: [NamedTensor(name: "0.weight", tensor: try tensor([8, 4], dtype: .f16)),
                                        NamedTensor(name: "0.extra", tensor: try tensor([1]))])
        let plan = try TransplantPlan(pairs: [("0", "0")], sourceTree: nil, source: bare, targetTree: dstTree, target: dst)
        XCTAssertTrue(plan.moves.isEmpty)
        XCTAssertEqual(Set(plan.mismatches.map(\.detail)), ["dtype f16 vs f32", "missing in source", "not in target"])
    }

    func testProvenanceRoundTripsAndKeepsExistingMetadata() throws {
        let probe = TransplantProvenance.ModuleProbe(input: try tensor([2, 4], 0.25), output: try tensor([2, 8], -1.5))
        let record = TransplantProvenance(source: "src.pt", sourceHash: String(repeating: "a", count: 64), sourceHashOf: "file bytes",
                                          destination: "dst.pt", layers: "0", to: "1", maps: ["module.="],
                                          modules: [.init(source: "0", target: "1", tensors: [TransplantMove(source: "0.weight", target: "1.weight")],
                                                          skipped: [TransplantMismatch(path: "1.bias", sourcePath: "0.bias", sourceShape: [3], targetShape: [2], detail: "shape")],
                                                          probe: probe)])
        let metadata = record.appended(to: .object(["author": .string("me")]))
        XCTAssertEqual(metadata["author"]?.stringValue, "me")
        let text = try metadata.serialized()
        let again = try TransplantProvenance.all(in: try JSONValue.parse(text))
        XCTAssertEqual(again, [record])
        let twice = record.appended(to: metadata)
        XCTAssertEqual(try TransplantProvenance.all(in: twice).count, 2)
    }
}
