import Foundation
import Format
#if canImport(Glibc)
import Glibc
#endif

public struct GCReport: Codable, Sendable {
    public var removedObjects = 0
    public var freedBytes = 0
    public var keptObjects = 0
    public var keptBytes = 0
    /// Temporary files of writes that were interrupted (`kill -9` during a save).
    public var removedTemporaries = 0
}

extension Store {
    /// Deletes every object no version references, and every leftover temporary file.
    ///
    /// It holds the store lock exclusively, so no save is between "this object is
    /// already stored" and the commit that references it: what is unreferenced now
    /// stays unreferenced until gc ends, and no temporary file belongs to a live write.
    /// `progress` gets (bytes of the files looked at, bytes of every file in the object store).
    public func gc(dryRun: Bool = false, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> GCReport {
        try lock.exclusive {
            var report = GCReport()
            // A delta's base is kept while the delta is, even when no version names it.
            let referenced = try objects.closingOverBases(try read { try CatalogQueries.referencedObjects($0) })
            let files = try objects.enumerate()
            let total = (files.objects + files.temporaries).reduce(0) { $0 + $1.size }
            var done = 0
            for file in files.objects {
                done += file.size
                defer { progress?(done, total) }
                if referenced.contains(file.hash) {
                    report.keptObjects += 1
                    report.keptBytes += file.size
                    continue
                }
                if !dryRun {
                    guard unlink(file.path) == 0 || errno == ENOENT else {
                        throw CatalogError.io(operation: "remove the unreferenced object", path: file.path, errno: errno)
                    }
                }
                report.removedObjects += 1
                report.freedBytes += file.size
            }
            for file in files.temporaries {
                done += file.size
                defer { progress?(done, total) }
                if !dryRun {
                    guard unlink(file.path) == 0 || errno == ENOENT else {
                        throw CatalogError.io(operation: "remove the temporary file", path: file.path, errno: errno)
                    }
                }
                report.removedTemporaries += 1
                report.freedBytes += file.size
            }
            if !dryRun {
                // Empty fan-out directories go too; rmdir refuses non-empty ones (ENOTEMPTY
                // is the answer for every directory still in use, not a failure).
                for fan in Set((files.objects + files.temporaries).map { ($0.path as NSString).deletingLastPathComponent }) {
                    rmdir(fan)
                }
                do {
                    try checkpointLog()
                } catch CatalogError.database(_, let code, _) where code & 0xFF == 5 || code & 0xFF == 6 {
                    // SQLITE_BUSY or SQLITE_LOCKED: a reader holds the log; it is emptied next time.
                }
            }
            return report
        }
    }
}
