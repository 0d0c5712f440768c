import Format
import Foundation
import XCTest

/// `ckpt transplant` and the transplant checks of `ckpt verify`, against PyTorch ground truth.
final class TransplantVerbTests: CLITestCase {
    func fixture(_ path: String) -> String { CLIRunner.fixture(path).path }

    func floats(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let tensor = try Npy.read(contentsOf: URL(fileURLWithPath: path))
        return (tensor.shape, tensor.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }

    func assertClose(_ actualPath: String, _ expectedPath: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try floats(actualPath), e = try floats(expectedPath)
        XCTAssertEqual(a.shape, e.shape, file: file, line: line)
        let worst = zip(a.values, e.values).map { abs($0 - $1) / max(abs($1), 1e-30) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1e-6, "\(expectedPath): relative error \(worst)", file: file, line: line)
    }

    func provenance(_ file: String) throws -> [TransplantProvenance] {
        try TransplantProvenance.all(in: try Importer.load(contentsOf: URL(fileURLWithPath: path(file))).metadata)
    }

    // MARK: the chapter's cases

    func testFirstTwoLayersOfOneMLPIntoAnotherMatchPyTorch() throws {
        let result = try ckpt("transplant", fixture("torch/transplant/src.pt"), fixture("torch/transplant/dst.pt"), "--layers", "0,2", "-o", "out.ckpt")
        XCTAssertTrue(result.stdout.contains("4 tensors"), result.stdout)
        try ckpt("run", "out.ckpt", "--input", fixture("torch/transplant/x.npy"), "--output", "y.npy")
        try assertClose(path("y.npy"), fixture("torch/transplant/expected.npy"))

        let grafts = try provenance("out.ckpt")
        XCTAssertEqual(grafts.count, 1)
        let graft = try XCTUnwrap(grafts.first)
        XCTAssertEqual(graft.sourceHash.count, 64)
        XCTAssertEqual(graft.sourceHashOf, "file bytes")
        XCTAssertEqual(graft.modules.map(\.source), ["0", "2"])
        XCTAssertEqual(graft.modules.map(\.target), ["0", "2"])
        XCTAssertEqual(graft.modules[0].tensors, [TransplantMove(source: "0.weight", target: "0.weight"), TransplantMove(source: "0.bias", target: "0.bias")])
        XCTAssertNotNil(graft.modules[0].probe)

        let verify = try ckpt("verify", "out.ckpt")
        XCTAssertTrue(verify.stdout.contains("transplant '0' of \(fixture("torch/transplant/src.pt")) -> '0' ok"), verify.stdout)
        XCTAssertTrue(verify.stdout.contains("-> '2' ok"), verify.stdout)
    }

    func testRangeSelectionMovesTheSameModules() throws {
        try ckpt("transplant", fixture("torch/transplant/src.pt"), fixture("torch/transplant/dst.pt"), "--layers", "0:3", "-o", "out.ckpt")
        try ckpt("run", "out.ckpt", "--input", fixture("torch/transplant/x.npy"), "--output", "y.npy")
        try assertClose(path("y.npy"), fixture("torch/transplant/expected.npy"))
    }

    func testLayerIntoABranchOfAParallelBlockMatchesPyTorch() throws {
        try ckpt("import", fixture("transplant/par_dst.pt"), "--arch", fixture("transplant/par_arch.json"), "-o", "dst.ckpt")
        try ckpt("transplant", fixture("transplant/src.pt"), "dst.ckpt", "--layers", "0", "--to", "0.net1.0", "-o", "out.ckpt")
        try ckpt("run", "out.ckpt", "--input", fixture("transplant/par_x.npy"), "--output", "y.npy")
        try assertClose(path("y.npy"), fixture("transplant/par_expected.npy"))
        let verify = try ckpt("verify", "out.ckpt")
        XCTAssertTrue(verify.stdout.contains("transplant '0' of \(fixture("transplant/src.pt")) -> '0.net1.0' ok"), verify.stdout)
    }

    func testDataParallelPrefixIsMappedAway() throws {
        try ckpt("import", fixture("transplant/par_dst.pt"), "--arch", fixture("transplant/par_arch.json"), "-o", "dst.ckpt")
        try ckpt("transplant", fixture("transplant/dp_src.pt"), "dst.ckpt", "--map", "module.=", "--layers", "0", "--to", "0.net1.0", "-o", "out.ckpt")
        try ckpt("run", "out.ckpt", "--input", fixture("transplant/par_x.npy"), "--output", "y.npy")
        try assertClose(path("y.npy"), fixture("transplant/par_expected.npy"))
        XCTAssertEqual(try provenance("out.ckpt").first?.maps, ["module.="])
        try ckpt("verify", "out.ckpt")
        // Without the map nothing is found under '0' of the source.
        let refused = try ckpt("transplant", fixture("transplant/dp_src.pt"), "dst.ckpt", "--layers", "0", "--to", "0.net1.0", "-o", "bad.ckpt", expect: 1)
        XCTAssertTrue(refused.stderr.contains("missing in source"), refused.stderr)
    }

    // MARK: refusals and skips

    func testMismatchedLayerIsRefusedWithEveryShapeListed() throws {
        try ckpt("import", fixture("transplant/par_dst.pt"), "--arch", fixture("transplant/par_arch.json"), "-o", "dst.ckpt")
        let result = try ckpt("transplant", fixture("transplant/src.pt"), "dst.ckpt", "--layers", "2", "--to", "0.net1.0", "-o", "out.ckpt", expect: 1)
        XCTAssertTrue(result.stderr.contains("cannot transplant"), result.stderr)
        XCTAssertTrue(result.stderr.contains("0.net1.0.weight: source '2.weight' [4, 8], target [8, 20]"), result.stderr)
        XCTAssertTrue(result.stderr.contains("0.net1.0.bias: source '2.bias' [4], target [8]"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.ckpt")))
    }

    func testLastLayerMismatchFailsThenSkipKeepsTheDestinationAndReports() throws {
        let src = fixture("torch/transplant/src.pt"), dst = fixture("torch/transplant/dst.pt")
        let refused = try ckpt("transplant", src, dst, "--layers", "0,2,4", "-o", "out.ckpt", expect: 1)
        XCTAssertTrue(refused.stderr.contains("4.weight: source '4.weight' [6, 32], target [2, 32]"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("4.bias: source '4.bias' [6], target [2]"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.ckpt")))

        let skipped = try ckpt("transplant", src, dst, "--layers", "0,2,4", "--on-mismatch", "skip", "-o", "out.ckpt")
        XCTAssertTrue(skipped.stdout.contains("skipped 4.weight"), skipped.stdout)
        XCTAssertTrue(skipped.stdout.contains("skipped 4.bias"), skipped.stdout)
        try ckpt("run", "out.ckpt", "--input", fixture("torch/transplant/x.npy"), "--output", "y.npy")
        try assertClose(path("y.npy"), fixture("torch/transplant/expected.npy"))
        let graft = try XCTUnwrap(try provenance("out.ckpt").first)
        XCTAssertEqual(graft.modules.last?.skipped.map(\.path), ["4", "4.weight", "4.bias"])
        try ckpt("verify", "out.ckpt")
    }

    func testSelectionOfCountsThatDifferIsAUsageError() throws {
        try ckpt("transplant", fixture("torch/transplant/src.pt"), fixture("torch/transplant/dst.pt"), "--layers", "0,2", "--to", "0", "-o", "out.ckpt", expect: 2)
    }

    // MARK: proof

    func testVerifyFailsWhenATransplantedTensorIsAltered() throws {
        try ckpt("transplant", fixture("torch/transplant/src.pt"), fixture("torch/transplant/dst.pt"), "--layers", "0,2", "-o", "out.ckpt")
        var checkpoint = try Importer.load(contentsOf: URL(fileURLWithPath: path("out.ckpt")))
        let index = try XCTUnwrap(checkpoint.tensors.firstIndex(where: { $0.name == "2.bias" }))
        var values = checkpoint.tensors[index].tensor.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        values[0] += 0.5
        let old = checkpoint.tensors[index].tensor
        checkpoint.tensors[index].tensor = try Tensor(dtype: old.dtype, shape: old.shape, data: values.withUnsafeBytes { Data($0) })
        try CheckpointFile.write(checkpoint, to: URL(fileURLWithPath: path("altered.ckpt")), options: WriteOptions())
        let result = try ckpt("verify", "altered.ckpt", expect: 1)
        XCTAssertTrue(result.stdout.contains("-> '2' FAILED"), result.stdout)
        XCTAssertTrue(result.stdout.contains("-> '0' ok"), result.stdout)
    }
}

/// SRC and DST named by store references; the result saved with both parents and verified from the store.
final class TransplantStoreVerbTests: CLITestCase {
    func testReferencesGraftAndSaveWithBothParents() throws {
        let src = CLIRunner.fixture("torch/transplant/src.pt").path, dst = CLIRunner.fixture("torch/transplant/dst.pt").path
        try ckpt("init")
        try ckpt("save", src, "--model", "src", "-m", "source")
        try ckpt("save", dst, "--model", "dst", "-m", "destination")
        let result = try ckpt("transplant", "src@1", "dst@1", "--layers", "0,2", "-o", "out.ckpt")
        XCTAssertTrue(result.stdout.contains("--parent dst@1 --parent src@1"), result.stdout)
        let graft = try XCTUnwrap(try TransplantProvenance.all(in: try Importer.load(contentsOf: URL(fileURLWithPath: path("out.ckpt"))).metadata).first)
        XCTAssertEqual(graft.sourceHashOf, "store version hash")
        try ckpt("save", "out.ckpt", "--model", "dst", "--parent", "dst@1", "--parent", "src@1", "-m", "graft 0,2 from src@1")
        let log = try ckpt("log", "dst")
        XCTAssertTrue(log.stdout.contains("graft 0,2 from src@1"), log.stdout)
        XCTAssertTrue(log.stdout.contains("src@1"), log.stdout)
        let verify = try ckpt("verify", "dst@2")
        XCTAssertTrue(verify.stdout.contains("transplant '0' of src@1 -> '0' ok"), verify.stdout)
    }
}
