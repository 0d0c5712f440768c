import Foundation
import XCTest
import ZIPFoundation
@testable import Format

/// Readers and writers for safetensors, npy and npz, checked against files written by
/// numpy, the safetensors library and PyTorch (see fixtures/interop/make_interop_fixtures.py).
final class InteropTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let interop = packageRoot.appendingPathComponent("fixtures/interop")
    static let torch = packageRoot.appendingPathComponent("fixtures/torch")

    /// numpy's own view of an array: dtype, shape and little-endian C-order bytes.
    struct Expected: Decodable {
        var name: String?
        var dtype: String
        var shape: [Int]
        var hex: String
    }

    struct ExpectedFile: Decodable {
        var npy: [String: Expected]
        var npz: [String: [Expected]]
        var safetensors: [String: Expected]
        var safetensors_metadata: [String: String]
    }

    static let expected: ExpectedFile = {
        let url = interop.appendingPathComponent("expected.json")
        guard let data = try? Data(contentsOf: url),
              let decoded = try? JSONDecoder().decode(ExpectedFile.self, from: data) else {
            fatalError("cannot load \(url.path); run fixtures/interop/make_interop_fixtures.py")
        }
        return decoded
    }()

    // MARK: Helpers

    func fixture(_ path: String) -> URL { Self.interop.appendingPathComponent(path) }

    func torchFixture(_ model: String, _ file: String) -> URL {
        Self.torch.appendingPathComponent(model).appendingPathComponent(file)
    }

    func bytes(hex: String) -> Data {
        var data = Data()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            data.append(UInt8(hex[index ..< next], radix: 16)!)
            index = next
        }
        return data
    }

    func assertTensor(_ tensor: Tensor?, equals expected: Expected, _ label: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        guard let tensor else { return XCTFail("\(label): missing", file: file, line: line) }
        XCTAssertEqual(tensor.dtype.rawValue, expected.dtype, label, file: file, line: line)
        XCTAssertEqual(tensor.shape, expected.shape, label, file: file, line: line)
        XCTAssertEqual(tensor.data, bytes(hex: expected.hex), label, file: file, line: line)
    }

    /// Runs `body` and checks that it throws a FormatError whose message contains `fragment`.
    func assertRefuses(_ fragment: String, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("accepted; expected an error containing \"\(fragment)\"", file: file, line: line)
        } catch let error as FormatError {
            XCTAssertTrue(error.message.contains(fragment), "\"\(error.message)\" lacks \"\(fragment)\"", file: file, line: line)
            XCTAssertFalse(error.message.contains("\n"), "message spans lines: \(error.message)", file: file, line: line)
        } catch {
            XCTFail("threw \(type(of: error)), not FormatError: \(error)", file: file, line: line)
        }
    }

    /// Runs `body` and checks that it throws a FormatError whose innermost reason is `expected`,
    /// and whose message is one line.
    func assertReason(_ expected: FormatError.Reason, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("accepted; expected \(expected)", file: file, line: line)
        } catch let error as FormatError {
            XCTAssertEqual(error.reason.root, expected, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "message spans lines: \(error)", file: file, line: line)
        } catch {
            XCTFail("threw \(type(of: error)), not FormatError: \(error)", file: file, line: line)
        }
    }

    /// A safetensors file made by hand, for malformed headers the library would never write.
    func safetensors(header: String, dataBytes: Int) -> Data {
        var data = Data(withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init))
        data.append(contentsOf: Array(header.utf8))
        data.append(Data(count: dataBytes))
        return data
    }

    /// A version 1.0 npy file with the given header text and payload.
    func npy(header: String, payload: [UInt8]) -> Data {
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        data.append(contentsOf: withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian, Array.init))
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: payload)
        return data
    }

    func tensor(_ dtype: DType, _ shape: [Int], _ bytes: [UInt8]) throws -> Tensor {
        try Tensor(dtype: dtype, shape: shape, data: Data(bytes))
    }

    /// The header of a safetensors file as parsed JSON.
    func header(of data: Data) throws -> [String: Any] {
        let length = Int(data.littleEndian(UInt64.self, at: 0))
        let object = try JSONSerialization.jsonObject(with: data[(data.startIndex + 8) ..< (data.startIndex + 8 + length)])
        return try XCTUnwrap(object as? [String: Any])
    }

    /// Top-level keys of a keys.json, in file (state_dict) order.
    func stateDictKeys(_ model: String) throws -> [String] {
        let text = try String(contentsOf: torchFixture(model, "keys.json"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix(" \""), line.hasSuffix("\": {") else { return nil }
            return String(line.dropFirst(2).dropLast(4))
        }
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    // MARK: npy

    func testNpyEveryDTypeAndByteOrderMatchesNumpy() throws {
        XCTAssertEqual(Self.expected.npy.count, 29)
        for (file, expected) in Self.expected.npy.sorted(by: { $0.key < $1.key }) {
            assertTensor(try Npy.read(contentsOf: fixture("npy/" + file)), equals: expected, file)
        }
    }

    func testNpyBigEndianAndFortranGiveNumpysCOrderView() throws {
        for dtype in ["f64", "f32", "f16", "i64", "i32", "i16", "u16", "u32", "u64", "c64"] {
            let little = try Npy.read(contentsOf: fixture("npy/\(dtype)_le.npy"))
            let big = try Npy.read(contentsOf: fixture("npy/\(dtype)_be.npy"))
            XCTAssertEqual(big.data, little.data, dtype)
        }
        let cube = try Npy.read(contentsOf: fixture("npy/fortran_f32.npy"))
        XCTAssertEqual(cube.shape, [2, 3, 4])
        // numpy: np.arange(24).reshape(2, 3, 4) * 0.5 - 3, so element [1, 2, 3] is index 23.
        let last = cube.data.withUnsafeBytes { $0.load(fromByteOffset: 23 * 4, as: Float.self) }
        XCTAssertEqual(last, 8.5)
        let bigCube = try Npy.read(contentsOf: fixture("npy/fortran_i32_be.npy"))
        XCTAssertEqual(bigCube.shape, [4, 3, 2])
        let values = bigCube.data.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        XCTAssertEqual(values, (0 ..< 24).map { Int32($0 * 1000 - 7000) })
    }

    func testNpyEncodeIsByteIdenticalToNumpySave() throws {
        for (file, expected) in Self.expected.npy where file.hasSuffix("_le.npy") || file == "scalar.npy" || file == "empty.npy" {
            let original = try Data(contentsOf: fixture("npy/" + file))
            XCTAssertEqual(try Npy.encode(Npy.read(data: original)), original, file)
            // Big-endian, Fortran-order and v2/v3 files come back as numpy's little-endian C-order save.
            if let big = Self.expected.npy[file.replacingOccurrences(of: "_le", with: "_be")], file.hasSuffix("_le.npy") {
                let converted = try Npy.read(contentsOf: fixture("npy/" + file.replacingOccurrences(of: "_le", with: "_be")))
                XCTAssertEqual(try Npy.encode(converted), original, file)
                XCTAssertEqual(big.hex, expected.hex)
            }
        }
        for file in ["fortran_f32.npy", "v2.npy", "v3.npy"] {
            let reread = try Npy.read(data: Npy.encode(Npy.read(contentsOf: fixture("npy/" + file))))
            assertTensor(reread, equals: try XCTUnwrap(Self.expected.npy[file]), file)
        }
    }

    func testNpyWriteIsAtomicAndReadable() throws {
        let url = try temporaryDirectory().appendingPathComponent("x.npy")
        let original = try tensor(.u16, [2, 2], [1, 0, 2, 0, 3, 0, 4, 0])
        try Npy.write(original, to: url)
        XCTAssertEqual(try Npy.read(contentsOf: url).data, original.data)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["x.npy"])
    }

    func testNpyRefusesWhatCkptCannotHold() throws {
        assertRefuses("object arrays") { _ = try Npy.read(contentsOf: fixture("npy/object.npy")) }
        assertReason(.refused(what: "a structured dtype (records with named fields)", why: "it is not supported")) { _ = try Npy.read(contentsOf: fixture("npy/structured.npy")) }
        assertReason(.unsupportedDType("<c16")) { _ = try Npy.read(contentsOf: fixture("npy/complex128.npy")) }
        for dtype in [DType.bf16, .f8e4m3, .f8e5m2, .f8e8m0] {
            let value = try Tensor(dtype: dtype, shape: [1], data: Data(count: dtype.size))
            assertRefuses("numpy has no dtype for \(dtype.rawValue); save it as safetensors or .ckpt") { _ = try Npy.encode(value) }
        }
    }

    func testNpyHeaderParsingIsTolerantOfPythonSpelling() throws {
        let header = "{ \"shape\" : (2,1) ,'descr':'>i2','fortran_order' : False }  \n"
        let value = try Npy.read(data: npy(header: header, payload: [0, 1, 0xFF, 0xFE]))
        XCTAssertEqual(value.shape, [2, 1])
        XCTAssertEqual(Array(value.data), [1, 0, 0xFE, 0xFF])
        let scalar = try Npy.read(data: npy(header: "{'descr': '|u1', 'fortran_order': True, 'shape': ()}", payload: [7]))
        XCTAssertEqual(scalar.shape, [])
    }

    func testNpyMalformedInputsThrow() throws {
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
        XCTAssertNoThrow(try Npy.read(data: npy(header: good, payload: Array(repeating: 0, count: 8))))
        assertReason(.truncated(what: "the data of <f4[2]", needed: 8, available: 7)) { _ = try Npy.read(data: npy(header: good, payload: Array(repeating: 0, count: 7))) }
        assertReason(.malformed(what: "the array data", detail: "1 unexpected bytes follow it")) {
            _ = try Npy.read(data: npy(header: good, payload: Array(repeating: 0, count: 9)))
        }
        assertRefuses("missing the \\x93NUMPY magic") { _ = try Npy.read(data: Data("PK\u{3}\u{4}hello".utf8)) }
        assertReason(.unsupportedVersion(what: ".npy format", found: "4.0", supported: "1.0, 2.0 and 3.0")) {
            var data = npy(header: good, payload: Array(repeating: 0, count: 8))
            data[6] = 4
            _ = try Npy.read(data: data)
        }
        assertReason(.truncated(what: "the .npy header", needed: 400, available: 58)) {
            var data = npy(header: good, payload: [])
            data[8] = 0x90
            data[9] = 0x01
            _ = try Npy.read(data: data)
        }
        assertReason(.invalidValue(field: "a dimension of shape [-2, 3]", value: "-2", expected: "a non-negative size")) {
            _ = try Npy.read(data: npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", payload: []))
        }
        assertReason(.arithmeticOverflow(what: "the element count of shape [4294967296, 4294967296]")) {
            _ = try Npy.read(data: npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", payload: []))
        }
        assertReason(.notFound(kind: "key", name: "fortran_order")) {
            _ = try Npy.read(data: npy(header: "{'descr': '<f4', 'shape': (2,)}", payload: []))
        }
        assertReason(.invalidValue(field: "'shape'", value: "an integer", expected: "a tuple")) {
            _ = try Npy.read(data: npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", payload: []))
        }
        assertReason(.duplicateName(kind: ".npy header key", name: "descr")) {
            _ = try Npy.read(data: npy(header: "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", payload: []))
        }
        assertReason(.tooDeep(what: "the .npy header literal", limit: 32)) {
            _ = try Npy.read(data: npy(header: String(repeating: "(", count: 10_000), payload: []))
        }
        for broken in ["{'descr': '<f4'", "{'descr: '<f4'}", "[1, 2]", "{'descr': '<f4', 'fortran_order': Nope}", ""] {
            XCTAssertThrowsError(try Npy.read(data: npy(header: broken, payload: []))) { error in
                XCTAssertTrue(error is FormatError, broken)
            }
        }
        // Every truncation of a real file is refused, none crashes.
        let real = try Data(contentsOf: fixture("npy/fortran_i32_be.npy"))
        for length in 0 ..< real.count {
            XCTAssertThrowsError(try Npy.read(data: real.prefix(length)), "prefix \(length)")
        }
    }

    // MARK: npz

    func testNpzStoredAndDeflatedMatchNumpy() throws {
        for (file, members) in Self.expected.npz {
            let checkpoint = try Npz.read(contentsOf: fixture(file))
            XCTAssertEqual(checkpoint.tensors.map(\.name), members.compactMap(\.name), file)
            for member in members {
                assertTensor(checkpoint.tensor(named: member.name ?? ""), equals: member, "\(file): \(member.name ?? "")")
            }
        }
    }

    func testNpzWritesEveryNameAsAStoredMember() throws {
        let weight = try tensor(.f32, [1, 2], [0, 0, 128, 63, 0, 0, 0, 64])
        let checkpoint = Checkpoint(tensors: [
            NamedTensor(name: "enc.weight", aliases: ["dec.weight"], tensor: weight),
            NamedTensor(name: "flags", tensor: try tensor(.bool, [3], [1, 0, 1])),
        ], metadata: .object(["ignored": .string("npz has no metadata")]))
        let url = try temporaryDirectory().appendingPathComponent("model.npz")
        try Npz.write(checkpoint, to: url)
        let archive = try Archive(url: url, accessMode: .read)
        XCTAssertEqual(archive.map(\.path), ["enc.weight.npy", "dec.weight.npy", "flags.npy"])
        XCTAssertTrue(archive.allSatisfy { !$0.isCompressed })
        let reread = try Npz.read(contentsOf: url)
        XCTAssertEqual(reread.tensors.map(\.name), ["enc.weight", "dec.weight", "flags"])
        XCTAssertEqual(reread.tensor(named: "dec.weight")?.data, weight.data)
        XCTAssertNil(reread.metadata)
        // Writing is deterministic: member timestamps are fixed.
        XCTAssertEqual(try Npz.encode(checkpoint), try Data(contentsOf: url))
        assertRefuses("numpy has no dtype for bf16") {
            _ = try Npz.encode(Checkpoint(tensors: [NamedTensor(name: "h", tensor: try tensor(.bf16, [1], [0, 0]))]))
        }
    }

    /// Reads an npz from bytes by way of a file (the npz reader works on files only).
    func readNpz(_ data: Data) throws -> Checkpoint {
        let url = try temporaryDirectory().appendingPathComponent("archive.npz")
        try data.write(to: url)
        return try Npz.read(contentsOf: url)
    }

    /// An npz built member by member, for archives numpy would never write.
    func zip(_ members: [(path: String, data: Data)]) throws -> Data {
        let archive = try Archive(accessMode: .create)
        for member in members {
            try archive.addEntry(with: member.path, type: .file, uncompressedSize: Int64(member.data.count)) { position, size in
                member.data.subdata(in: Int(position) ..< Int(position) + size)
            }
        }
        return try XCTUnwrap(archive.data)
    }

    func testNpzMalformedInputsThrow() throws {
        let member = try Npy.encode(try tensor(.u8, [2], [1, 2]))
        XCTAssertNoThrow(try readNpz(zip([("a.npy", member)])))
        assertReason(.refused(what: "member name '../evil.npy'", why: "it is absolute or climbs out with '..'")) { _ = try readNpz(zip([("../evil.npy", member)])) }
        assertReason(.refused(what: "member name '/abs.npy'", why: "it is absolute or climbs out with '..'")) { _ = try readNpz(zip([("/abs.npy", member)])) }
        assertReason(.duplicateName(kind: "npz member", name: "a.npy")) { _ = try readNpz(zip([("a.npy", member), ("a.npy", member)])) }
        assertReason(.refused(what: "member 'notes.txt'", why: "it is not a .npy file")) { _ = try readNpz(zip([("notes.txt", member)])) }
        assertReason(.truncated(what: "the data of |u1[2]", needed: 2, available: 1)) { _ = try readNpz(zip([("a.npy", member.dropLast())])) }
        assertRefuses("not a readable zip archive") { _ = try readNpz(Data("not a zip at all".utf8)) }

        // A central directory that claims a huge member must not size an allocation.
        var lying = try zip([("a.npy", member)])
        let signature: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
        let central = try XCTUnwrap(lying.range(of: Data(signature))).lowerBound
        lying.replaceSubrange((central + 24) ..< (central + 28), with: [0xFF, 0xFF, 0xFF, 0x7F])
        assertRefuses("claims 2147483647 bytes") { _ = try readNpz(lying) }

        // A damaged directory entry must not just make the archive look shorter.
        var damaged = try zip([("a.npy", member), ("b.npy", member)])
        let first = try XCTUnwrap(damaged.range(of: Data(signature))).lowerBound
        let second = try XCTUnwrap(damaged.range(of: Data(signature), in: (first + 4) ..< damaged.endIndex)).lowerBound
        damaged[second] = 0
        assertReason(.malformed(what: "zip central directory entry 1", detail: "missing or damaged")) { _ = try readNpz(damaged) }

        // Truncations of a real numpy archive throw, never crash.
        let real = try Data(contentsOf: fixture("deflated.npz"))
        for length in stride(from: 0, to: real.count, by: 7) {
            XCTAssertThrowsError(try readNpz(real.prefix(length)), "prefix \(length)")
        }
    }

    // MARK: safetensors

    func testSafetensorsEveryDTypeAndMetadata() throws {
        let checkpoint = try Safetensors.read(contentsOf: fixture("all_dtypes.safetensors"))
        XCTAssertEqual(Set(checkpoint.tensors.map(\.tensor.dtype)), Set(DType.allCases))
        XCTAssertEqual(checkpoint.tensors.count, Self.expected.safetensors.count)
        for (name, expected) in Self.expected.safetensors {
            assertTensor(checkpoint.tensor(named: name), equals: expected, name)
        }
        XCTAssertEqual(checkpoint.metadata, .object(Self.expected.safetensors_metadata.mapValues { .string($0) }))
        assertReason(.unsupportedDType("F4 (4-bit float)")) {
            _ = try Safetensors.read(contentsOf: fixture("f4.safetensors"))
        }
    }

    func testSafetensorsRoundTripMatchesThePythonLibrary() throws {
        // Same header (metadata key order aside) and the same data buffer, byte for byte.
        let original = try Data(contentsOf: fixture("all_dtypes.safetensors"))
        let encoded = try Safetensors.encode(Safetensors.read(data: original))
        XCTAssertEqual(NSDictionary(dictionary: try header(of: encoded)), NSDictionary(dictionary: try header(of: original)))
        XCTAssertEqual(encoded.count, original.count)
        XCTAssertEqual(encoded.suffix(258), original.suffix(258))
        // Files without metadata come back identical.
        for model in ["mlp", "tied", "lenet"] {
            let file = try Data(contentsOf: torchFixture(model, "model.safetensors"))
            XCTAssertEqual(try Safetensors.encode(Safetensors.read(data: file)), file, model)
        }
    }

    func testSafetensorsReadIsZeroCopy() throws {
        let file = try Data(contentsOf: fixture("all_dtypes.safetensors"))
        let checkpoint = try Safetensors.read(data: file)
        let fileBase = file.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        for named in checkpoint.tensors where !named.tensor.data.isEmpty {
            let base = named.tensor.data.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
            XCTAssertTrue(base >= fileBase && base < fileBase + UInt(file.count), named.name)
        }
    }

    func testTorchFixturesAgreeAcrossFormats() throws {
        for model in ["mlp", "tied", "lenet"] {
            let keys = try stateDictKeys(model)
            let npz = try Npz.read(contentsOf: torchFixture(model, "model.npz"))
            let safetensors = try Safetensors.read(contentsOf: torchFixture(model, "model.safetensors"))
            XCTAssertEqual(npz.tensors.map(\.name), keys, model)
            XCTAssertEqual(Set(safetensors.allNames).subtracting(keys), [], model)
            for named in safetensors.tensors {
                let twin = try XCTUnwrap(npz.tensor(named: named.name), named.name)
                XCTAssertEqual(named.tensor.dtype, .f32)
                XCTAssertEqual(named.tensor.shape, twin.shape, named.name)
                XCTAssertEqual(named.tensor.data, twin.data, named.name)
            }
        }
    }

    func testTiedWeightsSurviveSafetensorsThroughAliases() throws {
        // PyTorch's safetensors export kept `2.*` once and dropped its tie `4.*`; the npz has both.
        let npz = try Npz.read(contentsOf: torchFixture("tied", "model.npz"))
        let python = try Data(contentsOf: torchFixture("tied", "model.safetensors"))
        XCTAssertNil(try Safetensors.read(data: python).tensor(named: "4.weight"))
        XCTAssertEqual(npz.tensor(named: "4.weight")?.data, npz.tensor(named: "2.weight")?.data)

        var tied = Checkpoint(tensors: npz.tensors.filter { !$0.name.hasPrefix("4.") })
        for index in tied.tensors.indices where tied.tensors[index].name.hasPrefix("2.") {
            tied.tensors[index].aliases = ["4" + tied.tensors[index].name.dropFirst()]
        }
        let encoded = try Safetensors.encode(tied)
        var ours = try header(of: encoded)
        let metadata = try XCTUnwrap(ours["__metadata__"] as? [String: String])
        XCTAssertEqual(metadata, [Safetensors.aliasesKey: #"{"4.bias":"2.bias","4.weight":"2.weight"}"#])
        ours["__metadata__"] = nil
        XCTAssertEqual(NSDictionary(dictionary: ours), NSDictionary(dictionary: try header(of: python)))
        XCTAssertEqual(encoded.suffix(484), python.suffix(484))

        let reread = try Safetensors.read(data: encoded)
        XCTAssertNil(reread.metadata)
        XCTAssertEqual(reread.tensors.first { $0.name == "2.weight" }?.aliases, ["4.weight"])
        XCTAssertEqual(reread.tensors.first { $0.name == "2.bias" }?.aliases, ["4.bias"])
        XCTAssertEqual(Set(reread.allNames), Set(try stateDictKeys("tied")))
        XCTAssertEqual(try Safetensors.encode(reread), encoded)
    }

    func testSafetensorsMetadataExport() throws {
        let value = try tensor(.i8, [1], [5])
        var checkpoint = Checkpoint(tensors: [NamedTensor(name: "x", tensor: value)],
                                    metadata: .object(["format": .string("pt"), "epoch": .number(3), "tags": .array([.string("a")])]))
        var metadata = try header(of: Safetensors.encode(checkpoint))["__metadata__"] as? [String: String]
        XCTAssertEqual(metadata, ["format": "pt", "epoch": "3", "tags": #"["a"]"#])
        XCTAssertEqual(try Safetensors.read(data: Safetensors.encode(checkpoint)).metadata,
                       .object(["format": .string("pt"), "epoch": .string("3"), "tags": .string(#"["a"]"#)]))

        checkpoint.metadata = .array([.number(1), .bool(true)])
        metadata = try header(of: Safetensors.encode(checkpoint))["__metadata__"] as? [String: String]
        XCTAssertEqual(metadata, [Safetensors.nonObjectMetadataKey: "[1,true]"])
        XCTAssertEqual(try Safetensors.read(data: Safetensors.encode(checkpoint)).metadata, checkpoint.metadata)

        checkpoint.metadata = nil
        XCTAssertNil(try header(of: Safetensors.encode(checkpoint))["__metadata__"])
        checkpoint.metadata = .object([Safetensors.aliasesKey: .string("{}")])
        checkpoint.tensors[0].aliases = ["y"]
        assertReason(.refused(what: "metadata key 'ckpt.aliases'", why: "it is reserved for recording aliases")) { _ = try Safetensors.encode(checkpoint) }
        checkpoint.metadata = nil
        checkpoint.tensors.append(NamedTensor(name: "y", tensor: value))
        assertReason(.duplicateName(kind: "tensor", name: "y")) { _ = try Safetensors.encode(checkpoint) }
        assertReason(.refused(what: "tensor name '__metadata__'", why: "it is reserved by safetensors")) {
            _ = try Safetensors.encode(Checkpoint(tensors: [NamedTensor(name: "__metadata__", tensor: value)]))
        }
    }

    func testSafetensorsIgnoresInvalidAliasRecords() throws {
        for record in [#"{"b":"missing"}"#, #"{"a":"a"}"#, "not json", #"{"b":3}"#] {
            let header = #"{"__metadata__":{"ckpt.aliases":\#(jsonQuoted(record))},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
            let checkpoint = try Safetensors.read(data: safetensors(header: header, dataBytes: 1))
            XCTAssertEqual(checkpoint.tensors.map(\.aliases), [[]], record)
            XCTAssertEqual(checkpoint.metadata, .object([Safetensors.aliasesKey: .string(record)]), record)
        }
    }

    func jsonQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    func testSafetensorsWriteIsAtomicAndReadable() throws {
        let url = try temporaryDirectory().appendingPathComponent("model.safetensors")
        let python = try Safetensors.read(contentsOf: torchFixture("mlp", "model.safetensors"))
        try Safetensors.write(python, to: url)
        XCTAssertEqual(try Data(contentsOf: url), try Data(contentsOf: torchFixture("mlp", "model.safetensors")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["model.safetensors"])
        XCTAssertEqual(Safetensors.jsonString("a\"b\\c\n\u{1}é"), #""a\"b\\c\n\u0001é""#)
    }

    func testSafetensorsMalformedInputsThrow() throws {
        let f32 = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertNoThrow(try Safetensors.read(data: safetensors(header: f32, dataBytes: 8)))
        let real = try Data(contentsOf: torchFixture("tied", "model.safetensors"))

        assertRefuses("too short for a safetensors header") { _ = try Safetensors.read(data: real.prefix(5)) }
        assertReason(.truncated(what: "the safetensors header", needed: 384, available: 100)) {
            _ = try Safetensors.read(data: real.prefix(108))
        }
        assertReason(.limitExceeded(what: "the safetensors header length", value: 1 << 40, limit: 100_000_000)) {
            var huge = real
            huge.replaceSubrange(0 ..< 8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init))
            _ = try Safetensors.read(data: huge)
        }
        assertRefuses("header does not start with '{'") { _ = try Safetensors.read(data: safetensors(header: "[]", dataBytes: 0)) }
        assertReason(.malformed(what: "the safetensors header", detail: "it is not valid JSON")) { _ = try Safetensors.read(data: safetensors(header: "{\"a\":", dataBytes: 0)) }
        assertRefuses("tensor 'a': entry is not an object") { _ = try Safetensors.read(data: safetensors(header: #"{"a":[1]}"#, dataBytes: 0)) }
        assertReason(.malformed(what: "__metadata__", detail: "must be an object of string values")) {
            _ = try Safetensors.read(data: safetensors(header: #"{"__metadata__":{"n":1}}"#, dataBytes: 0))
        }
        assertRefuses("tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]") {
            let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
            _ = try Safetensors.read(data: safetensors(header: header, dataBytes: 12))
        }
        assertRefuses("tensor 'b': data_offsets begin at 12, leaving bytes 8..<12 of the data buffer to no tensor") {
            let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#
            _ = try Safetensors.read(data: safetensors(header: header, dataBytes: 20))
        }
        assertRefuses("tensor 'a': F32[3] needs 12 bytes, but data_offsets [0, 8] hold 8") {
            _ = try Safetensors.read(data: safetensors(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8))
        }
        assertReason(.unsupportedDType("F5")) {
            _ = try Safetensors.read(data: safetensors(header: #"{"a":{"dtype":"F5","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8))
        }
        assertReason(.invalidValue(field: "a dimension of shape [-2, -1]", value: "-2", expected: "a non-negative size")) {
            _ = try Safetensors.read(data: safetensors(header: #"{"a":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}"#, dataBytes: 8))
        }
        assertReason(.arithmeticOverflow(what: "the element count of shape [4294967296, 4294967296]")) {
            _ = try Safetensors.read(data: safetensors(header: #"{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#, dataBytes: 0))
        }
        assertRefuses("tensor 'a': 'shape' must be a list of integers") {
            _ = try Safetensors.read(data: safetensors(header: #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, dataBytes: 8))
        }
        assertRefuses("tensor 'a': 'data_offsets' must be [begin, end]") {
            _ = try Safetensors.read(data: safetensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}"#, dataBytes: 8))
        }
        assertRefuses("tensor 'a': data_offsets [8, 0] are not a valid range") {
            _ = try Safetensors.read(data: safetensors(header: #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}"#, dataBytes: 8))
        }
        assertRefuses("tensor 'a': data_offsets end 8 is past the end of the 4-byte data buffer") {
            _ = try Safetensors.read(data: safetensors(header: f32, dataBytes: 4))
        }
        assertReason(.malformed(what: "the data buffer", detail: "it has 4 bytes after the last tensor that belong to no tensor")) {
            _ = try Safetensors.read(data: safetensors(header: f32, dataBytes: 12))
        }
        for length in 0 ..< real.count {
            XCTAssertThrowsError(try Safetensors.read(data: real.prefix(length)), "prefix \(length)")
        }
    }
}
