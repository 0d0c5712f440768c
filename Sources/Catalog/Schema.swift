import Foundation
import Format
import GRDB

/// The catalog's tables and how a store made by an older ckpt is brought up to date.
///
/// Every change to the schema is a new migration appended here, never an edit of an old
/// one: GRDB's migrator records each applied migration in `grdb_migrations`, so a store
/// opened by a newer ckpt runs exactly the migrations it lacks, in one transaction each.
/// `PRAGMA user_version` mirrors the number of applied migrations for tools that do not
/// know GRDB (the sqlite3 shell). spec/CATALOG.md documents the result.
public enum Schema {
    /// Migration identifiers, oldest first. The position (1-based) is the schema version.
    public static let versions = ["v1-catalog", "v2-probes", "v3-pruning", "v4-structure"]

    public static var current: Int { versions.count }

    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(versions[0]) { db in
            try db.execute(sql: """
                CREATE TABLE model (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    -- the highest number ever given: numbers are not reused after rm
                    last_number INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE version (
                    id INTEGER PRIMARY KEY,
                    model_id INTEGER NOT NULL REFERENCES model(id),
                    number INTEGER NOT NULL,
                    hash TEXT NOT NULL UNIQUE,
                    content TEXT NOT NULL,
                    message TEXT NOT NULL DEFAULT '',
                    created_ms INTEGER NOT NULL,
                    architecture TEXT,
                    metadata TEXT,
                    UNIQUE (model_id, number)
                );
                CREATE TABLE version_parent (
                    version_id INTEGER NOT NULL REFERENCES version(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    -- no cascade: a version with children cannot be removed
                    parent_id INTEGER NOT NULL REFERENCES version(id),
                    PRIMARY KEY (version_id, position)
                );
                CREATE INDEX version_parent_parent ON version_parent(parent_id);
                CREATE TABLE tag (
                    name TEXT PRIMARY KEY,
                    version_id INTEGER NOT NULL REFERENCES version(id) ON DELETE CASCADE
                );
                CREATE INDEX tag_version ON tag(version_id);
                CREATE TABLE tensor (
                    version_id INTEGER NOT NULL REFERENCES version(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    aliases TEXT NOT NULL DEFAULT '[]',
                    object TEXT NOT NULL,
                    dtype TEXT NOT NULL,
                    shape TEXT NOT NULL,
                    codec TEXT NOT NULL,
                    stored_bytes INTEGER NOT NULL,
                    PRIMARY KEY (version_id, position)
                );
                CREATE INDEX tensor_object ON tensor(object);
                PRAGMA user_version = 1;
                """)
        }
        migrator.registerMigration(versions[1]) { db in
            try db.execute(sql: """
                CREATE TABLE probe (
                    version_id INTEGER NOT NULL REFERENCES version(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    rtol REAL NOT NULL,
                    atol REAL NOT NULL,
                    PRIMARY KEY (version_id, position)
                );
                CREATE TABLE probe_tensor (
                    version_id INTEGER NOT NULL,
                    probe_position INTEGER NOT NULL,
                    role TEXT NOT NULL CHECK (role IN ('input', 'output')),
                    position INTEGER NOT NULL,
                    object TEXT NOT NULL,
                    dtype TEXT NOT NULL,
                    shape TEXT NOT NULL,
                    codec TEXT NOT NULL,
                    stored_bytes INTEGER NOT NULL,
                    PRIMARY KEY (version_id, probe_position, role, position),
                    FOREIGN KEY (version_id, probe_position) REFERENCES probe(version_id, position) ON DELETE CASCADE
                );
                CREATE INDEX probe_tensor_object ON probe_tensor(object);
                PRAGMA user_version = 2;
                """)
        }
        migrator.registerMigration(versions[2]) { db in
            // Pruning (Store.prune, rm --reparent) re-parents a removed version's children
            // onto its parents. The child's hash covers the parents it was saved with, so
            // those are kept (saved_parent) for fsck to recompute it, and the removed
            // versions are named (pruned_ancestor) so that log shows the lineage honestly.
            try db.execute(sql: """
                CREATE TABLE saved_parent (
                    version_id INTEGER NOT NULL REFERENCES version(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    hash TEXT NOT NULL,
                    PRIMARY KEY (version_id, position)
                );
                CREATE TABLE pruned_ancestor (
                    version_id INTEGER NOT NULL REFERENCES version(id) ON DELETE CASCADE,
                    hash TEXT NOT NULL,
                    reference TEXT NOT NULL,
                    removed_id INTEGER NOT NULL,   -- the removed version's id: orders them by age
                    PRIMARY KEY (version_id, hash)
                );
                PRAGMA user_version = 3;
                """)
        }
        migrator.registerMigration(versions[3]) { db in
            // A version's nesting (Format's CheckpointStructure, FORMAT.md 4.1), as the
            // container's section encodes it; NULL for a flat state_dict, as every older
            // version is, so existing rows need nothing.
            try db.execute(sql: """
                ALTER TABLE version ADD COLUMN structure TEXT;
                PRAGMA user_version = 4;
                """)
        }
        return migrator
    }

    /// Brings the catalog up to date, refusing one written by a newer ckpt (whose tables
    /// this code would misread).
    static func migrate(_ pool: DatabasePool, path: String) throws {
        let migrator = migrator
        let (applied, complete) = try pool.read { db in
            (try migrator.appliedIdentifiers(db), try migrator.hasCompletedMigrations(db))
        }
        let unknown = applied.subtracting(versions)
        guard unknown.isEmpty else {
            throw CatalogError.newerSchema(store: path, unknown: unknown.sorted(), known: current)
        }
        if !complete { try migrator.migrate(pool) }
    }

    /// The applied migrations, oldest first, as the database records them.
    public static func applied(in db: Database) throws -> [String] {
        try migrator.appliedMigrations(db)
    }
}
