import Foundation
import Format
import GRDB

/// One model of a store, as `ckpt models` lists it.
public struct ModelSummary: Codable, Sendable {
    public var name: String
    /// Versions it has now (removed ones not counted).
    public var versions: Int
    /// Its newest version (`name@N`) and that version's hash; nil when none is left.
    public var latest: String?
    public var latestHash: String?
    /// Every tag naming one of its versions, by name.
    public var tags: [String]
    /// Stored bytes of the distinct objects its versions use (tensors and probe tensors):
    /// what the store would free if the model went (objects shared with another model
    /// are counted in each).
    public var bytes: Int
}

extension Store {
    /// Every model, by name, from one snapshot of the catalog.
    public func models() throws -> [ModelSummary] {
        try read { db in
            let versions = try CatalogQueries.versions(db)   // newest first
            let names = try String.fetchAll(db, sql: "SELECT name FROM model ORDER BY name")
            return try names.map { name in
                let own = versions.filter { $0.model == name }
                let bytes = try Int.fetchOne(db, sql: """
                    SELECT COALESCE(SUM(stored_bytes), 0) FROM (
                        SELECT t.object, MAX(t.stored_bytes) AS stored_bytes FROM tensor t
                            JOIN version v ON v.id = t.version_id JOIN model m ON m.id = v.model_id WHERE m.name = ? GROUP BY t.object
                        UNION
                        SELECT p.object, MAX(p.stored_bytes) FROM probe_tensor p
                            JOIN version v ON v.id = p.version_id JOIN model m ON m.id = v.model_id WHERE m.name = ? GROUP BY p.object)
                    """, arguments: [name, name]) ?? 0
                return ModelSummary(name: name, versions: own.count, latest: own.first?.reference, latestHash: own.first?.hash,
                                    tags: Array(Set(own.flatMap(\.tags))).sorted(), bytes: bytes)
            }
        }
    }
}
