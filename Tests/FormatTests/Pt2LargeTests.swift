import Foundation
import XCTest
@testable import Format

/// The torchvision zoo and the real all-MiniLM-L6-v2 as torch.export programs, made on demand
/// by fixtures/export/make.py --large into a shared cache ($CKPT_EXPORT_CACHE, else
/// ~/.cache/ckpt-export-fixtures): each imports with exactly torch's state_dict and the ops
/// torch's graph holds. Needs the venv with torch ($CKPT_TORCH_PYTHON); CI must not skip.
final class Pt2LargeTests: XCTestCase {
    /// vgg11_bn (532 MB) and convnext_tiny (115 MB) are left to benchmarks: reading them adds
    /// nothing the others do not test and costs seconds.
    static let models = ["resnet18", "mobilenet_v3_small", "squeezenet1_1", "densenet121", "efficientnet_b0", "minilm"]

    static func cache() throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let python = environment["CKPT_TORCH_PYTHON"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/ckpt-bench-venv/bin/python").path
        let present = FileManager.default.isExecutableFile(atPath: python)
        if environment["CI"] == "true" { XCTAssertTrue(present, "CI has no Python with torch at \(python)") }
        try XCTSkipUnless(present, "no Python with torch at \(python): run scripts/python-env.sh or set CKPT_TORCH_PYTHON")
        let folder = environment["CKPT_EXPORT_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/ckpt-export-fixtures")
        // Made already (each model's NAME.done is written last): starting Python and torch costs more than reading.
        if models.allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent("\($0).done").path) }) { return folder }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [TorchTests.url("export/make.py").path, "--large", "--out", folder.path, "--only", models.joined(separator: ",")]
        let log = Pipe()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let text = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, String(text.suffix(2000)))
        return folder
    }

    func testTheZooAndMiniLMImportWithTorchsTensorsAndOps() throws {
        let folder = try Self.cache()
        let ops = try JSONValue.parse(Data(contentsOf: folder.appendingPathComponent("ops-large.json")))
        for model in Self.models {
            let checkpoint = try Pt2File.read(contentsOf: folder.appendingPathComponent("\(model).pt2"))
            let graph = try XCTUnwrap(checkpoint.architecture?.graph, model)
            let truth = try Safetensors.read(contentsOf: folder.appendingPathComponent("\(model).safetensors"))
            XCTAssertEqual(Set(checkpoint.allNames), Set(truth.allNames), model)
            for name in truth.allNames {
                XCTAssertEqual(checkpoint.tensor(named: name)?.data, truth.tensor(named: name)?.data, "\(model) \(name)")
                XCTAssertEqual(checkpoint.tensor(named: name)?.shape, truth.tensor(named: name)?.shape, "\(model) \(name)")
            }
            guard case .array(let listed)? = ops[model]?["ops"] else { XCTFail(model); continue }
            XCTAssertEqual(Set(graph.nodes.map(\.op)), Set(listed.compactMap(\.stringValue).filter { $0.hasPrefix("aten.") }), model)
            var inputs: [Tensor] = []
            while case let url = folder.appendingPathComponent("\(model).in\(inputs.count).npy"), FileManager.default.fileExists(atPath: url.path) {
                inputs.append(try Npy.read(contentsOf: url))
            }
            XCTAssertEqual(checkpoint.probes.first?.inputs.map(\.data), inputs.map(\.data), model)
            XCTAssertEqual(graph.inputs.compactMap { $0.type.tensor?.fixedShape }, inputs.map(\.shape), model)
        }
        // The real MiniLM: six BERT layers of 384, token ids and a mask in, one embedding per sentence out.
        let minilm = try XCTUnwrap(Pt2File.read(contentsOf: folder.appendingPathComponent("minilm.pt2")).architecture?.graph)
        XCTAssertEqual(minilm.inputs.map { $0.type.tensor?.dtype }, [.i64, .i64])
        XCTAssertNotNil(minilm.modules.first { $0.path == "model.encoder.layer.5.attention.self.query" })
        XCTAssertEqual(minilm.tensors.first { $0.tensor == "model.encoder.layer.5.attention.self.query.weight" }?.type.fixedShape, [384, 384])
        guard case .tensor(let output)? = minilm.outputs.first else { return XCTFail() }
        XCTAssertEqual(minilm.valueTypes()[output]?.tensor?.fixedShape, [3, 384])
    }
}
