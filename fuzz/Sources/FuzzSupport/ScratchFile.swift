import Foundation

/// One file per fuzzer process that each input is written to, for the readers whose API
/// takes a path (the `.ckpt` reader maps its file; the npz reader needs a file-backed zip,
/// since ZIPFoundation's in-memory archive traps on offsets past the end). It lives in
/// /dev/shm when there is one, so an iteration costs a memory copy, not a disk write.
public final class ScratchFile {
    public let url: URL

    /// `suffix` is the extension the CLI would see (`.ckpt`, `.npz`).
    public init(suffix: String) {
        let environment = ProcessInfo.processInfo.environment
        var directory = environment["FUZZ_TMPDIR"] ?? "/dev/shm"
        if !FileManager.default.isWritableFile(atPath: directory) { directory = environment["TMPDIR"] ?? "/tmp" }
        url = URL(fileURLWithPath: directory).appendingPathComponent("ckpt-fuzz-\(getpid())\(suffix)")
        // Removed at exit, including the exit libFuzzer takes after a finding.
        ScratchFile.paths.append(url.path)
        if ScratchFile.paths.count == 1 { atexit { ScratchFile.paths.forEach { unlink($0) } } }
    }

    /// Replaces the file's contents with `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "cannot create the scratch file \(url.path)")
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            precondition(n > 0, "cannot write the scratch file \(url.path)")
            done += n
        }
    }

    nonisolated(unsafe) private static var paths: [String] = []
}

/// The fuzzer's input as a buffer (libFuzzer passes a null pointer for the empty input).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
}
