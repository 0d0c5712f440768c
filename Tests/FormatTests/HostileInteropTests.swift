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

    // MARK: 2. Unchecked arithmetic on values from a file

    /// A legacy (pre-1.6) torch file: magic, protocol version, system info, `object`
    /// (persistent ids are 6-tuples), the storage keys, then each storage's count and bytes.
    static func legacyFile(_ object: PickleScript, storages: [(String, [Float])]) -> Data {
        var magic = PickleScript()
        magic.op(0x8A, 10); magic.bytes += TorchArchive.legacyMagicNumber; magic.stop()
        var version = PickleScript()
        version.int(1001); version.stop()
        var info = PickleScript()
        info.emptyDict(); info.string("little_endian"); info.bool(true); info.op(0x73); info.stop()
        var keys = PickleScript()
        keys.emptyList(); keys.mark(); storages.forEach { keys.string($0.0) }; keys.appends(); keys.stop()
        var data = Data(magic.bytes + version.bytes + info.bytes + object.bytes + keys.bytes)
        for (_, values) in storages {
            data.append(contentsOf: withUnsafeBytes(of: Int64(values.count).littleEndian, Array.init))
            data.append(floats(values))
        }
        return data
    }

    /// `_rebuild_tensor_v2` with a legacy 6-field persistent id.
    static func legacyTensor(_ p: inout PickleScript, key: String, numel: Int, size: [Int], stride: [Int]) {
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.mark()
        p.mark(); p.string("storage"); p.global("torch", "FloatStorage"); p.string(key); p.string("cpu"); p.int(numel); p.none(); p.tuple()
        p.op(0x51)
        p.int(0); p.ints(size); p.ints(stride); p.bool(false); p.orderedDict()
        p.tuple()
        p.reduce()
    }

    /// A size-1 axis may carry any stride (torch never steps along it): Int.max there made
    /// the byte strides of the copy overflow. Read in both formats, with the right values.
    func testHugeStrideOnASizeOneAxisReadsTheRightElements() throws {
        let values: [Float] = [1, 2, 3, 4, 5]
        for (size, stride, expected) in [([1, 3], [Int.max, 1], [Float(1), 2, 3]), ([1, 3], [Int.max, 2], [1, 3, 5]),
                                         ([3, 1], [2, Int.max], [1, 3, 5])] {
            var p = PickleScript()
            p.orderedDict()
            p.mark(); p.string("w"); p.floatTensor(key: "0", numel: 5, size: size, stride: stride); p.setItems()
            p.stop()
            let zip = try TorchFile.read(data: Self.torchZip(p, storages: [("0", Self.floats(values))]))
            XCTAssertEqual(Self.floats(of: zip.tensor(named: "w")), expected, "zip \(stride)")
            XCTAssertEqual(zip.tensor(named: "w")?.shape, size)

            var legacy = PickleScript()
            legacy.orderedDict()
            legacy.mark(); legacy.string("w"); Self.legacyTensor(&legacy, key: "0", numel: 5, size: size, stride: stride); legacy.setItems()
            legacy.stop()
            let old = try TorchFile.read(data: Self.legacyFile(legacy, storages: [("0", values)]))
            XCTAssertEqual(Self.floats(of: old.tensor(named: "w")), expected, "legacy \(stride)")
        }
    }

    /// A whole-module pickle of a Conv2d with padding='same' and a dilation of 2^62: the
    /// padding dilation x (kernel - 1) overflowed. The module stays opaque, its weight comes through.
    func testSamePaddingWithHugeDilationKeepsTheModuleOpaque() throws {
        var p = PickleScript()
        p.global("torch.nn.modules.conv", "Conv2d"); p.emptyTuple(); p.newObj()
        p.emptyDict(); p.mark()
        p.string("training"); p.bool(true)
        p.string("_parameters"); p.emptyDict(); p.mark(); p.string("weight")
        p.floatTensor(key: "0", numel: 9, size: [1, 1, 3, 3], stride: [9, 9, 3, 1]); p.setItems()
        p.string("_buffers"); p.emptyDict()
        p.string("_modules"); p.emptyDict()
        p.string("in_channels"); p.int(1)
        p.string("out_channels"); p.int(1)
        p.string("kernel_size"); p.ints([3, 3])
        p.string("stride"); p.ints([1, 1])
        p.string("padding"); p.string("same")
        p.string("dilation"); p.ints([1 << 62, 1 << 62])
        p.string("groups"); p.int(1)
        p.string("padding_mode"); p.string("zeros")
        p.setItems(); p.build()
        p.stop()
        let weights = (1 ... 9).map(Float.init)
        let checkpoint = try TorchFile.read(data: Self.torchZip(p, storages: [("0", Self.floats(weights))]))
        XCTAssertEqual(checkpoint.tensors.map(\.name), ["weight"])
        XCTAssertEqual(Self.floats(of: checkpoint.tensor(named: "weight")), weights)
        let text = String(decoding: try XCTUnwrap(checkpoint.architecture).text, as: UTF8.self)
        XCTAssertTrue(text.contains("torch.nn.modules.conv.Conv2d"), text) // an opaque node naming the class
    }

    /// A whole-module Linear whose attributes claim 9e15 x 9e15 features over a 2 x 2 weight:
    /// the attributes do not fit the tensors, so the module stays opaque; nothing counts them.
    func testLinearWithAbsurdFeaturesStaysOpaque() throws {
        var p = PickleScript()
        p.global("torch.nn.modules.linear", "Linear"); p.emptyTuple(); p.newObj()
        p.emptyDict(); p.mark()
        p.string("training"); p.bool(true)
        p.string("_parameters"); p.emptyDict(); p.mark(); p.string("weight")
        p.floatTensor(key: "0", numel: 4, size: [2, 2], stride: [2, 1]); p.setItems()
        p.string("_buffers"); p.emptyDict()
        p.string("_modules"); p.emptyDict()
        p.string("in_features"); p.int(9_000_000_000_000_000)
        p.string("out_features"); p.int(9_000_000_000_000_000)
        p.setItems(); p.build()
        p.stop()
        let checkpoint = try TorchFile.read(data: Self.torchZip(p, storages: [("0", Self.floats([1, 2, 3, 4]))]))
        XCTAssertEqual(Self.floats(of: checkpoint.tensor(named: "weight")), [1, 2, 3, 4])
        let text = String(decoding: try XCTUnwrap(checkpoint.architecture).text, as: UTF8.self)
        XCTAssertTrue(text.contains("torch.nn.modules.linear.Linear"), text)
    }

    /// Zero-element tensors [0, 2^62, 2^62] whose strides are the contiguous ones: the outline's
    /// contiguity check multiplied the sizes and overflowed, at the top level and in a module's child dict.
    func testOutlineOfZeroElementTensorWithHugeSizes() throws {
        let huge = 1 << 62
        var p = PickleScript()
        p.emptyDict(); p.mark()
        p.string("top"); p.floatTensor(key: "0", numel: 0, size: [0, huge, huge], stride: [0, huge, 1])
        p.string("net"); p.global("__main__", "Net"); p.emptyTuple(); p.newObj()
        p.emptyDict(); p.mark()
        p.string("_parameters"); p.emptyDict()
        p.string("_modules"); p.emptyDict(); p.mark(); p.string("child")
        p.floatTensor(key: "1", numel: 0, size: [0, huge, huge], stride: [0, huge, 1]); p.setItems()
        p.setItems(); p.build()
        p.setItems()
        p.stop()
        let data = try Self.torchZip(p, storages: [("0", Data()), ("1", Data())])
        let outline = try TorchFile.tree(data: data)
        XCTAssertTrue(outline.contains("top: tensor f32[0, \(huge), \(huge)]"), outline)
        XCTAssertTrue(outline.contains("child: tensor f32[0, \(huge), \(huge)]"), outline)
        let checkpoint = try TorchFile.read(data: data)
        XCTAssertEqual(checkpoint.tensor(named: "top")?.shape, [0, huge, huge])
        XCTAssertEqual(checkpoint.tensor(named: "top")?.data.count, 0)
    }

    /// A 111-byte safetensors file declaring a zero-element f32[0, 2^62, 2^62]: exporting it
    /// as .pt computed torch's strides, whose product overflowed.
    func testExportOfZeroElementTensorWithHugeSizesIsRefused() throws {
        let json = #"{"a":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#
        var file = Data(withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian, Array.init))
        file.append(contentsOf: Array(json.utf8))
        let checkpoint = try Safetensors.read(data: file)
        XCTAssertEqual(checkpoint.tensor(named: "a")?.shape, [0, 1 << 62, 1 << 62])
        assertReason(try TorchFile.encode(checkpoint)) {
            if case .arithmeticOverflow = $0 { return true }
            return false
        }
    }

    /// Offsets and sizes near Int.max in safetensors and zip headers are refused by checks, not traps.
    func testOffsetsNearIntMaxAreRefused() throws {
        let json = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[9223372036854775807,9223372036854775807]}}"#
        var file = Data(withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian, Array.init))
        file.append(contentsOf: Array(json.utf8))
        assertReason(try Safetensors.read(data: file)) {
            if case .malformed = $0 { return true }
            return false
        }
        // A zip entry whose local header offset is 2^63 - 1.
        var p = PickleScript()
        p.none(); p.stop()
        var zip = try Self.torchZip(p)
        let signature = Data([0x50, 0x4B, 0x01, 0x02])
        let central = try XCTUnwrap(zip.range(of: signature)).lowerBound
        zip.replaceSubrange((central + 42) ..< (central + 46), with: [0xFF, 0xFF, 0xFF, 0xFF])
        assertReason(try TorchFile.read(data: zip)) { _ in true }
    }

    // MARK: 3. Totals never bounded

    /// Twelve stride-0 views of one 16-byte storage, each expanding to about 4,000 bytes: each is
    /// within the per-tensor cap, the total is what the input's budget bounds.
    func testManyRepeatingViewsShareOneMemoryBudget() throws {
        var p = PickleScript()
        p.orderedDict()
        p.mark()
        for index in 0 ..< 12 {
            p.string("v\(index)")
            p.floatTensor(key: "0", numel: 4, offset: index % 4, size: [1000 + index], stride: [0])
        }
        p.setItems()
        p.stop()
        let file = try Self.torchZip(p, storages: [("0", Self.floats([1, 2, 3, 4]))])
        // The pickle's objects take one block of the budget while the file is read.
        let objects = PickleArena.blockBytes
        assertReason(try TorchFile.read(data: file, budget: MemoryBudget(limit: objects + 40_000))) {
            if case .memoryBudgetExceeded(let what, _, _, _) = $0 { return what.contains("strided view") }
            return false
        }
        let total = (0 ..< 12).reduce(0) { $0 + 4 * (1000 + $1) }
        let budget = MemoryBudget(limit: objects + UInt64(total))
        let checkpoint = try TorchFile.read(data: file, budget: budget)
        XCTAssertEqual(budget.inUse, UInt64(total))
        XCTAssertEqual(Self.floats(of: checkpoint.tensor(named: "v5")), Array(repeating: 2, count: 1005))
    }

    /// Without an explicit budget a .pt file gets one sized from its own bytes: of twelve
    /// stride-0 views of a 16-byte storage, each 768 MiB (under the per-tensor cap on
    /// repeating views), the first fits and the second is refused, where the machine-wide
    /// default would have let 9 GiB through.
    func testTheDefaultBudgetOfATorchFileIsSizedFromTheFile() throws {
        var p = PickleScript()
        p.orderedDict()
        p.mark()
        for index in 0 ..< 12 {
            p.string("v\(index)")
            p.floatTensor(key: "0", numel: 4, offset: 0, size: [(3 << 26) + index], stride: [0])
        }
        p.setItems()
        p.stop()
        let file = try Self.torchZip(p, storages: [("0", Self.floats([1, 2, 3, 4]))])
        XCTAssertLessThan(file.count, 4096)
        let budget = MemoryBudget.forUncompressedInput(bytes: file.count)
        XCTAssertEqual(budget.limit, min(UInt64(file.count) * 8 + (1 << 30), MemoryBudget.defaultLimit))
        assertReason(try TorchFile.read(data: file)) {
            if case .memoryBudgetExceeded(let what, _, _, _) = $0 { return what.contains("strided view") }
            return false
        }
    }

    /// A million empty dicts, each popped at once: two bytes of pickle build an object of
    /// a hundred, which the arena pays for from the input's budget.
    func testPickleObjectsArePaidForFromTheBudget() throws {
        var p = PickleScript()
        p.bytes.reserveCapacity(2_000_010)
        for _ in 0 ..< 1_000_000 { p.emptyDict(); p.pop() }
        p.none(); p.stop()
        let file = try Self.torchZip(p)
        assertReason(try TorchFile.read(data: file, budget: MemoryBudget(limit: 16 << 20))) {
            if case .memoryBudgetExceeded(let what, _, _, _) = $0 { return what == "the pickle's objects" }
            return false
        }
        let budget = MemoryBudget(limit: 1 << 30)
        XCTAssertTrue(try TorchFile.read(data: file, budget: budget).tensors.isEmpty)
        XCTAssertEqual(budget.inUse, 0) // given back with the pickle's objects
    }

    /// A stored zip written field by field: `entries` name a local record each (by index),
    /// so several directory entries may point at one local header.
    static func storedZip(records: [(name: String, data: Data, crc: UInt32?)], entries: [(name: String, record: Int)]) -> Data {
        var out = ZipBytes()
        var offsets: [Int] = []
        for record in records {
            offsets.append(out.bytes.count)
            out.u32(0x0403_4B50); out.u16(20); out.u16(0); out.u16(0); out.u16(0); out.u16(0x21)
            out.u32(record.crc ?? CRC32.checksum(record.data))
            out.u32(UInt32(record.data.count)); out.u32(UInt32(record.data.count))
            out.u16(UInt16(record.name.utf8.count)); out.u16(0)
            out.bytes += Array(record.name.utf8) + Array(record.data)
        }
        let directory = out.bytes.count
        for entry in entries {
            let record = records[entry.record]
            out.u32(0x0201_4B50); out.u16(20); out.u16(20); out.u16(0); out.u16(0); out.u16(0); out.u16(0x21)
            out.u32(record.crc ?? CRC32.checksum(record.data))
            out.u32(UInt32(record.data.count)); out.u32(UInt32(record.data.count))
            out.u16(UInt16(entry.name.utf8.count)); out.u16(0); out.u16(0); out.u16(0); out.u16(0); out.u32(0)
            out.u32(UInt32(offsets[entry.record]))
            out.bytes += Array(entry.name.utf8)
        }
        let size = out.bytes.count - directory
        out.u32(0x0605_4B50); out.u16(0); out.u16(0); out.u16(UInt16(entries.count)); out.u16(UInt16(entries.count))
        out.u32(UInt32(size)); out.u32(UInt32(directory)); out.u16(0)
        return Data(out.bytes)
    }

    func temporaryFile(_ data: Data, _ name: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    /// Sixteen directory entries over one local header of a 10 KB member would read as
    /// sixteen members from one: overlapping members are refused (as Python's zipfile does).
    /// Sixteen real members share one budget: each alone fits, together they do not.
    func testNpzEntriesOverOneLocalHeaderAreRefusedAndMembersShareOneBudget() throws {
        let values = (0 ..< 2500).map(Float.init)
        let member = try Npy.encode(try Tensor(dtype: .f32, shape: [2500], data: Self.floats(values)))
        let names = (0 ..< 16).map { String(format: "%x.npy", $0) }
        let shared = Self.storedZip(records: [(names[0], member, nil)], entries: names.map { ($0, 0) })
        assertReason(try Npz.read(contentsOf: temporaryFile(shared, "shared.npz"))) {
            if case .malformed(_, let detail) = $0 { return detail.contains("overlap") }
            return false
        }
        let distinct = Self.storedZip(records: names.map { ($0, member, nil) }, entries: names.indices.map { (names[$0], $0) })
        let url = try temporaryFile(distinct, "distinct.npz")
        assertReason(try Npz.read(contentsOf: url, budget: MemoryBudget(limit: UInt64(member.count) * 4))) {
            if case .memoryBudgetExceeded = $0 { return true }
            return false
        }
        let checkpoint = try Npz.read(contentsOf: url, budget: MemoryBudget(limit: UInt64(member.count) * 16))
        XCTAssertEqual(checkpoint.tensors.count, 16)
        XCTAssertEqual(Self.floats(of: checkpoint.tensor(named: "f")), values)
    }

    // MARK: 4. Exponential walks

    /// Forty modules where each one's two children are the same next module: 2^40 paths
    /// from a few KB. The outline names each shared module once; reading replays a shared
    /// module's names under each path until the name budget refuses it.
    func testModuleDAGIsWalkedOnce() throws {
        var p = PickleScript()
        // The deepest module first, memoised as 0; each next one holds the previous twice.
        for level in 0 ..< 40 {
            p.global("__main__", "Block"); p.emptyTuple(); p.newObj()
            p.emptyDict(); p.mark()
            p.string("_parameters"); p.emptyDict(); p.mark(); p.string("w")
            p.floatTensor(key: "0", numel: 1, size: [1], stride: [1]); p.setItems()
            p.string("_modules"); p.emptyDict()
            if level > 0 { p.mark(); p.string("a"); p.get(0); p.string("b"); p.get(0); p.setItems() }
            p.setItems(); p.build()
            p.put(0)
            if level < 39 { p.pop() }
        }
        p.stop()
        let file = try Self.torchZip(p, storages: [("0", Self.floats([7]))])
        let outline = try TorchFile.tree(data: file)
        XCTAssertTrue(outline.contains("same module as"), outline)
        assertReason(try TorchFile.read(data: file)) {
            if case .walkBudgetExceeded = $0 { return true }
            return false
        }
        // A shallow DAG reads, every path named, all one tensor.
        let small = try TorchFile.read(data: file, key: String(repeating: "a.", count: 36).dropLast() + "")
        XCTAssertEqual(small.tensors.count, 1)
        XCTAssertEqual(small.allNames.count, 15) // w, a.w, b.w, a.a.w, ... over three levels
        XCTAssertEqual(Self.floats(of: small.tensor(named: "b.a.w")), [7])
    }

    /// Sixty lists, each holding the next one twice, no tensors: the metadata walk memoises
    /// each list, and the expanded document is refused by its budget.
    func testListDAGIsWalkedOnce() throws {
        var p = PickleScript()
        p.emptyList()
        for _ in 0 ..< 60 {
            p.put(0); p.pop()
            p.emptyList(); p.mark(); p.get(0); p.get(0); p.appends()
        }
        p.stop()
        let file = try Self.torchZip(p)
        assertReason(try TorchFile.read(data: file)) {
            if case .walkBudgetExceeded = $0 { return true }
            return false
        }
        XCTAssertFalse(try TorchFile.tree(data: file).isEmpty)
    }

    // MARK: 6. Globals named as values are data

    /// `NEWOBJ cls()` then `BUILD` with the dict `fields` writes: how pickle protocol 2 saves
    /// an instance (`copyreg.__newobj__`), as OmegaConf's containers and nodes are saved.
    static func instance(_ p: inout PickleScript, _ module: String, _ name: String, _ fields: (inout PickleScript) -> Void) {
        p.global(module, name); p.emptyTuple(); p.newObj()
        p.emptyDict(); p.mark(); fields(&p); p.setItems()
        p.build()
    }

    /// OmegaConf's `ContainerMetadata`, naming `builtins.dict` or `builtins.list` and `typing.Any`.
    static func containerMetadata(_ p: inout PickleScript, objectType: String) {
        instance(&p, "omegaconf.base", "ContainerMetadata") { p in
            p.string("ref_type"); p.global("typing", "Any")
            p.string("object_type"); p.global("builtins", objectType)
            p.string("optional"); p.bool(true)
            p.string("key"); p.none()
            p.string("flags"); p.emptyDict()
            p.string("key_type"); p.global("typing", "Any")
            p.string("element_type"); p.global("typing", "Any")
        }
    }

    /// A checkpoint as Lightning writes one with OmegaConf hparams: a `DictConfig` whose
    /// nodes point back at it, `hparams_type` naming the class, `defaultdict(list)` in the
    /// loop state, Enum members built by calling their class, and the state_dict beside them.
    static func lightningCheckpoint() -> PickleScript {
        var p = PickleScript()
        p.emptyDict(); p.mark()
        p.string("epoch"); p.int(3)
        p.string("pytorch-lightning_version"); p.string("2.4.0")
        p.string("state_dict"); p.orderedDict(); p.mark()
        p.string("layer.weight"); p.floatTensor(key: "0", numel: 2, size: [2], stride: [1])
        p.string("layer.bias"); p.floatTensor(key: "1", numel: 1, size: [1], stride: [1])
        p.setItems()
        p.string("hyper_parameters")
        instance(&p, "omegaconf.dictconfig", "DictConfig") { p in
            p.string("_metadata"); containerMetadata(&p, objectType: "dict")
            p.string("_parent"); p.none()
        }
        p.put(10) // the DictConfig, which its nodes name as their parent
        // BUILD again with its content, as __setstate__ state arrives after the nodes are made.
        p.emptyDict(); p.mark()
        p.string("_content"); p.emptyDict(); p.mark()
        p.string("lr")
        instance(&p, "omegaconf.nodes", "AnyNode") { p in
            p.string("_val"); p.float(0.001)
            p.string("_parent"); p.get(10)
        }
        p.string("layers")
        instance(&p, "omegaconf.listconfig", "ListConfig") { p in
            p.string("_metadata"); containerMetadata(&p, objectType: "list")
            p.string("_parent"); p.get(10)
            p.string("_content"); p.emptyList(); p.mark(); p.int(64); p.int(32); p.appends()
        }
        p.setItems()
        p.setItems()
        p.build()
        p.string("hparams_type"); p.global("omegaconf.dictconfig", "DictConfig")
        p.string("loops"); p.emptyDict(); p.mark()
        p.string("progress"); p.global("collections", "defaultdict"); p.global("builtins", "list"); p.op(0x85); p.reduce()
        p.mark(); p.string("fit"); p.emptyList(); p.mark(); p.int(1); p.int(2); p.appends(); p.setItems()
        p.setItems()
        p.string("color"); p.global("__main__", "Color"); p.int(2); p.op(0x85); p.reduce()
        p.string("mode"); p.global("torch.optim.lr_scheduler", "SAVE_STATE_WARNING_MODE"); p.string("max"); p.op(0x85); p.reduce()
        p.string("attributes"); p.global("lightning.fabric.utilities.data", "AttributeDict"); p.emptyTuple(); p.newObj()
        p.mark(); p.string("batch_size"); p.int(16); p.setItems()
        p.setItems()
        p.stop()
        return p
    }

    func testLightningCheckpointWithOmegaConfHparamsAndEnumsLetsTheTensorsThrough() throws {
        let file = try Self.torchZip(Self.lightningCheckpoint(),
                                     storages: [("0", Self.floats([1.5, -2])), ("1", Self.floats([0.25]))])
        let whole = try TorchFile.read(data: file)
        XCTAssertEqual(whole.tensors.map(\.name), ["state_dict.layer.weight", "state_dict.layer.bias"])
        XCTAssertEqual(Self.floats(of: whole.tensor(named: "state_dict.layer.weight")), [1.5, -2])
        // The rest of the checkpoint is kept as its structure (spec/FORMAT.md 4.1): plain values
        // exactly, inert objects (OmegaConf, Enum, AttributeDict) as opaque leaves.
        guard case .dict(let entries, _)? = whole.structure else { return XCTFail("\(String(describing: whole.structure))") }
        XCTAssertEqual(entries.first(where: { $0.key == .string("epoch") })?.value, .int(3))
        for key in ["hyper_parameters", "hparams_type", "loops", "color", "mode", "attributes"] {
            XCTAssertNotNil(entries.first(where: { $0.key == .string(key) }), key)
        }

        let keyed = try TorchFile.read(data: file, key: "state_dict")
        XCTAssertEqual(keyed.tensors.map(\.name), ["layer.weight", "layer.bias"])
        XCTAssertEqual(Self.floats(of: keyed.tensor(named: "layer.bias")), [0.25])
        let outline = try TorchFile.tree(data: file)
        XCTAssertTrue(outline.contains("builtins.list (global, not resolved)"), outline)
    }

    /// A root object of a class no reader rebuilds (a typo of `collections.OrderedDict`, as
    /// the torch fuzzer found) is an opaque structure whose tensors are still collected: a
    /// torch export must write every one of them (as a flat state_dict), not the None the
    /// structure would give, and say that the nesting is what it leaves out.
    func testOpaqueRootHoldingTensorsExportsEveryTensor() throws {
        var p = PickleScript()
        p.global("cloelctions", "OrderedDict")
        p.mark()
        p.floatTensor(key: "0", numel: 2, size: [2], stride: [1])
        p.floatTensor(key: "1", numel: 1, size: [1], stride: [1])
        p.tuple()
        p.reduce()
        p.stop()
        let file = try Self.torchZip(p, storages: [("0", Self.floats([1.5, -2])), ("1", Self.floats([0.25]))])
        let read = try TorchFile.read(data: file)
        XCTAssertEqual(read.tensors.count, 2)
        XCTAssertEqual(read.tensorsOutsideStructure.count, 2, "\(String(describing: read.structure))")

        let back = try TorchFile.read(data: TorchFile.encode(read))
        XCTAssertEqual(Set(back.tensors.map(\.name)), Set(read.tensors.map(\.name)))
        for named in read.tensors {
            XCTAssertEqual(back.tensor(named: named.name)?.data, named.tensor.data, named.name)
        }
        let note = ExportFormat.torch.leftOut(of: read)
        XCTAssertTrue(note.contains { $0.hasPrefix("the nesting, which does not reach 2 tensors") }, "\(note)")
    }

    /// Dangerous callables stay refused, named or called; a call of an unknown function
    /// with raw storages, or of an unknown `_rebuild` function, is refused rather than kept inert.
    func testDangerousGlobalsAndTensorBuildingCallsStayRefused() throws {
        for (module, name) in [("builtins", "getattr"), ("builtins", "eval"), ("posix", "system"), ("builtins", "__import__")] {
            var named = PickleScript()
            named.global(module, name); named.stop()
            assertReason(try TorchFile.read(data: Self.torchZip(named))) { $0 == .refusedGlobal(module: module, name: name) }
        }
        var rebuild = PickleScript()
        rebuild.global("torch._utils", "_rebuild_future_tensor"); rebuild.int(1); rebuild.op(0x85); rebuild.reduce(); rebuild.stop()
        assertReason(try TorchFile.read(data: Self.torchZip(rebuild))) {
            $0 == .refusedGlobal(module: "torch._utils", name: "_rebuild_future_tensor")
        }
        var storage = PickleScript()
        storage.global("mylib", "make")
        storage.mark(); storage.string("storage"); storage.global("torch", "FloatStorage"); storage.string("0"); storage.string("cpu")
        storage.int(1); storage.tuple(); storage.op(0x51); storage.op(0x85); storage.reduce(); storage.stop()
        assertReason(try TorchFile.read(data: Self.torchZip(storage, storages: [("0", Self.floats([1]))]))) {
            $0 == .refusedGlobal(module: "mylib", name: "make")
        }
    }

    // MARK: 5. Accepted when it should be refused

    /// A member whose bytes do not match its CRC-32 (numpy refuses it: "Bad CRC-32"), stored
    /// or deflated; the same archive with the right CRC reads.
    func testNpzMemberWithWrongCRCIsRefused() throws {
        let member = try Npy.encode(try Tensor(dtype: .f32, shape: [3], data: Self.floats([1, 2, 3])))
        let good = Self.storedZip(records: [("a.npy", member, nil)], entries: [("a.npy", 0)])
        XCTAssertEqual(Self.floats(of: try Npz.read(contentsOf: temporaryFile(good, "good.npz")).tensor(named: "a")), [1, 2, 3])
        let wrong = CRC32.checksum(member) ^ 0x0000_0100
        let bad = Self.storedZip(records: [("a.npy", member, wrong)], entries: [("a.npy", 0)])
        assertReason(try Npz.read(contentsOf: temporaryFile(bad, "bad.npz"))) {
            $0 == .checksumMismatch(what: "member 'a.npy'")
        }
    }

    // MARK: 9. Detect once, parse once

    /// Detection of a torch zip maps the file and parses its directory; the load that follows
    /// uses both, so it succeeds even once the file is gone from the disk, and a key reaches
    /// the torch reader without a second detection.
    func testDetectedTorchZipIsReadWithoutReopeningTheFile() throws {
        let url = try temporaryFile(try Self.torchZip(Self.lightningCheckpoint(),
                                                      storages: [("0", Self.floats([1.5, -2])), ("1", Self.floats([0.25]))]), "l.pt")
        let file = try DetectedFile(url)
        XCTAssertEqual(file.kind, .torch)
        XCTAssertNotNil(file.torchZip)
        try FileManager.default.removeItem(at: url)
        let checkpoint = try Importer.load(file, options: ImportOptions(key: "state_dict"))
        XCTAssertEqual(checkpoint.tensors.map(\.name), ["layer.weight", "layer.bias"])
        XCTAssertEqual(Self.floats(of: checkpoint.tensor(named: "layer.weight")), [1.5, -2])
        XCTAssertTrue(try TorchFile.tree(file).contains("state_dict"))
    }

    // MARK: 7. Typed reasons through the pickle machine

    /// An error inside the pickle keeps its reason under the opcode's context: callers match
    /// the case, and no prefix of the message decides anything.
    func testPickleErrorsKeepTheirReasonUnderTheOpcodeContext() throws {
        var p = PickleScript()
        p.global("builtins", "exec"); p.stop()
        do {
            _ = try TorchFile.read(data: Self.torchZip(p))
            XCTFail("accepted")
        } catch let error as FormatError {
            guard case .context(let context, let inner) = error.reason else { return XCTFail("\(error.reason)") }
            XCTAssertTrue(context.hasPrefix("pickle opcode 0x63 at byte 2"), context)
            XCTAssertEqual(inner, .refusedGlobal(module: "builtins", name: "exec"))
        }
    }

    // MARK: 11. Terminal injection

    /// Names from the file with a newline and ANSI escapes: the outline and the messages
    /// show them escaped, one line each, no escape byte reaching the terminal.
    func testControlCharactersInNamesAreEscapedInOutlineAndErrors() throws {
        let name = "w\u{1B}[32m OK\u{1B}[0m\nfake line"
        var p = PickleScript()
        p.orderedDict()
        p.mark(); p.string(name); p.floatTensor(key: "0", numel: 1, size: [4], stride: [1]); p.setItems()
        p.stop()
        let file = try Self.torchZip(p, storages: [("0", Self.floats([1]))])
        let outline = try TorchFile.tree(data: file)
        XCTAssertFalse(outline.unicodeScalars.contains("\u{1B}"), outline)
        XCTAssertTrue(outline.contains(#"w\u{1B}[32m OK\u{1B}[0m\nfake line: tensor f32[4]"#), outline)
        do {
            _ = try TorchFile.read(data: file)
            XCTFail("accepted a view past its storage")
        } catch let error as FormatError {
            XCTAssertFalse(error.description.unicodeScalars.contains("\u{1B}"), error.description)
            XCTAssertFalse(error.description.contains("\n"), error.description)
            guard case .malformed(let what, _) = error.reason.root else { return XCTFail("\(error.reason)") }
            XCTAssertTrue(what.contains(name), what) // the facts stay raw; only the message escapes them
        }
    }
}
