import Foundation
import Format
#if canImport(Glibc)
import Glibc
#endif

/// Why the store refused a request or could not be read: the facts in the case, the
/// one-line message derived from them (`description`, escaped for display).
///
/// Callers and tests match cases, never text. Errors from reading an object's container
/// (Format) stay whole inside `.objectDamaged(_, .unreadable(FormatError))` or `.format`.
public indirect enum CatalogError: Error, CustomStringConvertible, Sendable, Equatable {
    // MARK: References (spec/CATALOG.md section 6)

    /// No model is called `name`; `suggestion` is a close model or tag name, if any.
    case noSuchModel(String, suggestion: String?)
    /// The model exists but every version of it was removed.
    case modelHasNoVersions(String)
    /// `model@number` does not exist; `existing` lists the numbers the model has.
    case noSuchVersion(model: String, number: Int, existing: [Int])
    /// `reference` is no `NAME@N`, tag, model or hash prefix.
    case noSuchReference(String, suggestion: String?)
    /// No tag is called `name`.
    case noSuchTag(String)
    /// `reference` has an `@` but is not `NAME@N` or `NAME@latest`.
    case malformedReference(String, problem: ReferenceProblem)
    /// A hash prefix matches `total` versions; `candidates` are the first few.
    case ambiguousPrefix(String, candidates: [Candidate], total: Int)

    // MARK: Names

    /// A model or tag name breaks `rule`.
    case invalidName(kind: NameKind, name: String, rule: NameRule)
    /// A tag may not take a model's name: `ckpt show NAME` would resolve to the tag.
    case tagShadowsModel(tag: String)
    /// A new model may not take a tag's name, for the same reason; `taggedVersion` is what the tag names.
    case modelShadowedByTag(model: String, taggedVersion: String)
    /// The tag already names `holder` (move it with `ckpt tag -f`).
    case tagTaken(tag: String, holder: String)
    /// The same tag is given twice in one request.
    case tagGivenTwice(String)

    // MARK: History

    /// `version` is a parent of `children`: removing it alone would leave them dangling.
    case versionHasChildren(version: String, children: [String])
    /// A prune names versions of another model to keep.
    case keptVersionOfOtherModel(reference: String, version: String, model: String)

    // MARK: The store itself

    /// No store at `path` (given with `--store` or `$CKPT_STORE`), or none from `path` upwards when `searched`.
    case storeNotFound(path: String, searched: Bool)
    /// `path` exists and is not a store directory.
    case notAStoreDirectory(path: String)
    /// The store's directory could not be created.
    case cannotCreate(path: String, reason: String)
    /// The catalog at `store` could not be opened; `code` is SQLite's result code when it gave one.
    case cannotOpen(store: String, code: Int32?, reason: String)
    /// The catalog records migrations this ckpt does not know.
    case newerSchema(store: String, unknown: [String], known: Int)
    /// SQLite failed with `code` (extended result code) and `message`.
    case database(store: String, code: Int32, message: String)
    /// The store lock at `path` could not be taken (`operation` is "open" or "lock").
    case lock(path: String, operation: String, errno: Int32)
    /// The system refused `operation` on `path`.
    case io(operation: String, path: String, errno: Int32)
    /// A catalog row holds `value` where `field` cannot hold it (altered behind ckpt's back).
    case corruptRow(field: String, value: String)
    /// The checkpoint's architecture document is not UTF-8 text, which the catalog stores.
    case architectureNotText

    // MARK: Objects (spec/CATALOG.md section 2)

    /// An object the catalog names has no file.
    case objectMissing(hash: String, path: String)
    /// An object's file is there and wrong.
    case objectDamaged(hash: String, problem: ObjectProblem)
    /// A version's tensor could not be read: `item` is `tensor '0.weight'` or `probe 'p' input 0`.
    case tensorUnreadable(version: String, item: String, error: CatalogError)
    /// An error of the Format module (reading or writing a container) in a catalog operation.
    case format(FormatError)

    /// What is wrong with a reference containing `@`.
    public enum ReferenceProblem: Sendable, Equatable {
        /// Nothing before the `@`.
        case noModel
        /// After the `@` comes neither a positive number nor `latest`.
        case badSelector
    }

    /// A version a hash prefix matched.
    public struct Candidate: Sendable, Equatable {
        public var shortHash: String
        public var reference: String
        public init(shortHash: String, reference: String) {
            self.shortHash = shortHash
            self.reference = reference
        }
    }

    public enum NameKind: String, Sendable, Equatable { case model, tag }

    /// The rules of spec/CATALOG.md section 6.
    public enum NameRule: Sendable, Equatable {
        /// 1 to 200 characters.
        case length
        /// No `@`, whitespace or control characters, no leading `-`.
        case forbiddenCharacter
        /// A tag of 4 or more hex digits only would hide hash prefixes.
        case allHexTag
    }

    /// What is wrong with an object file.
    public enum ObjectProblem: Sendable, Equatable, CustomStringConvertible {
        /// It holds `count` tensors; an object holds one.
        case tensorCount(Int)
        /// Its tensor is not of the dtype and shape the catalog records.
        case typeMismatch(found: String, expected: String)
        /// Its decoded bytes do not hash to its name.
        case contentMismatch
        /// The container refused it.
        case unreadable(FormatError)
        /// Its `ckpt.delta` metadata is not `{"base": 64 lowercase hex digits, "operation": "sub" or "xor"}`.
        case deltaMalformed
        /// It is a delta (spec/CATALOG.md 2.1) whose base object has no file.
        case deltaBaseMissing(base: String)
        /// It is a delta whose base is itself a delta: chains are one deep.
        case deltaBaseIsDelta(base: String)
        /// It is a delta whose base object is damaged.
        indirect case deltaBaseDamaged(base: String, problem: ObjectProblem)

        public var description: String {
            switch self {
            case .tensorCount(let count): return "holds \(count) tensors, an object holds one"
            case let .typeMismatch(found, expected): return "holds \(found), the catalog says \(expected)"
            case .contentMismatch: return "content does not hash to the object's name (damaged)"
            case .unreadable(let error): return error.description
            case .deltaMalformed: return "its delta metadata is malformed (needs operation \"sub\" or \"xor\" and a 64-hex-digit base)"
            case .deltaBaseMissing(let base): return "its delta base object \(base.prefix(16)) is missing"
            case .deltaBaseIsDelta(let base): return "its delta base object \(base.prefix(16)) is itself a delta (chains are one deep)"
            case let .deltaBaseDamaged(base, problem): return "its delta base object \(base.prefix(16)): \(problem)"
            }
        }
    }

    /// Whether the reference itself names nothing (a usage error: exit 2), as opposed to a
    /// store that cannot be read or is damaged (exit 1).
    public var isUnresolvedReference: Bool {
        switch self {
        case .noSuchModel, .modelHasNoVersions, .noSuchVersion, .noSuchReference, .noSuchTag, .malformedReference, .ambiguousPrefix:
            return true
        default:
            return false
        }
    }

    /// The innermost error past every `tensorUnreadable` wrapper.
    public var root: CatalogError {
        if case .tensorUnreadable(_, _, let inner) = self { return inner.root }
        return self
    }

    public var description: String { text.escapedForDisplay }

    private var text: String {
        switch self {
        case let .noSuchModel(name, suggestion):
            return "no model named '\(name)'" + Self.didYouMean(suggestion)
        case .modelHasNoVersions(let name):
            return "model '\(name)' has no versions"
        case let .noSuchVersion(model, number, existing):
            let list = existing.isEmpty ? "none" : existing.map(String.init).joined(separator: ", ")
            return "model '\(model)' has no version \(number) (it has \(list))"
        case let .noSuchReference(reference, suggestion):
            return "no version '\(reference)' (not NAME@N, a tag, a model or a version hash)" + Self.didYouMean(suggestion)
        case .noSuchTag(let name):
            return "no tag named '\(name)'"
        case let .malformedReference(reference, problem):
            switch problem {
            case .noModel: return "'\(reference)' names no model (use NAME@N or NAME@latest)"
            case .badSelector: return "'\(reference)': after @ comes a version number or 'latest'"
            }
        case let .ambiguousPrefix(prefix, candidates, total):
            let listed = candidates.map { "\($0.shortHash) (\($0.reference))" }.joined(separator: ", ")
            return "'\(prefix)' is ambiguous: \(total) versions match (\(listed)\(total > candidates.count ? ", ..." : "")); give more digits"
        case let .invalidName(kind, name, rule):
            switch rule {
            case .length: return "\(kind.rawValue) name must be 1 to 200 characters"
            case .forbiddenCharacter:
                return "\(kind.rawValue) name '\(name)' may not contain '@', spaces or control characters, nor start with '-'"
            case .allHexTag: return "tag name '\(name)' is all hex digits and would hide version hashes that start with it"
            }
        case .tagShadowsModel(let tag):
            return "tag '\(tag)' would shadow the model of that name (a model's name already means its latest version); choose another tag"
        case let .modelShadowedByTag(model, version):
            return "model name '\(model)' is a tag (of \(version)): the tag would shadow the model; choose another model name or delete the tag"
        case let .tagTaken(tag, holder):
            return "tag '\(tag)' already names \(holder) (move it with ckpt tag -f)"
        case .tagGivenTwice(let tag):
            return "tag '\(tag)' is given twice"
        case let .versionHasChildren(version, children):
            return "\(version) is the parent of \(children.joined(separator: ", ")); remove \(children.count == 1 ? "it" : "them") first, "
                + "or give --reparent to hand \(children.count == 1 ? "it" : "them") \(version)'s parents"
        case let .keptVersionOfOtherModel(reference, version, model):
            return "--keep \(reference) is \(version), not a version of \(model)"
        case let .storeNotFound(path, searched):
            return searched ? "no ckpt store in \(path) or any parent (run `ckpt init`, or give --store or CKPT_STORE)"
                            : "\(path): no ckpt store here (run `ckpt init \(path)`)"
        case .notAStoreDirectory(let path):
            return "\(path): exists and is not a store directory"
        case let .cannotCreate(path, reason):
            return "\(path): cannot create the store: \(reason)"
        case let .cannotOpen(store, code, reason):
            return "\(store): cannot open the catalog: \(reason)\(code.map { " (SQLite code \($0))" } ?? "")"
        case let .newerSchema(store, unknown, known):
            return "\(store): the catalog was written by a newer ckpt (schema \(unknown.joined(separator: ", "))); this ckpt knows schema \(known)"
        case let .database(store, code, message):
            return "\(store): catalog: \(message) (SQLite code \(code))"
        case let .lock(path, operation, code):
            return "\(path): cannot \(operation == "open" ? "open the store lock" : "lock the store"): \(String(cString: strerror(code)))"
        case let .io(operation, path, code):
            return "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        case let .corruptRow(field, value):
            return "the catalog holds a malformed \(field) '\(value)'"
        case .architectureNotText:
            return "the architecture document is not UTF-8 text"
        case let .objectMissing(hash, path):
            return "object \(hash.prefix(16)): missing (no file \(path))"
        case let .objectDamaged(hash, problem):
            return "object \(hash.prefix(16)): \(problem)"
        case let .tensorUnreadable(version, item, error):
            return "\(version) \(item): \(error.text)"
        case .format(let error):
            return error.description
        }
    }

    private static func didYouMean(_ suggestion: String?) -> String {
        suggestion.map { "; did you mean '\($0)'?" } ?? ""
    }
}
