import Engine
import Format
import Foundation
import XCTest

/// The real `ckpt` binary (built beside the test bundle) driving new, run, arch and probe.
final class CLIEngineTests: XCTestCase {
    private var work: URL!

    private static var binary: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("ckpt")
        }
        return Bundle.main.bundleURL.appendingPathComponent("ckpt")
    }

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build ckpt first: \(Self.binary.path)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    private func path(_ name: String) -> String { work.appendingPathComponent(name).path }

    private func fixture(_ name: String) -> String { Fixtures.url(name).path }

    @discardableResult
    private func ckpt(_ arguments: String..., environment: [String: String] = [:], expect status: Int32 = 0,
                      file: StaticString = #filePath, line: UInt = #line) throws -> (out: String, err: String) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = work
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "ckpt \(arguments.joined(separator: " ")) crashed: \(stderr)", file: file, line: line)
        XCTAssertEqual(process.terminationStatus, status, "ckpt \(arguments.joined(separator: " ")): \(stderr)\(stdout)", file: file, line: line)
        return (stdout, stderr)
    }

    /// A .ckpt of a torch fixture's weights and document, written through the library.
    private func importedCheckpoint(_ model: String) throws -> String {
        let checkpoint = try Fixtures.imported(weights: "torch/\(model)/model.safetensors", arch: try Fixtures.document(model))
        try CheckpointFile.write(checkpoint, to: URL(fileURLWithPath: path("\(model).ckpt")))
        return path("\(model).ckpt")
    }

    /// No OpenCL driver (the ICD loader pointed at an empty vendor directory) is the machine's
    /// problem: exit 2 with how to install one, never "BAD" about the checkpoint.
    func testAMissingOpenCLDriverIsAUsageErrorNotABadCheckpoint() throws {
        let file = try importedCheckpoint("mlp")
        let vendors = work.appendingPathComponent("no-vendors")
        try FileManager.default.createDirectory(at: vendors, withIntermediateDirectories: true)
        let noDriver = ["OCL_ICD_VENDORS": vendors.path]
        for device in ["opencl", "opencl:1", "gpu"] {
            let verify = try ckpt("verify", "--device", device, file, environment: noDriver, expect: 2)
            XCTAssertTrue(verify.err.contains("no OpenCL platform found"), verify.err)
            XCTAssertTrue(verify.err.contains("apt-get install pocl-opencl-icd"), verify.err)
            XCTAssertFalse(verify.out.contains("BAD"), verify.out)
        }
        try ckpt("verify", "--no-run", "--device", "opencl", file, environment: noDriver) // no run, no device needed
        let x = path("x.npy")
        try Npy.write(try Fixtures.npy("torch/mlp/x.npy"), to: URL(fileURLWithPath: x))
        let run = try ckpt("run", file, "--input", x, "--output", path("y.npy"), "--device", "gpu", environment: noDriver, expect: 2)
        XCTAssertTrue(run.err.contains("apt-get install pocl-opencl-icd"), run.err)
    }

    /// verify counts probe tensors apart from tensors, and says "1 tensor", not "1 tensors".
    func testVerifyCountsProbeTensorsApartAndInTheSingular() throws {
        let arch = path("one.json")
        try Data(#"{"version": 1, "module": {"type": "Linear", "in_features": 2, "out_features": 3, "bias": false}}"#.utf8)
            .write(to: URL(fileURLWithPath: arch))
        let file = path("one.ckpt")
        XCTAssertTrue(try ckpt("new", arch, "-o", file).out.contains(": 1 tensor, 6 parameters"))
        XCTAssertTrue(try ckpt("verify", file).out.contains(": ok (1 tensor, 1 chunk, "))
        let x = path("x.npy")
        try Npy.write(try Fixtures.tensor([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]), to: URL(fileURLWithPath: x))
        try ckpt("probe", "add", file, "--input", x)
        let verified = try ckpt("verify", file).out
        XCTAssertTrue(verified.contains(": ok (1 tensor, 2 probe tensors, 3 chunks, "), verified)
    }

    func testNewWithOneSeedGivesIdenticalFiles() throws {
        try ckpt("new", fixture("arch/lenet.json"), "-o", path("a.ckpt"), "--seed", "42")
        try ckpt("new", fixture("arch/lenet.json"), "-o", path("b.ckpt"), "--seed", "42")
        try ckpt("new", fixture("arch/lenet.json"), "-o", path("c.ckpt"), "--seed", "43")
        let a = try Data(contentsOf: URL(fileURLWithPath: path("a.ckpt")))
        XCTAssertEqual(a, try Data(contentsOf: URL(fileURLWithPath: path("b.ckpt"))))
        XCTAssertNotEqual(a, try Data(contentsOf: URL(fileURLWithPath: path("c.ckpt"))))
    }

    func testNewWithRulesAndInputShapeThenRun() throws {
        let out = try ckpt("new", fixture("arch/nested.json"), "-o", path("n.ckpt"), "--seed", "1", "--input-shape", "1,20",
                           "--init", "*.weight=xavier_uniform", "--init", "*.bias=zeros")
        XCTAssertTrue(out.out.contains("8 tensors"), out.out)
        let checkpoint = try CheckpointFile.read(contentsOf: URL(fileURLWithPath: path("n.ckpt")))
        XCTAssertEqual(Set(try Fixtures.floats(checkpoint.tensor(named: "1.bias")!)), [0])
        XCTAssertEqual(checkpoint.architecture?.modules?.inputShape, [1, 20])
        try ckpt("run", path("n.ckpt"), "--input", fixture("torch/nested/x.npy"), "--output", path("y.npy"))
        XCTAssertEqual(try Npy.read(contentsOf: URL(fileURLWithPath: path("y.npy"))).shape, [2, 20])
        let bad = try ckpt("new", fixture("arch/mlp.json"), "-o", path("x.ckpt"), "--init", "*.bias=xavier_normal", expect: 1)
        XCTAssertTrue(bad.err.contains("xavier_normal needs a tensor of 2 or more axes"), bad.err)
    }

    func testRunMatchesPyTorch() throws {
        for model in ["mlp", "lenet", "fourier"] {
            let file = try importedCheckpoint(model)
            try ckpt("run", file, "--input", fixture("torch/\(model)/x.npy"), "--output", path("\(model).npy"), "--device", "cpu")
            try assertClose(try Npy.read(contentsOf: URL(fileURLWithPath: path("\(model).npy"))),
                            try Fixtures.npy("torch/\(model)/y.npy"), rtol: 1e-5, atol: 1e-6, model)
        }
    }

    func testArchPrintsTheTree() throws {
        let file = try importedCheckpoint("parallel")
        let out = try ckpt("arch", file).out
        XCTAssertTrue(out.contains("(net1): Sequential("), out)
        XCTAssertTrue(out.contains("(0): Linear(in_features=20, out_features=8, bias=True)"), out)
        XCTAssertTrue(out.contains("[3, 12]"), out)
        XCTAssertTrue(out.contains("parameters: 291"), out)
        let json = try ckpt("arch", file, "--json").out
        XCTAssertEqual(try ArchitectureDocument.parse(Data(json.utf8)), try Fixtures.document("parallel"))
        XCTAssertTrue(try ckpt("arch", fixture("arch/lenet.json"), "--input-shape", "8,1,28,28").out.contains("[8, 16, 5, 5]"))
    }

    func testOpaqueIsRefusedPlainly() throws {
        let document = #"""
        {"version": 1, "input_shape": [1, 3], "module": {"type": "Sequential", "children": [
          {"type": "Linear", "in_features": 3, "out_features": 3},
          {"name": "mystery", "type": "Opaque", "class": "lib.Mystery", "tensors": [{"name": "w", "shape": [3]}]}]}}
        """#
        try Data(document.utf8).write(to: URL(fileURLWithPath: path("opaque.json")))
        try ckpt("new", path("opaque.json"), "-o", path("o.ckpt"))
        let x = try Fixtures.tensor([1, 3], [1, 2, 3])
        try Npy.write(x, to: URL(fileURLWithPath: path("x.npy")))
        let run = try ckpt("run", path("o.ckpt"), "--input", path("x.npy"), "--output", path("y.npy"), expect: 1)
        XCTAssertTrue(run.err.contains("cannot run: 1 module is Opaque: 'mystery' (lib.Mystery); export a .pt2 instead"), run.err)
        let probe = try ckpt("probe", "add", path("o.ckpt"), "--input", path("x.npy"), expect: 1)
        XCTAssertTrue(probe.err.contains("cannot run: 1 module is Opaque: 'mystery' (lib.Mystery); export a .pt2 instead"), probe.err)
        XCTAssertTrue(try ckpt("arch", path("o.ckpt")).out.contains("lib.Mystery"))
    }

    func testProbeAddRecordsOrExpects() throws {
        let file = try importedCheckpoint("mlp")
        let recorded = try ckpt("probe", "add", file, "--input", fixture("torch/mlp/x.npy"), "--name", "mine").out
        XCTAssertTrue(recorded.contains("recorded the engine's own output"), recorded)
        let expected = try ckpt("probe", "add", file, "--input", fixture("torch/mlp/x.npy"), "--expect", fixture("torch/mlp/y.npy"),
                                "--rtol", "1e-4", "--name", "torch").out
        XCTAssertTrue(expected.contains("the engine agrees"), expected)
        try ckpt("probe", "add", file, "--input", fixture("torch/mlp/x.npy"), "--name", "torch", expect: 2)
        let checkpoint = try CheckpointFile.read(contentsOf: URL(fileURLWithPath: file))
        XCTAssertEqual(checkpoint.probes.map(\.name), ["mine", "torch"])
        XCTAssertEqual(checkpoint.probes.map(\.origin), [.recorded, .expected])
        XCTAssertEqual(checkpoint.probes[1].rtol, 1e-4)
        XCTAssertEqual(checkpoint.tensors.count, 4)
        XCTAssertNotNil(checkpoint.architecture)
        XCTAssertTrue(try verifyProbes(of: checkpoint).allSatisfy(\.passed))
        XCTAssertTrue(try ckpt("probe", "list", file).out.contains("torch  expected"))
    }
}
