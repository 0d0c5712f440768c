import Engine
import Format
import Foundation
import XCTest

/// The torchvision zoo and the real all-MiniLM-L6-v2, exported by fixtures/export/make.py
/// --large into the shared cache ($CKPT_EXPORT_CACHE, else ~/.cache/ckpt-export-fixtures)
/// when a Python with torch is there ($CKPT_TORCH_PYTHON; skipped otherwise, never on CI):
/// each runs on the CPU and matches torch's eager outputs (MiniLM: transformers' own sentence
/// embedding) within 1e-4 relative.
final class GraphLargeModelTests: XCTestCase {
    static let models = ["resnet18", "mobilenet_v3_small", "squeezenet1_1", "densenet121", "efficientnet_b0", "convnext_tiny", "vgg11_bn", "minilm"]

    /// The cache folder with `models` made (make.py skips what is there already).
    static func cache(_ models: [String]) throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let python = environment["CKPT_TORCH_PYTHON"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/ckpt-bench-venv/bin/python").path
        let present = FileManager.default.isExecutableFile(atPath: python)
        if environment["CI"] == "true" { XCTAssertTrue(present, "CI has no Python with torch at \(python)") }
        try XCTSkipUnless(present, "no Python with torch at \(python): run scripts/python-env.sh or set CKPT_TORCH_PYTHON")
        let folder = environment["CKPT_EXPORT_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/ckpt-export-fixtures")
        if models.allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent("\($0).done").path) }) { return folder }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Fixtures.url("export/make.py").path, "--large", "--out", folder.path, "--only", models.joined(separator: ",")]
        let log = Pipe()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let text = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, String(text.suffix(2000)))
        return folder
    }

    private func check(_ model: String) throws {
        try GraphModelTests.check(model, in: try Self.cache([model]))
    }

    func testResNet18() throws { try check("resnet18") }
    func testMobileNetV3Small() throws { try check("mobilenet_v3_small") }
    func testSqueezeNet() throws { try check("squeezenet1_1") }
    func testDenseNet121() throws { try check("densenet121") }
    func testEfficientNetB0() throws { try check("efficientnet_b0") }
    func testConvNeXtTiny() throws { try check("convnext_tiny") }
    func testVGG11BN() throws { try check("vgg11_bn") }
    /// The real MiniLM: token ids and a mask in, transformers' normalised sentence embedding out.
    func testMiniLMSentenceEmbedding() throws { try check("minilm") }
}
