import Foundation
import XCTest
import Format

/// `verify` beyond checksums: the architecture against the tensors, and probes run on the
/// CPU against outputs PyTorch computed (fixtures/torch/*/y.npy).
final class VerifyProbeTests: CLITestCase {
    func testProbesFromPyTorchPassAndATamperedOneFails() throws {
        for model in ["mlp", "parallel", "lenet"] {
            let file = path("\(model).ckpt")
            try ckpt("import", CLIRunner.fixture("torch/\(model)/model.safetensors").path, "--arch",
                     CLIRunner.fixture("arch/\(model).json").path, "-o", file)
            try ckpt("probe", "add", file, "--input", CLIRunner.fixture("torch/\(model)/x.npy").path,
                     "--expect", CLIRunner.fixture("torch/\(model)/y.npy").path, "--name", "torch")
            let ok = try ckpt("verify", file).stdout
            XCTAssertTrue(ok.contains("probe 'torch' (expected) ok"), ok)
            XCTAssertTrue(ok.contains("\(file): ok"), ok)
        }
        // One element of the reference moved by 1e-3: past rtol 1e-5, so verify fails naming the probe.
        let truth = try Npy.read(contentsOf: CLIRunner.fixture("torch/mlp/y.npy"))
        var bytes = truth.data
        bytes.withUnsafeMutableBytes { buffer in
            let value = Float(bitPattern: buffer.load(fromByteOffset: 4, as: UInt32.self)) + 1e-3
            buffer.storeBytes(of: value.bitPattern, toByteOffset: 4, as: UInt32.self)
        }
        try Npy.write(try Tensor(dtype: .f32, shape: truth.shape, data: bytes), to: work.appendingPathComponent("wrong.npy"))
        try ckpt("probe", "add", path("mlp.ckpt"), "--input", CLIRunner.fixture("torch/mlp/x.npy").path,
                 "--expect", path("wrong.npy"), "--name", "tampered")
        let bad = try ckpt("verify", path("mlp.ckpt"), expect: 1).stdout
        XCTAssertTrue(bad.contains("probe 'torch' (expected) ok"), bad)
        XCTAssertTrue(bad.contains("probe 'tampered': outputs differ beyond rtol 1e-05"), bad)
        let json = try ckpt("verify", path("mlp.ckpt"), "--json", expect: 1).stdout
        let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        let probes = report["probes"] as! [[String: Any]]
        XCTAssertEqual(probes.map { $0["passed"] as! Bool }, [true, false])
        XCTAssertEqual(probes[1]["maxAbsoluteError"] as! Double, 1e-3, accuracy: 1e-5)
        // --no-run checks the container alone.
        try ckpt("verify", "--no-run", path("mlp.ckpt"))
    }

    func testImportWithAMismatchedDocumentListsEveryMismatch() throws {
        let result = try ckpt("import", CLIRunner.fixture("torch/mlp/model.safetensors").path, "--arch",
                              CLIRunner.fixture("arch/nested.json").path, "-o", path("x.ckpt"), expect: 1)
        // One summary line naming the file, then one line per mismatch.
        let lines = result.stderr.split(separator: "\n")
        XCTAssertTrue(lines[0].contains("model.safetensors: the tensors do not match the architecture (12 mismatches)"), result.stderr)
        XCTAssertEqual(lines.count, 13, result.stderr)
        for expected in ["model.safetensors", "missing '0.net.0.weight'", "unexpected"] {
            XCTAssertTrue(result.stderr.contains(expected), "\(expected) in \(result.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.ckpt")))
    }
}
