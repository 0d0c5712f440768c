import Catalog
import Foundation
import Format
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Several processes on one store: concurrent saves, readers during saves, and
/// `kill -9` at any moment of a save.
final class CatalogConcurrencyTests: CatalogTestCase {
    /// A model of `megabytes` of float32 in a few large tensors and some small ones.
    private func writeModel(_ name: String, seed: UInt64, megabytes: Int) throws -> String {
        var gaussian = Gaussian(seed: seed)
        var tensors: [NamedTensor] = []
        let big = megabytes * 1_000_000 / 4 / 4 / 256 * 256
        for k in 0..<4 { tensors.append(NamedTensor(name: "block\(k).weight", tensor: gaussian.tensor([big / 256, 256]))) }
        for k in 0..<12 { tensors.append(NamedTensor(name: "small\(k)", tensor: gaussian.tensor([256]))) }
        // Raw, so that loading it costs the saver nothing and the time goes to the store.
        try CheckpointFile.write(Checkpoint(tensors: tensors), to: url(name), options: WriteOptions(codec: .raw))
        return path(name)
    }

    func testTwoProcessesSavingAtOnceBothSucceed() throws {
        try ckpt("init")
        let a = try writeModel("a.ckpt", seed: 1, megabytes: 6)
        let b = try writeModel("b.ckpt", seed: 2, megabytes: 6)
        // Same model: both compete for the next number too.
        let first = try CatalogCLI.start(["save", a, "--model", "m", "-m", "from a"], in: work)
        let second = try CatalogCLI.start(["save", b, "--model", "m", "-m", "from b"], in: work)
        let results = [CatalogCLI.finish(first.0, first.1, first.2), CatalogCLI.finish(second.0, second.1, second.2)]
        for result in results { XCTAssertEqual(result.status, 0, result.stderr) }
        let references = Set(results.map { String($0.stdout.split(separator: " ").first ?? "") })
        XCTAssertEqual(references, ["m@1", "m@2"])

        let store = try Store.open(url(".ckpt"))
        let versions = try store.history(model: "m")
        XCTAssertEqual(Set(versions.map(\.message)), ["from a", "from b"])
        XCTAssertEqual(versions[0].parents.map(\.reference), ["m@1"], "the later commit descends from the earlier")
        for version in versions { XCTAssertEqual(try store.content(version.reference).tensors.count, 16) }
        let report = try store.fsck()
        XCTAssertTrue(report.ok, report.problems.joined(separator: "\n"))
        XCTAssertEqual(report.unreferencedObjects, 0)
    }

    func testAReaderNeverSeesAHalfWrittenVersion() throws {
        let (store, _) = try Store.create(in: work)
        let files = try (1...3).map { try writeModel("m\($0).ckpt", seed: UInt64($0), megabytes: 3) }
        let script = files.map { "'\(CatalogCLI.binary.path)' save '\($0)' --model m >/dev/null || exit 1" }.joined(separator: "; ")
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", script]
        writer.currentDirectoryURL = work
        try writer.run()
        var looks = 0, seen = Set<Int64>()
        repeat {
            for version in try store.history() {
                let content = try store.content(version.reference)
                XCTAssertEqual(content.tensors.count, 16, "\(version.reference) seen with \(content.tensors.count) tensors")
                for entry in content.tensors {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: store.objects.url(for: entry.object).path),
                                  "\(version.reference) \(entry.name): object not there yet")
                }
                seen.insert(version.id)
            }
            looks += 1
            usleep(2_000)
        } while writer.isRunning
        writer.waitUntilExit()
        XCTAssertEqual(writer.terminationStatus, 0)
        XCTAssertEqual(try store.history().count, 3)
        XCTAssertGreaterThan(looks, 3)
    }

    func testKillNineAtAnyMomentLeavesASoundStore() throws {
        try ckpt("init")
        let file = try writeModel("big.ckpt", seed: 9, megabytes: 12)
        // How long a whole save takes here, so that the kills land all along it.
        let started = Date()
        try ckpt("save", file, "--model", "timing")
        let duration = Date().timeIntervalSince(started)
        try ckpt("rm", "timing@1")
        var killedMidway = 0
        for fraction in [0.1, 0.3, 0.5, 0.7, 0.9] {
            // gc first: the objects of the last attempt go, so this one writes them again.
            try ckpt("gc")
            let (process, out, err) = try CatalogCLI.start(["save", file, "--model", "victim"], in: work)
            usleep(useconds_t(duration * fraction * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            let result = CatalogCLI.finish(process, out, err)
            if result.crashed { killedMidway += 1 }
            let fsck = try ckpt("fsck")
            XCTAssertTrue(fsck.stdout.contains(": ok ("), "after a kill at \(fraction) of a save: \(fsck.stdout)")
            // Whatever got committed is whole.
            let store = try Store.open(url(".ckpt"))
            for version in try store.history() {
                XCTAssertEqual(try store.content(version.reference).tensors.count, 16)
                XCTAssertTrue(store.verify(try store.content(version.reference)).ok)
            }
        }
        XCTAssertGreaterThanOrEqual(killedMidway, 2, "the kills should land during the save")
        let last = try ckpt("save", file, "--model", "after", "-m", "after the kills")
        XCTAssertTrue(last.stdout.hasPrefix("after@1 "), last.stdout)
        try ckpt("verify", "after@1")
        XCTAssertTrue(try ckpt("fsck").stdout.contains(": ok ("))
    }
}

/// checkout and diff read under the shared store lock: an rm + gc meanwhile waits.
final class CatalogReadLockTests: CatalogTestCase {
    /// Whether another open file description could take the lock exclusive now (as gc would).
    private func exclusiveIsFree(_ store: Store) -> Bool {
        let fd = open(store.root.appendingPathComponent("lock").path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        flock(fd, LOCK_UN)
        return true
    }

    func testGcWaitsForAReaderThatResolvedAVersionRemovedMeanwhile() throws {
        let (store, _) = try Store.create(in: work)
        let original = SmallModel.checkpoint(seed: 1)
        try store.save(SaveRequest(checkpoint: original, model: "m"))
        XCTAssertTrue(exclusiveIsFree(store))

        let resolved = DispatchSemaphore(value: 0), proceed = DispatchSemaphore(value: 0), gcDone = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var read: Result<Checkpoint, Error>?
        nonisolated(unsafe) var collected: Result<GCReport, Error>?
        let reader = Thread {
            read = Result {
                try store.reading {
                    let content = try store.content("m@1")
                    resolved.signal()
                    proceed.wait()
                    return try store.checkpoint(of: content)
                }
            }
        }
        reader.start()
        resolved.wait()
        // The version is gone from the catalog, its objects unreferenced; the reader still wants them.
        try store.remove("m@1")
        XCTAssertFalse(exclusiveIsFree(store), "the reader holds the lock shared")
        Thread {
            collected = Result { try store.gc() }
            gcDone.signal()
        }.start()
        proceed.signal()
        gcDone.wait()
        let checkpoint = try XCTUnwrap(read).get()
        XCTAssertEqual(checkpoint.tensors.map(\.tensor.data), original.tensors.map(\.tensor.data), "read whole before gc ran")
        XCTAssertEqual(try XCTUnwrap(collected).get().removedObjects, 6, "gc ran after the reader, and collected everything")
    }
}
