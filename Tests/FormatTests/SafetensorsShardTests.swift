@testable import Format
import Foundation
import XCTest

/// Sharded safetensors (`SafetensorsShards`): a checkpoint that transformers' own
/// `save_pretrained(max_shard_size="30KB")` split into three shards (fixtures/sharded/make.py)
/// reads as the tensors safetensors' `load_file` gives for those shards; ckpt's shards split as
/// huggingface_hub does and read back whole; every inconsistent index is refused, typed.
final class SafetensorsShardTests: XCTestCase {
    static let folder = InteropTests.packageRoot.appendingPathComponent("fixtures/sharded")
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    func assertSame(_ a: Checkpoint, _ b: Checkpoint, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.tensors.map(\.name)), Set(b.tensors.map(\.name)), file: file, line: line)
        for named in a.tensors {
            let other = b.tensors.first { $0.name == named.name }
            XCTAssertEqual(other?.tensor.dtype, named.tensor.dtype, named.name, file: file, line: line)
            XCTAssertEqual(other?.tensor.shape, named.tensor.shape, named.name, file: file, line: line)
            XCTAssertEqual(other?.tensor.data, named.tensor.data, named.name, file: file, line: line)
            XCTAssertEqual(other?.aliases, named.aliases, named.name, file: file, line: line)
        }
    }

    func testTransformersShardsReadAsSafetensorsLoadsThem() throws {
        let index = Self.folder.appendingPathComponent("bert/model.safetensors.index.json")
        XCTAssertEqual(try FileKind.detect(index), .safetensorsIndex)
        let sharded = try Importer.load(contentsOf: index)
        let reference = try Safetensors.read(contentsOf: Self.folder.appendingPathComponent("reference.safetensors"))
        XCTAssertEqual(sharded.tensors.count, 42)
        assertSame(reference, sharded)
        // total_size and total_parameters describe the shards, not the checkpoint.
        XCTAssertNil(sharded.metadata)
    }

    func testShardsSplitAsHuggingFaceHubDoesAndReadBack() throws {
        let reference = try Safetensors.read(contentsOf: Self.folder.appendingPathComponent("reference.safetensors"))
        let url = work.appendingPathComponent("model.safetensors")
        let layout = try SafetensorsShards.layout(reference, named: url, maxShardSize: 30_000)
        XCTAssertEqual(layout.index, "model.safetensors.index.json")
        XCTAssertEqual(layout.shards.map(\.file).first, "model-00001-of-0000\(layout.shards.count).safetensors")
        let sizes = Dictionary(uniqueKeysWithValues: reference.tensors.map { ($0.name, $0.tensor.data.count) })
        for shard in layout.shards {
            let total = shard.tensors.reduce(0) { $0 + sizes[$1]! }
            XCTAssertTrue(total <= 30_000 || shard.tensors.count == 1, "\(shard.file): \(total) bytes")
        }
        // The greedy rule: no shard could have taken the next shard's first tensor.
        for (shard, next) in zip(layout.shards, layout.shards.dropFirst()) {
            let total = shard.tensors.reduce(0) { $0 + sizes[$1]! }
            XCTAssertGreaterThan(total + sizes[next.tensors[0]]!, 30_000)
        }
        let files = try SafetensorsShards.write(reference, to: url, maxShardSize: 30_000)
        XCTAssertEqual(files.map(\.lastPathComponent), layout.shards.map(\.file) + ["model.safetensors.index.json"])
        assertSame(reference, try Importer.load(contentsOf: files.last!))
    }

    func testATensorOverTheLimitHasAShardOfItsOwnAndOneShardIsOneFile() throws {
        func tensor(_ name: String, _ count: Int) throws -> NamedTensor {
            NamedTensor(name: name, tensor: try Tensor(dtype: .u8, shape: [count], data: Data(repeating: 7, count: count)))
        }
        let checkpoint = Checkpoint(tensors: [try tensor("a", 10), try tensor("big", 500), try tensor("b", 60), try tensor("c", 50)])
        let url = work.appendingPathComponent("m.safetensors")
        let layout = try SafetensorsShards.layout(checkpoint, named: url, maxShardSize: 100)
        XCTAssertEqual(layout.shards.map(\.tensors), [["big"], ["a", "b"], ["c"]])
        let single = try SafetensorsShards.layout(checkpoint, named: url, maxShardSize: 1_000)
        XCTAssertNil(single.index)
        XCTAssertEqual(single.shards.map(\.file), ["m.safetensors"])
        XCTAssertEqual(try SafetensorsShards.write(checkpoint, to: url, maxShardSize: 1_000), [url])
        XCTAssertEqual(try FileKind.detect(url), .safetensors)
    }

    func testAliasesMetadataAndStructureSurviveSharding() throws {
        var weight = NamedTensor(name: "model.w", tensor: try Tensor(dtype: .f32, shape: [64], data: Data(repeating: 1, count: 256)))
        weight.aliases = ["model.tied"]
        let bias = NamedTensor(name: "model.b", tensor: try Tensor(dtype: .f32, shape: [64], data: Data(repeating: 2, count: 256)))
        let structure = CheckpointStructure.dict([
            .init(.string("model"), .stateDict(["model.w", "model.b", "model.tied"])),
            .init(.string("epoch"), .int(3)),
        ], ordered: false)
        let checkpoint = Checkpoint(tensors: [weight, bias], metadata: .object(["run": .string("r1"), "step": .number(10)]),
                                    structure: structure)
        let files = try SafetensorsShards.write(checkpoint, to: work.appendingPathComponent("x.safetensors"), maxShardSize: 300)
        XCTAssertEqual(files.count, 3)
        let back = try Importer.load(contentsOf: files.last!)
        assertSame(checkpoint, back)
        XCTAssertEqual(back.metadata, checkpoint.metadata)
        XCTAssertEqual(back.structure, structure)
    }

    /// Writes an index and shards of one tensor each (`shards`: file -> tensor names in it).
    func forge(_ index: String, shards: [String: [String]]) throws -> URL {
        for (file, names) in shards {
            let tensors = try names.map { NamedTensor(name: $0, tensor: try Tensor(dtype: .u8, shape: [1], data: Data([1]))) }
            try Safetensors.write(Checkpoint(tensors: tensors), to: work.appendingPathComponent(file))
        }
        let url = work.appendingPathComponent("model.safetensors.index.json")
        try Data(index.utf8).write(to: url)
        return url
    }

    func assertReason(_ url: URL, file: StaticString = #filePath, line: UInt = #line, _ matches: (FormatError.Reason) -> Bool) {
        do {
            _ = try Importer.load(contentsOf: url)
            XCTFail("accepted", file: file, line: line)
        } catch let error as FormatError {
            XCTAssertTrue(matches(error.reason.root), "\(error)", file: file, line: line)
            XCTAssertNotNil(error.file, file: file, line: line)
        } catch {
            XCTFail("\(type(of: error)): \(error)", file: file, line: line)
        }
    }

    func testInconsistentIndexesAreRefused() throws {
        let escape = try forge(#"{"weight_map": {"a": "../a.safetensors"}}"#, shards: [:])
        assertReason(escape) { if case .refused = $0 { return true }; return false }
        let missing = try forge(#"{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}"#, shards: ["s1.safetensors": ["a"]])
        assertReason(missing) { if case .notFound = $0 { return true }; return false }
        let unlisted = try forge(#"{"weight_map": {"a": "s1.safetensors"}}"#, shards: ["s1.safetensors": ["a", "c"]])
        assertReason(unlisted) { if case .malformed(let what, _) = $0 { return what.contains("'c'") }; return false }
        let twice = try forge(#"{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}"#,
                              shards: ["s1.safetensors": ["a"], "s2.safetensors": ["b", "a"]])
        assertReason(twice) { $0 == .malformed(what: "tensor 'a'", detail: "it is in shard 's2.safetensors' but weight_map does not place it there") }
        let notMap = try forge(#"{"weight_map": ["a"]}"#, shards: [:])
        assertReason(notMap) { if case .malformed(let what, _) = $0 { return what == "shard index" }; return false }
        let notJSON = try forge("{weight", shards: [:])
        assertReason(notJSON) { if case .malformed(let what, _) = $0 { return what == "shard index" }; return false }
        let absent = try forge(#"{"weight_map": {"a": "gone.safetensors"}}"#, shards: [:])
        assertReason(absent) { if case .io = $0 { return true }; return false }
    }
}
