import Format
import Foundation
import XCTest

/// `ckpt import/inspect/run/export` on torch.save files, driving the real binary.
final class TorchVerbTests: CLITestCase {
    static let wholeModules = ["mlp", "hydra", "tied", "lenet"]
    static let models = ["mlp", "nested", "parallel", "hydra", "tied", "reduction", "fourier", "lenet"]
    static let pwned = ["posix", "os", "eval", "exec", "reduce"].map { "/tmp/ckpt-torch-pwned-\($0)" }

    func fixture(_ path: String) -> String { CLIRunner.fixture(path).path }

    /// The largest |a - e| - rtol·|e| over every element (<= atol means close).
    func assertClose(_ actualPath: String, _ expectedPath: String, rtol: Float = 1e-5, atol: Float = 1e-5,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let actual = try Npy.read(contentsOf: URL(fileURLWithPath: actualPath))
        let expected = try Npy.read(contentsOf: URL(fileURLWithPath: expectedPath))
        XCTAssertEqual(actual.shape, expected.shape, expectedPath, file: file, line: line)
        XCTAssertEqual(actual.dtype, .f32, file: file, line: line)
        let a = actual.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let e = expected.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(a.count, e.count, file: file, line: line)
        let worst = zip(a, e).map { abs($0 - $1) - rtol * abs($1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, atol, "\(expectedPath): off by \(worst)", file: file, line: line)
    }

    func requireRun() throws {
        let help = try CLIRunner.run(["run", "--help"])
        try XCTSkipUnless(help.status == 0, "ckpt run is not available")
    }

    func requireArchOption() throws {
        let help = try CLIRunner.run(["import", "--help"])
        try XCTSkipUnless(help.stdout.contains("--arch"), "ckpt import has no --arch option yet")
    }

    // MARK: Ground truth

    func testWholeModulePicklesImportRunAndMatchPyTorch() throws {
        try requireRun()
        for model in Self.wholeModules {
            try ckpt("import", fixture("torch/\(model)/module.pt"), "-o", path("\(model).ckpt"))
            try ckpt("run", path("\(model).ckpt"), "--input", fixture("torch/\(model)/x.npy"), "--output", path("\(model)-y.npy"))
            try assertClose(path("\(model)-y.npy"), fixture("torch/\(model)/y.npy"))
        }
    }

    func testStandardLayerZooRunsFromTheModulePickle() throws {
        try requireRun()
        try ckpt("import", fixture("torch-extra/zoo.pt"), "-o", path("zoo.ckpt"))
        try ckpt("run", path("zoo.ckpt"), "--input", fixture("torch-extra/zoo_x.npy"), "--output", path("zoo-y.npy"))
        try assertClose(path("zoo-y.npy"), fixture("torch-extra/zoo_y.npy"), rtol: 1e-4, atol: 1e-5)
    }

    func testEveryStateDictImportsWithItsDocument() throws {
        try requireRun()
        try requireArchOption()
        for model in Self.models {
            try ckpt("import", fixture("torch/\(model)/state_dict.pt"), "--arch", fixture("arch/\(model).json"), "-o", path("\(model).ckpt"))
            try ckpt("run", path("\(model).ckpt"), "--input", fixture("torch/\(model)/x.npy"), "--output", path("\(model)-y.npy"))
            try assertClose(path("\(model)-y.npy"), fixture("torch/\(model)/y.npy"))
        }
    }

    func testDTypesGiveTorchsOutputs() throws {
        try requireRun()
        try requireArchOption()
        for (dtype, rtol, atol): (String, Float, Float) in [("float16", 1e-2, 1e-2), ("bfloat16", 2e-2, 2e-2), ("float64", 1e-5, 1e-5)] {
            try ckpt("import", fixture("torch/dtypes/\(dtype).pt"), "--arch", fixture("arch/dtypes.json"), "-o", path("\(dtype).ckpt"))
            try ckpt("run", path("\(dtype).ckpt"), "--input", fixture("torch/dtypes/x.npy"), "--output", path("\(dtype)-y.npy"))
            try assertClose(path("\(dtype)-y.npy"), fixture("torch/dtypes/y_\(dtype).npy"), rtol: rtol, atol: atol)
        }
        // legacy.pt holds the same network in float32.
        try ckpt("import", fixture("torch/dtypes/legacy.pt"), "--arch", fixture("arch/dtypes.json"), "-o", path("legacy.ckpt"))
        try ckpt("run", path("legacy.ckpt"), "--input", fixture("torch/dtypes/x.npy"), "--output", path("legacy-y.npy"))
        try assertClose(path("legacy-y.npy"), fixture("torch/dtypes/y_float64.npy"), rtol: 1e-4, atol: 1e-4)
    }

    func testDataParallelPrefixIsStripped() throws {
        try ckpt("import", fixture("torch-extra/dataparallel.pt"), "--strip-prefix", "module.", "-o", path("dp.ckpt"))
        let report = try ckpt("inspect", path("dp.ckpt"), "--json").stdout
        XCTAssertTrue(report.contains("\"0.weight\""), report)
        XCTAssertFalse(report.contains("module."), report)
        guard (try? CLIRunner.run(["import", "--help"]).stdout.contains("--arch")) == true,
              (try? CLIRunner.run(["run", "--help"]).status) == 0 else { return }
        try ckpt("import", fixture("torch-extra/dataparallel.pt"), "--strip-prefix", "module.", "--arch", fixture("arch/mlp.json"),
                 "-o", path("dp-arch.ckpt"))
        try ckpt("run", path("dp-arch.ckpt"), "--input", fixture("torch/mlp/x.npy"), "--output", path("dp-y.npy"))
        try assertClose(path("dp-y.npy"), fixture("torch/mlp/y.npy"))
    }

    // MARK: Training checkpoints and inspect

    func testKeyPicksASubtreeAndInspectShowsTheTree() throws {
        let outline = try ckpt("inspect", fixture("torch-extra/training.pt")).stdout
        for expected in ["optimizer.state.0.exp_avg", "tree: torch.save zip archive 'training/'", "  model: OrderedDict, 4 entries",
                         "    epoch: 3", "structure: {'model': OrderedDict(4 tensors)", "'epoch': 3"] {
            XCTAssertTrue(outline.contains(expected), "\(expected) in:\n\(outline)")
        }
        try ckpt("import", fixture("torch-extra/training.pt"), "--key", "model", "-o", path("model.ckpt"))
        let report = try ckpt("inspect", path("model.ckpt")).stdout
        XCTAssertTrue(report.contains("4 tensors"), report)
        let missing = try ckpt("import", fixture("torch-extra/training.pt"), "--key", "nope", "-o", path("x.ckpt"), expect: 1)
        XCTAssertTrue(missing.stderr.contains("'model', 'optimizer'"), missing.stderr)
    }

    func testInspectWholeModuleShowsItsArchitecture() throws {
        let report = try ckpt("inspect", fixture("torch/tied/module.pt")).stdout
        XCTAssertTrue(report.contains("architecture:"), report)
        XCTAssertTrue(report.contains("Shared x1"), report)
        XCTAssertTrue(report.contains("4: same module as '2'"), report)
        XCTAssertTrue(report.contains("4.weight"), report)
    }

    // MARK: Refusals

    func testHostileFilesAreRefusedAndCreateNothing() throws {
        for path in Self.pwned { try? FileManager.default.removeItem(atPath: path) }
        for (file, global) in [("evil_posix", "posix.system"), ("evil_os", "os.system"), ("evil_eval", "builtins.eval"),
                               ("evil_nested", "builtins.exec"), ("evil_reduce", "posix.system")] {
            for verb in [["import", fixture("torch-extra/\(file).pt"), "-o", path("\(file).ckpt")],
                         ["inspect", fixture("torch-extra/\(file).pt")]] {
                let result = try CLIRunner.run(verb, in: work)
                XCTAssertFalse(result.crashed, file)
                XCTAssertEqual(result.status, 1, "\(file): \(result.stderr)")
                let lines = result.stderr.split(separator: "\n")
                XCTAssertEqual(lines.count, 1, result.stderr)
                XCTAssertTrue(result.stderr.contains(global), "\(file): \(result.stderr)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("\(file).ckpt")))
        }
        for path in Self.pwned { XCTAssertFalse(FileManager.default.fileExists(atPath: path), "\(path) was created") }
    }

    func testMalformedFilesFailWithOneLine() throws {
        for file in ["torchscript", "quantized", "short_storage", "offset_past", "short_record", "absurd", "expand_absurd", "escape", "duplicate",
                     "setitem_list", "truncated"] {
            let result = try ckpt("import", fixture("torch-extra/\(file).pt"), "-o", path("\(file).ckpt"), expect: 1)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(file): \(result.stderr)")
        }
    }

    // MARK: Writing

    /// A root of a class ckpt does not rebuild (`__main__.Holder` holding two tensors) has an
    /// opaque structure: export writes every tensor in a flat state_dict and says the nesting
    /// is what it leaves out, never "with its nesting".
    func testExportOfAnOpaqueRootKeepsEveryTensor() throws {
        let run = try ckpt("export", fixture("torch-extra/opaque_root.pt"), "-o", path("back.pt"))
        XCTAssertFalse(run.stdout.contains("with its nesting"), run.stdout)
        XCTAssertTrue(run.stderr.contains("cannot hold the nesting, which does not reach 2 tensors"), run.stderr)
        let back = try TorchFile.read(contentsOf: URL(fileURLWithPath: path("back.pt")))
        XCTAssertEqual(back.tensors.map(\.name).sorted(), ["a", "b"])
        XCTAssertEqual(back.tensor(named: "b")?.shape, [2, 3])
    }

    func testExportWritesAStateDictTorchLoads() throws {
        try ckpt("import", fixture("torch/tied/module.pt"), "-o", path("tied.ckpt"))
        let export = try ckpt("export", path("tied.ckpt"), "-o", path("tied.pt")).stdout
        XCTAssertTrue(export.contains("2 aliases sharing their tensor's storage"), export)
        // ckpt reads its own output back, ties included.
        let back = try TorchFile.read(contentsOf: URL(fileURLWithPath: path("tied.pt")))
        XCTAssertEqual(back.tensors.first { $0.name == "2.weight" }?.aliases, ["4.weight"])

        // `scripts/python-env.sh` makes the interpreter; CI sets CKPT_TORCH_PYTHON and must not skip.
        let environment = ProcessInfo.processInfo.environment
        let python = environment["CKPT_TORCH_PYTHON"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/ckpt-bench-venv/bin/python").path
        let present = FileManager.default.isExecutableFile(atPath: python)
        if environment["CI"] == "true" {
            XCTAssertTrue(present, "CI has no Python with torch at \(python): .ci/run should have made it")
            guard present else { return }
        }
        try XCTSkipUnless(present, "no Python with torch at \(python): run scripts/python-env.sh or set CKPT_TORCH_PYTHON")
        let script = """
        import sys, torch
        sd = torch.load(sys.argv[1], weights_only=True)
        ref = torch.load(sys.argv[2], weights_only=True)
        assert sorted(sd) == sorted(ref), (list(sd), list(ref))
        assert all(torch.equal(sd[k], ref[k]) for k in ref)
        assert sd['2.weight'].untyped_storage().data_ptr() == sd['4.weight'].untyped_storage().data_ptr()
        assert sd['2.bias'] is sd['4.bias']
        print('ok')
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, path("tied.pt"), fixture("torch/tied/state_dict.pt")]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard !text.contains("No module named 'torch'") else { throw XCTSkip("torch is not installed for \(python)") }
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("ok"), text)
    }
}
