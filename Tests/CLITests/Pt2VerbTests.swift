import Format
import Foundation
import XCTest

/// `ckpt import/inspect/arch/export/save/diff` on torch.export programs, driving the real
/// binary on fixtures/export (written by torch: the .pt2, its state_dict as safetensors).
final class Pt2VerbTests: CLITestCase {
    func fixture(_ name: String) -> String { CLIRunner.fixture("export/\(name)").path }
    func assertSameTensors(_ checkpoint: Checkpoint, as truth: Checkpoint, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(checkpoint.allNames), Set(truth.allNames), what, file: file, line: line)
        for name in truth.allNames {
            XCTAssertEqual(checkpoint.tensor(named: name)?.data, truth.tensor(named: name)?.data, "\(what): \(name)", file: file, line: line)
            XCTAssertEqual(checkpoint.tensor(named: name)?.shape, truth.tensor(named: name)?.shape, "\(what): \(name)", file: file, line: line)
        }
    }

    func testImportInspectArchAndExportAGraphCheckpoint() throws {
        let imported = try ckpt("import", fixture("bert.pt2"), "-o", path("bert.ckpt"))
        XCTAssertTrue(imported.stdout.contains("39 tensors"), imported.stdout)
        let truth = try Safetensors.read(contentsOf: URL(fileURLWithPath: fixture("bert.safetensors")))
        let stored = try CheckpointFile.read(contentsOf: URL(fileURLWithPath: path("bert.ckpt")))
        assertSameTensors(stored, as: truth, "bert.ckpt")
        XCTAssertNotNil(stored.architecture?.graph)

        let inspect = try ckpt("inspect", path("bert.ckpt")).stdout
        XCTAssertTrue(inspect.contains("architecture: graph, 87 nodes"), inspect)
        XCTAssertTrue(inspect.contains("probe: sample (sample, 2 in, 0 out"), inspect)
        try ckpt("verify", path("bert.ckpt"), "--no-run") // every checksum and the graph document's rules

        let arch = try ckpt("arch", path("bert.ckpt")).stdout
        for expected in ["HFWrapper(", "(model): BertModel(", "(query): Linear", "1,056 params  linear", "scaled_dot_product_attention",
                         "inputs: input_ids i64[2, 8], attention_mask i64[2, 8]", "outputs: "] {
            XCTAssertTrue(arch.contains(expected), "missing '\(expected)' in\n\(arch)")
        }
        // --json prints the stored document, which parses back to the imported graph.
        let json = try ckpt("arch", path("bert.ckpt"), "--json").stdout
        XCTAssertEqual(try Architecture.parse(Data(json.utf8)), stored.architecture)
        // The .pt2 itself is a source every verb reads.
        XCTAssertTrue(try ckpt("arch", fixture("dynamic.pt2")).stdout.contains("dynamic: s77 in 1...64"))

        for format in ["safetensors", "npz", "pt"] {
            let out = path("bert.\(format)")
            let result = try ckpt("export", path("bert.ckpt"), "-o", out)
            XCTAssertTrue(result.stderr.contains("cannot hold the architecture document"), result.stderr)
            assertSameTensors(try Importer.load(contentsOf: URL(fileURLWithPath: out)), as: truth, out)
        }
    }

    func testGraphCheckpointsStoreAndDiff() throws {
        try ckpt("init")
        try ckpt("import", fixture("bert.pt2"), "-o", path("a.ckpt"))
        try ckpt("import", fixture("distilbert.pt2"), "-o", path("b.ckpt"))
        try ckpt("save", path("a.ckpt"), "--model", "enc")
        try ckpt("save", path("b.ckpt"), "--model", "enc")
        let diff = try ckpt("diff", "enc@1", "enc@2").stdout
        XCTAssertTrue(diff.contains("architecture: "), diff)
        XCTAssertFalse(diff.contains("architecture: same"), diff)
        let same = try ckpt("diff", "enc@1", "enc@1").stdout
        XCTAssertTrue(same.contains("architecture: same"), same)
        try ckpt("checkout", "enc@1", "-o", path("back.ckpt"))
        let back = try CheckpointFile.read(contentsOf: URL(fileURLWithPath: path("back.ckpt")))
        XCTAssertEqual(back.architecture, try CheckpointFile.read(contentsOf: URL(fileURLWithPath: path("a.ckpt"))).architecture)
        XCTAssertEqual(back.probes.first?.origin, .sample)
    }

    func testACraftedArchiveFailsCleanly() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture("mlp.pt2")))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path("cut.pt2")))
        let result = try ckpt("import", path("cut.pt2"), "-o", path("out.ckpt"), expect: 1)
        XCTAssertTrue(result.stderr.hasPrefix("ckpt: \(path("cut.pt2")): "), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.ckpt")))
    }
}
