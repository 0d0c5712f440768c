import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `ckpt` binary with its stderr on a pseudo-terminal (so that `isatty(2)`
/// holds, as in an interactive shell) and its stdout on a pipe, and returns both streams.
enum PseudoTerminal {
    struct Result {
        var status: Int32
        var stdout: String
        /// Everything written to the terminal, control sequences included.
        var terminal: String
    }

    enum Failure: Error { case cannotOpen(String) }

    /// The libc functions that open a pseudo-terminal pair.
    struct Functions {
        let openpt: @convention(c) (Int32) -> Int32
        let grantpt: @convention(c) (Int32) -> Int32
        let unlockpt: @convention(c) (Int32) -> Int32
        let ptsname: @convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32

        init() {
            func symbol<T>(_ name: String, as type: T.Type) -> T {
                guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("libc has no \(name)") }
                return unsafeBitCast(address, to: type)
            }
            openpt = symbol("posix_openpt", as: (@convention(c) (Int32) -> Int32).self)
            grantpt = symbol("grantpt", as: (@convention(c) (Int32) -> Int32).self)
            unlockpt = symbol("unlockpt", as: (@convention(c) (Int32) -> Int32).self)
            ptsname = symbol("ptsname_r", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32).self)
        }
    }

    static let pty = Functions()

    static func run(_ arguments: [String], in directory: URL) throws -> Result {
        // glibc has posix_openpt, grantpt, unlockpt and ptsname_r, but Swift's Glibc module
        // does not declare them (they sit behind feature macros): look them up by name.
        let master = pty.openpt(O_RDWR | O_NOCTTY)
        var buffer = [CChar](repeating: 0, count: 256)
        guard master >= 0, pty.grantpt(master) == 0, pty.unlockpt(master) == 0,
              pty.ptsname(master, &buffer, buffer.count) == 0 else {
            throw Failure.cannotOpen("posix_openpt: \(String(cString: strerror(errno)))")
        }
        let name = String(cString: buffer)
        let slave = open(name, O_RDWR | O_NOCTTY)
        guard slave >= 0 else { close(master); throw Failure.cannotOpen("open \(name)") }

        // Drain the terminal while the child runs, so a full buffer can never block it.
        final class Capture: @unchecked Sendable { var data = Data() }
        let captured = Capture()
        let finished = DispatchSemaphore(value: 0)
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(master, &buffer, buffer.count)
                if count <= 0 { break }   // EIO once the last slave descriptor is closed
                captured.data.append(buffer, count: count)
            }
            finished.signal()
        }

        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardInput = FileHandle.nullDevice
        reader.start()
        do { try process.run() } catch { close(slave); close(master); throw error }
        close(slave)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.wait()
        close(master)
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      terminal: String(decoding: captured.data, as: UTF8.self))
    }
}
