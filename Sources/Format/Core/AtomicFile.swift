import Foundation
#if canImport(Glibc)
import Glibc
#endif

#if os(Linux)
/// glibc declares sync_file_range only under _GNU_SOURCE, which the Glibc module lacks.
@_silgen_name("sync_file_range")
private func linuxSyncFileRange(_ fd: Int32, _ offset: Int64, _ count: Int64, _ flags: UInt32) -> Int32
#endif

/// A file written under a temporary name beside its destination and renamed into
/// place only after its bytes are on disk: readers see the old file or the whole new
/// one, never a partial one. Dropped without `commit()`, the temporary file is removed.
public final class AtomicFile {
    public let destination: URL
    public let temporaryPath: String
    private var fd: Int32
    private var committed = false
    /// Bytes written so far.
    public private(set) var offset: UInt64 = 0

    public init(destination: URL) throws {
        self.destination = destination
        let directory = destination.deletingLastPathComponent().path
        let base = destination.lastPathComponent
        temporaryPath = (directory.isEmpty ? "." : directory) + "/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FormatError(.io(operation: "create", path: temporaryPath, errno: errno), file: destination.path)
        }
    }

    deinit {
        if !committed {
            if fd >= 0 { close(fd) }
            unlink(temporaryPath)
        }
    }

    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard var base = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let written = Glibc.write(fd, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw FormatError(.io(operation: "write", path: temporaryPath, errno: errno), file: destination.path)
            }
            remaining -= written
            base += written
            offset += UInt64(written)
        }
    }

    /// Overwrites bytes already written (the container's header, once the version its
    /// contents need is known); `offset` and the length must lie within what was written.
    public func overwrite(_ data: Data, at position: UInt64) throws {
        precondition(position + UInt64(data.count) <= offset, "overwrite past the end of what was written")
        try data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let written = pwrite(fd, base + done, buffer.count - done, off_t(position) + off_t(done))
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FormatError(.io(operation: "write", path: temporaryPath, errno: errno), file: destination.path)
                }
                done += written
            }
        }
    }

    /// Starts writing what is already in the page cache to disk without waiting, so
    /// that the final fsync finds little left to do while compression runs meanwhile.
    public func startWriteback() {
        #if os(Linux)
        _ = linuxSyncFileRange(fd, 0, 0, 2 /* SYNC_FILE_RANGE_WRITE */)
        #endif
    }

    /// Writes zero bytes up to the next multiple of `alignment`.
    public func pad(to alignment: UInt64) throws {
        let rest = offset % alignment
        guard rest != 0 else { return }
        try write(Data(count: Int(alignment - rest)))
    }

    /// fsyncs the data, renames it over the destination, and fsyncs the directory.
    /// With `sync: false` (benchmarks of the page-cache path, scratch files) the
    /// rename still makes the file appear whole, but a power cut may lose it.
    public func commit(sync: Bool = true) throws {
        guard !sync || fsync(fd) == 0 else {
            throw FormatError(.io(operation: "fsync", path: temporaryPath, errno: errno), file: destination.path)
        }
        close(fd)
        fd = -1
        guard rename(temporaryPath, destination.path) == 0 else {
            throw FormatError(.io(operation: "rename into place", path: temporaryPath, errno: errno), file: destination.path)
        }
        committed = true
        guard sync else { return }
        let directory = destination.deletingLastPathComponent().path
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        if dirfd >= 0 { fsync(dirfd); close(dirfd) }
    }

    /// Writes `data` to `destination` atomically in one call.
    public static func write(_ data: Data, to destination: URL) throws {
        let file = try AtomicFile(destination: destination)
        try file.write(data)
        try file.commit()
    }
}
