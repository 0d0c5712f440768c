import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory map of a whole file. Raw tensors are handed out as `Data` that
/// points into the map and keeps it alive, so reading them copies nothing.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened at.
    public let path: String
    /// The whole file, read-only.
    public let bytes: UnsafeRawBufferPointer

    /// Maps the regular file at `path`; anything else (a directory, a pipe) is refused.
    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FormatError(.io(operation: "open", path: path, errno: errno), file: path) }
        defer { close(fd) }
        try self.init(descriptor: fd, path: path)
    }

    /// Maps the regular file open at `descriptor` (which stays the caller's: it is not
    /// closed, and the map outlives it); `path` names it in messages. A caller that maps
    /// the same descriptor itself sees exactly the file this map checked, not whatever a
    /// rename has since put at the path.
    public init(descriptor fd: Int32, path: String) throws {
        self.path = path
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FormatError(.io(operation: "stat", path: path, errno: errno), file: path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw FormatError(.refused(what: "the path", why: "not a regular file"), file: path) }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw FormatError(.io(operation: "map", path: path, errno: errno), file: path)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// The file's size in bytes.
    public var count: Int { bytes.count }

    /// A view of `range`, which must lie inside the file.
    public subscript(range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    /// The bytes of `range` as `Data` without copying; the map lives as long as the Data.
    public func data(_ range: Range<Int>) -> Data {
        guard !range.isEmpty, let base = bytes.baseAddress else { return Data() }
        return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base + range.lowerBound), count: range.count,
                    deallocator: .custom { [self] _, _ in withExtendedLifetime(self) {} })
    }
}
