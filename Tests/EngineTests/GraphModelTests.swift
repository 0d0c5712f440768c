import Engine
import Format
import Foundation
import XCTest

/// The small torch.export fixtures (fixtures/export, written by make.py with real torch):
/// each program imported from its .pt2 and run on the CPU gives torch's eager outputs
/// within 1e-4 relative.
final class GraphModelTests: XCTestCase {
    static let models = ["mlp", "tagger", "gru", "encoder", "bert", "distilbert", "gpt2", "vit", "unet", "dynamic"]

    /// Runs `name` from `folder` on its recorded inputs and compares every output with torch's.
    static func check(_ name: String, in folder: URL, backend: Backend = CPUBackend(), rtol: Double = 1e-4, atol: Double = 1e-5,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        let checkpoint = try Importer.load(contentsOf: folder.appendingPathComponent("\(name).pt2"))
        let network = try makeNetwork(for: checkpoint, backend: backend)
        var inputs: [Tensor] = []
        while FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(name).in\(inputs.count).npy").path) {
            inputs.append(try Npy.read(contentsOf: folder.appendingPathComponent("\(name).in\(inputs.count).npy")))
        }
        let outputs = try network.run(inputs)
        var expected: [Tensor] = []
        while FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(name).out\(expected.count).npy").path) {
            expected.append(try Npy.read(contentsOf: folder.appendingPathComponent("\(name).out\(expected.count).npy")))
        }
        XCTAssertEqual(outputs.count, expected.count, "\(name): outputs", file: file, line: line)
        for (index, (actual, reference)) in zip(outputs, expected).enumerated() {
            try assertClose(actual, reference, rtol: rtol, atol: atol, "\(name) output \(index)", file: file, line: line)
        }
    }

    private var folder: URL { Fixtures.url("export") }

    func testMLP() throws { try GraphModelTests.check("mlp", in: folder) }
    func testLSTMTagger() throws { try GraphModelTests.check("tagger", in: folder) }
    func testGRU() throws { try GraphModelTests.check("gru", in: folder) }
    func testTransformerEncoderLayer() throws { try GraphModelTests.check("encoder", in: folder) }
    func testBERT() throws { try GraphModelTests.check("bert", in: folder) }
    func testDistilBERT() throws { try GraphModelTests.check("distilbert", in: folder) }
    func testGPT2() throws { try GraphModelTests.check("gpt2", in: folder) }
    func testVisionTransformer() throws { try GraphModelTests.check("vit", in: folder) }
    func testUNet() throws { try GraphModelTests.check("unet", in: folder) }
    func testDynamicBatch() throws { try GraphModelTests.check("dynamic", in: folder) }
}
