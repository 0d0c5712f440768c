import Engine
import Format
import Foundation
import XCTest

final class ArchitectureCheckTests: XCTestCase {
    func testEveryMismatchIsListedInOneError() throws {
        var checkpoint = try Importer.load(contentsOf: Fixtures.url("torch/mlp/model.safetensors"))
        checkpoint.tensors.removeAll { $0.name == "0.bias" }                                          // missing
        checkpoint.tensors.append(NamedTensor(name: "3.weight", tensor: try Fixtures.tensor([2], [1, 2])))  // unexpected
        let index = checkpoint.tensors.firstIndex { $0.name == "2.bias" }!
        checkpoint.tensors[index].tensor = try Fixtures.tensor([11], [Float](repeating: 0, count: 11))     // wrong shape
        let document = try Fixtures.document("mlp")
        XCTAssertEqual(try architectureMismatches(document, against: checkpoint), [
            .missing(name: "0.bias", shape: [256]),
            .wrongShape(name: "2.bias", stored: [11], expected: [10]),
            .unexpected(name: "3.weight", shape: [2]),
        ])
        XCTAssertThrowsError(try checkArchitecture(document, against: checkpoint)) { error in
            XCTAssertEqual(error as? EngineError, .architectureMismatch([
                .missing(name: "0.bias", shape: [256]),
                .wrongShape(name: "2.bias", stored: [11], expected: [10]),
                .unexpected(name: "3.weight", shape: [2]),
            ]))
            XCTAssertTrue("\(error)".hasPrefix("the tensors do not match the architecture (3 mismatches)"), "\(error)")
        }
    }

    func testMatchingCheckpointPasses() throws {
        for model in TorchFixtureTests.models {
            try checkArchitecture(try Fixtures.document(model), against: try Importer.load(contentsOf: Fixtures.url("torch/\(model)/model.safetensors")))
        }
    }

    func testDifferingCopiesOfATiedTensorAreAMismatch() throws {
        var checkpoint = try Importer.load(contentsOf: Fixtures.url("torch/tied/model.npz"))
        let index = checkpoint.tensors.firstIndex { $0.name == "4.bias" }!
        checkpoint.tensors[index].tensor = try Fixtures.tensor([8], [Float](repeating: 0.5, count: 8))
        XCTAssertEqual(try architectureMismatches(try Fixtures.document("tied"), against: checkpoint),
                       [.tiedCopiesDiffer(name: "2.bias", other: "4.bias")])
    }

    func testAttachStoresTheResolvedDocument() throws {
        let checkpoint = try Fixtures.imported(weights: "torch/nested/model.safetensors", arch: try Fixtures.document("nested"))
        let stored = try XCTUnwrap(checkpoint.architecture?.modules)
        XCTAssertTrue(stored.isResolved)
    }

    func testOpaqueModulesCannotRunAndSaySo() throws {
        let document = try ArchitectureDocument.parse(Data(#"""
        {"version": 1, "module": {"type": "Sequential", "children": [
          {"type": "Linear", "in_features": 2, "out_features": 2},
          {"name": "attn", "type": "Opaque", "class": "my.Attention", "tensors": [{"name": "w", "shape": [2]}]}]}}
        """#.utf8))
        let checkpoint = try Initialization.checkpoint(for: document, seed: 1)
        XCTAssertEqual(checkpoint.tensors.map(\.name), ["0.weight", "0.bias", "attn.w"])
        XCTAssertThrowsError(try Network(checkpoint: checkpoint)) { error in
            XCTAssertEqual(error as? EngineError, .opaqueModules([OpaqueModule(path: "attn", className: "my.Attention")]))
        }
        var probed = checkpoint
        probed.probes = [Probe(name: "p", inputs: [try Fixtures.tensor([1, 2], [1, 2])], outputs: [try Fixtures.tensor([1, 2], [1, 2])], origin: .expected)]
        XCTAssertThrowsError(try verifyProbes(of: probed)) { error in
            XCTAssertEqual(error as? EngineError, .opaqueModules([OpaqueModule(path: "attn", className: "my.Attention")]))
        }
    }

    func testProbesReportErrorsAndTolerance() throws {
        var checkpoint = try Fixtures.imported(weights: "torch/mlp/model.safetensors", arch: try Fixtures.document("mlp"))
        let x = try Fixtures.npy("torch/mlp/x.npy")
        let y = try Fixtures.npy("torch/mlp/y.npy")
        var off = try Fixtures.floats(y)
        off[3] += 0.01
        checkpoint.probes = [
            Probe(name: "torch", inputs: [x], outputs: [y], rtol: 1e-5, atol: 1e-6, origin: .expected),
            Probe(name: "off", inputs: [x], outputs: [try Fixtures.tensor(y.shape, off)], rtol: 1e-5, atol: 1e-6, origin: .expected),
        ]
        let reports = try verifyProbes(of: checkpoint)
        XCTAssertEqual(reports.map(\.passed), [true, false])
        XCTAssertLessThan(reports[0].outputs[0].maxAbsoluteError, 1e-5)
        XCTAssertEqual(reports[1].outputs[0].maxAbsoluteError, 0.01, accuracy: 1e-4)
    }
}
