import Catalog
import Foundation
import Format
import XCTest

/// A store made by an older ckpt (schema v1: no probe tables) opens with the current code,
/// which upgrades it and records the upgrade in the database.
final class CatalogMigrationTests: CatalogTestCase {
    func testAVersionOneStoreOpensAndUpgrades() throws {
        // What a v1 ckpt could save: tensors, aliases, architecture and metadata, no probes.
        var checkpoint = SmallModel.checkpoint(seed: 7)
        checkpoint.probes = []
        var saved: VersionInfo?
        let root = try OldStore.make(in: work, schemaUpTo: Schema.versions[0]) { store in
            saved = try store.save(SaveRequest(checkpoint: checkpoint, model: "old", message: "made by v1")).version
        }

        let store = try Store.open(root)
        XCTAssertEqual(try store.schema(), Schema.versions, "the migrator records every applied migration")
        XCTAssertEqual(Schema.current, Schema.versions.count)
        let content = try store.content("old@1")
        XCTAssertEqual(content.info.hash, saved?.hash)
        XCTAssertEqual(content.tensors.map(\.name), checkpoint.tensors.map(\.name))
        XCTAssertTrue(try store.fsck().ok)
        // The upgraded store takes what only the new schema holds.
        let withProbe = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 8), model: "old")).version
        XCTAssertEqual(try store.content(withProbe.reference).probes.count, 1)
        XCTAssertTrue(try store.fsck().ok)
    }

    func testInitCreatesTheCurrentSchemaAndReopens() throws {
        let (store, created) = try Store.create(in: work)
        XCTAssertTrue(created)
        XCTAssertEqual(try store.schema(), Schema.versions)
        let (again, createdAgain) = try Store.create(in: work)
        XCTAssertFalse(createdAgain)
        XCTAssertEqual(try again.schema(), Schema.versions)
    }
}
