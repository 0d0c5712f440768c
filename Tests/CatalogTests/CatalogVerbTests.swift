import Catalog
import Foundation
import Format
import XCTest

/// init, save, log, show, diff, checkout, tag, rm, gc, fsck and verify, through the binary.
final class CatalogVerbTests: CatalogTestCase {
    /// Writes the small model of `seed` as a .ckpt; `hidden` changes the first layer's shape.
    private func model(_ name: String, seed: UInt64, hidden: Int = 64, change: ((inout Checkpoint) -> Void)? = nil) throws -> String {
        var checkpoint = SmallModel.checkpoint(seed: seed, hidden: hidden)
        change?(&checkpoint)
        try CheckpointFile.write(checkpoint, to: url(name))
        return path(name)
    }

    private func firstToken(_ result: CatalogCLI.Result) -> String {
        String(result.stdout.split(separator: " ").first ?? "")
    }

    func testHistoryFromSaveToGC() throws {
        let base = SmallModel.checkpoint(seed: 1)
        let a = try model("a.ckpt", seed: 1)
        // b: the head retrained; c (a branch from a): another head; d merges b and c.
        let b = try model("b.ckpt", seed: 1) { $0.tensors[2].tensor = try! Tensor(dtype: .f32, shape: [10, 64], data: Self.scaled(base.tensors[2].tensor, by: 1.5)) }
        let c = try model("c.ckpt", seed: 1) { $0.tensors[3] = NamedTensor(name: "2.bias", tensor: try! Tensor(dtype: .f32, shape: [10], data: Data(count: 40))) }
        let d = try model("d.ckpt", seed: 4)

        let sub = url("runs/exp")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        XCTAssertTrue(try ckpt("log", in: sub, expect: 1).stderr.contains("no ckpt store in"))
        XCTAssertTrue(try ckpt("init").stdout.contains("created an empty store"))
        // Verbs find the store from a subdirectory, as git does.
        XCTAssertEqual(firstToken(try ckpt("save", a, "--model", "mlp", "-m", "first", "--tag", "base", in: sub)), "mlp@1")
        XCTAssertEqual(firstToken(try ckpt("save", b, "--model", "mlp", "-m", "head retrained", in: sub)), "mlp@2")
        XCTAssertEqual(firstToken(try ckpt("save", c, "--model", "mlp", "--parent", "base", "-m", "branch", in: sub)), "mlp@3")
        let merge = try ckpt("save", d, "--model", "mlp", "--parent", "mlp@2", "--parent", "mlp@3", "-m", "merge", in: sub)
        XCTAssertTrue(merge.stdout.hasPrefix("mlp@4 "), merge.stdout)
        XCTAssertTrue(merge.stdout.contains("parent mlp@2, mlp@3"), merge.stdout)
        // Saving without --model names the model after the file.
        XCTAssertEqual(firstToken(try ckpt("save", a)), "a@1")
        XCTAssertTrue(try ckpt("save", a, "--model", "mlp", "--parent", "nope", expect: 1).stderr.contains("no version 'nope'"))

        let log = try ckpt("log", "mlp").stdout.split(separator: "\n").map(String.init)
        let graph = log.map { line in String(line.prefix { "*|\\/ ".contains($0) }).trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(graph, ["*", "|\\", "| *", "* |", "|/", "*"], log.joined(separator: "\n"))
        XCTAssertTrue(log[0].contains("mlp@4") && log[0].contains("merge"), log[0])
        XCTAssertTrue(log[5].contains("mlp@1 (tag: base)"), log[5])
        XCTAssertEqual(try ckpt("log").stdout.components(separatedBy: "a@1").count, 2, "log with no model shows every model")

        let show = try ckpt("show", "mlp@2").stdout
        for expected in ["model   mlp@2", "parents mlp@1", "message head retrained", "2.weight", "head.weight", "architecture: Sequential", "probe: p0"] {
            XCTAssertTrue(show.contains(expected), "show lacks '\(expected)':\n\(show)")
        }

        // diff: the one changed tensor, by exactly how much.
        let diffJSON = try ckpt("diff", "mlp@1", "mlp@2", "--json").stdout
        let diff = try JSONDecoder().decode(VersionDiff.self, from: Data(diffJSON.utf8))
        XCTAssertEqual(diff.tensors.filter { $0.status == .changed }.map(\.name), ["2.weight"])
        XCTAssertEqual(diff.count(.same), 3)
        let change = try XCTUnwrap(diff.tensors.first { $0.name == "2.weight" })
        XCTAssertEqual(try XCTUnwrap(change.relativeNorm), 0.5, accuracy: 1e-6)
        let largest = base.tensors[2].tensor.data.withUnsafeBytes { $0.bindMemory(to: Float.self).map { abs(Double($0)) }.max()! } * 0.5
        XCTAssertEqual(try XCTUnwrap(change.maxAbsDifference), largest, accuracy: 1e-6)
        XCTAssertEqual(change.differingElements, 640)
        let text = try ckpt("diff", "mlp@1", "mlp@2").stdout
        XCTAssertTrue(text.contains("1 changed, 0 added, 0 removed, 3 same"), text)
        XCTAssertTrue(text.contains("architecture: same"), text)
        XCTAssertTrue(text.contains("metadata: same"), text)
        // A shape change and an architecture change.
        let wide = try model("wide.ckpt", seed: 1, hidden: 96)
        try ckpt("save", wide, "--model", "wide")
        let shapes = try ckpt("diff", "mlp@1", "wide@1").stdout
        XCTAssertTrue(shapes.contains("f32 [64, 32] -> [96, 32]"), shapes)
        XCTAssertTrue(shapes.contains("~ /module/children/0/out_features: 64 -> 96"), shapes)
        XCTAssertTrue(shapes.contains("~ /module/children/2/in_features: 64 -> 96"), shapes)

        // checkout: identical tensors, aliases, architecture, metadata and probes.
        try ckpt("checkout", "base", "-o", path("out.ckpt"))
        let original = try CheckpointFile.read(contentsOf: url("a.ckpt"))
        let back = try CheckpointFile.read(contentsOf: url("out.ckpt"))
        XCTAssertEqual(back.tensors.map(\.name), original.tensors.map(\.name))
        XCTAssertEqual(back.tensors.map(\.aliases), original.tensors.map(\.aliases))
        for (x, y) in zip(original.tensors, back.tensors) {
            XCTAssertEqual(x.tensor.dtype, y.tensor.dtype)
            XCTAssertEqual(x.tensor.shape, y.tensor.shape)
            XCTAssertEqual(x.tensor.data, y.tensor.data, x.name)
        }
        XCTAssertEqual(back.architecture, original.architecture)
        XCTAssertEqual(back.metadata, original.metadata)
        XCTAssertEqual(back.probes.count, 1)
        XCTAssertEqual(back.probes[0].name, "p0")
        XCTAssertEqual(back.probes[0].rtol, 1e-4)
        XCTAssertEqual(back.probes[0].origin, .expected)
        XCTAssertEqual(back.probes[0].inputs[0].data, original.probes[0].inputs[0].data)
        XCTAssertEqual(back.probes[0].outputs[0].data, original.probes[0].outputs[0].data)
        // The synthetic document and probe are not runnable: check the container alone.
        try ckpt("verify", "--no-run", path("out.ckpt"))

        // tags, verify by reference, --store and CKPT_STORE from outside the tree.
        try ckpt("tag", "mlp@3", "branch-head")
        XCTAssertTrue(try ckpt("tag", "mlp@2", "branch-head", expect: 1).stderr.contains("already names mlp@3"))
        XCTAssertTrue(try ckpt("verify", "--no-run", "branch-head").stdout.contains("mlp@3")) // a reference is verified as a file is: its synthetic document does not run
        let outside = FileManager.default.temporaryDirectory
        XCTAssertTrue(try ckpt("show", "branch-head", "--store", work.path, in: outside).stdout.contains("mlp@3"))
        XCTAssertTrue(try ckpt("log", in: outside, environment: ["CKPT_STORE": work.path]).stdout.contains("mlp@4"))
        XCTAssertEqual(try ckpt("verify", "no-such-thing", expect: 2).status, 2)

        // rm refuses a parent; removing the merge leaves its own tensors to gc.
        XCTAssertTrue(try ckpt("rm", "mlp@1", expect: 1).stderr.contains("is the parent of mlp@2, mlp@3"))
        try ckpt("rm", "mlp@4")
        XCTAssertTrue(try ckpt("show", "mlp@4", expect: 1).stderr.contains("no version 4"))
        let gc = try JSONDecoder().decode(GCReport.self, from: Data(try ckpt("gc", "--json").stdout.utf8))
        XCTAssertEqual(gc.removedObjects, 6, "d's four tensors and its probe's two")
        XCTAssertGreaterThan(gc.freedBytes, 64 * 32 * 4)
        XCTAssertTrue(try ckpt("gc").stdout.contains("removed 0 unreferenced objects"))
        XCTAssertTrue(try ckpt("fsck").stdout.contains(": ok ("))
        // Numbers are not reused after rm.
        XCTAssertEqual(firstToken(try ckpt("save", d, "--model", "mlp", "--parent", "mlp@2")), "mlp@5")
    }

    private static func scaled(_ tensor: Tensor, by factor: Float) -> Data {
        var data = tensor.data
        data.withUnsafeMutableBytes { raw in
            for k in raw.bindMemory(to: Float.self).indices { raw.bindMemory(to: Float.self)[k] *= factor }
        }
        return data
    }
}
