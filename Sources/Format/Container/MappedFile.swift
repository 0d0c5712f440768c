import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory map of a whole file. Raw tensors are handed out as `Data` that
/// points into the map and keeps it alive, so reading them copies nothing.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FormatError("cannot open: \(String(cString: strerror(errno)))", file: path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FormatError("cannot stat: \(String(cString: strerror(errno)))", file: path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw FormatError("not a regular file", file: path) }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw FormatError("cannot map: \(String(cString: strerror(errno)))", file: path)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    public var count: Int { bytes.count }

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
