import Foundation
import XCTest
import Format

/// import, export, inspect, verify and cat, driven through the binary against files
/// written by PyTorch, safetensors and numpy (fixtures/torch).
final class ContainerVerbTests: CLITestCase {
    static let models = ["mlp", "nested", "parallel", "hydra", "tied", "reduction", "fourier", "lenet"]

    func testSafetensorsRoundTripIsBitForBitForEveryFixture() throws {
        for model in Self.models {
            let source = CLIRunner.fixture("torch/\(model)/model.safetensors")
            try ckpt("import", source.path, "-o", path("\(model).ckpt"))
            try ckpt("verify", path("\(model).ckpt"))
            try ckpt("export", path("\(model).ckpt"), "-o", path("\(model).safetensors"))
            let original = try Safetensors.read(contentsOf: source)
            let back = try Safetensors.read(contentsOf: work.appendingPathComponent("\(model).safetensors"))
            XCTAssertEqual(back.tensors.map(\.name), original.tensors.map(\.name), model)
            for (a, b) in zip(original.tensors, back.tensors) {
                XCTAssertEqual(a.tensor.dtype, b.tensor.dtype, "\(model) \(a.name)")
                XCTAssertEqual(a.tensor.shape, b.tensor.shape, "\(model) \(a.name)")
                XCTAssertEqual(a.tensor.data, b.tensor.data, "\(model) \(a.name)")
            }
        }
        // Written the way the Python library writes it, down to the byte.
        XCTAssertEqual(try Data(contentsOf: work.appendingPathComponent("mlp.safetensors")),
                       try Data(contentsOf: CLIRunner.fixture("torch/mlp/model.safetensors")))
    }

    func testEveryCodecImportsAndCatMatchesNumpy() throws {
        let truth = try Npz.read(contentsOf: CLIRunner.fixture("torch/lenet/model.npz"))
        for codec in ["raw", "zstd", "shuffle-zstd", "shuffle-ans"] {
            try ckpt("import", CLIRunner.fixture("torch/lenet/model.safetensors").path, "-o", path("\(codec).ckpt"), "--codec", codec)
            for name in ["0.weight", "7.weight", "11.bias"] {
                try ckpt("cat", path("\(codec).ckpt"), name, "-o", path("t.npy"))
                let tensor = try Npy.read(contentsOf: work.appendingPathComponent("t.npy"))
                let expected = try XCTUnwrap(truth.tensor(named: name))
                XCTAssertEqual(tensor.shape, expected.shape)
                XCTAssertEqual(tensor.data, expected.data, "\(codec) \(name)")
            }
        }
        try ckpt("cat", path("raw.ckpt"), "7.weigth", "-o", path("t.npy"), expect: 1)
        let miss = try CLIRunner.run(["cat", path("raw.ckpt"), "7.weigth", "-o", path("t.npy")])
        XCTAssertTrue(miss.stderr.contains("no tensor named '7.weigth'; did you mean '7.weight'"), miss.stderr)
    }

    func testInspectReportsTensorsAndRatioAsJSON() throws {
        try ckpt("import", CLIRunner.fixture("torch/mlp/model.safetensors").path, "-o", path("mlp.ckpt"))
        let result = try ckpt("inspect", path("mlp.ckpt"), "--json")
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(report["version"] as? String, "1.1")
        let tensors = report["tensors"] as! [[String: Any]]
        // keys.json was written by PyTorch from the state_dict.
        let keys = try JSONSerialization.jsonObject(with: Data(contentsOf: CLIRunner.fixture("torch/mlp/keys.json"))) as! [String: [String: Any]]
        XCTAssertEqual(Set(tensors.map { $0["name"] as! String }), Set(keys.keys))
        for tensor in tensors {
            XCTAssertEqual(tensor["shape"] as? [Int], keys[tensor["name"] as! String]?["shape"] as? [Int])
        }
        let ratio = try XCTUnwrap(report["ratio"] as? Double)
        XCTAssertLessThan(ratio, 0.9)
        let table = try ckpt("inspect", path("mlp.ckpt")).stdout
        XCTAssertTrue(table.contains("0.weight  f32    [256, 20]  shuffle-ans"), table)
        // inspect reads the other formats too.
        XCTAssertTrue(try ckpt("inspect", CLIRunner.fixture("torch/mlp/model.npz").path).stdout.contains("[256, 20]"))
        XCTAssertTrue(try ckpt("inspect", CLIRunner.fixture("torch/mlp/x.npy").path).stdout.contains("x  "))
    }

