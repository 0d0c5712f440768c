import Foundation
import Format
import GRDB

/// The SQL that turns catalog rows into versions and tensor lists. Every function takes
/// the `Database` of a transaction or snapshot the caller holds, so a caller that reads
/// several things reads them consistently.
enum CatalogQueries {
    static let versionColumns = "v.id, m.name, v.number, v.hash, v.content, v.message, v.created_ms"

    /// Versions matching `condition` (SQL over `v` and `m`), newest first, with parents and tags.
    static func versions(_ db: Database, where condition: String = "1", arguments: StatementArguments = []) throws -> [VersionInfo] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT \(versionColumns) FROM version v JOIN model m ON m.id = v.model_id
            WHERE \(condition) ORDER BY v.id DESC
            """, arguments: arguments)
        guard !rows.isEmpty else { return [] }
        let ids = rows.map { $0[0] as Int64 }
        let idList = ids.map(String.init).joined(separator: ",")
        var parents: [Int64: [ParentLink]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT p.version_id, v.id, v.hash, m.name, v.number FROM version_parent p
            JOIN version v ON v.id = p.parent_id JOIN model m ON m.id = v.model_id
            WHERE p.version_id IN (\(idList)) ORDER BY p.version_id, p.position
            """) {
            parents[try row.checked(0), default: []].append(ParentLink(id: try row.checked(1), hash: try row.checked(2), model: try row.checked(3), number: try row.checked(4)))
        }
        var pruned: [Int64: [String]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT version_id, reference FROM pruned_ancestor WHERE version_id IN (\(idList)) ORDER BY version_id, removed_id
            """) {
            pruned[try row.checked(0), default: []].append(try row.checked(1))
        }
        var saved: [Int64: [String]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT version_id, hash FROM saved_parent WHERE version_id IN (\(idList)) ORDER BY version_id, position") {
            saved[try row.checked(0), default: []].append(try row.checked(1))
        }
        var tags: [Int64: [String]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT version_id, name FROM tag WHERE version_id IN (\(idList)) ORDER BY name") {
            tags[try row.checked(0), default: []].append(try row.checked(1))
        }
        return try rows.map { row in
            let id: Int64 = try row.checked(0)
            return VersionInfo(id: id, model: try row.checked(1), number: try row.checked(2), hash: try row.checked(3), content: try row.checked(4), message: try row.checked(5),
                               createdMilliseconds: try row.checked(6),
                               parents: parents[id] ?? [], tags: tags[id] ?? [],
                               prunedAncestors: pruned[id] ?? [], savedParentHashes: saved[id])
        }
    }

    static func version(_ db: Database, id: Int64) throws -> VersionInfo? {
        try versions(db, where: "v.id = ?", arguments: [id]).first
    }

    /// Everything a version holds, from one snapshot.
    static func content(_ db: Database, of info: VersionInfo) throws -> VersionContent {
        let sections = try Row.fetchOne(db, sql: "SELECT architecture, metadata, structure FROM version WHERE id = ?", arguments: [info.id])
        let architecture: String? = try sections.flatMap { try $0.checked(0) }
        let metadata: String? = try sections.flatMap { try $0.checked(1) }
        let structureText: String? = try sections.flatMap { try $0.checked(2) }
        let tensors = try Row.fetchAll(db, sql: """
            SELECT name, aliases, object, dtype, shape, codec, stored_bytes FROM tensor
            WHERE version_id = ? ORDER BY position
            """, arguments: [info.id]).map(tensorEntry)
        var probes: [ProbeEntry] = []
        for row in try Row.fetchAll(db, sql: "SELECT position, name, origin, rtol, atol FROM probe WHERE version_id = ? ORDER BY position", arguments: [info.id]) {
            let position: Int = try row.checked(0)
            let originText: String = try row.checked(2)
            guard let origin = Probe.Origin(rawValue: originText) else { throw CatalogError.corruptRow(field: "probe origin", value: originText) }
            var probe = ProbeEntry(name: try row.checked(1), origin: origin, rtol: try row.checked(3), atol: try row.checked(4), inputs: [], outputs: [])
            for tensorRow in try Row.fetchAll(db, sql: """
                SELECT role, position, object, dtype, shape, codec, stored_bytes FROM probe_tensor
                WHERE version_id = ? AND probe_position = ? ORDER BY role, position
                """, arguments: [info.id, position]) {
                let role: String = try tensorRow.checked(0)
                let entry = try TensorEntry(name: "\(role) \(try tensorRow.checked(1) as Int)", aliases: [], object: try tensorRow.checked(2),
                                            dtype: dtype(try tensorRow.checked(3)), shape: shape(try tensorRow.checked(4)),
                                            codec: codec(try tensorRow.checked(5)), storedBytes: try tensorRow.checked(6))
                if role == "input" { probe.inputs.append(entry) } else { probe.outputs.append(entry) }
            }
            probes.append(probe)
        }
        var metadataValue: JSONValue?
        if let metadata {
            do { metadataValue = try JSONValue.parse(Data(metadata.utf8)) } catch {
                throw CatalogError.corruptRow(field: "metadata", value: String(metadata.prefix(80)))
            }
        }
        var structure: CheckpointStructure?
        if let structureText {
            do {
                let decoded = try CheckpointStructure.decode(Data(structureText.utf8))
                try decoded.validate(against: Set(tensors.flatMap { [$0.name] + $0.aliases }))
                structure = decoded
            } catch {
                throw CatalogError.corruptRow(field: "structure", value: String(structureText.prefix(80)))
            }
        }
        return VersionContent(info: info, tensors: tensors, probes: probes,
                              architecture: architecture.map { Data($0.utf8) }, metadata: metadata.map { Data($0.utf8) },
                              metadataValue: metadataValue, structure: structure,
                              structureData: structureText.map { Data($0.utf8) }, architectureValue: architecture.flatMap(parsedArchitecture))
    }

    /// The architecture as JSON; a document that is not JSON has no parsed form (it is
    /// kept and compared as its text): not an error of the store.
    private static func parsedArchitecture(_ text: String) -> JSONValue? {
        do { return try JSONValue.parse(Data(text.utf8)) } catch { return nil }
    }

    private static func tensorEntry(_ row: Row) throws -> TensorEntry {
        let aliasText: String = try row.checked(1)
        let aliases: [String]
        do { aliases = try JSONDecoder().decode([String].self, from: Data(aliasText.utf8)) } catch {
            throw CatalogError.corruptRow(field: "alias list", value: aliasText)
        }
        return TensorEntry(name: try row.checked(0), aliases: aliases, object: try row.checked(2), dtype: try dtype(try row.checked(3)), shape: try shape(try row.checked(4)),
                           codec: try codec(try row.checked(5)), storedBytes: try row.checked(6))
    }

    private static func codec(_ text: String) throws -> Codec {
        guard let codec = Codec(rawValue: text) else { throw CatalogError.corruptRow(field: "codec", value: text) }
        return codec
    }

    private static func dtype(_ text: String) throws -> DType {
        guard let dtype = DType(rawValue: text) else { throw CatalogError.corruptRow(field: "dtype", value: text) }
        return dtype
    }

    private static func shape(_ text: String) throws -> [Int] {
        let shape: [Int]
        do { shape = try JSONDecoder().decode([Int].self, from: Data(text.utf8)) } catch {
            throw CatalogError.corruptRow(field: "shape", value: text)
        }
        // The dimensions come from a row anyone can edit: checked as a file's would be.
        var elements = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard dimension >= 0, !overflow else { throw CatalogError.corruptRow(field: "shape", value: text) }
            elements = product
        }
        return shape
    }

    /// A list of names or dimensions as the catalog stores it (JSON text).
    static func json(_ value: [String]) -> String {
        "[" + value.map(JSONText.quote).joined(separator: ",") + "]"
    }

    static func json(_ value: [Int]) -> String {
        "[" + value.map(String.init).joined(separator: ",") + "]"
    }

    /// Every object any version references.
    static func referencedObjects(_ db: Database) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: "SELECT object FROM tensor UNION SELECT object FROM probe_tensor"))
    }
}

extension Row {
    /// The value at `index`, or `CatalogError.corruptRow` when the row holds something
    /// else there: GRDB's subscript would stop the process, and a catalog can be edited
    /// by anyone with the sqlite3 shell.
    func checked<Value: DatabaseValueConvertible>(_ index: Int) throws -> Value {
        do {
            return try decode(Value.self, atIndex: index)
        } catch {
            let value: DatabaseValue = self[index]
            let column = Array(columnNames)[index]
            throw CatalogError.corruptRow(field: "\(column) (\(Value.self))", value: value.description)
        }
    }
}
