import Format
import Foundation
import XCTest

/// `ckpt run` on whole-module pickles with hooks, written by real torch
/// (fixtures/torch-hooks/make.py), driving the real binary.
final class OpaqueVerbTests: CLITestCase {
    func fixture(_ name: String) -> String { CLIRunner.fixture("torch-hooks/\(name)").path }

    func testAHookedModuleIsRefusedOnOneLineWithThePt2Hint() throws {
        let imported = try ckpt("import", fixture("child_hook.pt"), "-o", path("hooked.ckpt")).stdout
        XCTAssertTrue(imported.contains("note: cannot run: 1 module is Opaque: '2' (torch.nn.modules.linear.Linear: 1 forward hook registered)"), imported)
        let run = try ckpt("run", path("hooked.ckpt"), "--input", fixture("x.npy"), "--output", path("y.npy"), expect: 1)
        let lines = run.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, run.stderr)
        let line = String(lines.first ?? "")
        XCTAssertTrue(line.contains("'2' (torch.nn.modules.linear.Linear: 1 forward hook registered)"), line)
        XCTAssertTrue(line.hasSuffix("torch.export.save(torch.export.export(model, (x,)), 'm.pt2') then ckpt import m.pt2"), line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("y.npy")))
        XCTAssertTrue(try ckpt("arch", path("hooked.ckpt")).stdout.contains("1 forward hook registered"))
    }

    func testEveryOpaqueModuleIsNamed() throws {
        for (file, names) in [("root_prehook.pt", ["'(root)' (torch.nn.modules.container.Sequential: 1 forward pre-hook registered)",
                                                    "'0' (torch.nn.modules.linear.Linear: 1 forward hook registered)"]),
                              ("mixed.pt", ["'0' (torch.nn.modules.conv.Conv2d: padding_mode='reflect' is not supported)",
                                            "'2' (torch.nn.modules.linear.Linear: pruning parametrisation (stores weight_orig, weight_mask))",
                                            "'3' (__main__.Gain: a class ckpt does not know)"])] {
            try ckpt("import", fixture(file), "-o", path("m.ckpt"))
            let run = try ckpt("run", path("m.ckpt"), "--input", fixture("x.npy"), "--output", path("y.npy"), expect: 1)
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
            XCTAssertTrue(run.stderr.contains("\(names.count) modules are Opaque"), run.stderr)
            for name in names { XCTAssertTrue(run.stderr.contains(name), "\(file): \(name) in \(run.stderr)") }
        }
    }

    func testTheNetworkWithoutTheHookRunsAndMatchesTorch() throws {
        XCTAssertFalse(try ckpt("import", fixture("plain.pt"), "-o", path("plain.ckpt")).stdout.contains("note:"))
        try ckpt("run", path("plain.ckpt"), "--input", fixture("x.npy"), "--output", path("y.npy"))
        let y = try Npy.read(contentsOf: URL(fileURLWithPath: path("y.npy")))
        let truth = try Npy.read(contentsOf: URL(fileURLWithPath: fixture("plain_y.npy")))
        XCTAssertEqual(y.shape, truth.shape)
        let a = y.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let e = truth.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(a.count, e.count)
        for (got, want) in zip(a, e) { XCTAssertEqual(got, want, accuracy: 1e-5 + 1e-5 * abs(want)) }
    }

    func testVerifyRefusesTheProbeOfAHookedModule() throws {
        // torch's own output of the hooked network as a probe: verify cannot run it, and says why.
        var checkpoint = try Importer.load(contentsOf: URL(fileURLWithPath: fixture("child_hook.pt")))
        checkpoint.probes = [Probe(name: "torch", inputs: [try Npy.read(contentsOf: URL(fileURLWithPath: fixture("x.npy")))],
                                   outputs: [try Npy.read(contentsOf: URL(fileURLWithPath: fixture("hooked_y.npy")))], origin: .expected)]
        try CheckpointFile.write(checkpoint, to: URL(fileURLWithPath: path("probed.ckpt")))
        let verify = try ckpt("verify", path("probed.ckpt"), expect: 1)
        let all = verify.stdout + verify.stderr
        XCTAssertTrue(all.contains("'2' (torch.nn.modules.linear.Linear: 1 forward hook registered)"), all)
        XCTAssertTrue(all.contains("then ckpt import m.pt2"), all)
    }
}
