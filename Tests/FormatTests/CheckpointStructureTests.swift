import Foundation
import XCTest
@testable import Format

/// The `structure` section (FORMAT.md 4.1): a training checkpoint's nesting round-trips
/// through a `.ckpt` exactly (key types, bit-exact floats, big integers, ties), a flat
/// state_dict stores none, and hostile sections are refused with typed errors.
final class CheckpointStructureTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-structure-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    static func tensor(_ values: [Float]) throws -> Tensor {
        try Tensor(dtype: .f32, shape: [values.count], data: values.withUnsafeBytes { Data($0) })
    }

    /// `{'model': {'0.weight', '0.bias'}, 'optimizer': {'state': {0: {...}}, 'param_groups': [...]}, 'epoch': 3, ...}`.
    static func training() throws -> Checkpoint {
        let names = ["model.0.weight", "model.0.bias", "optimizer.state.0.exp_avg", "optimizer.state.0.step"]
        var checkpoint = Checkpoint(tensors: try names.enumerated().map { NamedTensor(name: $0.element, tensor: try tensor([Float($0.offset), 1])) })
        checkpoint.tensors[0].aliases = ["head.weight"]
        typealias S = CheckpointStructure
        checkpoint.structure = .dict([
            S.Entry(.string("model"), .dict([S.Entry(.string("0.weight"), .tensor("model.0.weight")),
                                             S.Entry(.string("0.bias"), .tensor("model.0.bias"))], ordered: true)),
            S.Entry(.string("head"), .dict([S.Entry(.string("weight"), .tensor("head.weight"))], ordered: true)),
            S.Entry(.string("optimizer"), .dict([
                S.Entry(.string("state"), .dict([S.Entry(.int(0), .dict([S.Entry(.string("exp_avg"), .tensor("optimizer.state.0.exp_avg")),
                                                                           S.Entry(.string("step"), .tensor("optimizer.state.0.step"))], ordered: false))], ordered: false)),
                S.Entry(.string("param_groups"), .list([.dict([S.Entry(.string("lr"), .float(0.001)), S.Entry(.string("betas"), .tuple([.float(0.9), .float(0.999)])),
                                                               S.Entry(.string("params"), .list([.int(0), .int(1)])), S.Entry(.string("foreach"), .none),
                                                               S.Entry(.string("amsgrad"), .bool(false))], ordered: false)])),
            ], ordered: false)),
            S.Entry(.string("epoch"), .int(3)),
            S.Entry(.string("seed"), .bigInt("-123456789012345678901234567890")),
            S.Entry(.string("specials"), .list([.float(.nan), .float(Double(bitPattern: 0x7ff8_0000_0000_0abc)), .float(-0.0), .float(.infinity),
                                                .float(-.infinity), .float(5e-324), .int(Int64.min), .int(Int64.max)])),
            S.Entry(.string("blob"), .bytes(Data([0, 255, 10]))),
            S.Entry(.int(-7), .string("int key")), S.Entry(.bool(true), .string("bool key")), S.Entry(.none, .string("None key")),
            S.Entry(.float(0.5), .string("float key")),
            S.Entry(.string("hparams"), .opaque(.object(["__class__": .string("omegaconf.DictConfig")]))),
        ], ordered: false)
        return checkpoint
    }

    func testATrainingCheckpointsStructureRoundTripsBitForBit() throws {
        let original = try Self.training()
        let url = directory.appendingPathComponent("t.ckpt")
        try CheckpointFile.write(original, to: url)
        let back = try CheckpointFile.read(contentsOf: url)
        XCTAssertEqual(back.structure, original.structure)
        // NaN payloads are kept: the equality is by bit pattern, checked here directly too.
        guard case .dict(let entries, _)? = back.structure, case .list(let specials)? = entries.first(where: { $0.key == .string("specials") })?.value,
              case .float(let payload) = specials[1] else { return XCTFail("\(String(describing: back.structure))") }
        XCTAssertEqual(payload.bitPattern, 0x7ff8_0000_0000_0abc)
        // The verifying path assembles the same structure.
        let outcome = try ContainerReader(contentsOf: url).verify(loading: true)
        XCTAssertTrue(outcome.report.ok, "\(outcome.report.problems)")
        XCTAssertEqual(outcome.checkpoint?.structure, original.structure)
    }

    func testCanonicalFlatteningGivesStateDictNames() throws {
        let checkpoint = try Self.training()
        let leaves = try XCTUnwrap(checkpoint.structure).tensorLeaves
        XCTAssertEqual(leaves.map(\.path), ["model.0.weight", "model.0.bias", "head.weight", "optimizer.state.0.exp_avg", "optimizer.state.0.step"])
        XCTAssertEqual(checkpoint.tensorsOutsideStructure, [])
        XCTAssertEqual(try XCTUnwrap(checkpoint.structure).opaquePaths, ["hparams"])
        XCTAssertEqual(CheckpointStructure.stateDict(["a", "b.c"]).tensorLeaves.map(\.path), ["a", "b.c"])
    }

    func testAFlatStateDictStoresNoStructure() throws {
        var checkpoint = Checkpoint(tensors: [NamedTensor(name: "0.weight", tensor: try Self.tensor([1]))])
        checkpoint.structure = .stateDict(["0.weight"])
        let url = directory.appendingPathComponent("flat.ckpt")
        try CheckpointFile.write(checkpoint, to: url)
        let reader = try ContainerReader(contentsOf: url)
        XCTAssertNil(reader.manifest.sections[Manifest.structureSection])
        XCTAssertNil(try reader.structure())
    }

    func testTheWriterRefusesADanglingTensorReference() throws {
        var checkpoint = Checkpoint(tensors: [NamedTensor(name: "w", tensor: try Self.tensor([1]))])
        checkpoint.structure = .dict([.init(.string("model"), .dict([.init(.string("w"), .tensor("gone"))], ordered: true))], ordered: false)
        let url = directory.appendingPathComponent("dangling.ckpt")
        XCTAssertThrowsError(try CheckpointFile.write(checkpoint, to: url)) { error in
            XCTAssertEqual((error as? FormatError)?.reason.root, .notFound(kind: "tensor", name: "gone"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    /// Writes a file whose structure section holds `text` as is.
    func file(structure text: String) throws -> URL {
        let url = directory.appendingPathComponent("hostile-\(UUID().uuidString).ckpt")
        let writer = try ContainerWriter(destination: url)
        try writer.add(NamedTensor(name: "w", tensor: try Self.tensor([1, 2])))
        try writer.writeSection(Manifest.structureSection, Data(text.utf8))
        try writer.finish()
        return url
    }

    func assertRefused(_ text: String, _ expected: (FormatError.Reason) -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try self.file(structure: text)
        XCTAssertThrowsError(try CheckpointFile.read(contentsOf: url), file: file, line: line) { error in
            guard let error = error as? FormatError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.file, url.path, file: file, line: line)
            XCTAssertTrue(expected(error.reason.root), "\(error)", file: file, line: line)
        }
        // verify reports it as a problem, never a crash.
        let report = try ContainerReader(contentsOf: url).verify(loading: false).report
        XCTAssertFalse(report.ok, file: file, line: line)
    }

    func testHostileStructureSectionsAreTypedErrors() throws {
        func deep(_ n: Int) -> String { String(repeating: "{\"list\":[", count: n) + "null" + String(repeating: "]}", count: n) }
        try assertRefused("{\"version\":1,\"root\":\(deep(200))}") { if case .tooDeep = $0 { return true }; return false }
        // Deeper than any JSON parser goes: refused as malformed, not a stack overflow.
        try assertRefused("{\"version\":1,\"root\":\(deep(100_000))}") { if case .malformed = $0 { return true }; return false }
        try assertRefused(#"{"version":1,"root":{"dict":[[{"str":"a"},{"tensor":"nope"}]]}}"#) { $0 == .notFound(kind: "tensor", name: "nope") }
        try assertRefused(#"{"version":1,"root":{"dict":[[{"int":"1"},null],[{"bool":true},null]]}}"#) { $0 == .duplicateName(kind: "dict key", name: "True") }
        try assertRefused(#"{"version":1,"root":{"dict":[[{"list":[]},null]]}}"#) { if case .invalidValue(let field, _, _) = $0 { return field == "key" }; return false }
        try assertRefused(#"{"version":1,"root":{"dict":[[1,null]]}}"#) { if case .invalidValue = $0 { return true }; return false }
        try assertRefused(#"{"version":2,"root":null}"#) { $0 == .unsupportedVersion(what: "structure", found: "2.0", supported: "1") }
        try assertRefused(#"{"version":1,"root":{"int":"007"}}"#) { if case .invalidValue = $0 { return true }; return false }
        try assertRefused(#"{"version":1,"root":{"int":"12"}} "#.replacingOccurrences(of: "12", with: String(repeating: "9", count: 5000))) {
            if case .limitExceeded = $0 { return true }; return false
        }
        try assertRefused(#"{"version":1,"root":{"float":"0x1p3"}}"#) { if case .invalidValue = $0 { return true }; return false }
        try assertRefused(#"{"version":1,"root":{"float":"nan:7FF8000000000000"}}"#) { if case .invalidValue = $0 { return true }; return false }
        try assertRefused(#"{"version":1,"root":{"set":[]}}"#) { if case .invalidValue = $0 { return true }; return false }
        try assertRefused(#"{"version":1,"root":{"list":[],"tuple":[]}}"#) { if case .invalidValue = $0 { return true }; return false }
        try assertRefused(#"{"version":1,"root":{"tensor":""}}"#) { if case .invalidValue = $0 { return true }; return false }
        try assertRefused(#"{"version":1}"#) { $0 == .missingField("root") }
        try assertRefused("[1") { if case .malformed = $0 { return true }; return false }
    }

    func testNodeBudgetIsEnforced() throws {
        var limits = CheckpointStructure.Limits()
        limits.maxNodes = 10
        let wide = CheckpointStructure.list(Array(repeating: .none, count: 20))
        XCTAssertThrowsError(try CheckpointStructure.decode(try wide.encoded(), limits: limits)) { error in
            XCTAssertEqual((error as? FormatError)?.reason.root, .walkBudgetExceeded(what: "the structure", limit: 10))
        }
        XCTAssertThrowsError(try wide.validate(against: [], limits: limits)) { error in
            XCTAssertEqual((error as? FormatError)?.reason.root, .walkBudgetExceeded(what: "the structure", limit: 10))
        }
    }
}
