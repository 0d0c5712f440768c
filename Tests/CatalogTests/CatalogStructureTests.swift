@testable import Catalog
import Foundation
import Format
import GRDB
import XCTest

/// The store keeps a checkpoint's structure (schema v4, `version.structure`): saved and
/// read back equal, in the content digest only when there is one (so a v3 store's versions
/// keep their hashes across the upgrade), and a damaged row is a typed error.
final class CatalogStructureTests: CatalogTestCase {
    static func training(seed: UInt64) -> Checkpoint {
        var checkpoint = SmallModel.checkpoint(seed: seed)
        let names = checkpoint.tensors.map { $0.name }
        checkpoint.structure = .dict([
            .init(.string("model"), .stateDict(names)),
            .init(.string("optimizer"), .dict([.init(.string("state"), .dict([.init(.int(0), .dict([.init(.string("step"), .float(3))], ordered: false))], ordered: false))], ordered: false)),
            .init(.string("epoch"), .int(Int64(seed))),
        ], ordered: false)
        return checkpoint
    }

    func testAStructureIsSavedAndReadBack() throws {
        let (store, _) = try Store.create(in: work)
        let checkpoint = Self.training(seed: 1)
        let saved = try store.save(SaveRequest(checkpoint: checkpoint, model: "m")).version
        let back = try store.checkpoint(of: try store.content(saved.reference))
        XCTAssertEqual(back.structure, checkpoint.structure)
        XCTAssertTrue(try store.fsck().ok)
        // The structure is part of the content: another epoch is another content.
        let next = try store.save(SaveRequest(checkpoint: Self.training(seed: 1), model: "m"))
        XCTAssertEqual(next.sameContentAs, saved.reference)
        var other = Self.training(seed: 1)
        other.structure = Self.training(seed: 2).structure
        XCTAssertNil(try store.save(SaveRequest(checkpoint: other, model: "m")).sameContentAs)
        // A flat checkpoint has no structure and the digest it always had.
        var flat = Self.training(seed: 1)
        flat.structure = nil
        let flatVersion = try store.save(SaveRequest(checkpoint: flat, model: "flat")).version
        XCTAssertNil(try store.content(flatVersion.reference).structure)
    }

    func testAVersionThreeStoreUpgradesKeepingItsHashes() throws {
        var saved: VersionInfo?
        let root = try OldStore.make(in: work, schemaUpTo: Schema.versions[2]) { store in
            saved = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "old")).version
        }
        let store = try Store.open(root)
        XCTAssertEqual(try store.schema(), Schema.versions)
        XCTAssertEqual(try store.content("old@1").info.hash, saved?.hash)
        XCTAssertNil(try store.content("old@1").structure)
        XCTAssertTrue(try store.fsck().ok)
        let structured = try store.save(SaveRequest(checkpoint: Self.training(seed: 4), model: "old")).version
        XCTAssertEqual(try store.content(structured.reference).structure, Self.training(seed: 4).structure)
    }

    func testADamagedStructureRowIsATypedError() throws {
        let (store, _) = try Store.create(in: work)
        let saved = try store.save(SaveRequest(checkpoint: Self.training(seed: 1), model: "m")).version
        for damage in [#"{"version":1,"root":{"tensor":"gone"}}"#, "not json", #"{"version":1,"root":{"dict":[[{"int":"1"},null],[{"bool":true},null]]}}"#] {
            try store.pool.write { try $0.execute(sql: "UPDATE version SET structure = ? WHERE id = ?", arguments: [damage, saved.id]) }
            XCTAssertThrowsError(try store.content(saved.reference)) { error in
                guard case .corruptRow(let field, _)? = error as? CatalogError else { return XCTFail("\(error)") }
                XCTAssertEqual(field, "structure")
            }
        }
    }
}
