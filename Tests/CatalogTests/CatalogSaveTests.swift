import Catalog
import Foundation
import Format
import XCTest

/// What a save says: tensors, probe tensors and objects counted apart; the same content
/// saved again is a new version that says whose content it repeats; names that would
/// shadow one another are refused.
final class CatalogSaveTests: CatalogTestCase {
    func testSaveCountsTensorsProbeTensorsAndNewObjectsApart() throws {
        let (store, _) = try Store.create(in: work)
        // SmallModel: 4 named tensors (one with an alias) and a probe of 1 input and 1 output,
        // all different: 6 objects.
        let first = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 1), model: "m"))
        XCTAssertEqual(first.tensors, 4)
        XCTAssertEqual(first.probeTensors, 2)
        XCTAssertEqual(first.newObjects, 6)
        XCTAssertEqual(first.reusedObjects, 0)
        // One named tensor changed: 1 new object, the other 5 already stored.
        var changed = SmallModel.checkpoint(seed: 1)
        changed.tensors[3].tensor = try Tensor(dtype: .f32, shape: [10], data: Data(count: 40))
        let second = try store.save(SaveRequest(checkpoint: changed, model: "m"))
        XCTAssertEqual([second.tensors, second.probeTensors, second.newObjects, second.reusedObjects], [4, 2, 1, 5])
        // Two equal tensors are one object.
        let zeros = try Tensor(dtype: .f32, shape: [3], data: Data(count: 12))
        let twins = try store.save(SaveRequest(checkpoint: Checkpoint(tensors: [NamedTensor(name: "a", tensor: zeros), NamedTensor(name: "b", tensor: zeros)]), model: "z"))
        XCTAssertEqual([twins.tensors, twins.probeTensors, twins.newObjects, twins.reusedObjects], [2, 0, 1, 0])

        try CheckpointFile.write(SmallModel.checkpoint(seed: 2), to: url("two.ckpt"))
        let line = try ckpt("save", path("two.ckpt"), "--model", "cli").stdout
        XCTAssertTrue(line.contains(": 4 tensors (2 probe tensors), 6 new objects ("), line)
        try CheckpointFile.write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: try Tensor(dtype: .f32, shape: [1], data: Data(count: 4)))]), to: url("one.ckpt"))
        let single = try ckpt("save", path("one.ckpt"), "--model", "single").stdout
        XCTAssertTrue(single.contains(": 1 tensor, 1 new object ("), single)
        XCTAssertFalse(single.contains("probe"), single)
    }

    func testSavingTheSameContentAgainMakesANewVersionAndSaysWhoseContentItIs() throws {
        let (store, _) = try Store.create(in: work)
        let one = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 1), model: "lenet"))
        XCTAssertNil(one.sameContentAs)
        let two = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 2), model: "lenet"))
        XCTAssertNil(two.sameContentAs)
        // seed 1 again: the content of lenet@1, saved as lenet@3 (parent lenet@2, as any save).
        let three = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 1), model: "lenet", message: "re-evaluated"))
        XCTAssertEqual(three.version.reference, "lenet@3")
        XCTAssertEqual(three.sameContentAs, "lenet@1")
        XCTAssertEqual(three.newObjects, 0)
        XCTAssertEqual(three.version.content, one.version.content)
        XCTAssertNotEqual(three.version.hash, one.version.hash)
        XCTAssertEqual(three.version.parents.map(\.reference), ["lenet@2"])
        // Again: the newest version of that content is named.
        XCTAssertEqual(try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 1), model: "lenet")).sameContentAs, "lenet@3")
        // Another model's version counts too: content is content.
        XCTAssertEqual(try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 2), model: "copy")).sameContentAs, "lenet@2")

        try CheckpointFile.write(SmallModel.checkpoint(seed: 2), to: url("two.ckpt"))
        let line = try ckpt("save", path("two.ckpt"), "--model", "lenet").stdout
        XCTAssertTrue(line.hasPrefix("lenet@5 "), line)
        XCTAssertTrue(line.contains("; same content as copy@1 (saved as a new version all the same)"), line)
    }

    func testATagMayNotTakeAModelsNameNorANewModelATags() throws {
        let (store, _) = try Store.create(in: work)
        try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 1), model: "m"))
        try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 2), model: "other", tags: ["best"]))
        assertCatalogError(try store.tag("other@1", as: "m"), .tagShadowsModel(tag: "m"))
        assertCatalogError(try store.tag("other@1", as: "m", force: true), .tagShadowsModel(tag: "m"))
        assertCatalogError(try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "other", tags: ["m"])),
                           .tagShadowsModel(tag: "m"))
        // A new model's own name given as its tag.
        assertCatalogError(try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "new", tags: ["new"])),
                           .tagShadowsModel(tag: "new"))
        assertCatalogError(try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "best")),
                           .modelShadowedByTag(model: "best", taggedVersion: "other@1"))
        // Nothing of the refused saves was recorded.
        XCTAssertEqual(try store.history().map(\.reference), ["other@1", "m@1"])
        XCTAssertEqual(try store.resolve("m").reference, "m@1")
        XCTAssertEqual(try store.resolve("best").reference, "other@1")

        let cli = try ckpt("tag", "other@1", "m", expect: 1)
        XCTAssertTrue(cli.stderr.contains("tag 'm' would shadow the model"), cli.stderr)
    }
}

/// Names and messages come from whoever saved: the store verbs print them escaped.
final class CatalogDisplayTests: CatalogTestCase {
    func testControlCharactersInNamesAndMessagesArePrintedEscaped() throws {
        try ckpt("init")
        var one = SmallModel.checkpoint(seed: 1)
        one.tensors[0].name = "evil\u{1B}[32mOK\u{1B}[0m"
        var two = one
        two.tensors[0].tensor = try Tensor(dtype: .f32, shape: [64, 32], data: Data(count: 64 * 32 * 4))
        try CheckpointFile.write(one, to: url("one.ckpt"))
        try CheckpointFile.write(two, to: url("two.ckpt"))
        let save = try ckpt("save", path("one.ckpt"), "--model", "m", "-m", "line one\nfake: ok")
        try ckpt("save", path("two.ckpt"), "--model", "m", "-m", "second")
        let outputs = [save.stdout, try ckpt("log").stdout, try ckpt("show", "m@1").stdout, try ckpt("diff", "m@1", "m@2").stdout]
        for output in outputs {
            XCTAssertFalse(output.unicodeScalars.contains("\u{1B}"), output)
        }
        let log = try ckpt("log").stdout.split(separator: "\n")
        XCTAssertEqual(log.count, 2, "a message with a newline is one line")
        XCTAssertTrue(log[1].hasSuffix("line one\\nfake: ok"), String(log[1]))
        XCTAssertTrue(outputs[3].contains("evil\\u{1B}[32mOK"), outputs[3])
    }
}
