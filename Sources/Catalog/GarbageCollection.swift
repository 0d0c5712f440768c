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
    public func gc(dryRun: Bool = false) throws -> GCReport {
        try lock.exclusive {
            var report = GCReport()
            // A delta's base is kept while the delta is, even when no version names it.
            let referenced = objects.closingOverBases(try read { try CatalogQueries.referencedObjects($0) })
            let files = objects.enumerate()
            for file in files.objects {
                if referenced.contains(file.hash) {
                    report.keptObjects += 1
                    report.keptBytes += file.size
                    continue
                }
                if !dryRun {
                    guard unlink(file.path) == 0 || errno == ENOENT else {
                        throw FormatError("cannot remove an unreferenced object: \(String(cString: strerror(errno)))", file: file.path)
                    }
                }
                report.removedObjects += 1
                report.freedBytes += file.size
            }
            for file in files.temporaries {
                if !dryRun { unlink(file.path) }
                report.removedTemporaries += 1
                report.freedBytes += file.size
            }
            if !dryRun {
                // Empty fan-out directories go too; rmdir refuses non-empty ones.
                if let fans = try? FileManager.default.contentsOfDirectory(atPath: objects.directory.path) {
                    for fan in fans { rmdir(objects.directory.appendingPathComponent(fan).path) }
                }
                try? checkpointLog()   // best effort: busy readers may hold the log
            }
            return report
        }
    }
}
