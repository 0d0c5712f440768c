import Foundation
import XCTest

/// Runs the real `ckpt` binary built next to the test bundle.
struct CLIRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// True when the process ended by a signal (a crash), not by exit().
        var crashed: Bool
    }

    static var productsDirectory: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }

    static var binary: URL { productsDirectory.appendingPathComponent("ckpt") }

    /// The package root, found from this file's path.
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func fixture(_ path: String) -> URL { root.appendingPathComponent("fixtures").appendingPathComponent(path) }

    @discardableResult
    static func run(_ arguments: [String], in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a large output cannot fill the pipe and block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
    }
}

/// A scratch directory per test.
class CLITestCase: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "build ckpt first: \(CLIRunner.binary.path)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    /// Python with torch, or a skip (a failure on CI, which must have it).
    func python() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let python = environment["CKPT_TORCH_PYTHON"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/ckpt-bench-venv/bin/python").path
        let present = FileManager.default.isExecutableFile(atPath: python)
        if environment["CI"] == "true" { XCTAssertTrue(present, "CI has no Python with torch at \(python)") }
        try XCTSkipUnless(present, "no Python with torch at \(python): run scripts/python-env.sh or set CKPT_TORCH_PYTHON")
        return python
    }

    func path(_ name: String) -> String { work.appendingPathComponent(name).path }

    @discardableResult
    func ckpt(_ arguments: String..., expect status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> CLIRunner.Result {
        let result = try CLIRunner.run(arguments, in: work)
        XCTAssertFalse(result.crashed, "ckpt \(arguments.joined(separator: " ")) crashed: \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.status, status, "ckpt \(arguments.joined(separator: " ")): \(result.stderr)\(result.stdout)", file: file, line: line)
        return result
    }
}
