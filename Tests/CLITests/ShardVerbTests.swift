import Format
import Foundation
import XCTest

/// Sharded safetensors through the real binary: `ckpt import NAME.safetensors.index.json`
/// gives one checkpoint, and `ckpt export --max-shard-size` writes shards and an index that
/// transformers' own `from_pretrained` loads with no missing or unexpected key and with every
/// tensor equal to the original (fixtures/sharded, written by `save_pretrained`).
final class ShardVerbTests: CLITestCase {
    func testImportTheIndexThenExportShardsTransformersLoads() throws {
        let index = CLIRunner.fixture("sharded/bert/model.safetensors.index.json").path
        try ckpt("import", index, "-o", path("bert.ckpt"))
        try ckpt("verify", path("bert.ckpt"))
        let out = work.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let export = try ckpt("export", path("bert.ckpt"), "-o", out.appendingPathComponent("model.safetensors").path,
                              "--max-shard-size", "30KB", "--json")
        guard case .array(let files) = try JSONValue.parse(Data(export.stdout.utf8)) else { return XCTFail(export.stdout) }
        XCTAssertEqual(files.count, 4, export.stdout) // three shards and the index, as save_pretrained split it
        try FileManager.default.copyItem(at: CLIRunner.fixture("sharded/bert/config.json"), to: out.appendingPathComponent("config.json"))

        let script = """
        import sys, torch
        from safetensors.torch import load_file
        from transformers import BertForMaskedLM
        model, info = BertForMaskedLM.from_pretrained(sys.argv[1], output_loading_info=True)
        assert not info['missing_keys'] and not info['unexpected_keys'], info
        ref = load_file(sys.argv[2])
        sd = model.state_dict()
        for k, v in ref.items():
            assert torch.equal(sd[k], v), k
        print('ok', len(ref))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python())
        process.arguments = ["-c", script, out.path, CLIRunner.fixture("sharded/reference.safetensors").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("ok 42"), text)
    }

    func testMaxShardSizeIsForSafetensorsOnlyAndMustBeASize() throws {
        let index = CLIRunner.fixture("sharded/bert/model.safetensors.index.json").path
        let pt = try ckpt("export", index, "-o", path("x.pt"), "--max-shard-size", "5GB", expect: 2)
        XCTAssertTrue(pt.stderr.contains("--max-shard-size"), pt.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.pt")))
        try ckpt("export", index, "-o", path("x.safetensors"), "--max-shard-size", "lots", expect: 2)
        // Everything fits in one 5 GB shard: one plain file, no index, as save_pretrained does.
        try ckpt("export", index, "-o", path("one.safetensors"), "--max-shard-size", "5GB")
        XCTAssertEqual(try FileKind.detect(URL(fileURLWithPath: path("one.safetensors"))), .safetensors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("one.safetensors.index.json")))
    }
}
