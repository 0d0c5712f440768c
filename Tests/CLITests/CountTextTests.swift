import Foundation
import XCTest
import Format

/// Counts read as English: "1 tensor", "2 tensors"; save counts tensors, probe tensors and
/// objects apart.
final class CountTextTests: CLITestCase {
    func testOneOfEachIsSingular() throws {
        let data = [Float](repeating: 0.5, count: 3).withUnsafeBufferPointer { Data(buffer: $0) }
        let tensor = try Tensor(dtype: .f32, shape: [3], data: data)
        try Safetensors.write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: tensor)]), to: work.appendingPathComponent("one.safetensors"))
        let said = [
            try ckpt("import", path("one.safetensors"), "-o", path("one.ckpt")).stdout,
            try ckpt("inspect", path("one.ckpt")).stdout,
            try ckpt("export", path("one.ckpt"), "-o", path("back.safetensors")).stdout,
            try ckpt("stats", path("one.ckpt")).stdout,
            try ckpt("verify", path("one.ckpt")).stdout,
        ]
        for text in said {
            XCTAssertTrue(text.contains("1 tensor,") || text.contains("1 tensor\n") || text.contains("1 tensor "), text)
            XCTAssertFalse(text.contains("1 tensors"), text)
        }
        XCTAssertTrue(said[4].contains("(1 tensor, 1 chunk, "), said[4])
        try ckpt("init")
        let save = try ckpt("save", path("one.ckpt"), "--model", "one").stdout
        XCTAssertTrue(save.contains(": 1 tensor, 1 new object ("), save)
        let fsck = try ckpt("fsck").stdout
        XCTAssertTrue(fsck.contains("(1 version, 1 object, "), fsck)
        XCTAssertTrue(try ckpt("gc", "--dry-run").stdout.contains("would remove 0 unreferenced objects, 0 B freed; 1 object ("))
        XCTAssertTrue(try ckpt("checkout", "one@1", "-o", path("out.ckpt")).stdout.hasSuffix(", 1 tensor\n"))
    }

    /// Probe tensors are not tensors of the model: save names both, and the objects they make.
    func testSaveCountsProbeTensorsApart() throws {
        let file = path("mlp.ckpt")
        try ckpt("import", CLIRunner.fixture("torch/mlp/model.safetensors").path, "--arch", CLIRunner.fixture("arch/mlp.json").path, "-o", file)
        try ckpt("probe", "add", file, "--input", CLIRunner.fixture("torch/mlp/x.npy").path,
                 "--expect", CLIRunner.fixture("torch/mlp/y.npy").path, "--name", "torch")
        let keys = try JSONSerialization.jsonObject(with: Data(contentsOf: CLIRunner.fixture("torch/mlp/keys.json"))) as! [String: Any]
        try ckpt("init")
        let save = try ckpt("save", file, "--model", "mlp").stdout
        // One probe: one input and one output; every tensor here is distinct, so each is a new object.
        XCTAssertTrue(save.contains(": \(keys.count) tensors (2 probe tensors), \(keys.count + 2) new objects ("), save)
        let again = try ckpt("save", file, "--model", "mlp").stdout
        XCTAssertTrue(again.contains(", 0 new objects (0 B written), \(keys.count + 2) already stored"), again)
    }
}
