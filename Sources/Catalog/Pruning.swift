import Foundation
import Format
import GRDB

/// What a removal or a prune did.
public struct PruneResult: Sendable, Codable {
    /// The versions removed, oldest first.
    public var removed: [VersionInfo]
    /// The versions whose parents changed (re-parented onto the removed ones' parents), as they are now.
    public var reparented: [VersionInfo]
}

extension Store {
    /// Removes a version from the catalog (its tensor list, probes and tags with it); its
    /// objects stay until `gc`.
    ///
    /// A version that is another's parent is refused unless `reparent`: then each child
    /// takes the removed version's parents in its place, and records the removed version
    /// as a pruned ancestor (spec/CATALOG.md section 7), in the same transaction.
    @discardableResult
    public func remove(_ reference: String, reparent: Bool = false) throws -> PruneResult {
        try write { db in
            let version = try Reference.resolve(reference, in: db)
            let reparented = try Self.remove(version, reparent: reparent, db)
            return PruneResult(removed: [version], reparented: try reparented.sorted().compactMap { try CatalogQueries.version(db, id: $0) })
        }
    }

    /// Keeps only some versions of `model`: those `keep` names, and its latest when
    /// `keepLatest`; removes every other one as `remove(_:reparent: true)` does, all in one
    /// transaction, so that the kept versions descend from one another (or from versions
    /// of other models) with the removed ones recorded in between. `dryRun` reports what
    /// would be removed and changes nothing.
    public func prune(model: String, keep: [String], keepLatest: Bool, dryRun: Bool = false) throws -> PruneResult {
        try write(commit: !dryRun) { db in
            guard try Reference.modelExists(model, db) else { throw CatalogError.noSuchModel(model, suggestion: nil) }
            var kept: Set<Int64> = []
            for reference in keep {
                let version = try Reference.resolve(reference, in: db)
                guard version.model == model else {
                    throw CatalogError.keptVersionOfOtherModel(reference: reference, version: version.reference, model: model)
                }
                kept.insert(version.id)
            }
            let versions = try CatalogQueries.versions(db, where: "m.name = ?", arguments: [model]).reversed()   // oldest first
            if keepLatest, let latest = versions.last { kept.insert(latest.id) }
            var removed: [VersionInfo] = [], reparented: Set<Int64> = []
            for version in versions where !kept.contains(version.id) {
                reparented.formUnion(try Self.remove(version, reparent: true, db))
                reparented.remove(version.id)
                removed.append(version)
            }
            return PruneResult(removed: removed, reparented: try reparented.sorted().compactMap { try CatalogQueries.version(db, id: $0) })
        }
    }

    /// Deletes `version`'s rows; with `reparent`, first hands its children its parents.
    /// Returns the ids of the children re-parented.
    private static func remove(_ stale: VersionInfo, reparent: Bool, _ db: Database) throws -> Set<Int64> {
        // Read again: an earlier removal in this transaction may have re-parented it.
        guard let version = try CatalogQueries.version(db, id: stale.id) else { return [] }
        let children = try CatalogQueries.versions(db, where: "v.id IN (SELECT version_id FROM version_parent WHERE parent_id = ?)",
                                                   arguments: [version.id]).reversed()
        guard children.isEmpty || reparent else {
            throw CatalogError.versionHasChildren(version: version.reference, children: children.map(\.reference))
        }
        let ancestors = try Row.fetchAll(db, sql: "SELECT hash, reference, removed_id FROM pruned_ancestor WHERE version_id = ?",
                                         arguments: [version.id])
        for child in children {
            // The hash covers the parents the child was saved with: keep them the first time they change.
            if child.savedParentHashes == nil {
                for (position, parent) in child.parents.enumerated() {
                    try db.execute(sql: "INSERT INTO saved_parent(version_id, position, hash) VALUES (?, ?, ?)",
                                   arguments: [child.id, position, parent.hash])
                }
            }
            // The removed version's place in the child's parents goes to its own parents,
            // in order; a version that would be a parent twice is kept once, first place.
            var parents: [Int64] = []
            for parent in child.parents {
                for id in parent.id == version.id ? version.parents.map(\.id) : [parent.id] where !parents.contains(id) {
                    parents.append(id)
                }
            }
            try db.execute(sql: "DELETE FROM version_parent WHERE version_id = ?", arguments: [child.id])
            for (position, parent) in parents.enumerated() {
                try db.execute(sql: "INSERT INTO version_parent(version_id, position, parent_id) VALUES (?, ?, ?)",
                               arguments: [child.id, position, parent])
            }
            // The removed version, and whatever had been pruned before it, stand between.
            for row in ancestors {
                try db.execute(sql: "INSERT OR IGNORE INTO pruned_ancestor(version_id, hash, reference, removed_id) VALUES (?, ?, ?, ?)",
                               arguments: [child.id, try row.checked(0) as String, try row.checked(1) as String, try row.checked(2) as Int64])
            }
            try db.execute(sql: "INSERT OR IGNORE INTO pruned_ancestor(version_id, hash, reference, removed_id) VALUES (?, ?, ?, ?)",
                           arguments: [child.id, version.hash, version.reference, version.id])
        }
        try db.execute(sql: "DELETE FROM version WHERE id = ?", arguments: [version.id])
        return Set(children.map(\.id))
    }
}
