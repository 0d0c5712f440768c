import Foundation
import XCTest
@testable import Format

/// The rANS plane coder of `shuffle-ans` (FORMAT.md): round trips, the entropy bound
/// computed here independently, and hostile payloads that must be refused, not crash.
final class RansTests: XCTestCase {
    /// A seeded stream of bytes drawn from `weights` (symbol i with weight weights[i]).
    static func draw(_ n: Int, weights: [Double], seed: UInt64) -> [UInt8] {
        var state = seed
        let total = weights.reduce(0, +)
        var cumulative: [Double] = []
        var running = 0.0
        for w in weights { running += w / total; cumulative.append(running) }
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(state >> 11) / Double(1 << 53)
            return UInt8(cumulative.firstIndex { u < $0 } ?? weights.count - 1)
        }
    }

    /// Shannon entropy of the histogram of `bytes`, in bits for the whole sequence.
    static func entropyBits(_ bytes: [UInt8]) -> Double {
        var counts = [Int](repeating: 0, count: 256)
        for b in bytes { counts[Int(b)] += 1 }
        let n = Double(bytes.count)
        return counts.filter { $0 > 0 }.reduce(0.0) { $0 - Double($1) * Foundation.log2(Double($1) / n) }
    }

    func encode(_ plane: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: RansPlane.bound(plane.count))
        let length = plane.withUnsafeBytes { source in
            out.withUnsafeMutableBytes { RansPlane.encode(source, into: $0) }
        }
        return length.map { Array(out[0..<$0]) }
    }

    func decode(_ payload: [UInt8], count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try payload.withUnsafeBytes { stored in
            try out.withUnsafeMutableBytes { try RansPlane.decode(stored, into: $0) }
        }
        return out
    }

    /// An exponent-like plane (a geometric spread over 20 values, ~2.6 bits) codes to
    /// within 0.5% of its empirical entropy plus the table, and never below the entropy.
    func testSkewedPlaneCodesWithinHalfAPercentOfItsEntropy() throws {
        let weights = (0..<20).map { Foundation.pow(0.62, Double(abs($0 - 6))) }
        for (n, seed) in [(1 << 20, UInt64(3)), (100_003, 4), (4099, 5)] {
            let plane = Self.draw(n, weights: weights, seed: seed)
            let bound = Self.entropyBits(plane) / 8
            let payload = try XCTUnwrap(encode(plane))
            let overhead = Double(RansTable.bitmapSize + 2 * Set(plane).count + Rans.headerSize)
            XCTAssertLessThanOrEqual(Double(payload.count), bound * 1.005 + overhead + 2, "n = \(n)")
            XCTAssertGreaterThanOrEqual(Double(payload.count) + 1, bound, "n = \(n): below the entropy bound")
            XCTAssertEqual(try decode(payload, count: n), plane)
        }
    }

    /// A near-uniform plane cannot save 1/64: the encoder declines without a payload;
    /// a constant plane (a rounded model's zero mantissa) costs its table and states.
    func testUniformPlaneIsDeclinedAndConstantPlaneIsNearlyFree() throws {
        let uniform = Self.draw(1 << 19, weights: [Double](repeating: 1, count: 256), seed: 9)
        XCTAssertNil(encode(uniform))
        let constant = [UInt8](repeating: 0x40, count: 1 << 18)
        let payload = try XCTUnwrap(encode(constant))
        XCTAssertEqual(payload.count, RansTable.bitmapSize + 2 + Rans.headerSize)
        XCTAssertEqual(try decode(payload, count: constant.count), constant)
    }

    /// Every length from 0 to 9 and two symbols: the lanes' tails and the one-word edge.
    func testShortAndTwoSymbolPlanesRoundTrip() throws {
        for n in 1..<10 {
            let plane = Self.draw(n, weights: [1, 3], seed: UInt64(n))
            var out = [UInt8](repeating: 0, count: Rans.bound(n))
            let table = plane.withUnsafeBufferPointer { p -> RansTable in
                var counts = [Int](repeating: 0, count: 256)
                for b in p { counts[Int(b)] += 1 }
                return counts.withUnsafeBufferPointer { RansTable(counts: $0.baseAddress!) }
            }
            let length = plane.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { Rans.encode(p.baseAddress!, count: n, table: table, into: $0.baseAddress!) }
            }
            var slots = [UInt32](repeating: 0, count: Rans.total)
            var symbols = [UInt8](repeating: 0, count: Rans.total)
            slots.withUnsafeMutableBufferPointer { s in symbols.withUnsafeMutableBufferPointer { table.fillSlots(s.baseAddress!, symbols: $0.baseAddress!) } }
            var back = [UInt8](repeating: 0, count: n)
            try out.withUnsafeBytes { stream in
                try slots.withUnsafeBufferPointer { s in
                    try symbols.withUnsafeBufferPointer { y in
                        try back.withUnsafeMutableBufferPointer {
                            try Rans.decode(UnsafeRawBufferPointer(rebasing: stream[0..<length]), slots: s.baseAddress!, symbols: y.baseAddress!, count: n, into: $0.baseAddress!)
                        }
                    }
                }
            }
            XCTAssertEqual(back, plane, "n = \(n)")
        }
    }

    /// Scaling keeps every present symbol, sums to 4096 exactly, even with 256 symbols
    /// of which 255 are rare.
    func testTableScalingKeepsEverySymbolAndSumsExactly() {
        var counts = [Int](repeating: 1, count: 256)
        counts[7] = 10_000_000
        let table = counts.withUnsafeBufferPointer { RansTable(counts: $0.baseAddress!) }
        XCTAssertEqual(table.frequencies.reduce(0, +), UInt32(Rans.total))
        XCTAssertTrue(table.frequencies.allSatisfy { $0 >= 1 })
        XCTAssertEqual(table.frequencies[7], UInt32(Rans.total - 255))
    }

    // MARK: - Hostile payloads

    /// Each field of a valid payload broken on purpose is refused with a clear error.
    func testDamagedTablesAndStreamsAreRefused() throws {
        let plane = Self.draw(50_000, weights: [5, 3, 2, 1, 1], seed: 11)
        let good = try XCTUnwrap(encode(plane))
        let symbols = 5, tableEnd = RansTable.bitmapSize + 2 * symbols
        var cases: [(String, [UInt8])] = []
        var empty = good; for k in 0..<RansTable.bitmapSize { empty[k] = 0 }
        cases.append(("empty bitmap", empty))
        var zero = good; zero[RansTable.bitmapSize] = 0; zero[RansTable.bitmapSize + 1] = 0
        cases.append(("zero frequency", zero))
        var over = good; over[RansTable.bitmapSize] = 0xFF; over[RansTable.bitmapSize + 1] = 0xFF
        cases.append(("frequency over 4096", over))
        var sum = good; sum[RansTable.bitmapSize] &+= 1
        cases.append(("sum not 4096", sum))
        var extra = good; extra[0] |= 0x80   // symbol 7 claimed: the frequencies shift by one entry
        cases.append(("bitmap and frequencies disagree", extra))
        cases.append(("truncated table", Array(good[0..<(tableEnd - 1)])))
        cases.append(("no stream", Array(good[0..<tableEnd])))
        cases.append(("odd stream", good + [0]))
        cases.append(("stream cut short", Array(good.dropLast(2))))
        cases.append(("a word too many", good + [0, 0]))
        var state = good; state[tableEnd] ^= 1
        cases.append(("state altered", state))
        for (what, payload) in cases {
            XCTAssertThrowsError(try decode(payload, count: plane.count), what) { error in
                XCTAssertTrue(error is FormatError, what)
            }
        }
    }

    /// Random damage anywhere in shuffle-ans chunks (table, lengths, streams) is either
    /// refused or decodes to some bytes of the right size: never a trap, never a hang.
    func testRandomlyDamagedChunksNeverCrash() throws {
        let tensor = try ContainerTests.sampleTensor(.f32, count: 20_000, seed: 5)
        let stored = try tensor.data.withUnsafeBytes { try ChunkCodec.encode($0, dtype: .f32, codec: .shuffleAns, level: 1) }
        var state: UInt64 = 99
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        var refused = 0
        for round in 0..<400 {
            var bytes = [UInt8](stored)
            for _ in 0...(round % 4) { bytes[next() % bytes.count] ^= UInt8(1 << (next() % 8)) }
            if round % 50 == 0 { bytes = Array(bytes[0..<(next() % bytes.count)]) }
            var out = [UInt8](repeating: 0, count: tensor.data.count)
            do {
                try bytes.withUnsafeBytes { input in
                    try out.withUnsafeMutableBytes { try ChunkCodec.decode(input, dtype: .f32, codec: .shuffleAns, into: $0) }
                }
            } catch {
                refused += 1
            }
        }
        // Most damage lands in the raw mantissa planes, which only the checksum can see;
        // damage to the table or the streams is refused by the codec itself.
        XCTAssertGreaterThan(refused, 0)
    }

    // MARK: - In the container

    /// A file that uses shuffle-ans is stamped 1.1; one that does not stays 1.0; both read.
    func testVersionIsTheLowestTheFileNeeds() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-rans-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tensor = try ContainerTests.sampleTensor(.bf16, count: 1 << 16)
        for (codec, version) in [(Codec.shuffleAns, FormatVersion(major: 1, minor: 1)), (.shuffleZstd, FormatVersion(major: 1, minor: 0))] {
            let url = directory.appendingPathComponent("\(codec.rawValue).ckpt")
            try CheckpointFile.write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: tensor)]), to: url, options: WriteOptions(codec: codec))
            let reader = try ContainerReader(contentsOf: url)
            XCTAssertEqual(reader.version, version, codec.rawValue)
            XCTAssertEqual(reader.manifest.tensors[0].codec, codec)
            XCTAssertEqual(try reader.tensor(named: "w").data, tensor.data)
            XCTAssertTrue(reader.verify().ok)
        }
        // A tiny tensor that falls back to raw leaves nothing of 1.1 in the file.
        let url = directory.appendingPathComponent("tiny.ckpt")
        try CheckpointFile.write(Checkpoint(tensors: [NamedTensor(name: "b", tensor: try ContainerTests.sampleTensor(.f32, count: 3))]), to: url)
        XCTAssertEqual(try ContainerReader(contentsOf: url).version, FormatVersion(major: 1, minor: 0))
    }

    /// Incompressible tensors (random bits) never grow past raw plus the plane tables.
    func testRandomBitsStayRawSized() throws {
        var state: UInt64 = 17
        var data = Data(count: 3 << 20)
        data.withUnsafeMutableBytes { buffer in
            for i in stride(from: 0, to: buffer.count, by: 8) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                buffer.storeBytes(of: state ^ (state >> 29), toByteOffset: i, as: UInt64.self)
            }
        }
        let tensor = try Tensor(dtype: .f32, shape: [data.count / 4], data: data)
        let encoded = try data.withUnsafeBytes { bytes in
            try ChunkCodec.encode(UnsafeRawBufferPointer(rebasing: bytes[0..<(2 << 20)]), dtype: .f32, codec: .shuffleAns, level: 1)
        }
        XCTAssertEqual(encoded.count, (2 << 20) + ChunkCodec.planeHeaderSize(width: 4))
        _ = tensor
    }
}
