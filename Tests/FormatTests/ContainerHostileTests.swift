import Foundation
import XCTest
@testable import Format

/// Hostile `.ckpt` files, each generated here byte by byte (`ContainerForge`): values that
/// overflow, sizes that would exhaust memory, names and checksums the spec does not allow.
/// Every one must be refused with a typed error, never a trap or an abort.
final class ContainerHostileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func save(_ bytes: Data, _ name: String = "hostile.ckpt") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try bytes.write(to: url)
        return url
    }

    /// The root reason `body` throws, nil if it does not throw.
    func reason(_ body: () throws -> Void) -> FormatError.Reason? {
        do { try body(); return nil } catch { return (error as? FormatError)?.reason.root ?? .unclassified("\(error)") }
    }

    /// One valid f32 tensor of 4 elements, raw, for files whose fixed parts are then damaged.
    func validFile(name: String = "w", aliases: [String]? = nil) throws -> Data {
        let blob = Data((0..<16).map { UInt8($0) })
        return try ContainerForge.file(blobs: [blob]) { offsets in
            ["tensors": [ContainerForge.tensor(name, dtype: "f32", shape: [4], codec: "raw",
                                               chunks: [ContainerForge.chunk(offsets[0], blob, size: 16)], aliases: aliases)]]
        }
    }

    // MARK: - Checked arithmetic on the trailer

    func testTrailerWhoseIndexSpanOverflowsIsRefused() throws {
        let file = try validFile()
        // offset + length wraps around 2^64 to a small number: it used to trap.
        for (offset, length) in [(UInt64.max & ~63, UInt64(128)), (UInt64(1) << 63, UInt64(64)), (UInt64.max & ~63, UInt64(0)),
                                 (UInt64(64), UInt64(100_000_001)), (UInt64(64), UInt64.max)] {
            let forged = ContainerForge.replacingTrailer(of: file, with: FileTrailer(indexOffset: offset, indexLength: length, indexChecksum: 0, version: .current))
            let url = try save(forged)
            switch reason({ _ = try ContainerReader(contentsOf: url) }) {
            case .malformed("trailer", _), .limitExceeded("the index length", _, _): break
            case let other: XCTFail("offset \(offset) length \(length): \(String(describing: other))")
            }
        }
    }

    func testIndexFollowedByMoreThanPaddingIsRefused() throws {
        var file = try validFile()
        let trailer = try file.suffix(64).withUnsafeBytes { try FileTrailer.decode($0) }
        // Move the trailer 64 bytes further: the index no longer ends at its boundary.
        file = file.prefix(file.count - 64) + Data(count: 64) + trailer.encoded()
        let url = try save(file)
        if case .malformed("trailer", let detail) = reason({ _ = try ContainerReader(contentsOf: url) }) {
            XCTAssertTrue(detail.contains("between the index and the trailer"), detail)
        } else { XCTFail("a gap before the trailer is accepted") }
    }

    // MARK: - Memory

    /// 322 zstd chunks that each declare 16 MiB of zeros: 5.4 GB from a file of 200 KB.
    func bombFile() throws -> Data {
        let chunkSize = ContainerLimits.maxChunkSize
        let frame = try ContainerForge.zstd(Data(count: chunkSize))
        let count = 322
        return try ContainerForge.file(blobs: Array(repeating: frame, count: count)) { offsets in
            ["tensors": [ContainerForge.tensor("bomb", dtype: "u8", shape: [count * chunkSize], codec: "zstd",
                                               chunks: offsets.map { ContainerForge.chunk($0, frame, size: chunkSize) })]]
        }
    }

    func testDecompressionBombIsRefusedByTheBudgetNotAnAbort() throws {
        let bytes = try bombFile()
        XCTAssertLessThan(bytes.count, 300_000)
        let url = try save(bytes, "bomb.ckpt")
        let budget = MemoryBudget(limit: 1 << 30)
        let reader = try ContainerReader(contentsOf: url, budget: budget)
        let declared = UInt64(322 * ContainerLimits.maxChunkSize)
        XCTAssertEqual(reason { _ = try reader.tensor(named: "bomb") },
                       .memoryBudgetExceeded(what: "tensor 'bomb'", requested: declared, inUse: 0, limit: 1 << 30))
        XCTAssertEqual(reason { _ = try reader.allTensors() },
                       .memoryBudgetExceeded(what: "tensor 'bomb'", requested: declared, inUse: 0, limit: 1 << 30))
        XCTAssertEqual(reason { _ = try reader.checkpoint() },
                       .memoryBudgetExceeded(what: "tensor 'bomb'", requested: declared, inUse: 0, limit: 1 << 30))
        XCTAssertEqual(budget.inUse, 0, "a refused read gives back everything it reserved")
        // One chunk at a time stays within the budget (this is how `cat` and `stats` stream).
        let record = try XCTUnwrap(reader.record(named: "bomb"))
        XCTAssertEqual(try reader.decodeChunk(record, index: 321).count, ContainerLimits.maxChunkSize)
        XCTAssertEqual(budget.inUse, 0)
        // Loading for verification is refused the same way, and the file is still verified chunk by chunk.
        let outcome = reader.verify(loading: true)
        XCTAssertNil(outcome.checkpoint)
        if case .memoryBudgetExceeded = outcome.loadRefusal?.reason.root {} else { XCTFail("\(String(describing: outcome.loadRefusal))") }
    }

    func testTheBudgetIsATotalAcrossTensors() throws {
        let frame = try ContainerForge.zstd(Data(count: 1 << 20))
        let bytes = try ContainerForge.file(blobs: [frame, frame, frame]) { offsets in
            ["tensors": offsets.enumerated().map { k, offset in
                ContainerForge.tensor("t\(k)", dtype: "u8", shape: [1 << 20], codec: "zstd", chunks: [ContainerForge.chunk(offset, frame, size: 1 << 20)])
            }]
        }
        let budget = MemoryBudget(limit: 5 << 19) // 2.5 MiB: any two tensors, never three
        let reader = try ContainerReader(contentsOf: try save(bytes), budget: budget)
        var kept = [try reader.tensor(named: "t0"), try reader.tensor(named: "t1")]
        XCTAssertEqual(budget.inUse, 2 << 20)
        if case .memoryBudgetExceeded("tensor 't2'", 1 << 20, 2 << 20, 5 << 19) = reason({ _ = try reader.tensor(named: "t2") }) {} else {
            XCTFail("a third tensor fits a budget of two")
        }
        XCTAssertEqual(kept[0].data, Data(count: 1 << 20))
        kept.removeAll()
        XCTAssertEqual(budget.inUse, 0, "freeing a tensor's data gives its bytes back")
        XCTAssertEqual(try reader.tensor(named: "t2").data.count, 1 << 20)
        if case .memoryBudgetExceeded = reason({ _ = try reader.allTensors() }) {} else { XCTFail("all three fit a budget of two") }
    }

    func testAllocationTheSystemRefusesIsATypedError() throws {
        // Far beyond any address space: posix_memalign fails, Swift's allocator would abort.
        let bytes = Int.max / 2
        XCTAssertEqual(reason { _ = try OwnedBuffer(count: bytes, budget: nil, for: "huge") },
                       .allocationFailed(what: "huge", bytes: UInt64(bytes)))
        let budget = MemoryBudget(limit: .max)
        XCTAssertEqual(reason { _ = try OwnedBuffer(count: bytes, budget: budget, for: "huge") },
                       .allocationFailed(what: "huge", bytes: UInt64(bytes)))
        XCTAssertEqual(budget.inUse, 0, "a failed allocation gives its reservation back")
    }

    func testOwnedBufferFreesUnlessHandedOverOnce() throws {
        let budget = MemoryBudget(limit: 1 << 20)
        do {
            let buffer = try OwnedBuffer(count: 4096, budget: budget, for: "b")
            buffer.bytes.initializeMemory(as: UInt8.self, repeating: 7)
            XCTAssertEqual(budget.inUse, 4096)
        }
        XCTAssertEqual(budget.inUse, 0, "deinit frees a buffer nobody took")
        var data: Data? = try {
            let buffer = try OwnedBuffer(count: 4096, budget: budget, for: "b")
            buffer.bytes.initializeMemory(as: UInt8.self, repeating: 7)
            return buffer.take()
        }()
        XCTAssertEqual(budget.inUse, 4096, "the Data owns the memory after the buffer is gone")
        XCTAssertEqual(data, Data(repeating: 7, count: 4096))
        data = nil
        XCTAssertEqual(budget.inUse, 0, "the Data's deallocator frees it once")
        XCTAssertEqual(try OwnedBuffer(count: 0, budget: budget, for: "empty").take(), Data())
        XCTAssertEqual(budget.inUse, 0)
    }

    // MARK: - Names

    func testEmptyAndNULNamesAreRefusedByReaderAndWriter() throws {
        for (name, aliases) in [("", nil), ("w", [""]), ("w", ["a\u{0}b"]), ("a\u{0}", nil)] as [(String, [String]?)] {
            let url = try save(try validFile(name: name, aliases: aliases))
            switch reason({ _ = try ContainerReader(contentsOf: url) }) {
            case .invalidValue(let field, _, _): XCTAssertTrue(field == "tensor name" || field == "alias name", field)
            case let other: XCTFail("\(name) \(String(describing: aliases)): \(String(describing: other))")
            }
            let tensor = try Tensor(dtype: .f32, shape: [1], data: Data(count: 4))
            let target = directory.appendingPathComponent("written.ckpt")
            if case .invalidValue("tensor name", _, _) = reason({
                try CheckpointFile.write(Checkpoint(tensors: [NamedTensor(name: name, aliases: aliases ?? [], tensor: tensor)]), to: target)
            }) {} else { XCTFail("the writer takes \(name) \(String(describing: aliases))") }
            if case .invalidValue = reason({ try Checkpoint(tensors: [NamedTensor(name: name, aliases: aliases ?? [], tensor: tensor)]).validateNames() }) {} else {
                XCTFail("Checkpoint.validateNames takes \(name) \(String(describing: aliases))")
            }
        }
        // Control characters are legal (and escaped when shown), so such a file round-trips.
        let url = try save(try validFile(name: "a\nb\u{1b}[32m"))
        XCTAssertEqual(try ContainerReader(contentsOf: url).manifest.tensors[0].name, "a\nb\u{1b}[32m")
    }

    func testProbeNamesAndProbeTensorNamesAreUnique() throws {
        let blob = Data(count: 4)
        func file(probes: [[String: Any]]) throws -> URL {
            try save(try ContainerForge.file(blobs: [blob, blob, blob]) { offsets in
                var probes = probes
                for p in probes.indices {
                    for key in ["inputs", "outputs"] {
                        probes[p][key] = (probes[p][key] as! [String]).enumerated().map { k, name in
                            ContainerForge.tensor(name, dtype: "f32", shape: [1], codec: "raw", chunks: [ContainerForge.chunk(offsets[key == "inputs" ? 0 : 1 + k + p], blob, size: 4)])
                        }
                    }
                }
                return ["tensors": [], "probes": probes]
            })
        }
        let probe: [String: Any] = ["name": "p", "origin": "expected", "rtol": 0.0, "atol": 0.0]
        var a = probe, b = probe
        a["inputs"] = ["input 0"]; a["outputs"] = ["input 0"]
        XCTAssertEqual(reason { _ = try ContainerReader(contentsOf: try file(probes: [a])) }, .duplicateName(kind: "probe tensor", name: "input 0"))
        a["outputs"] = [""]
        XCTAssertEqual(reason { _ = try ContainerReader(contentsOf: try file(probes: [a])) },
                       .invalidValue(field: "probe tensor name", value: "''", expected: "a non-empty name"))
        a["outputs"] = ["output 0"]
        XCTAssertNil(reason { _ = try ContainerReader(contentsOf: try file(probes: [a])) })
        b["inputs"] = []; b["outputs"] = ["output 0"]
        XCTAssertEqual(reason { _ = try ContainerReader(contentsOf: try file(probes: [a, b])) }, .duplicateName(kind: "probe", name: "p"))
    }

    // MARK: - Strict spellings and exact frames

    func testChecksumsMustBeSixteenLowercaseHexDigits() throws {
        let blob = Data(count: 16)
        let good = ContainerForge.hex(blob)
        for spelling in [good.uppercased(), "+" + good.dropFirst(), " " + good.dropFirst(), String(good.dropFirst()), good + "0"] where spelling != good {
            let bytes = try ContainerForge.file(blobs: [blob]) { offsets in
                ["tensors": [ContainerForge.tensor("w", dtype: "f32", shape: [4], codec: "raw", chunks: [ContainerForge.chunk(offsets[0], blob, size: 16, xxh3: spelling)])]]
            }
            XCTAssertEqual(reason { _ = try ContainerReader(contentsOf: try save(bytes)) },
                           .invalidValue(field: "xxh3", value: "'\(spelling)'", expected: "16 lowercase hex digits"), spelling)
        }
        XCTAssertNil(Checksum.parse(good.uppercased()))
        XCTAssertEqual(Checksum.parse("00000000000000ab"), 0xAB)
    }

    func testBytesAfterTheZstdFrameAreRefused() throws {
        let payload = Data((0..<4096).map { UInt8($0 % 7) })
        let frame = try ContainerForge.zstd(payload)
        let empty = try ContainerForge.zstd(Data())
        // A skippable frame (magic 0x184D2A50, length 4): libzstd would skip it silently.
        let skippable = Data([0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4])
        for (label, tail) in [("empty frame", empty), ("skippable frame", skippable), ("garbage", Data([0xAA]))] {
            let stored = frame + tail
            let bytes = try ContainerForge.file(blobs: [stored]) { offsets in
                ["tensors": [ContainerForge.tensor("w", dtype: "u8", shape: [4096], codec: "zstd", chunks: [ContainerForge.chunk(offsets[0], stored, size: 4096)])]]
            }
            let reader = try ContainerReader(contentsOf: try save(bytes))
            let report = reader.verify()
            XCTAssertFalse(report.ok, label)
            if label != "garbage" {
                XCTAssertEqual(report.failures.first?.reason.root, .malformed(what: "zstd frame", detail: "\(tail.count) bytes follow the frame"), label)
            }
            XCTAssertNotNil(reason { _ = try reader.tensor(named: "w") }, label)
        }
    }

    // MARK: - Unknown sections are ignored (a newer minor may add them)

    func testUnknownSectionsAreCheckedAndIgnored() throws {
        let url = directory.appendingPathComponent("sections.ckpt")
        let writer = try ContainerWriter(destination: url)
        let tensor = try Tensor(dtype: .f32, shape: [2], data: Data(count: 8))
        try writer.add(NamedTensor(name: "w", tensor: tensor))
        try writer.setMetadata(.string("m"))
        try writer.writeSection("optimizer-notes", Data("not JSON at all".utf8))
        try writer.finish()
        let reader = try ContainerReader(contentsOf: url)
        XCTAssertNotNil(reader.manifest.sections["optimizer-notes"])
        let report = reader.verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
        let checkpoint = try reader.checkpoint()
        XCTAssertEqual(checkpoint.metadata, .string("m"))
        // Rewriting what was read (what `import` does) works; the unknown section is not carried.
        let copy = directory.appendingPathComponent("copy.ckpt")
        try CheckpointFile.write(checkpoint, to: copy)
        XCTAssertNil(try ContainerReader(contentsOf: copy).manifest.sections["optimizer-notes"])
        // Its checksum is still checked: a flipped byte in it is a problem.
        var bytes = try Data(contentsOf: url)
        let section = try XCTUnwrap(reader.manifest.sections["optimizer-notes"])
        bytes[section.offset] ^= 1
        let damaged = try save(bytes, "damaged.ckpt")
        XCTAssertEqual(try ContainerReader(contentsOf: damaged).verify().failures.first?.reason.root, .checksumMismatch(what: "section 'optimizer-notes'"))
    }
}
