import Engine
import Format
import Foundation
import XCTest

/// The engine against PyTorch's own outputs: each chapter model's safetensors weights plus
/// its architecture document, run on x.npy, must give y.npy.
final class TorchFixtureTests: XCTestCase {
    static let models = ["mlp", "nested", "parallel", "hydra", "tied", "reduction", "fourier", "lenet"]

    func testEveryChapterModelMatchesPyTorch() throws {
        for model in Self.models {
            let checkpoint = try Fixtures.imported(weights: "torch/\(model)/model.safetensors", arch: try Fixtures.document(model))
            let network = try Network(checkpoint: checkpoint)
            let output = try network.run(try Fixtures.npy("torch/\(model)/x.npy"))
            try assertClose(output, try Fixtures.npy("torch/\(model)/y.npy"), rtol: 1e-5, atol: 1e-6, model)
        }
    }

    /// The document's names, aliases included and in order, are exactly the state_dict's keys.
    func testDocumentNamesAreTheStateDictKeys() throws {
        for model in Self.models {
            let keysData = try Data(contentsOf: Fixtures.url("torch/\(model)/keys.json"))
            guard case .object(let keys) = try JSONValue.parse(keysData) else { return XCTFail("keys.json") }
            let specs = try Fixtures.document(model).tensorSpecs()
            XCTAssertEqual(Set(specs.flatMap(\.allNames)), Set(keys.keys), model)
            for spec in specs {
                for name in spec.allNames {
                    guard case .array(let shape)? = keys[name]?["shape"] else { continue }
                    XCTAssertEqual(shape.map { if case .number(let n) = $0 { return Int(n) } else { return -1 } }, spec.shape, "\(model) \(name)")
                }
            }
        }
    }

    func testStateDictOrderIsKept() throws {
        let names = try Fixtures.document("nested").tensorSpecs().map(\.name)
        XCTAssertEqual(names, ["0.net.0.weight", "0.net.0.bias", "0.net.2.weight", "0.net.2.bias", "0.linear.weight", "0.linear.bias",
                               "1.weight", "1.bias"])
    }

    func testTiedModuleIsStoredOnceUnderBothNames() throws {
        let checkpoint = try Fixtures.imported(weights: "torch/tied/model.safetensors", arch: try Fixtures.document("tied"))
        XCTAssertEqual(checkpoint.tensors.map(\.name), ["0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias"])
        XCTAssertEqual(checkpoint.tensors.first { $0.name == "2.weight" }?.aliases, ["4.weight"])
        XCTAssertEqual(checkpoint.tensors.first { $0.name == "2.bias" }?.aliases, ["4.bias"])
    }

    /// numpy's .npz keeps a tied tensor once per name; the copies must agree and collapse to one.
    func testNpzDuplicatesOfATiedTensorCollapse() throws {
        let source = try Importer.load(contentsOf: Fixtures.url("torch/tied/model.npz"))
        XCTAssertNotNil(source.tensor(named: "4.weight"))
        let checkpoint = try attachArchitecture(try Fixtures.document("tied"), to: source)
        XCTAssertEqual(checkpoint.tensors.count, 6)
        let output = try Network(checkpoint: checkpoint).run(try Fixtures.npy("torch/tied/x.npy"))
        try assertClose(output, try Fixtures.npy("torch/tied/y.npy"), rtol: 1e-5, atol: 1e-6)
    }

    /// The layer fixtures cover what the chapter leaves out: conv options, pooling modes,
    /// norms with real statistics, GELU/SiLU/LeakyReLU, Softmax, FourierHalf of odd length, 3-d inputs.
    func testLayerFixturesMatchPyTorch() throws {
        for name in ["convs", "pools", "norms", "seq3d"] {
            let document = try ArchitectureDocument.read(contentsOf: Fixtures.url("torch/layers/\(name)/arch.json"))
            let checkpoint = try Fixtures.imported(weights: "torch/layers/\(name)/model.safetensors", arch: document)
            let output = try Network(checkpoint: checkpoint).run(try Fixtures.npy("torch/layers/\(name)/x.npy"))
            try assertClose(output, try Fixtures.npy("torch/layers/\(name)/y.npy"), rtol: 1e-5, atol: 1e-6, name)
        }
    }

    /// Weights stored as f16, bf16 and f64 are converted to f32 on load; torch computed in
    /// that dtype, so agreement is to that dtype's precision (f64: to f32's).
    func testHalfBfloatAndDoubleWeights() throws {
        let x = try Fixtures.npy("torch/dtypes/x.npy")
        for (tag, rtol, atol) in [("float16", 4e-3, 4e-3), ("bfloat16", 3e-2, 3e-2), ("float64", 1e-5, 1e-6)] {
            let checkpoint = try Fixtures.imported(weights: "torch/dtypes/\(tag).safetensors", arch: try Fixtures.document("dtypes"))
            let output = try Network(checkpoint: checkpoint).run(x)
            try assertClose(output, try Fixtures.npy("torch/dtypes/y_\(tag).npy"), rtol: rtol, atol: atol, tag)
        }
    }

    func testBatchOfOneUsesTheSameNumbers() throws {
        let checkpoint = try Fixtures.imported(weights: "torch/mlp/model.safetensors", arch: try Fixtures.document("mlp"))
        let network = try Network(checkpoint: checkpoint)
        let x = try Fixtures.floats(try Fixtures.npy("torch/mlp/x.npy"))
        let y = try Fixtures.floats(try Fixtures.npy("torch/mlp/y.npy"))
        for row in 0 ..< 2 {
            let output = try network.run(try Fixtures.tensor([1, 20], Array(x[row * 20 ..< row * 20 + 20])))
            try assertClose(output, try Fixtures.tensor([1, 10], Array(y[row * 10 ..< row * 10 + 10])), rtol: 1e-5, atol: 1e-6, "row \(row)")
        }
    }
}
