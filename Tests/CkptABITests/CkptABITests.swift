import Foundation
import XCTest
@testable import CkptABI
import Format

/// The C ABI called as a C caller would (through the `@_cdecl` functions), checked
/// against the Format module's own reader: statuses, messages, ownership of returned texts.
final class CkptABITests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-abi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Calls `body` with a message out-parameter; returns the status and the message (freed).
    func status(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32) -> (Int32, String?) {
        var message: UnsafeMutablePointer<CChar>? = UnsafeMutablePointer(bitPattern: 0xdead) // must be overwritten
        let code = body(&message)
        defer { ckpt_free(message) }
        return (code, message.map { String(cString: $0) })
    }

    func write(_ path: String, tensors: String, data: [[UInt8]], structure: String?, metadata: String? = nil,
               codec: String? = nil) -> (Int32, String?) {
        let buffers = data.map { bytes -> UnsafeMutableRawPointer in
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
            p.copyMemory(from: bytes, byteCount: bytes.count)
            return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        let pointers: [UnsafeRawPointer?] = buffers.map { UnsafeRawPointer($0) }
        let lengths = data.map { UInt64($0.count) }
        return status { message in
            ckpt_write(path, tensors, pointers, lengths, Int64(data.count), structure, metadata, codec, Int32.min, 0, message)
        }
    }

    func testWriteThenReadThroughTheFormatReader() throws {
        let path = directory.appendingPathComponent("a.ckpt").path
        let w: [UInt8] = (0..<4096).map { UInt8($0 % 7) } // 32 x 32 f32 that zstd shrinks (a tensor that does not is stored raw)
        let (code, message) = write(path, tensors: #"[{"name":"model.w","aliases":["model.tied"],"dtype":"f32","shape":[32,32]},{"name":"step","dtype":"i64","shape":[]}]"#,
                                    data: [w, [7, 0, 0, 0, 0, 0, 0, 0]],
                                    structure: #"{"dict":[[{"str":"model"},{"ordered_dict":[[{"str":"w"},{"tensor":"model.w"}],[{"str":"tied"},{"tensor":"model.tied"}]]}],[{"int":"0"},{"tensor":"step"}],[{"str":"lr"},{"float":"0.001"}]]}"#,
                                    metadata: #"{"epoch":3}"#, codec: "zstd")
        XCTAssertEqual(code, 0, message ?? "")
        XCTAssertNil(message)
        let reader = try ContainerReader(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(try reader.tensor(named: "model.tied").data, Data(w))
        XCTAssertEqual(reader.manifest.tensors.map(\.codec), [.zstd, .raw])
        XCTAssertEqual(try reader.metadata(), .object(["epoch": .number(3)]))
        guard case .dict(let entries, ordered: false)? = try reader.structure() else { return XCTFail("no structure") }
        XCTAssertEqual(entries.map(\.key), [.string("model"), .int(0), .string("lr")])
        XCTAssertEqual(entries[2].value, .float(0.001))

        var handle: UnsafeMutableRawPointer?
        XCTAssertEqual(status { ckpt_reader_open(path, &handle, $0) }.0, 0)
        defer { ckpt_reader_close(handle) }
        var out = [UInt8](repeating: 0, count: 4096)
        let decoded = out.withUnsafeMutableBytes { buffer -> Int32 in
            let names: [UnsafePointer<CChar>?] = [UnsafePointer(strdup("model.tied"))]
            defer { free(UnsafeMutableRawPointer(mutating: names[0])) }
            return status { ckpt_reader_decode(handle, names, [buffer.baseAddress], [4096], 1, $0) }.0
        }
        XCTAssertEqual(decoded, 0)
        XCTAssertEqual(out, w)
        // A compressed tensor has no view of the map: NULL, status 0.
        var view: UnsafeRawPointer? = UnsafeRawPointer(bitPattern: 1)
        var offset: UInt64 = 9, length: UInt64 = 9
        XCTAssertEqual(status { ckpt_reader_view(handle, "model.w", &view, &offset, &length, $0) }.0, 0)
        XCTAssertNil(view)
        XCTAssertEqual(length, 0)
        // The raw one is a view of the map at its offset in the file.
        XCTAssertEqual(status { ckpt_reader_view(handle, "step", &view, &offset, &length, $0) }.0, 0)
        XCTAssertEqual(length, 8)
        let file = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(file[Int(offset)..<Int(offset) + 8], Data([7, 0, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(view.map { Data(bytes: $0, count: 8) }, Data([7, 0, 0, 0, 0, 0, 0, 0]))
        var json: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(status { ckpt_reader_architecture(handle, &json, $0) }.0, 0)
        XCTAssertNil(json) // none stored
    }

    func testOpeningADescriptorReadsThatFileWhateverThePathNowHolds() throws {
        let path = directory.appendingPathComponent("fd.ckpt").path
        XCTAssertEqual(write(path, tensors: #"[{"name":"first","dtype":"u8","shape":[1]}]"#, data: [[1]], structure: nil).0, 0)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        XCTAssertEqual(write(path, tensors: #"[{"name":"second","dtype":"u8","shape":[1]}]"#, data: [[2]], structure: nil).0, 0)
        var handle: UnsafeMutableRawPointer?
        XCTAssertEqual(status { ckpt_reader_open_fd(fd, "shown.ckpt", &handle, $0) }.0, 0)
        defer { ckpt_reader_close(handle) }
        var json: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(status { ckpt_reader_tensors(handle, &json, $0) }.0, 0)
        defer { ckpt_free(json) }
        XCTAssertTrue(json.map { String(cString: $0) }?.contains(#""name":"first""#) == true)
        var bad: UnsafeMutableRawPointer?
        let (code, message) = status { ckpt_reader_open_fd(-1, "shown.ckpt", &bad, $0) }
        XCTAssertEqual(code, ErrorCode.io.rawValue)
        XCTAssertTrue(message?.hasPrefix("shown.ckpt: ") == true, message ?? "")
    }

    func testStatusesAreTheCodeOfTheReasonFamily() throws {
        let missing = directory.appendingPathComponent("missing.ckpt").path
        var handle: UnsafeMutableRawPointer?
        let (code, message) = status { ckpt_reader_open(missing, &handle, $0) }
        XCTAssertEqual(code, ErrorCode.io.rawValue)
        XCTAssertNil(handle)
        XCTAssertTrue(message?.contains("missing.ckpt") == true)
        XCTAssertEqual(status { ckpt_reader_open(nil, &handle, $0) }.0, ErrorCode.argument.rawValue)

        let path = directory.appendingPathComponent("b.ckpt").path
        // Bytes that are not dtype x shape.
        XCTAssertEqual(write(path, tensors: #"[{"name":"w","dtype":"f32","shape":[2]}]"#, data: [[1, 2, 3]], structure: nil).0,
                       ErrorCode.malformed.rawValue)
        XCTAssertEqual(write(path, tensors: #"[{"name":"w","dtype":"u8","shape":[1]},{"name":"w","dtype":"u8","shape":[1]}]"#,
                             data: [[1], [2]], structure: nil).0, ErrorCode.invalid.rawValue)
        XCTAssertEqual(write(path, tensors: #"[{"name":"w","dtype":"f128","shape":[1]}]"#, data: [[1]], structure: nil).0,
                       ErrorCode.unsupported.rawValue)
        XCTAssertEqual(write(path, tensors: "not json", data: [], structure: nil).0, ErrorCode.argument.rawValue)
        // A structure naming a tensor the file does not have.
        XCTAssertEqual(write(path, tensors: "[]", data: [], structure: #"{"list":[{"tensor":"ghost"}]}"#).0, ErrorCode.notFound.rawValue)
        XCTAssertEqual(write(path, tensors: "[]", data: [], structure: #"{"set":[]}"#).0, ErrorCode.invalid.rawValue)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))

        XCTAssertEqual(ErrorCode(.checksumMismatch(what: "x")), .checksum)
        XCTAssertEqual(ErrorCode(.context("tensor 'w'", .truncated(what: "x", needed: 2, available: 1))), .truncated)
        XCTAssertEqual(ErrorCode(.tooDeep(what: "x", limit: 1)), .limit)
        XCTAssertEqual(ErrorCode(.unrecognisedFile(detail: "x")), .unrecognised)
    }

    func testACorruptChunkIsAChecksumStatusNamingTheTensor() throws {
        let path = directory.appendingPathComponent("c.ckpt").path
        let bytes = [UInt8](repeating: 0x5a, count: 4096)
        XCTAssertEqual(write(path, tensors: #"[{"name":"w","dtype":"u8","shape":[4096]}]"#, data: [bytes], structure: nil, codec: "raw").0, 0)
        var file = try Data(contentsOf: URL(fileURLWithPath: path))
        file[64 + 100] ^= 0xff // inside the one chunk: the data region starts after the 64-byte header
        try file.write(to: URL(fileURLWithPath: path))
        var handle: UnsafeMutableRawPointer?
        XCTAssertEqual(status { ckpt_reader_open(path, &handle, $0) }.0, 0)
        defer { ckpt_reader_close(handle) }
        var view: UnsafeRawPointer?
        var offset: UInt64 = 0, length: UInt64 = 0
        let (code, message) = status { ckpt_reader_view(handle, "w", &view, &offset, &length, $0) }
        XCTAssertEqual(code, ErrorCode.checksum.rawValue)
        XCTAssertTrue(message?.contains("tensor 'w' chunk 0") == true, message ?? "")
        XCTAssertEqual(status { ckpt_reader_verify(handle, $0) }.0, ErrorCode.checksum.rawValue)
    }
}
