@testable import Format
import Foundation
import XCTest

/// Pickle bytes written opcode by opcode, for hostile and unusual files no library writes.
struct PickleScript {
    var bytes: [UInt8] = [0x80, 0x02] // PROTO 2

    mutating func op(_ codes: UInt8...) { bytes += codes }
    mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes += [0x58] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init) + utf8
    }
    mutating func int(_ value: Int) { bytes += [0x8A, 8] + withUnsafeBytes(of: Int64(value).littleEndian, Array.init) } // LONG1
    mutating func float(_ value: Double) { bytes += [0x47] + withUnsafeBytes(of: value.bitPattern.bigEndian, Array.init) }
    mutating func put(_ index: Int) { bytes += [0x72] + withUnsafeBytes(of: UInt32(index).littleEndian, Array.init) }
    mutating func get(_ index: Int) { bytes += [0x6A] + withUnsafeBytes(of: UInt32(index).littleEndian, Array.init) }
    mutating func mark() { op(0x28) }
    mutating func tuple() { op(0x74) }
    mutating func none() { op(0x4E) }
    mutating func bool(_ flag: Bool) { op(flag ? 0x88 : 0x89) }
    mutating func emptyTuple() { op(0x29) }
    mutating func emptyDict() { op(0x7D) }
    mutating func emptyList() { op(0x5D) }
    mutating func setItems() { op(0x75) }
    mutating func appends() { op(0x65) }
    mutating func reduce() { op(0x52) }
    mutating func newObj() { op(0x81) }
    mutating func build() { op(0x62) }
    mutating func pop() { op(0x30) }
    mutating func stop() { op(0x2E) }

    mutating func ints(_ values: [Int]) {
        mark()
        values.forEach { int($0) }
        tuple()
    }

    /// `collections.OrderedDict()`.
    mutating func orderedDict() {
        global("collections", "OrderedDict")
        emptyTuple()
        reduce()
    }

    /// `_rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`.
    mutating func floatTensor(key: String, numel: Int, offset: Int = 0, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark()
        string("storage")
        global("torch", "FloatStorage")
        string(key)
        string("cpu")
        int(numel)
        tuple()
        op(0x51) // BINPERSID
        int(offset)
        ints(size)
        ints(stride)
        bool(false)
        orderedDict()
        tuple()
        reduce()
    }
}

/// Hostile inputs for the importers, one test per class of fault, each file generated here.
final class HostileInteropTests: XCTestCase {
    /// A torch zip archive holding `pickle` as `data.pkl` and `storages` as `data/KEY`.
    static func torchZip(_ pickle: PickleScript, storages: [(String, Data)] = []) throws -> Data {
        var writer = try TorchWriter(Checkpoint(), folder: "archive")
        writer.records = [TorchWriter.Record(name: "data.pkl", data: Data(pickle.bytes))]
            + storages.map { TorchWriter.Record(name: "data/\($0.0)", data: $0.1) }
            + [TorchWriter.Record(name: "version", data: Data("3\n".utf8))]
        var out = Data()
        try writer.write { out.append(contentsOf: $0) }
        return out
    }

    static func floats(_ values: [Float]) -> Data { values.withUnsafeBytes { Data($0) } }

    static func floats(of tensor: Tensor?) -> [Float] {
        guard let tensor else { return [] }
        return tensor.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func assertReason(_ body: @autoclosure () throws -> Any, file: StaticString = #filePath, line: UInt = #line,
                      _ matches: (FormatError.Reason) -> Bool) {
        do {
            _ = try body()
            XCTFail("accepted", file: file, line: line)
        } catch let error as FormatError {
            XCTAssertTrue(matches(error.reason.root), "\(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "\(error)", file: file, line: line)
        } catch {
            XCTFail("threw \(type(of: error)): \(error)", file: file, line: line)
        }
    }

    // MARK: 1. Unbounded recursion

    /// 50,000 nested `_rebuild_from_type_v2` reductions: the arguments are built without
    /// recursion, interpreting them recursed once per level and overflowed the stack.
    func testNestedRebuildFromTypeIsTooDeepNotACrash() throws {
        var p = PickleScript()
        p.global("torch._tensor", "_rebuild_from_type_v2"); p.put(0); p.pop()
        p.global("torch._tensor", "Tensor"); p.put(1); p.pop()
        p.emptyTuple()
        for _ in 0 ..< 50_000 {
            p.put(2); p.pop()
            p.mark(); p.get(0); p.get(1); p.get(2); p.none(); p.tuple()
        }
        p.put(2); p.pop()
        p.get(0); p.get(2); p.reduce()
        p.stop()
        assertReason(try TorchFile.read(data: Self.torchZip(p))) {
            if case .tooDeep = $0 { return true }
            return false
        }
        assertReason(try TorchFile.tree(data: Self.torchZip(p))) {
            if case .tooDeep = $0 { return true }
            return false
        }
    }

    /// Nesting deeper than the walk allows, through dicts of modules, lists and objects:
    /// refused as too deep by every walk, never by the stack.
    func testDeepContainersAreTooDeepForEveryWalk() throws {
        var p = PickleScript()
        p.emptyList()
        for _ in 0 ..< 100_000 {
            p.put(0); p.pop()
            p.emptyList(); p.mark(); p.get(0); p.appends()
        }
        p.stop()
        let data = try Self.torchZip(p)
        assertReason(try TorchFile.read(data: data)) {
            if case .tooDeep = $0 { return true }
            return false
        }
        // The outline stops showing levels past the bound rather than failing.
        let outline = try TorchFile.tree(data: data)
        XCTAssertTrue(outline.contains("nested too deep"), outline)
    }
}
