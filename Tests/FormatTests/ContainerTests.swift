import Foundation
import XCTest
@testable import Format

final class ContainerTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Bytes that look like trained weights for float dtypes (normal values, a few specials)
    /// and like counters for integers, so that every codec path gets exercised.
    static func sampleTensor(_ dtype: DType, count: Int, seed: UInt64 = 1) throws -> Tensor {
        var state = seed
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 11 }
        var data = Data(count: count * dtype.size)
        data.withUnsafeMutableBytes { buffer in
            for i in 0..<count {
                let gaussian = (0..<4).map { _ in Double(next()) / Double(1 << 53) }.reduce(0, +) - 2
                let value = gaussian * 0.05
                switch dtype {
                case .f32: buffer.storeBytes(of: Float(value).bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
                case .f64: buffer.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self)
                case .f16, .bf16:
                    let half = dtype == .bf16 ? HalfFloat.bfloat16(from: Float(value)) : HalfFloat.half(from: Float(value))
                    buffer.storeBytes(of: half.littleEndian, toByteOffset: i * 2, as: UInt16.self)
                default:
                    for b in 0..<dtype.size { buffer[i * dtype.size + b] = UInt8(truncatingIfNeeded: next() >> (b * 3)) }
                    if dtype == .bool { buffer[i] &= 1 }
                }
            }
        }
        if count > 3, dtype == .f32 {
            data.withUnsafeMutableBytes { buffer in
                buffer.storeBytes(of: Float.nan.bitPattern, toByteOffset: 0, as: UInt32.self)
                buffer.storeBytes(of: (-Float.infinity).bitPattern, toByteOffset: 4, as: UInt32.self)
                buffer.storeBytes(of: (-0.0 as Float).bitPattern, toByteOffset: 8, as: UInt32.self)
            }
        }
        return try Tensor(dtype: dtype, shape: [count], data: data)
    }

    func write(_ checkpoint: Checkpoint, codec: Codec = .default, chunkSize: Int = 2 << 20, name: String = "t.ckpt") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try CheckpointFile.write(checkpoint, to: url, options: WriteOptions(codec: codec, chunkSize: chunkSize))
        return url
    }

    func testEveryCodecAndDTypeRoundTripsBitForBit() throws {
        for codec in Codec.allCases {
            var checkpoint = Checkpoint()
            for dtype in DType.allCases {
                // 3000 elements with 4 KiB chunks: several chunks, the last one partial.
                checkpoint.tensors.append(NamedTensor(name: "w.\(dtype.rawValue)", tensor: try Self.sampleTensor(dtype, count: 3000)))
            }
            checkpoint.tensors.append(NamedTensor(name: "empty", tensor: try Tensor(dtype: .f32, shape: [0, 5], data: Data())))
            checkpoint.tensors.append(NamedTensor(name: "scalar", tensor: try Tensor(dtype: .f64, shape: [], data: Data(count: 8))))
            let url = try write(checkpoint, codec: codec, chunkSize: 4096, name: "\(codec.rawValue).ckpt")
            let reader = try ContainerReader(contentsOf: url)
            XCTAssertEqual(reader.manifest.tensors.map(\.name), checkpoint.tensors.map(\.name))
            for original in checkpoint.tensors {
                let record = try XCTUnwrap(reader.record(named: original.name))
                if record.chunks.count > 1 {
                    XCTAssertEqual(record.codec, codec)
                } else {
                    // One-chunk tensors that would not shrink are stored raw, never larger.
                    XCTAssertTrue(record.codec == codec || record.codec == .raw)
                    XCTAssertLessThanOrEqual(record.storedCount, max(record.byteCount, 1))
                }
                XCTAssertEqual(record.chunks.count, (original.tensor.data.count + 4095) / 4096, "\(original.name)")
                let decoded = try reader.tensor(record)
                XCTAssertEqual(decoded.dtype, original.tensor.dtype)
                XCTAssertEqual(decoded.shape, original.tensor.shape)
                XCTAssertEqual(decoded.data, original.tensor.data, "\(codec) \(original.name)")
            }
            XCTAssertTrue(reader.verify().ok, "\(codec): \(reader.verify().problems)")
            XCTAssertEqual(try reader.allTensors().map(\.tensor.data), checkpoint.tensors.map(\.tensor.data))
        }
    }

    func testShuffleBeatsPlainZstdOnWeights() throws {
        let tensor = try Self.sampleTensor(.f32, count: 1 << 18)
        var sizes: [Codec: Int] = [:]
        for codec in Codec.allCases {
            let url = try write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: tensor)]), codec: codec, name: "\(codec.rawValue).ckpt")
            sizes[codec] = try ContainerReader(contentsOf: url).manifest.tensors[0].storedCount
        }
        XCTAssertEqual(sizes[.raw], tensor.data.count)
        XCTAssertLessThan(sizes[.shuffleZstd]!, sizes[.zstd]!)
        XCTAssertLessThan(sizes[.shuffleAns]!, sizes[.shuffleZstd]!)
        // Gaussian fp32 with ~3 bits of exponent entropy: planes compress to well under 0.9.
        XCTAssertLessThan(Double(sizes[.shuffleZstd]!) / Double(tensor.data.count), 0.9)
    }

    /// Planes of 256 KiB and more are judged by a sample before compression: both the
    /// compressed (exponent) and the raw (mantissa) paths must give the bytes back.
    func testLargeChunksRoundTripThroughSampledPlanes() throws {
        let tensor = try Self.sampleTensor(.f32, count: 1 << 19, seed: 7)
        for codec in [Codec.shuffleAns, .shuffleZstd, .zstd] {
            let url = try write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: tensor)]), codec: codec, name: "big-\(codec.rawValue).ckpt")
            let reader = try ContainerReader(contentsOf: url)
            XCTAssertEqual(reader.manifest.tensors[0].codec, codec)
            XCTAssertEqual(try reader.tensor(named: "w").data, tensor.data, "\(codec)")
            XCTAssertTrue(reader.verify().ok)
        }
    }

    func testAliasesSectionsAndProbesRoundTrip() throws {
        let weight = try Self.sampleTensor(.f32, count: 64)
        let metadata: JSONValue = .object(["epoch": .number(3), "tags": .array([.string("a"), .null]), "nested": .object(["ok": .bool(true)])])
        let architecture = try Architecture.parse(Data(#"{"version":1,"module":{"type":"Sequential","children":[]}}"#.utf8))
        let probe = Probe(name: "p0", inputs: [try Self.sampleTensor(.f32, count: 20)], outputs: [try Self.sampleTensor(.f32, count: 10)],
                          rtol: 1e-4, atol: 1e-6, origin: .expected)
        let url = try write(Checkpoint(tensors: [NamedTensor(name: "2.weight", aliases: ["4.weight"], tensor: weight)],
                                       architecture: architecture, metadata: metadata, probes: [probe]))
        let back = try CheckpointFile.read(contentsOf: url)
        XCTAssertEqual(back.tensors.count, 1)
        XCTAssertEqual(back.tensors[0].aliases, ["4.weight"])
        XCTAssertEqual(back.tensor(named: "4.weight")?.data, weight.data)
        XCTAssertEqual(back.metadata, metadata)
        XCTAssertEqual(back.architecture, architecture)
        XCTAssertEqual(back.architecture?.text, architecture.text, "the document's bytes are stored as given")
        XCTAssertEqual(back.probes.count, 1)
        XCTAssertEqual(back.probes[0].name, "p0")
        XCTAssertEqual(back.probes[0].rtol, 1e-4)
        XCTAssertEqual(back.probes[0].origin, .expected)
        XCTAssertEqual(back.probes[0].inputs[0].data, probe.inputs[0].data)
        XCTAssertEqual(back.probes[0].outputs[0].data, probe.outputs[0].data)
        // The file stores the tied tensor once.
        XCTAssertEqual(try ContainerReader(contentsOf: url).manifest.tensors.count, 1)
    }

    func testDuplicateNamesAreRefusedAndLeaveNoFile() throws {
        let t = try Self.sampleTensor(.f32, count: 4)
        let url = directory.appendingPathComponent("dup.ckpt")
        XCTAssertThrowsError(try CheckpointFile.write(
            Checkpoint(tensors: [NamedTensor(name: "a", tensor: t), NamedTensor(name: "b", aliases: ["a"], tensor: t)]), to: url)) { error in
            XCTAssertEqual((error as? FormatError)?.reason.root, .duplicateName(kind: "tensor", name: "a"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [], "no partial or temporary file is left")
    }

    func testXXH3KnownVectors() {
        // Reference values from the xxHash project's own test vectors (seed 0).
        XCTAssertEqual(Data().withUnsafeBytes { Checksum.xxh3($0) }, 0x2D06800538D394C2)
        XCTAssertEqual(Checksum.hex(0xAB), "00000000000000ab")
        XCTAssertEqual(Checksum.parse("00000000000000ab"), 0xAB)
        XCTAssertNil(Checksum.parse("ab"))
    }

    // MARK: - Versions

    /// Rewrites a file's header, trailer and index as a future writer might.
    func rewrite(_ url: URL, version: FormatVersion, index transform: (Data) -> Data = { $0 }) throws -> URL {
        let bytes = try Data(contentsOf: url)
        let trailer = try bytes.suffix(64).withUnsafeBytes { try FileTrailer.decode($0) }
        let index = transform(bytes.subdata(in: Int(trailer.indexOffset)..<Int(trailer.indexOffset + trailer.indexLength)))
        var out = FileHeader(version: version).encoded()
        out.append(bytes.subdata(in: 64..<Int(trailer.indexOffset)))
        let indexOffset = out.count
        out.append(index)
        out.append(Data(count: ContainerLimits.aligned(out.count) - out.count))
        out.append(FileTrailer(indexOffset: UInt64(indexOffset), indexLength: UInt64(index.count),
                               indexChecksum: index.withUnsafeBytes { Checksum.xxh3($0) }, version: version).encoded())
        let target = directory.appendingPathComponent("rewritten-\(version).ckpt")
        try out.write(to: target)
        return target
    }

    func testUnknownMajorIsRefusedNamingBothVersions() throws {
        let url = try write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: try Self.sampleTensor(.f32, count: 8))]))
        let future = try rewrite(url, version: FormatVersion(major: 2, minor: 0))
        XCTAssertThrowsError(try ContainerReader(contentsOf: future)) { error in
            let error = error as? FormatError
            XCTAssertEqual(error?.reason, .unsupportedVersion(what: "format", found: "2.0", supported: "1.x"))
            XCTAssertEqual(error?.file, future.path)
        }
    }

    func testNewerMinorIsReadIgnoringUnknownFields() throws {
        let tensor = try Self.sampleTensor(.f32, count: 100)
        let url = try write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: tensor)], metadata: .string("m")))
        let future = try rewrite(url, version: FormatVersion(major: 1, minor: 7)) { index in
            var json = try! JSONSerialization.jsonObject(with: index) as! [String: Any]
            json["future_field"] = ["anything": [1, 2, 3]]
            var tensors = json["tensors"] as! [[String: Any]]
            tensors[0]["quantization"] = "none"
            json["tensors"] = tensors
            var sections = json["sections"] as! [String: [String: Any]]
            sections["metadata"]!["media_type"] = "application/json"
            json["sections"] = sections
            return try! JSONSerialization.data(withJSONObject: json)
        }
        let reader = try ContainerReader(contentsOf: future)
        XCTAssertEqual(reader.version, FormatVersion(major: 1, minor: 7))
        XCTAssertEqual(try reader.tensor(named: "w").data, tensor.data)
        XCTAssertEqual(try reader.metadata(), .string("m"))
    }

    // MARK: - Damage

    func smallCheckpointBytes() throws -> (URL, Data) {
        let checkpoint = Checkpoint(
            tensors: [
                NamedTensor(name: "0.weight", aliases: ["4.weight"], tensor: try Self.sampleTensor(.f32, count: 96)),
                NamedTensor(name: "0.bias", tensor: try Self.sampleTensor(.bf16, count: 40)),
                NamedTensor(name: "steps", tensor: try Self.sampleTensor(.i64, count: 3)),
            ],
            architecture: try Architecture.parse(Data(#"{"version":1,"module":{"type":"Linear","out_features":2}}"#.utf8)),
            metadata: .object(["k": .number(1)]),
            probes: [Probe(name: "p", inputs: [try Self.sampleTensor(.f32, count: 4)], outputs: [try Self.sampleTensor(.f32, count: 2)], origin: .recorded)])
        let url = try write(checkpoint)
        return (url, try Data(contentsOf: url))
    }

    /// `verify` counts the model's tensors and the probes' apart, and with `loading` hands
    /// back exactly what `checkpoint()` reads, from the same single pass.
    func testVerifyCountsProbeTensorsApartAndLoadsInTheSamePass() throws {
        let (url, bytes) = try smallCheckpointBytes()
        let reader = try ContainerReader(contentsOf: url)
        let outcome = reader.verify(loading: true)
        XCTAssertTrue(outcome.report.ok, "\(outcome.report.problems)")
        XCTAssertEqual(outcome.report.tensorsChecked, 3)
        XCTAssertEqual(outcome.report.probeTensorsChecked, 2)
        XCTAssertEqual(outcome.report.chunksChecked, 5)
        XCTAssertEqual(outcome.report.bytesDecoded, 96 * 4 + 40 * 2 + 3 * 8 + 4 * 4 + 2 * 4)
        XCTAssertNil(outcome.loadRefusal)
        let loaded = try XCTUnwrap(outcome.checkpoint)
        let read = try reader.checkpoint()
        XCTAssertEqual(loaded.tensors.map(\.allNames), read.tensors.map(\.allNames))
        XCTAssertEqual(loaded.tensors.map(\.tensor.data), read.tensors.map(\.tensor.data))
        XCTAssertEqual(loaded.architecture, read.architecture)
        XCTAssertEqual(loaded.metadata, read.metadata)
        XCTAssertEqual(loaded.probes.map(\.name), ["p"])
        XCTAssertEqual(loaded.probes[0].inputs.map(\.data), read.probes[0].inputs.map(\.data))
        XCTAssertEqual(loaded.probes[0].outputs.map(\.data), read.probes[0].outputs.map(\.data))
        XCTAssertEqual(outcome.report, reader.verify(), "loading changes nothing in the report")
        // A damaged chunk: the problem is reported once and nothing is handed back.
        let record = try XCTUnwrap(reader.record(named: "0.bias"))
        var damaged = bytes
        damaged[record.chunks[0].offset] ^= 1
        let target = directory.appendingPathComponent("damaged.ckpt")
        try damaged.write(to: target)
        let bad = try ContainerReader(contentsOf: target).verify(loading: true)
        XCTAssertNil(bad.checkpoint)
        XCTAssertEqual(bad.report.failures.map(\.reason.root), [.checksumMismatch(what: "tensor '0.bias' chunk 0 at offset \(record.chunks[0].offset)")])
    }

    /// Opening or verifying must catch a flip of any single byte.
    func testEveryFlippedByteIsCaught() throws {
        let (_, bytes) = try smallCheckpointBytes()
        let damaged = directory.appendingPathComponent("flipped.ckpt")
        var missed: [Int] = []
        for offset in 0..<bytes.count {
            var copy = bytes
            copy[offset] ^= 0x20
            try copy.write(to: damaged)
            if let reader = try? ContainerReader(contentsOf: damaged), reader.verify().ok {
                missed.append(offset)
            }
        }
        XCTAssertEqual(missed, [], "flips at these offsets went unnoticed (file of \(bytes.count) bytes)")
    }

    func testEveryTruncationFailsCleanly() throws {
        let (_, bytes) = try smallCheckpointBytes()
        let cut = directory.appendingPathComponent("cut.ckpt")
        for length in 0..<bytes.count {
            try bytes.prefix(length).write(to: cut)
            XCTAssertThrowsError(try ContainerReader(contentsOf: cut), "length \(length)") { error in
                XCTAssertTrue(error is FormatError)
                XCTAssertTrue("\(error)".hasPrefix(cut.path + ": "), "\(error)")
            }
        }
    }

    func testHostileIndexFieldsAreRefusedBeforeUse() throws {
        let url = try write(Checkpoint(tensors: [NamedTensor(name: "w", tensor: try Self.sampleTensor(.f32, count: 16))]))
        func attempt(_ edit: @escaping (inout [String: Any]) -> Void) throws -> FormatError.Reason? {
            let target = try rewrite(url, version: .current) { index in
                var json = try! JSONSerialization.jsonObject(with: index) as! [String: Any]
                edit(&json)
                return try! JSONSerialization.data(withJSONObject: json)
            }
            do { _ = try ContainerReader(contentsOf: target).allTensors(); return nil } catch { return (error as? FormatError)?.reason.root }
        }
        func editTensor(_ body: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            { json in var tensors = json["tensors"] as! [[String: Any]]; body(&tensors[0]); json["tensors"] = tensors }
        }
        func editChunk(_ body: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            editTensor { t in var chunks = t["chunks"] as! [[String: Any]]; body(&chunks[0]); t["chunks"] = chunks }
        }
        func isOverflow(_ reason: FormatError.Reason?) -> Bool { if case .arithmeticOverflow = reason { return true } else { return false } }
        func isOutside(_ reason: FormatError.Reason?) -> Bool {
            if case .malformed(_, let detail) = reason, detail.hasPrefix("lies outside the data region") { return true } else { return false }
        }
        XCTAssertTrue(isOverflow(try attempt(editTensor { $0["shape"] = [1 << 40, 1 << 40] })))
        XCTAssertEqual(try attempt(editTensor { $0["shape"] = [-1] }),
                       .invalidValue(field: "a dimension of shape [-1]", value: "-1", expected: "a non-negative size"))
        if case .malformed("chunks", let detail) = try attempt(editTensor { $0["shape"] = [17] }) {
            XCTAssertTrue(detail.hasSuffix("needs 68"), detail)
        } else { XCTFail("a shape larger than the chunks is accepted") }
        XCTAssertEqual(try attempt(editTensor { $0["dtype"] = "f128" }), .unsupportedDType("f128"))
        if case .invalidValue("codec", "'lzma'", _) = try attempt(editTensor { $0["codec"] = "lzma" }) {} else { XCTFail("unknown codec accepted") }
        XCTAssertTrue(isOutside(try attempt(editChunk { $0["offset"] = 1 << 50 })))
        XCTAssertTrue(isOutside(try attempt(editChunk { $0["offset"] = Int.max & ~63 })))
        XCTAssertTrue(isOutside(try attempt(editChunk { $0["offset"] = 0 })))
        XCTAssertTrue(isOutside(try attempt(editChunk { $0["length"] = Int.max })))
        if case .invalidValue("size", "1099511627776", _) = try attempt(editChunk { $0["size"] = 1 << 40 }) {} else { XCTFail("huge chunk size accepted") }
        XCTAssertEqual(try attempt(editChunk { $0["xxh3"] = "zz" }), .invalidValue(field: "xxh3", value: "'zz'", expected: "16 lowercase hex digits"))
        XCTAssertEqual(try attempt(editTensor { $0["aliases"] = ["w"] }), .duplicateName(kind: "tensor", name: "w"))
        if case .malformed("index", let detail) = try attempt({ $0["tensors"] = "nope" }) {
            XCTAssertTrue(detail.hasSuffix("wrong type at tensors"), detail)
        } else { XCTFail("an index of the wrong shape is accepted") }
    }

    func testOverlappingChunksAreRefused() throws {
        let url = try write(Checkpoint(tensors: [
            NamedTensor(name: "a", tensor: try Self.sampleTensor(.f32, count: 16)),
            NamedTensor(name: "b", tensor: try Self.sampleTensor(.f32, count: 16)),
        ]), codec: .raw)
        let target = try rewrite(url, version: .current) { index in
            var json = try! JSONSerialization.jsonObject(with: index) as! [String: Any]
            var tensors = json["tensors"] as! [[String: Any]]
            var chunks = tensors[1]["chunks"] as! [[String: Any]]
            chunks[0]["offset"] = (tensors[0]["chunks"] as! [[String: Any]])[0]["offset"]
            tensors[1]["chunks"] = chunks
            json["tensors"] = tensors
            return try! JSONSerialization.data(withJSONObject: json)
        }
        XCTAssertThrowsError(try ContainerReader(contentsOf: target)) { error in
            if case .malformed(_, let detail) = (error as? FormatError)?.reason.root {
                XCTAssertTrue(detail.hasPrefix("overlaps"), detail)
            } else { XCTFail("\(error)") }
        }
    }
}
