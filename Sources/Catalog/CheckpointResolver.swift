import Foundation
import Format

/// Why an argument named neither a file nor a stored version. Each case is a different
/// state of the machine, and none is swallowed: a store that exists but cannot be read is
/// not "no such file". The store's own `CatalogError` is kept whole inside.
public enum CheckpointResolverError: Error, Equatable, Sendable {
    /// Not a file, and no store was found to look it up in (`why`: what locating said).
    case noSuchFileOrStore(argument: String, why: String)
    /// A store was located at `store` (or given) but cannot be opened: damaged, not a store.
    case storeUnreadable(store: String, error: CatalogError)
    /// The store opened, but `argument` names no version in it (`error`: what resolving said,
    /// always a case with `CatalogError.isUnresolvedReference`).
    case unresolvedReference(argument: String, store: String, error: CatalogError)
}

extension CheckpointResolverError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .noSuchFileOrStore(argument, why):
            return "\(argument.escapedForDisplay): no such file, and no store to look it up in (\(why.escapedForDisplay))"
        case let .storeUnreadable(_, error):
            return "the store cannot be used: \(error)" // the store's error names its path
        case let .unresolvedReference(argument, store, error):
            return "\(argument.escapedForDisplay): no such file, nor a version in \(store.escapedForDisplay) (\(error))"
        }
    }

    public var errorDescription: String? { description }

    /// Whether the argument itself is at fault (a usage error), rather than a damaged store.
    public var isUsage: Bool {
        if case .storeUnreadable = self { return false }
        return true
    }
}

/// A version in a store as a checkpoint source: its objects checked end to end
/// (`Store.verify`), and loaded whole with `Store.checkpoint(of:)`.
public final class StoredVersionSource: CheckpointSource {
    public let store: Store
    public let content: VersionContent

    public init(store: Store, content: VersionContent) {
        self.store = store
        self.content = content
    }

    /// `mlp@2 (1a2b3c4d5e6f)`.
    public var displayName: String { "\(content.info.reference) (\(content.info.shortHash))" }

    /// Each object is checked chunk by chunk; nothing is kept (`checkpoint()` reads again).
    public func verifyStructure(keepingContents: Bool) -> StructureVerification {
        let found = store.verify(content)
        let probeTensors = content.probes.reduce(0) { $0 + $1.inputs.count + $1.outputs.count }
        return StructureVerification(problems: found.problems, tensors: max(0, found.tensorsChecked - probeTensors),
                                     probeTensors: probeTensors, chunks: found.chunksChecked, bytes: found.bytesDecoded)
    }

    public func checkpoint() throws -> Checkpoint { try store.checkpoint(of: content) }
}

/// THE one way a command-line argument becomes a checkpoint: an existing file wins; else it
/// is a reference (NAME@N, a tag, a hash prefix) in the located store. Used by `verify`,
/// `stats`, `transplant` and every verb that takes "a file or a stored version".
public struct CheckpointResolver {
    /// `--store` when given; else `$CKPT_STORE`, else the first `.ckpt/` upwards from `start`.
    public var explicitStore: String?
    public var environment: [String: String]
    public var start: URL

    public init(store explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                start: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        explicitStore = explicit
        self.environment = environment
        self.start = start
    }

    /// What an argument names.
    public enum Target {
        case file(URL)
        case version(VersionContent, in: Store)
    }

    /// The file or stored version `argument` names. Throws `CheckpointResolverError`: no file
    /// and no store, a store that cannot be opened, or a reference that does not resolve.
    public func locate(_ argument: String) throws -> Target {
        // Relative to `start` as a directory (a URL without a trailing slash would resolve against its parent).
        let fileURL = URL(fileURLWithPath: argument, relativeTo: URL(fileURLWithPath: start.path, isDirectory: true)).absoluteURL
        if FileManager.default.fileExists(atPath: fileURL.path) { return .file(fileURL) }
        let store = try openStore(for: argument)
        do {
            return .version(try store.content(argument), in: store)
        } catch let error as CatalogError {
            // A reference that names nothing is the argument's fault; a store failing while resolving it is the store's.
            guard error.isUnresolvedReference else { throw CheckpointResolverError.storeUnreadable(store: store.path, error: error) }
            throw CheckpointResolverError.unresolvedReference(argument: argument, store: store.path, error: error)
        }
    }

    /// The store references are looked up in. A store that is given (`--store`,
    /// `$CKPT_STORE`) but missing, or located but unreadable, is `storeUnreadable`.
    public func openStore(for argument: String) throws -> Store {
        let location: URL
        do {
            location = try Store.locate(explicit: explicitStore, environment: environment, start: start)
        } catch let error as CatalogError {
            let given = explicitStore ?? environment["CKPT_STORE"].flatMap { $0.isEmpty ? nil : $0 }
            if let given { throw CheckpointResolverError.storeUnreadable(store: given, error: error) }
            throw CheckpointResolverError.noSuchFileOrStore(argument: argument, why: error.description)
        }
        do {
            return try Store.open(location)
        } catch let error as CatalogError {
            throw CheckpointResolverError.storeUnreadable(store: location.path, error: error)
        }
    }

    /// The checkpoint source `argument` names (see `locate`); a file keeps the argument as its name.
    public func source(_ argument: String) throws -> any CheckpointSource {
        switch try locate(argument) {
        case .file(let url): return FileCheckpointSource.open(url, displayName: argument)
        case .version(let content, let store): return StoredVersionSource(store: store, content: content)
        }
    }

    /// The hash that names a source in provenance: the SHA-256 of a file's bytes, or a stored
    /// version's hash, with what it is the hash of.
    public static func identity(of source: any CheckpointSource) throws -> (hash: String, of: String) {
        if let stored = source as? StoredVersionSource { return (stored.content.info.hash, "store version hash") }
        let url: URL
        if let file = source as? ContainerFileSource { url = file.url } else if let file = source as? ImportedFileSource { url = file.url } else {
            throw FormatError(.refused(what: "provenance of \(source.displayName)", why: "neither a file nor a stored version"))
        }
        let bytes: Data
        do { bytes = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw FormatError(.io(operation: "read", path: url.path, errno: Int32((error as NSError).code)), file: url.path)
        }
        return (Digest.sha256(bytes), "file bytes")
    }
}
