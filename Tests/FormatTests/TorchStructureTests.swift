import Foundation
import XCTest
@testable import Format

/// A real training checkpoint (fixtures/training/full.pt, written by torch.save in
/// make.py): its structure as read equals, node for node, what Python saw
/// (expected.json: every key with its type, every leaf with its type and value, floats
/// by their bits); written back by `TorchFile.write`, it reads as the same structure.
final class TorchStructureTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/training")

    /// The nodes as make.py's `leaf` lists them.
    static func nodes(_ structure: CheckpointStructure, _ checkpoint: Checkpoint) -> [[String: JSONValue]] {
        var out: [[String: JSONValue]] = []
        func keyJSON(_ key: CheckpointStructure.Key) -> JSONValue {
            switch key {
            case .string(let text): return .array([.string("str"), .string(text)])
            case .int(let n): return .array([.string("int"), .string(String(n))])
            case .bool(let flag): return .array([.string("bool"), .string(flag ? "True" : "False")])
            case .float(let x): return .array([.string("float"), .string(String(x.bitPattern, radix: 16).leftPadded(to: 16))])
            case .none: return .array([.string("NoneType"), .string("None")])
            }
        }
        func walk(_ node: CheckpointStructure, _ path: String) {
            switch node {
            case .dict(let entries, let ordered):
                out.append(["path": .string(path), "type": .string(ordered ? "OrderedDict" : "dict"), "keys": .array(entries.map { keyJSON($0.key) })])
                for entry in entries { walk(entry.value, joinPath(path, entry.key.pathLabel)) }
            case .list(let items), .tuple(let items):
                let kind: String
                if case .list = node { kind = "list" } else { kind = "tuple" }
                out.append(["path": .string(path), "type": .string(kind), "length": .number(Double(items.count))])
                for (k, item) in items.enumerated() { walk(item, joinPath(path, String(k))) }
            case .tensor(let name):
                let tensor = checkpoint.tensor(named: name)
                let torchName: [DType: String] = [.f32: "float32", .i64: "int64", .u8: "uint8", .f64: "float64", .bool: "bool"]
                out.append(["path": .string(path), "type": .string("tensor"),
                            "dtype": .string("torch." + (tensor.map { torchName[$0.dtype] ?? $0.dtype.rawValue } ?? "missing")),
                            "shape": .array((tensor?.shape ?? [-1]).map { .number(Double($0)) })])
            case .float(let x):
                out.append(["path": .string(path), "type": .string("float"), "bits": .string(String(x.bitPattern, radix: 16).leftPadded(to: 16))])
            case .bytes(let data):
                out.append(["path": .string(path), "type": .string("bytes"), "hex": .string(data.map { String(format: "%02x", $0) }.joined())])
            case .int(let n): out.append(["path": .string(path), "type": .string("int"), "value": .string(String(n))])
            case .bigInt(let text): out.append(["path": .string(path), "type": .string("int"), "value": .string(text)])
            case .bool(let flag): out.append(["path": .string(path), "type": .string("bool"), "value": .string(flag ? "True" : "False")])
            case .string(let text): out.append(["path": .string(path), "type": .string("str"), "value": .string(text)])
            case .none: out.append(["path": .string(path), "type": .string("NoneType"), "value": .null])
            case .opaque(let json): out.append(["path": .string(path), "type": .string("opaque"), "value": json])
            }
        }
        walk(structure, "")
        return out
    }

    func expected() throws -> [[String: JSONValue]] {
        let document = try JSONValue.parse(try Data(contentsOf: Self.folder.appendingPathComponent("expected.json")))
        guard case .array(let nodes)? = document["nodes"] else { throw XCTSkip("expected.json has no nodes") }
        return nodes.map { node in if case .object(let members) = node { return members }; return [:] }
    }

    func assertMatchesPython(_ checkpoint: Checkpoint, file: StaticString = #filePath, line: UInt = #line) throws {
        let structure = try XCTUnwrap(checkpoint.structure, file: file, line: line)
        let got = Self.nodes(structure, checkpoint)
        let truth = try expected()
        XCTAssertEqual(got.count, truth.count, file: file, line: line)
        for (a, b) in zip(got, truth) where a != b {
            XCTFail("\(a) != \(b)", file: file, line: line)
            break
        }
    }

    func testARealTrainingCheckpointKeepsItsStructure() throws {
        let checkpoint = try TorchFile.read(contentsOf: Self.folder.appendingPathComponent("full.pt"))
        try assertMatchesPython(checkpoint)
        // Tensor names are the canonical paths; the tied head is an alias of the embedding.
        let embed = try XCTUnwrap(checkpoint.tensors.first { $0.name == "model.embed.weight" })
        XCTAssertEqual(embed.aliases, ["model.head.weight"])
        XCTAssertNotNil(checkpoint.tensor(named: "optimizer.state.0.exp_avg"))
        XCTAssertEqual(checkpoint.tensor(named: "rng")?.dtype, .u8)
        XCTAssertNil(checkpoint.metadata, "every value is in the structure")
        XCTAssertEqual(checkpoint.tensorsOutsideStructure, [])
    }

    func testWrittenBackAsTorchItReadsTheSame() throws {
        let checkpoint = try TorchFile.read(contentsOf: Self.folder.appendingPathComponent("full.pt"))
        let back = try TorchFile.read(data: try TorchFile.encode(checkpoint))
        try assertMatchesPython(back)
        XCTAssertEqual(back.structure, checkpoint.structure)
        for named in checkpoint.tensors {
            XCTAssertEqual(back.tensor(named: named.name)?.data, named.tensor.data, named.name)
        }
        XCTAssertEqual(back.tensors.first { $0.name == "model.embed.weight" }?.aliases, ["model.head.weight"])
    }

    func testAKeySelectsAPartWithItsStructure() throws {
        let url = Self.folder.appendingPathComponent("full.pt")
        let optimizer = try TorchFile.read(contentsOf: url, key: "optimizer")
        guard case .dict(let entries, _)? = optimizer.structure, case .dict(let state, _)? = entries.first?.value else {
            return XCTFail("\(String(describing: optimizer.structure))")
        }
        XCTAssertEqual(state.first?.key, .int(0))
        XCTAssertNotNil(optimizer.tensor(named: "state.0.exp_avg"))
        // The model part is a plain state_dict: no structure, the same names as before.
        let model = try TorchFile.read(contentsOf: url, key: "model")
        XCTAssertNil(model.structure)
        XCTAssertEqual(model.tensors.first?.name, "embed.weight")
    }

    func testBigIntegersConvertBothWays() throws {
        for (text, bytes) in [("1180591620717411303425", [0x01, 0, 0, 0, 0, 0, 0, 0, 0x40] as [UInt8]), ("-36893488147419103232", [0, 0, 0, 0, 0, 0, 0, 0, 0xFE])] {
            XCTAssertEqual(TorchStructureBuilder.decimal(twosComplement: bytes, maxDigits: 4300), text)
            XCTAssertEqual(CheckpointStructure.twosComplement(decimal: text), bytes)
        }
        XCTAssertNil(TorchStructureBuilder.decimal(twosComplement: [UInt8](repeating: 0x7F, count: 3000), maxDigits: 4300))
    }
}
