import Foundation
import Format
import GRDB

/// How people name a version: `name@3`, `name@latest`, `name` (its latest), a tag, or
/// a prefix of the version's hash (at least 4 hex digits), tried in that order. A tag and
/// a model never share a name (spec/CATALOG.md section 6), so the order between them
/// matters only in stores made before that rule.
public enum Reference {
    /// Shortest hash prefix accepted: shorter ones match too much to mean anything.
    public static let minimumPrefix = 4

    static func resolve(_ text: String, in db: Database) throws -> VersionInfo {
        if let at = text.lastIndex(of: "@") {
            let model = String(text[..<at]), selector = String(text[text.index(after: at)...])
            guard !model.isEmpty else { throw CatalogError.malformedReference(text, problem: .noModel) }
            guard try modelExists(model, db) else { throw CatalogError.noSuchModel(model, suggestion: try suggestion(model, db)) }
            if selector == "latest" {
                guard let latest = try CatalogQueries.versions(db, where: "m.name = ?", arguments: [model]).first else {
                    throw CatalogError.modelHasNoVersions(model)
                }
                return latest
            }
            guard let number = Int(selector), number > 0 else {
                throw CatalogError.malformedReference(text, problem: .badSelector)
            }
            guard let version = try CatalogQueries.versions(db, where: "m.name = ? AND v.number = ?", arguments: [model, number]).first else {
                let numbers = try Int.fetchAll(db, sql: "SELECT v.number FROM version v JOIN model m ON m.id = v.model_id WHERE m.name = ? ORDER BY v.number", arguments: [model])
                throw CatalogError.noSuchVersion(model: model, number: number, existing: numbers)
            }
            return version
        }
        // A model's name before a tag's: the two can no longer be equal (tag and save refuse
        // it), but a store made by an older ckpt may hold both, and then the name means what
        // it meant when the model was made. Such a tag is still reachable by moving it.
        if try modelExists(text, db) {
            guard let latest = try CatalogQueries.versions(db, where: "m.name = ?", arguments: [text]).first else {
                throw CatalogError.modelHasNoVersions(text)
            }
            return latest
        }
        if let id = try Int64.fetchOne(db, sql: "SELECT version_id FROM tag WHERE name = ?", arguments: [text]),
           let version = try CatalogQueries.version(db, id: id) {
            return version
        }
        let prefix = text.lowercased()
        if prefix.utf8.count >= minimumPrefix, Digest.isHex(prefix) {
            let matches = try CatalogQueries.versions(db, where: "v.hash LIKE ?", arguments: [prefix + "%"])
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 {
                let candidates = matches.prefix(10).map { CatalogError.Candidate(shortHash: $0.shortHash, reference: $0.reference) }
                throw CatalogError.ambiguousPrefix(text, candidates: Array(candidates), total: matches.count)
            }
        }
        throw CatalogError.noSuchReference(text, suggestion: try suggestion(text, db))
    }

    static func modelExists(_ name: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM model WHERE name = ?)", arguments: [name]) ?? false
    }

    /// A close model or tag name when one is one or two edits away (for "did you mean").
    private static func suggestion(_ text: String, _ db: Database) throws -> String? {
        let names = try String.fetchAll(db, sql: "SELECT name FROM model UNION SELECT name FROM tag")
        let base = text.split(separator: "@").first.map(String.init) ?? text
        let close = names.map { ($0, distance($0, base)) }.filter { $0.1 <= 2 && $0.1 > 0 }.min { $0.1 < $1.1 }
        return close?.0
    }

    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Model and tag names: printable, no `@` (it separates the number), no leading `-`
    /// (it would read as an option), and not all hex digits for tags (they would shadow
    /// hash prefixes).
    static func validateName(_ name: String, kind: CatalogError.NameKind) throws {
        guard !name.isEmpty, name.count <= 200 else { throw CatalogError.invalidName(kind: kind, name: name, rule: .length) }
        guard !name.contains("@"), !name.hasPrefix("-"),
              name.unicodeScalars.allSatisfy({ !CharacterSet.whitespacesAndNewlines.contains($0) && !CharacterSet.controlCharacters.contains($0) }) else {
            throw CatalogError.invalidName(kind: kind, name: name, rule: .forbiddenCharacter)
        }
        if kind == .tag, name.utf8.count >= minimumPrefix, Digest.isHex(name.lowercased()) {
            throw CatalogError.invalidName(kind: kind, name: name, rule: .allHexTag)
        }
    }
}

extension Store {
    /// The version `reference` names, as of now.
    public func resolve(_ reference: String) throws -> VersionInfo {
        try read { try Reference.resolve(reference, in: $0) }
    }
}
