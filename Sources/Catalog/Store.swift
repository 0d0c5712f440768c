import Foundation
import Format
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint store: the `.ckpt/` directory with its catalog and its objects.
///
/// ```
/// .ckpt/catalog.sqlite     models, versions, parents, tags, tensor lists (WAL mode)
/// .ckpt/objects/ab/cdef…   one tensor each, named by content
/// .ckpt/lock               flock between saves (shared) and gc (exclusive)
/// ```
/// Any number of processes may use one store at once: SQLite serialises the catalog's
/// writers (each waits its turn, up to `busyTimeout`), objects are written idempotently.
public final class Store: @unchecked Sendable {
    /// The `.ckpt` directory.
    public let root: URL
    public let objects: ObjectStore
    let pool: DatabasePool
    let lock: StoreLock

    public static let directoryName = ".ckpt"
    static let catalogName = "catalog.sqlite"
    /// How long a writer waits for another process's transaction before giving up.
    static let busyTimeout: TimeInterval = 60

    public var path: String { root.path }

    private init(root: URL) throws {
        self.root = root
        objects = ObjectStore(directory: root.appendingPathComponent("objects"))
        lock = StoreLock(path: root.appendingPathComponent("lock").path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "ckpt catalog"
        do {
            pool = try DatabasePool(path: root.appendingPathComponent(Self.catalogName).path, configuration: configuration)
        } catch {
            throw Store.openFailure(error, store: root.path)
        }
    }

    /// Creates `DIR/.ckpt` (or opens and upgrades the one that is there), and `DIR` first
    /// when it does not exist yet, as `git init` does.
    /// Returns the store and whether it was new.
    public static func create(in directory: URL) throws -> (store: Store, created: Bool) {
        let root = directory.appendingPathComponent(directoryName)
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: root.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CatalogError.notAStoreDirectory(path: root.path) }
            if manager.fileExists(atPath: root.appendingPathComponent(catalogName).path) {
                return (try open(root), false)
            }
        }
        do {
            try manager.createDirectory(at: root.appendingPathComponent("objects"), withIntermediateDirectories: true)
        } catch {
            throw CatalogError.cannotCreate(path: root.path, reason: Store.systemReason(error))
        }
        let store = try Store(root: root)
        try store.migrate()
        return (store, true)
    }

    /// Opens the store whose `.ckpt` directory is `root`, upgrading an older catalog.
    public static func open(_ root: URL) throws -> Store {
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent(catalogName).path) else {
            throw CatalogError.storeNotFound(path: root.path, searched: false)
        }
        let store = try Store(root: root)
        try store.migrate()
        return store
    }

    private func migrate() throws {
        do {
            try Schema.migrate(pool, path: root.path)
        } catch let error as CatalogError {
            throw error
        } catch {
            // The first read of the file: a damaged or foreign file (SQLITE_NOTADB,
            // SQLITE_CORRUPT) or an unreadable one (SQLITE_CANTOPEN) shows here.
            throw Store.openFailure(error, store: root.path)
        }
    }

    /// The store to use: `--store` if given, else `$CKPT_STORE`, else the first `.ckpt/`
    /// found walking up from `start`, as git finds `.git/`. A path given may name the
    /// `.ckpt` directory itself or the directory holding it.
    public static func locate(explicit: String?, environment: [String: String], start: URL) throws -> URL {
        if let given = explicit ?? environment["CKPT_STORE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            let url = URL(fileURLWithPath: given, relativeTo: start).standardizedFileURL
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(catalogName).path) { return url }
            let inner = url.appendingPathComponent(directoryName)
            if FileManager.default.fileExists(atPath: inner.appendingPathComponent(catalogName).path) { return inner }
            throw CatalogError.storeNotFound(path: given, searched: false)
        }
        var directory = start.standardizedFileURL
        while true {
            let candidate = directory.appendingPathComponent(directoryName)
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent(catalogName).path) { return candidate }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        throw CatalogError.storeNotFound(path: start.path, searched: true)
    }

    /// The catalog's schema: applied migrations, oldest first.
    public func schema() throws -> [String] {
        try pool.read { try Schema.applied(in: $0) }
    }

    /// Runs `body` in one read snapshot: every row it sees belongs to versions that were
    /// whole when it began, whatever writers do meanwhile.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch { throw attributed(error) }
    }

    /// Runs `body` in one IMMEDIATE transaction: it takes SQLite's write lock at BEGIN,
    /// so reads inside it (the model's last number, the parents) cannot be overtaken.
    /// With `commit` false the transaction is rolled back: a dry run sees what it would do.
    func write<T>(commit: Bool = true, _ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return commit ? .commit : .rollback
                }
                return result!
            }
        } catch {
            throw attributed(error)
        }
    }

    /// Moves everything in the write-ahead log into the catalog file and empties the log
    /// (gc does it, and the dedup measurement, so sizes mean something).
    public func checkpointLog() throws {
        do {
            _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } catch {
            throw attributed(error)
        }
    }

    /// Bytes the catalog files take on disk now.
    public func catalogBytes() throws -> Int {
        var total = 0
        for name in [Self.catalogName, Self.catalogName + "-wal"] {
            let path = root.appendingPathComponent(name).path
            var status = stat()
            if stat(path, &status) == 0 {
                total += Int(status.st_size)
            } else if errno != ENOENT {   // no log file is a log of zero bytes
                throw CatalogError.io(operation: "stat", path: path, errno: errno)
            }
        }
        return total
    }

    /// Any error of a catalog operation as the `CatalogError` it means.
    func attributed(_ error: Error) -> CatalogError {
        switch error {
        case let error as CatalogError: return error
        case let error as DatabaseError:
            return .database(store: root.path, code: error.extendedResultCode.rawValue, message: error.message ?? "\(error.resultCode)")
        case let error as FormatError: return .format(error)
        default: return .format(error.attributed(to: root.path))
        }
    }

    /// Why the catalog file could not be opened or first read.
    static func openFailure(_ error: Error, store: String) -> CatalogError {
        if let error = error as? DatabaseError {
            return .cannotOpen(store: store, code: error.extendedResultCode.rawValue, reason: error.message ?? "\(error.resultCode)")
        }
        if let error = error as? FormatError { return .format(error) }
        return .cannotOpen(store: store, code: nil, reason: "\(error)")
    }

    /// The system's words for a Foundation file error (its POSIX cause when it has one).
    static func systemReason(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }

    /// The errno behind a Foundation file error, EIO when it names none.
    static func systemErrno(_ error: Error) -> Int32 {
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return Int32(nsError.code) }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Int32(underlying.code)
        }
        return EIO
    }
}
