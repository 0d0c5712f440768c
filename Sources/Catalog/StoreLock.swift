import Foundation
import Format
#if canImport(Glibc)
import Glibc
#endif

/// The store's one lock, an advisory `flock` on `.ckpt/lock`, between writers of objects
/// and the collector of garbage.
///
/// A save holds it shared from before it looks for existing objects until its version
/// is committed, so `gc`, which holds it exclusive, can never delete an object that a
/// save found present and is about to reference. Saves share it, so they run together.
/// The kernel drops the lock when a process dies, `kill -9` included: no stale locks.
final class StoreLock {
    private let path: String

    init(path: String) {
        self.path = path
    }

    func shared<T>(_ body: () throws -> T) throws -> T {
        try holding(LOCK_SH, body)
    }

    func exclusive<T>(_ body: () throws -> T) throws -> T {
        try holding(LOCK_EX, body)
    }

    private func holding<T>(_ operation: Int32, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CatalogError.lock(path: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        while flock(fd, operation) != 0 {
            guard errno == EINTR else {
                throw CatalogError.lock(path: path, operation: "lock", errno: errno)
            }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
