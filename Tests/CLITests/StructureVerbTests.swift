import Format
import Foundation
import XCTest

/// A real training checkpoint (fixtures/training/full.pt, from torch.save in make.py)
/// through the real binary: import, save, checkout and export write it back as torch files
/// that `torch.load(weights_only=True)` reads as the original nesting, every key and leaf
/// with its type, and into which the model, AdamW and StepLR load and train on bit for bit
/// (fixtures/training/compare.py, run when a Python with torch is present; CI must have it).
/// Every verb that writes picks its format by the output's extension; `--json` outputs parse.
final class StructureVerbTests: CLITestCase {
    var original: String { CLIRunner.fixture("training/full.pt").path }

    /// compare.py's verdict on `back` against the original (or against `original[only]`).
    func assertTorchSeesTheOriginal(_ back: String, only: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let python = try python()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [CLIRunner.fixture("training/compare.py").path, original, back] + (only.map { ["--only", $0] } ?? [])
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(back): \(text)", file: file, line: line)
        XCTAssertTrue(text.hasSuffix("same\n"), text, file: file, line: line)
    }

    /// The file's first bytes say what it is, whatever its name.
    func assertKind(_ name: String, _ kind: FileKind, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try FileKind.detect(URL(fileURLWithPath: path(name))), kind, name, file: file, line: line)
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        try JSONValue.parse(Data(text.utf8))
    }

    func testImportAndExportKeepTheNestingTorchLoads() throws {
        try ckpt("import", original, "-o", path("full.ckpt"))
        try assertKind("full.ckpt", .ckpt)
        try ckpt("export", path("full.ckpt"), "-o", path("back.pt"))
        try assertKind("back.pt", .torch)
        try assertTorchSeesTheOriginal(path("back.pt"))
        // import writes what the extension says, straight from the .pt.
        try ckpt("import", original, "-o", path("direct.pth"))
        try assertKind("direct.pth", .torch)
        try assertTorchSeesTheOriginal(path("direct.pth"))
        // safetensors keeps the nesting in __metadata__, so it comes back whole.
        let safetensors = try ckpt("import", original, "-o", path("flat.safetensors")).stdout
        XCTAssertTrue(safetensors.contains(Safetensors.structureKey), safetensors)
        try assertKind("flat.safetensors", .safetensors)
        try ckpt("export", path("flat.safetensors"), "-o", path("again.pt"))
        try assertTorchSeesTheOriginal(path("again.pt"))
        // npz holds tensors only, and says what it left out.
        let npz = try ckpt("export", path("full.ckpt"), "-o", path("t.npz"))
        XCTAssertTrue(npz.stderr.contains("cannot hold the nesting"), npz.stderr)
        XCTAssertEqual(try Npz.read(contentsOf: URL(fileURLWithPath: path("t.npz"))).tensors.count, 33) // the alias as a copy
        // A key picks a part with its own nesting.
        try ckpt("import", original, "--key", "optimizer", "-o", path("opt.pt"))
        try assertTorchSeesTheOriginal(path("opt.pt"), only: "optimizer")
    }

    func testSaveAndCheckoutRoundTripTheNesting() throws {
        try ckpt("init")
        let saved = try json(try ckpt("save", original, "--model", "run", "--json", "-m", "epoch 3").stdout)
        XCTAssertEqual(saved["reference"], .string("run@1"))
        guard case .string(let hash)? = saved["hash"] else { return XCTFail("\(saved)") }
        XCTAssertEqual(hash.count, 64)
        let checkout = try json(try ckpt("checkout", "run", "-o", path("best.pt"), "--json").stdout)
        XCTAssertEqual(checkout["hash"], .string(hash))
        XCTAssertEqual(checkout["output"]?["format"], .string("torch"))
        try assertKind("best.pt", .torch)
        try assertTorchSeesTheOriginal(path("best.pt"))
        try ckpt("checkout", "run@1", "-o", path("best.ckpt"))
        try assertKind("best.ckpt", .ckpt)
        XCTAssertEqual(try ContainerReader(contentsOf: URL(fileURLWithPath: path("best.ckpt"))).structure(),
                       try TorchFile.read(contentsOf: URL(fileURLWithPath: original)).structure)
        // A second save of the same file: same content, and the version hash differs.
        let again = try json(try ckpt("save", original, "--model", "run", "--json").stdout)
        XCTAssertEqual(again["sameContentAs"], .string("run@1"))
        XCTAssertEqual(again["parents"], .array([.string("run@1")]))
        // save --key --strip-prefix as import takes them.
        let model = try json(try ckpt("save", original, "--model", "net", "--key", "model", "--strip-prefix", "body.", "--json").stdout)
        XCTAssertEqual(model["tensors"], .number(10)) // 11 keys, the tied head an alias
        let inspect = try json(try ckpt("inspect", "net", "--json").stdout)
        guard case .array(let rows)? = inspect["tensors"] else { return XCTFail("\(inspect)") }
        XCTAssertTrue(rows.contains { $0["name"] == .string("0.weight") }, "\(rows)")
    }

    func testVerbsThatWriteRefuseAnExtensionTheyCannotWrite() throws {
        try ckpt("init")
        try ckpt("save", original, "--model", "run")
        for verb in [["import", original, "-o", path("x.foo")], ["checkout", "run", "-o", path("x.json")],
                     ["export", "run", "-o", path("x")], ["transplant", original, original, "--layers", "model", "-o", path("x.txt")]] {
            let result = try CLIRunner.run(verb, in: work)
            XCTAssertEqual(result.status, 2, "\(verb): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("cannot tell the format"), result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: verb.last!), verb.last!)
        }
        // checkout to every extension writes that format.
        for (name, kind) in [("c.safetensors", FileKind.safetensors), ("c.npz", .npz), ("c.bin", .torch), ("c.ckpt", .ckpt)] {
            try ckpt("checkout", "run", "-o", path(name))
            try assertKind(name, kind)
        }
    }

    func testStoreReferencesWorkWhereFilesDo() throws {
        try ckpt("init")
        try ckpt("save", original, "--model", "run", "--tag", "best")
        let inspect = try ckpt("inspect", "best").stdout
        XCTAssertTrue(inspect.contains("stored version"), inspect)
        XCTAssertTrue(inspect.contains("structure: {'model': OrderedDict(11 tensors)"), inspect)
        try ckpt("cat", "run@1", "model.body.0.weight", "-o", path("w.npy"))
        let truth = try TorchFile.read(contentsOf: URL(fileURLWithPath: original))
        XCTAssertEqual(try Npy.read(contentsOf: URL(fileURLWithPath: path("w.npy"))).data, truth.tensor(named: "model.body.0.weight")?.data)
        try ckpt("export", "best", "-o", path("e.pt"))
        try assertTorchSeesTheOriginal(path("e.pt"))
        let stats = try json(try ckpt("stats", "best", "rng", "--json").stdout)
        XCTAssertEqual(stats["tensors"]?.arrayCount, 1)
        let missing = try ckpt("inspect", "nope@3", expect: 2)
        XCTAssertTrue(missing.stderr.contains("no such file"), missing.stderr)
        let arch = try ckpt("arch", "run", expect: 1)
        XCTAssertTrue(arch.stderr.contains("no architecture document"), arch.stderr)
    }

    func testDiffOfTwoFilesAndOfAFileAndAVersion() throws {
        try ckpt("import", original, "-o", path("a.ckpt"))
        try ckpt("import", original, "--key", "model", "-o", path("m.ckpt"))
        let same = try json(try ckpt("diff", path("a.ckpt"), original, "--json").stdout)
        guard case .array(let tensors)? = same["tensors"] else { return XCTFail("\(same)") }
        XCTAssertEqual(tensors.count, 32)
        XCTAssertTrue(tensors.allSatisfy { $0["status"] == .string("same") })
        XCTAssertEqual(same["structure"], .array([]))
        let differ = try ckpt("diff", path("a.ckpt"), path("m.ckpt")).stdout
        XCTAssertTrue(differ.contains("42 tensors: 0 changed, 10 added, 32 removed, 0 same"), differ)
        XCTAssertTrue(differ.contains("structure: 1 difference"), differ)
        try ckpt("init")
        try ckpt("save", original, "--model", "run")
        let mixed = try ckpt("diff", "run@1", path("a.ckpt")).stdout
        XCTAssertTrue(mixed.contains("0 changed, 0 added, 0 removed, 32 same"), mixed)
    }

    func testModelsTagAndProbeListSpeakJSON() throws {
        try ckpt("init")
        try ckpt("save", original, "--model", "run")
        try ckpt("save", original, "--model", "run")
        try ckpt("import", CLIRunner.fixture("torch/mlp/state_dict.pt").path, "-o", path("mlp.ckpt"))
        try ckpt("save", path("mlp.ckpt"), "--model", "mlp")
        let tag = try json(try ckpt("tag", "run@1", "first", "--json").stdout)
        XCTAssertEqual(tag["reference"], .string("run@1"))
        let models = try json(try ckpt("models", "--json").stdout)
        guard case .array(let list) = models, list.count == 2 else { return XCTFail("\(models)") }
        XCTAssertEqual(list[1]["name"], .string("run"))
        XCTAssertEqual(list[1]["versions"], .number(2))
        XCTAssertEqual(list[1]["latest"], .string("run@2"))
        XCTAssertEqual(list[1]["tags"], .array([.string("first")]))
        // The bytes are the distinct objects' stored sizes: two saves of one file are one
        // set of objects, at most what one version lists (equal tensors share an object).
        let version = try json(try ckpt("inspect", "run@1", "--json").stdout)
        guard case .number(let bytes)? = list[1]["bytes"], case .number(let listed)? = version["stored"] else { return XCTFail("\(list[1])") }
        XCTAssertLessThanOrEqual(bytes, listed)
        XCTAssertGreaterThan(bytes, listed / 2)
        let ls = try ckpt("ls").stdout
        XCTAssertTrue(ls.contains("run@2"), ls)
        let tags = try json(try ckpt("tag", "--json").stdout)
        XCTAssertEqual(tags.arrayCount, 1)
        let probes = try json(try ckpt("probe", "list", path("mlp.ckpt"), "--json").stdout)
        XCTAssertEqual(probes, .array([]))
    }
}

extension JSONValue {
    var arrayCount: Int? {
        if case .array(let items) = self { return items.count }
        return nil
    }
}