    func testTiedTensorsStayOneThroughNpzAndSafetensors() throws {
        // ckpt keeps an alias; safetensors gets the tensor once and the dropped names in __metadata__.
        let tied = Checkpoint(tensors: [NamedTensor(name: "2.weight", aliases: ["4.weight"],
                                                    tensor: try Tensor(dtype: .f32, shape: [2], data: Data(count: 8)))])
        try CheckpointFile.write(tied, to: work.appendingPathComponent("tied.ckpt"))
        let out = try ckpt("export", path("tied.ckpt"), "-o", path("tied.safetensors")).stdout
        XCTAssertTrue(out.contains("1 tensor, 1 alias kept once"), out)
        let header = try Safetensors.read(contentsOf: work.appendingPathComponent("tied.safetensors"))
        XCTAssertEqual(header.tensors.count, 1)
        try ckpt("import", path("tied.safetensors"), "-o", path("again.ckpt"))
        let inspect = try ckpt("inspect", path("again.ckpt"), "--json").stdout
        XCTAssertTrue(inspect.contains("\"4.weight\""), inspect)
    }

    func testVerifyCatchesEveryFlippedByte() throws {
        try ckpt("import", CLIRunner.fixture("torch/reduction/model.safetensors").path, "-o", path("small.ckpt"), "--codec", "zstd")
        let bytes = try Data(contentsOf: work.appendingPathComponent("small.ckpt"))
        XCTAssertLessThan(bytes.count, 2048)
        // Every byte, through the binary; two processes at a time for the two cores.
        var outcomes = [CLIRunner.Result?](repeating: nil, count: bytes.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: bytes.count) { offset in
            var copy = bytes
            copy[offset] ^= 0x01
            let file = work.appendingPathComponent("flip-\(offset).ckpt")
            try? copy.write(to: file)
            let result = try? CLIRunner.run(["verify", file.path])
            try? FileManager.default.removeItem(at: file)
            lock.lock(); outcomes[offset] = result; lock.unlock()
        }
        let missed = outcomes.indices.filter { outcomes[$0]?.status != 1 }
        let crashed = outcomes.indices.filter { outcomes[$0]?.crashed ?? true }
        XCTAssertEqual(missed, [], "ckpt verify did not exit 1 with these bytes flipped")
        XCTAssertEqual(crashed, [])
    }

    func testTruncationFailsWithOneLine() throws {
        try ckpt("import", CLIRunner.fixture("torch/reduction/model.safetensors").path, "-o", path("r.ckpt"))
        let bytes = try Data(contentsOf: work.appendingPathComponent("r.ckpt"))
        // Every length near the fixed header and trailer, every 16th in between (the
        // library test cuts at every length).
        let lengths = Array(0..<80) + Array(stride(from: 80, to: bytes.count - 80, by: 16)) + Array((bytes.count - 80)..<bytes.count)
        for length in lengths {
            try bytes.prefix(length).write(to: work.appendingPathComponent("cut.ckpt"))
            let result = try CLIRunner.run(["inspect", path("cut.ckpt")])
            XCTAssertFalse(result.crashed)
            XCTAssertEqual(result.status, 1, "length \(length)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "length \(length): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("cut.ckpt"), result.stderr)
        }
    }

    func testBadInputLeavesNoFileBehindAndExitCodesAreDistinct() throws {
        try Data("{\"not\": \"a checkpoint\"}".utf8).write(to: work.appendingPathComponent("junk.safetensors"))
        let result = try ckpt("import", path("junk.safetensors"), "-o", path("out.ckpt"), expect: 1)
        XCTAssertTrue(result.stderr.hasPrefix("ckpt: "), result.stderr)
        XCTAssertTrue(result.stderr.contains("junk.safetensors"), result.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work.path), ["junk.safetensors"])
        try ckpt("verify", path("junk.safetensors"), expect: 1)
        try ckpt("verify", expect: 2)
        try ckpt("verify", path("missing.ckpt"), expect: 2)
        try ckpt("verify", "--no-such-flag", path("junk.safetensors"), expect: 2)
        try ckpt("export", CLIRunner.fixture("torch/mlp/model.safetensors").path, "-o", path("x.pdf"), expect: 2)
    }

    func testExportToNpzIsReadableAsNumpyWrote() throws {
        try ckpt("import", CLIRunner.fixture("torch/nested/model.npz").path, "-o", path("n.ckpt"))
        try ckpt("export", path("n.ckpt"), "-o", path("n.npz"))
        let original = try Npz.read(contentsOf: CLIRunner.fixture("torch/nested/model.npz"))
        let back = try Npz.read(contentsOf: work.appendingPathComponent("n.npz"))
        XCTAssertEqual(Set(back.allNames), Set(original.allNames))
        for name in original.allNames { XCTAssertEqual(back.tensor(named: name)?.data, original.tensor(named: name)?.data) }
    }
}
