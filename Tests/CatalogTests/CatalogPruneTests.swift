@testable import Catalog
import Foundation
import Format
import GRDB
import XCTest

/// History pruning: removed versions' children take their parents, the lineage names what
/// was pruned, kept versions stay bit for bit, fsck passes, gc reclaims exactly the rest.
final class CatalogPruneTests: CatalogTestCase {
    /// Version k of a chain: SmallModel seed 1 with `2.bias` replaced by k (1 new object each).
    private func version(_ k: Int) throws -> Checkpoint {
        var checkpoint = SmallModel.checkpoint(seed: 1)
        var bytes = Data()
        for _ in 0..<10 { withUnsafeBytes(of: Float(k).bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        checkpoint.tensors[3].tensor = try Tensor(dtype: .f32, shape: [10], data: bytes)
        return checkpoint
    }

    func testPruningAChainOfFiveKeepingTwoAndFive() throws {
        try ckpt("init")
        for k in 1...5 {
            try CheckpointFile.write(try version(k), to: url("v\(k).ckpt"))
            try ckpt("save", path("v\(k).ckpt"), "--model", "m", "-m", "epoch \(k)", "--tag", k == 2 ? "best" : "e\(k)")
        }
        let store = try Store.open(url(".ckpt"))
        let before = try Dictionary(uniqueKeysWithValues: store.history(model: "m").map { ($0.reference, $0) })
        // 3 shared tensors + 2 probe tensors + one 2.bias per version.
        XCTAssertEqual(try store.objects.enumerate().objects.count, 5 + 5)

        XCTAssertTrue(try ckpt("rm", "m@3", expect: 1).stderr.contains("is the parent of m@4"))
        let dry = try ckpt("prune", "m", "--keep", "best", "--keep-latest", "--dry-run").stdout
        XCTAssertTrue(dry.contains("m: would remove 3 versions (m@1, m@3, m@4)"), dry)
        XCTAssertEqual(try store.history(model: "m").count, 5, "a dry run changes nothing")
        let out = try ckpt("prune", "m", "--keep", "best", "--keep-latest").stdout
        XCTAssertTrue(out.contains("m: removed 3 versions (m@1, m@3, m@4)"), out)
        XCTAssertTrue(out.contains("m@2 now descends from no parent (a root) (pruned between: m@1)"), out)
        XCTAssertTrue(out.contains("m@5 now descends from m@2 (pruned between: m@3, m@4)"), out)

        // The honest lineage: m@5's parent is m@2, with m@3 and m@4 named as pruned.
        let history = try store.history(model: "m")
        XCTAssertEqual(history.map(\.reference), ["m@5", "m@2"])
        XCTAssertEqual(history[0].parents.map(\.reference), ["m@2"])
        XCTAssertEqual(history[0].prunedAncestors, ["m@3", "m@4"])
        XCTAssertEqual(history[1].parents.map(\.reference), [])
        XCTAssertEqual(history[1].prunedAncestors, ["m@1"])
        // Identity does not change: the hash covers the parents a version was saved with.
        XCTAssertEqual(history[0].hash, before["m@5"]!.hash)
        XCTAssertEqual(history[0].savedParentHashes, [before["m@4"]!.hash])
        XCTAssertEqual(history[1].savedParentHashes, [before["m@1"]!.hash])
        let log = try ckpt("log", "m").stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(log.count, 2, log.joined(separator: "\n"))
        XCTAssertTrue(log[0].hasPrefix("* ") && log[0].contains("m@5 (tag: e5)") && log[0].hasSuffix("(pruned between: m@3, m@4)"), log[0])
        XCTAssertTrue(log[1].hasPrefix("* ") && log[1].contains("m@2 (tag: best)") && log[1].hasSuffix("(pruned between: m@1)"), log[1])
        XCTAssertEqual(try store.resolve("e5").reference, "m@5")
        assertCatalogError(try store.resolve("e3"), .noSuchReference("e3", suggestion: "e5"))

        // The kept versions check out bit for bit.
        for k in [2, 5] {
            try ckpt("checkout", "m@\(k)", "-o", path("out\(k).ckpt"))
            let original = try version(k), back = try CheckpointFile.read(contentsOf: url("out\(k).ckpt"))
            XCTAssertEqual(back.tensors.map(\.name), original.tensors.map(\.name))
            XCTAssertEqual(back.tensors.map(\.tensor.data), original.tensors.map(\.tensor.data))
            XCTAssertEqual(back.probes.flatMap { $0.inputs + $0.outputs }.map(\.data), original.probes.flatMap { $0.inputs + $0.outputs }.map(\.data))
        }
        XCTAssertTrue(try ckpt("fsck").stdout.contains(": ok (2 versions, 7 objects"))
        let gc = try ckpt("gc").stdout
        XCTAssertTrue(gc.contains("removed 3 unreferenced objects"), gc)
        XCTAssertEqual(try store.objects.enumerate().objects.count, 5 + 2)
        XCTAssertTrue(try store.fsck().ok)
        // A save after pruning descends from the latest kept version as any save does.
        let six = try store.save(SaveRequest(checkpoint: try version(6), model: "m"))
        XCTAssertEqual(six.version.parents.map(\.reference), ["m@5"])
        XCTAssertEqual(six.version.prunedAncestors, [])
    }

    func testReparentingAMergeParentAndPruningTwice() throws {
        let (store, _) = try Store.create(in: work)
        // a1 <- a2 <- a3, b1 <- b2; m1 merges a3 and b2.
        let a1 = try store.save(SaveRequest(checkpoint: try version(1), model: "a")).version
        try store.save(SaveRequest(checkpoint: try version(2), model: "a"))
        try store.save(SaveRequest(checkpoint: try version(3), model: "a"))
        let b1 = try store.save(SaveRequest(checkpoint: try version(4), model: "b")).version
        try store.save(SaveRequest(checkpoint: try version(5), model: "b"))
        let merge = try store.save(SaveRequest(checkpoint: try version(6), model: "m", parents: ["a@3", "b@2"])).version

        assertCatalogError(try store.remove("b@2"), .versionHasChildren(version: "b@2", children: ["m@1"]))
        let removed = try store.remove("b@2", reparent: true)
        XCTAssertEqual(removed.removed.map(\.reference), ["b@2"])
        XCTAssertEqual(removed.reparented.map(\.reference), ["m@1"])
        var now = try store.resolve("m@1")
        XCTAssertEqual(now.parents.map(\.reference), ["a@3", "b@1"], "b@2's place goes to its parent, in order")
        XCTAssertEqual(now.prunedAncestors, ["b@2"])
        // Pruning a again accumulates: a@2 and a@3 go; m@1 now descends from a@1 and b@1.
        let pruned = try store.prune(model: "a", keep: ["a@1"], keepLatest: false)
        XCTAssertEqual(pruned.removed.map(\.reference), ["a@2", "a@3"])
        now = try store.resolve("m@1")
        XCTAssertEqual(now.parents.map(\.id), [a1.id, b1.id])
        XCTAssertEqual(now.prunedAncestors, ["a@2", "a@3", "b@2"], "oldest first")
        XCTAssertEqual(now.hash, merge.hash)
        XCTAssertEqual(try store.fsck().problems, [])
        // The saved parents are what fsck checks the hash with: altering them is noticed.
        try store.pool.write { db in try db.execute(sql: "UPDATE saved_parent SET hash = ? WHERE version_id = ? AND position = 0", arguments: [a1.hash, merge.id]) }
        XCTAssertEqual(try store.fsck().problems, ["m@1: its catalog row no longer matches its hash \(merge.shortHash)"])

        assertCatalogError(try store.prune(model: "a", keep: ["m@1"], keepLatest: false),
                           .keptVersionOfOtherModel(reference: "m@1", version: "m@1", model: "a"))
        assertCatalogError(try store.prune(model: "zz", keep: [], keepLatest: true), .noSuchModel("zz", suggestion: nil))
    }

    func testRmReparentThroughTheBinary() throws {
        try ckpt("init")
        for k in 1...3 {
            try CheckpointFile.write(try version(k), to: url("v\(k).ckpt"))
            try ckpt("save", path("v\(k).ckpt"), "--model", "m")
        }
        let refused = try ckpt("rm", "m@2", expect: 1).stderr
        XCTAssertTrue(refused.contains("m@2 is the parent of m@3; remove it first, or give --reparent"), refused)
        let out = try ckpt("rm", "m@2", "--reparent").stdout
        XCTAssertTrue(out.contains("removed m@2 ("), out)
        XCTAssertTrue(out.contains("m@3 now descends from m@1 (pruned between: m@2)"), out)
        let log = try JSONDecoder().decode([VersionInfo].self, from: Data(try ckpt("log", "--json").stdout.utf8))
        XCTAssertEqual(log.map(\.reference), ["m@3", "m@1"])
        XCTAssertEqual(log[0].prunedAncestors, ["m@2"])
        XCTAssertEqual(log[0].parents.map(\.reference), ["m@1"])
        XCTAssertTrue(try ckpt("show", "m@3").stdout.contains("parents m@1 ("), "show names the new parent")
        XCTAssertTrue(try ckpt("fsck").stdout.contains(": ok (2 versions,"))
    }

    func testAVersionTwoStoreGainsThePruningTables() throws {
        let root = try OldStore.make(in: work, schemaUpTo: Schema.versions[1]) { store in
            try store.save(SaveRequest(checkpoint: try version(1), model: "m"))
            try store.save(SaveRequest(checkpoint: try version(2), model: "m"))
        }
        let store = try Store.open(root)
        XCTAssertEqual(Array(try store.schema().prefix(3)), ["v1-catalog", "v2-probes", "v3-pruning"])
        XCTAssertEqual(try store.pool.read { try Int.fetchOne($0, sql: "PRAGMA user_version") }, Schema.current)
        try store.remove("m@1", reparent: true)
        XCTAssertEqual(try store.resolve("m").prunedAncestors, ["m@1"])
        XCTAssertTrue(try store.fsck().ok)
    }
}
