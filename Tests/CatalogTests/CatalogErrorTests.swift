@testable import Catalog
import Foundation
import Format
import GRDB
import XCTest

/// A store that is missing, damaged or from a newer ckpt gives its typed error, never a
/// swallowed one or a crash; messages are derived from the case and escaped.
final class CatalogErrorTests: CatalogTestCase {
    func testNoStoreIsStoreNotFound() throws {
        assertCatalogError(try Store.locate(explicit: path("nowhere"), environment: [:], start: work),
                           .storeNotFound(path: path("nowhere"), searched: false))
        assertCatalogError(try Store.locate(explicit: nil, environment: [:], start: work),
                           .storeNotFound(path: work.standardizedFileURL.path, searched: true))
        assertCatalogError(try Store.open(url("empty")), .storeNotFound(path: url("empty").path, searched: false))
    }

    func testACatalogThatIsNotADatabaseIsCannotOpenWithSQLitesCode() throws {
        let (store, _) = try Store.create(in: work)
        let root = store.root
        // 4 KiB of text where the catalog was: SQLite says SQLITE_NOTADB (26).
        for name in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
            try? FileManager.default.removeItem(at: root.appendingPathComponent(name))
        }
        try Data(repeating: 0x41, count: 4096).write(to: root.appendingPathComponent("catalog.sqlite"))
        XCTAssertThrowsError(try Store.open(root)) { error in
            guard case .cannotOpen(root.path, let code?, _)? = error as? CatalogError else { return XCTFail("\(error)") }
            XCTAssertEqual(code & 0xFF, 26, "\(error)")
        }
        let cli = try ckpt("log", expect: 1)
        XCTAssertTrue(cli.stderr.hasPrefix("ckpt: \(root.path): cannot open the catalog"), cli.stderr)
    }

    func testACatalogFromANewerCkptIsRefusedNamingBothSchemas() throws {
        let (store, _) = try Store.create(in: work)
        try store.pool.write { db in try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v99-future')") }
        assertCatalogError(try Store.open(store.root), .newerSchema(store: store.root.path, unknown: ["v99-future"], known: Schema.current))
    }

    func testAMalformedRowIsCorruptRowNotACrash() throws {
        let (store, _) = try Store.create(in: work)
        try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 1), model: "m"))
        try store.pool.write { db in try db.execute(sql: "UPDATE tensor SET shape = '[4611686018427387904, 4]' WHERE position = 0") }
        assertCatalogError(try store.content("m"), .corruptRow(field: "shape", value: "[4611686018427387904, 4]"))
        try store.pool.write { db in try db.execute(sql: "UPDATE tensor SET shape = '[64, 32]', dtype = 'f33' WHERE position = 0") }
        assertCatalogError(try store.content("m"), .corruptRow(field: "dtype", value: "f33"))
        // A value of the wrong type where GRDB's subscript would stop the process.
        try store.pool.write { db in try db.execute(sql: "UPDATE tensor SET dtype = 'f32'; UPDATE version SET created_ms = 'soon'") }
        XCTAssertThrowsError(try store.history()) { error in
            guard case .corruptRow("created_ms (Int64)", _)? = error as? CatalogError else { return XCTFail("\(error)") }
        }
    }

    func testAnObjectsDirectoryThatCannotBeListedFailsGcAndFsck() throws {
        let (store, _) = try Store.create(in: work)
        try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 1), model: "m"))
        // A file where objects/ should be: listing it fails (ENOTDIR) even for root.
        let objects = store.root.appendingPathComponent("objects")
        try FileManager.default.moveItem(at: objects, to: store.root.appendingPathComponent("objects.moved"))
        try Data("x".utf8).write(to: objects)
        assertCatalogError(try store.gc(), .io(operation: "list", path: objects.path, errno: ENOTDIR))
        assertCatalogError(try store.fsck(), .io(operation: "list", path: objects.path, errno: ENOTDIR))
    }

    func testReferenceErrorsAreTheArgumentsFaultAndStoreErrorsAreNot() {
        XCTAssertTrue(CatalogError.noSuchReference("x", suggestion: nil).isUnresolvedReference)
        XCTAssertTrue(CatalogError.ambiguousPrefix("abcd", candidates: [], total: 2).isUnresolvedReference)
        XCTAssertFalse(CatalogError.database(store: "s", code: 11, message: "database disk image is malformed").isUnresolvedReference)
        XCTAssertFalse(CatalogError.corruptRow(field: "shape", value: "[").isUnresolvedReference)
    }

    func testMessagesAreDerivedAndEscaped() {
        let error = CatalogError.noSuchModel("a\u{1B}[32mOK\nb", suggestion: nil)
        XCTAssertEqual(error.description, "no model named 'a\\u{1B}[32mOK\\nb'")
        XCTAssertEqual(CatalogError.tensorUnreadable(version: "m@1", item: "tensor 'w'", error: .objectDamaged(hash: String(repeating: "a", count: 64), problem: .contentMismatch)).description,
                       "m@1 tensor 'w': object aaaaaaaaaaaaaaaa: content does not hash to the object's name (damaged)")
    }
}
