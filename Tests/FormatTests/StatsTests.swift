import Foundation
import XCTest
@testable import Format

/// `TensorStatistics` against numpy (fixtures/stats/expected.json, made by
/// fixtures/stats/make_stats_fixtures.py), over every way a tensor can be read.
final class StatsTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-stats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    struct Expected: Decodable {
        var dtype: String
        var shape: [Int]
        var elements: Int
        var finite: Int
        var zeros: Int
        var nan: Int
        var inf: Int
        var mean: Double?
        var std: Double?
        var min: Double?
        var max: Double?
        var l2: Double?
        var histogram: [Int]?
    }

    static func expected() throws -> [String: [String: Expected]] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("stats/expected.json"))
        return try JSONDecoder().decode([String: [String: Expected]].self, from: data)
    }

    func assertClose(_ actual: Double?, _ expected: Double?, _ what: String, rtol: Double = 1e-6,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let expected else {
            XCTAssertNil(actual, what, file: file, line: line)
            return
        }
        guard let actual else { return XCTFail("\(what): nil, numpy says \(expected)", file: file, line: line) }
        // Relative, with a floor for figures numpy gives as (nearly) zero.
        XCTAssertLessThanOrEqual(abs(actual - expected), rtol * abs(expected) + 1e-12,
                                 "\(what): \(actual), numpy says \(expected)", file: file, line: line)
    }

    /// Figures and histogram against numpy's. The histogram is drawn from per-chunk fine
    /// bins (see StatsPartial): an element may land in the bin next to numpy's when it lies
    /// within a sliver of a bin edge. So the total must match exactly, and the cumulative
    /// counts (which a move to a neighbouring bin changes by one) nearly.
    func assertAgrees(_ stats: TensorStats, _ expected: Expected, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(stats.dtype.safetensorsName, expected.dtype, label, file: file, line: line)
        XCTAssertEqual(stats.shape, expected.shape, label, file: file, line: line)
        XCTAssertEqual(stats.elements, expected.elements, label, file: file, line: line)
        XCTAssertEqual(stats.finite, expected.finite, label, file: file, line: line)
        XCTAssertEqual(stats.zeros, expected.zeros, "\(label) zeros", file: file, line: line)
        XCTAssertEqual(stats.nan, expected.nan, "\(label) nan", file: file, line: line)
        XCTAssertEqual(stats.inf, expected.inf, "\(label) inf", file: file, line: line)
        assertClose(stats.mean, expected.mean, "\(label) mean", file: file, line: line)
        assertClose(stats.std, expected.std, "\(label) std", file: file, line: line)
        assertClose(stats.min, expected.min, "\(label) min", file: file, line: line)
        assertClose(stats.max, expected.max, "\(label) max", file: file, line: line)
        assertClose(stats.l2Norm, expected.l2, "\(label) L2 norm", file: file, line: line)
        if expected.elements > 0 {
            assertClose(stats.zeroShare, Double(expected.zeros) / Double(expected.elements), "\(label) zero share", file: file, line: line)
        }
        XCTAssertEqual(stats.histogram.total, expected.finite, "\(label) histogram total", file: file, line: line)
        if let numpy = expected.histogram, expected.min != expected.max {
            XCTAssertEqual(stats.histogram.counts.count, numpy.count, label, file: file, line: line)
            var ours = 0, theirs = 0, distance = 0
            for (a, b) in zip(stats.histogram.counts, numpy) {
                ours += a
                theirs += b
                distance = Swift.max(distance, abs(ours - theirs))
            }
            XCTAssertLessThanOrEqual(Double(distance), 0.01 * Double(expected.finite) + 2,
                                     "\(label) histogram: \(stats.histogram.counts) vs numpy \(numpy)", file: file, line: line)
        }
        let flagged = expected.nan > 0 || expected.inf > 0 || (expected.elements > 0 && expected.zeros == expected.elements)
        XCTAssertEqual(stats.isFlagged, flagged, "\(label) flags \(stats.flags)", file: file, line: line)
    }

    /// Every fixture, read from memory, and from `.ckpt` files of every codec with chunks
    /// small enough that most tensors span many (so partials are merged).
    func testFiguresAgreeWithNumpyOnEveryFixtureAndReadPath() throws {
        let expected = try Self.expected()
        XCTAssertGreaterThanOrEqual(expected.count, 10)
        for (file, tensors) in expected.sorted(by: { $0.key < $1.key }) {
            let checkpoint = try Importer.load(contentsOf: Self.fixtures.appendingPathComponent(file))
            var routes: [(String, [TensorStats])] = [("memory", try TensorStatistics.compute(StatsInput.all(of: checkpoint)))]
            for (codec, chunkSize) in [(Codec.raw, 256), (.zstd, 1024), (.shuffleZstd, 4096), (.shuffleZstd, 2 << 20)] {
                let url = work.appendingPathComponent("\(codec.rawValue)-\(chunkSize).ckpt")
                try CheckpointFile.write(checkpoint, to: url, options: WriteOptions(codec: codec, chunkSize: chunkSize))
                let reader = try ContainerReader(contentsOf: url)
                routes.append(("\(codec.rawValue) chunks of \(chunkSize)", try TensorStatistics.compute(StatsInput.all(of: reader))))
            }
            for (route, stats) in routes {
                XCTAssertEqual(Set(stats.map(\.name)), Set(tensors.keys), "\(file) via \(route)")
                for tensor in stats {
                    guard let figures = tensors[tensor.name] else { continue }
                    assertAgrees(tensor, figures, "\(file) '\(tensor.name)' via \(route)")
                }
            }
        }
    }

    /// NaN and Inf are counted apart and flag the tensor; figures are over the rest.
    func testNaNAndInfAreCountedApartAndFlagged() throws {
        let values: [Float] = [.nan, 1, .infinity, -.infinity, 0, 3, .nan]
        let tensor = try Tensor(dtype: .f32, shape: [7], data: values.withUnsafeBufferPointer { Data(buffer: $0) })
        let stats = try TensorStatistics.compute(tensor, name: "broken")
        XCTAssertEqual(stats.nan, 2)
        XCTAssertEqual(stats.inf, 2)
        XCTAssertEqual(stats.finite, 3)
        XCTAssertEqual(stats.zeros, 1)
        XCTAssertEqual(stats.flags, [.nan, .inf])
        XCTAssertEqual(stats.mean, 4.0 / 3)
        XCTAssertEqual(stats.min, 0)
        XCTAssertEqual(stats.max, 3)
        XCTAssertEqual(stats.l2Norm!, 10.0.squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(stats.histogram.total, 3)

        let nothing = try TensorStatistics.compute(try Tensor(dtype: .f32, shape: [2], data: [Float.nan, .nan].withUnsafeBufferPointer { Data(buffer: $0) }), name: "n")
        XCTAssertNil(nothing.mean)
        XCTAssertNil(nothing.l2Norm)
        XCTAssertEqual(nothing.flags, [.nan])
        XCTAssertEqual(nothing.histogram.total, 0)
        // JSON stays valid: unknown figures are null, never NaN.
        XCTAssertNoThrow(try JSONEncoder().encode([stats, nothing]))

        let zeros = try TensorStatistics.compute(try Tensor(dtype: .bf16, shape: [4, 4], data: Data(count: 32)), name: "z")
        XCTAssertEqual(zeros.flags, [.allZeros])
        XCTAssertEqual(zeros.zeroShare, 1)
        let empty = try TensorStatistics.compute(try Tensor(dtype: .f32, shape: [0], data: Data()), name: "e")
        XCTAssertEqual(empty.flags, [])
        XCTAssertNil(empty.zeroShare)
    }

    /// A tensor far from zero with a tiny spread (where Σx² - n·mean² would cancel), split
    /// in many chunks: std still right, and the result does not depend on chunking or on
    /// the number of workers.
    func testChunkingAndWorkersDoNotChangeTheFigures() throws {
        let count = 300_000
        var values = [Float](repeating: 0, count: count)
        var state: UInt64 = 7
        for k in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            values[k] = 1000 + Float(Double(state >> 11) / Double(1 << 53) - 0.5) * 0.01
        }
        let tensor = try Tensor(dtype: .f32, shape: [count], data: values.withUnsafeBufferPointer { Data(buffer: $0) })
        // Reference: two-pass in Double over the whole array.
        let doubles = values.map(Double.init)
        let mean = doubles.reduce(0, +) / Double(count)
        let std = (doubles.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(count)).squareRoot()
        var results: [TensorStats] = []
        for (codec, chunkSize) in [(Codec.raw, 4096), (.shuffleZstd, 65536), (.zstd, 2 << 20)] {
            let url = work.appendingPathComponent("big-\(chunkSize).ckpt")
            try CheckpointFile.write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: tensor)]), to: url,
                                     options: WriteOptions(codec: codec, chunkSize: chunkSize))
            let reader = try ContainerReader(contentsOf: url)
            for workers in [1, 3] {
                results.append(try TensorStatistics.compute(StatsInput.all(of: reader), workers: workers)[0])
            }
        }
        results.append(try TensorStatistics.compute(tensor, name: "w"))
        for stats in results {
            assertClose(stats.mean, mean, "mean", rtol: 1e-12)
            assertClose(stats.std, std, "std", rtol: 1e-6)
            XCTAssertEqual(stats.histogram.total, count)
        }
        // The same chunking gives bit-identical figures whatever the number of workers.
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[2], results[3])
        // Different chunkings give nearly the same picture.
        let spread = zip(results[0].histogram.counts, results[4].histogram.counts).map { abs($0 - $1) }.reduce(0, +)
        XCTAssertLessThan(Double(spread), 0.02 * Double(count))
    }

    func testEveryDTypeIsReadAsItsValues() throws {
        func stats(_ dtype: DType, _ bytes: [UInt8]) throws -> TensorStats {
            try TensorStatistics.compute(try Tensor(dtype: dtype, shape: [bytes.count / dtype.size], data: Data(bytes)), name: dtype.rawValue)
        }
        XCTAssertEqual(try stats(.bool, [0, 1, 1, 0]).mean, 0.5)
        XCTAssertEqual(try stats(.i8, [0xFF, 0x01]).min, -1)
        XCTAssertEqual(try stats(.u16, [0xFF, 0xFF]).max, 65535)
        XCTAssertEqual(try stats(.i64, [0xFE] + [UInt8](repeating: 0xFF, count: 7)).min, -2)
        XCTAssertEqual(try stats(.f16, [0x00, 0x3C, 0x00, 0xC0]).mean, -0.5) // 1.0 and -2.0
        XCTAssertEqual(try stats(.f16, [0x01, 0x00]).max, 0x1p-24) // smallest subnormal
        XCTAssertEqual(try stats(.bf16, [0x80, 0x3F]).max, 1) // 1.0
        XCTAssertEqual(try stats(.f8e4m3, [0x38, 0x7F]).mean, 1) // 1.0 and NaN
        XCTAssertEqual(try stats(.f8e4m3, [0x38, 0x7F]).nan, 1)
        XCTAssertEqual(try stats(.f8e5m2, [0x3C, 0x7C]).inf, 1) // 1.0 and +Inf
        XCTAssertEqual(try stats(.f8e8m0, [127, 128]).max, 2)
        let complex = try stats(.c64, [UInt8](repeating: 0, count: 16))
        XCTAssertFalse(complex.computed)
        XCTAssertEqual(complex.elements, 2)
        XCTAssertEqual(complex.flags, [])
    }

    func testHistogramLinesAndRebinning() {
        let histogram = Histogram(lo: 0, hi: 8, counts: [0, 1, 2, 4, 8, 0, 0, 8])
        XCTAssertEqual(histogram.sparkline(width: 8), " ▁▂▄█  █")
        XCTAssertEqual(histogram.sparkline(width: 4), "▁▆██")
        XCTAssertEqual(histogram.resampled(to: 2), [7, 16])
        // Moved onto [0, 16]: everything lands in the lower half.
        XCTAssertEqual(histogram.rebinned(lo: 0, hi: 16, bins: 4), [7, 16, 0, 0])
        // A bin straddling two new ones is shared between them.
        let shared = Histogram(lo: 0, hi: 3, counts: [3, 6, 3]).rebinned(lo: 0, hi: 3, bins: 2)
        XCTAssertEqual(shared[0], 6, accuracy: 1e-12)
        XCTAssertEqual(shared[1], 6, accuracy: 1e-12)
        XCTAssertEqual(Histogram(lo: 1, hi: 1, counts: [0, 5, 0]).rebinned(lo: 0, hi: 2, bins: 2), [0, 5])
        XCTAssertEqual(Histogram(lo: 1, hi: 1, counts: [5]).rebinned(lo: 1, hi: 1, bins: 3), [0, 5, 0])
        XCTAssertEqual(Histogram(lo: 0, hi: 0, counts: [0, 0]).sparkline(width: 2), "  ")
    }

    func testNameGlobs() {
        XCTAssertTrue(NameGlob("*.weight").matches("0.net.2.weight"))
        XCTAssertTrue(NameGlob("encoder.layer.?.attention.*").matches("encoder.layer.3.attention.self.query.bias"))
        XCTAssertFalse(NameGlob("encoder.layer.?.attention.*").matches("encoder.layer.11.attention.self.query.bias"))
        XCTAssertTrue(NameGlob("[02].bias").matches("2.bias"))
        XCTAssertFalse(NameGlob("*.bias").matches("0.weight"))
        XCTAssertTrue(NameGlob("tied").matches(any: ["2.weight", "tied"]))
    }

    func testRelativeChange() throws {
        let a = try Tensor(dtype: .f32, shape: [2, 2], data: [Float(3), 4, 0, 0].withUnsafeBufferPointer { Data(buffer: $0) })
        let b = try Tensor(dtype: .f32, shape: [2, 2], data: [Float(3), 4, 0, 2.5].withUnsafeBufferPointer { Data(buffer: $0) })
        let change = try XCTUnwrap(TensorDifference.compare(a, b))
        XCTAssertEqual(change.relative!, 0.5, accuracy: 1e-15)
        XCTAssertEqual(change.maxAbs, 2.5)
        XCTAssertEqual(TensorDifference.compare(a, a)?.relative, 0)
        let zero = try Tensor(dtype: .f32, shape: [2, 2], data: Data(count: 16))
        XCTAssertNil(TensorDifference.compare(zero, b)?.relative)
        XCTAssertEqual(TensorDifference.compare(zero, zero)?.relative, 0)
        XCTAssertNil(TensorDifference.compare(a, try Tensor(dtype: .f32, shape: [4], data: a.data)))
        // Many blocks, in parallel: the same as one pass.
        let count = 1_500_000
        let x = try Tensor(dtype: .f32, shape: [count], data: (0..<count).map { Float($0 % 97) }.withUnsafeBufferPointer { Data(buffer: $0) })
        let y = try Tensor(dtype: .f32, shape: [count], data: (0..<count).map { Float($0 % 97) * 1.25 }.withUnsafeBufferPointer { Data(buffer: $0) })
        XCTAssertEqual(TensorDifference.compare(x, y)!.relative!, 0.25, accuracy: 1e-12)
    }

    /// The NaN, infinity and zero-norm rules of `TensorDifference`, against values worked out by hand.
    func testRelativeChangeOfNaNInfinityAndZeroNorms() throws {
        func f32(_ values: [Float]) throws -> Tensor {
            try Tensor(dtype: .f32, shape: [values.count], data: values.withUnsafeBufferPointer { Data(buffer: $0) })
        }
        let quietNaN = Float.nan, otherNaN = Float(bitPattern: 0x7FC0_0001)
        // A NaN that stays NaN (even with another payload) and an unchanged infinity are no change:
        // ||a|| over the finite values is 5, ||b - a|| is 0.
        var d = try XCTUnwrap(TensorDifference.compare(try f32([3, 4, quietNaN, .infinity]), try f32([3, 4, otherNaN, .infinity])))
        XCTAssertEqual(d.relative, 0)
        XCTAssertEqual(d.maxAbs, 0)
        XCTAssertEqual(d.normA, 5)
        XCTAssertEqual(d.differingElements, 1, "the payloads differ")
        XCTAssertEqual(d.undefinedElements, 0)
        // Beside them, a finite change is measured over the finite values: ||(0, 2.5)|| / ||(3, 4)|| = 0.5.
        d = try XCTUnwrap(TensorDifference.compare(try f32([3, 4, quietNaN]), try f32([3, 6.5, quietNaN])))
        XCTAssertEqual(d.relative, 0.5)
        XCTAssertEqual(d.maxAbs, 2.5)
        // A value that becomes NaN or infinite, stops being one, or an infinity that flips: undefined.
        for (x, y) in [(Float(1), quietNaN), (quietNaN, 1), (1, .infinity), (.infinity, -.infinity)] {
            d = try XCTUnwrap(TensorDifference.compare(try f32([3, 4, x]), try f32([3, 4, y])))
            XCTAssertNil(d.relative, "\(x) -> \(y)")
            XCTAssertNil(d.maxAbs, "\(x) -> \(y)")
            XCTAssertEqual(d.undefinedElements, 1, "\(x) -> \(y)")
            XCTAssertEqual(d.differingElements, 1)
        }
        // Zero norms: zero to zero is no change; zero to anything else has no finite ratio.
        let zeros = try f32([0, 0, 0]), negativeZeros = try f32([-0.0, 0, 0])
        XCTAssertEqual(TensorDifference.compare(zeros, zeros)?.relative, 0)
        d = try XCTUnwrap(TensorDifference.compare(zeros, negativeZeros))
        XCTAssertEqual(d.relative, 0, "-0 equals 0 although the bits differ")
        XCTAssertEqual(d.differingElements, 1)
        d = try XCTUnwrap(TensorDifference.compare(zeros, try f32([0, 3, 4])))
        XCTAssertNil(d.relative)
        XCTAssertEqual(d.maxAbs, 4)
        XCTAssertEqual(d.normDifference, 5)
        XCTAssertEqual(TensorDifference.compare(try f32([0, 3, 4]), zeros)?.relative, 1)
        // Squares beyond Double: no ratio rather than a wrong 0.
        let huge = try Tensor(dtype: .f64, shape: [2], data: [1e200, 1].withUnsafeBufferPointer { Data(buffer: $0) })
        let moved = try Tensor(dtype: .f64, shape: [2], data: [1e200, 2].withUnsafeBufferPointer { Data(buffer: $0) })
        XCTAssertNil(TensorDifference.compare(huge, moved)?.relative)
        // Integers use the same rules: ||(0, 0, 1)|| / ||(1, 2, 2)|| = 1/3.
        let i = try Tensor(dtype: .i32, shape: [3], data: [Int32(1), 2, 2].withUnsafeBufferPointer { Data(buffer: $0) })
        let j = try Tensor(dtype: .i32, shape: [3], data: [Int32(1), 2, 3].withUnsafeBufferPointer { Data(buffer: $0) })
        XCTAssertEqual(TensorDifference.compare(i, j)!.relative!, 1.0 / 3.0, accuracy: 1e-15)
    }

    /// The public chunk entry point hands out exactly the tensor's bytes, chunk by chunk,
    /// and refuses a damaged chunk by name.
    func testChunksDecodeOneByOneAndDamageIsNamed() throws {
        let values = (0..<5000).map { Float($0) * 0.001 }
        let tensor = try Tensor(dtype: .f32, shape: [5000], data: values.withUnsafeBufferPointer { Data(buffer: $0) })
        let url = work.appendingPathComponent("c.ckpt")
        try CheckpointFile.write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: tensor)]), to: url,
                                 options: WriteOptions(codec: .shuffleZstd, chunkSize: 4096))
        let reader = try ContainerReader(contentsOf: url)
        let record = try XCTUnwrap(reader.record(named: "w"))
        XCTAssertEqual(record.chunks.count, 5)
        var joined = Data()
        for k in record.chunks.indices { joined += try reader.decodeChunk(record, index: k) }
        XCTAssertEqual(joined, tensor.data)
        XCTAssertThrowsError(try reader.decodeChunk(record, index: 5))

        var bytes = try Data(contentsOf: url)
        bytes[record.chunks[2].offset + 3] ^= 0x40
        let damaged = work.appendingPathComponent("d.ckpt")
        try bytes.write(to: damaged)
        let bad = try ContainerReader(contentsOf: damaged)
        XCTAssertThrowsError(try TensorStatistics.compute(StatsInput.all(of: bad))) { error in
            XCTAssertTrue("\(error)".contains("tensor 'w' chunk 2") && "\(error)".contains("checksum mismatch"), "\(error)")
        }
    }
}
