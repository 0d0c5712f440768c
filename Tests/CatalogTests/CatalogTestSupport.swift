@testable import Catalog
import GRDB
import Foundation
import Format
import XCTest

/// Runs the real `ckpt` binary built next to the test bundle.
enum CatalogCLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var crashed: Bool
    }

    static var binary: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("ckpt")
        }
        return Bundle.main.bundleURL.appendingPathComponent("ckpt")
    }

    /// A started process whose output goes to files (so nothing blocks on a full pipe).
    static func start(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> (Process, URL, URL) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "CKPT_STORE")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let id = UUID().uuidString
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-out-\(id)")
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-err-\(id)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        return (process, out, err)
    }

    static func finish(_ process: Process, _ out: URL, _ err: URL) -> Result {
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "",
                      crashed: process.terminationReason == .uncaughtSignal)
    }

    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> Result {
        let (process, out, err) = try start(arguments, in: directory, environment: environment)
        return finish(process, out, err)
    }
}

/// Asserts that `expression` throws exactly `expected` (cases, not message text).
func assertCatalogError<T>(_ expression: @autoclosure () throws -> T, _ expected: CatalogError,
                           file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        XCTAssertEqual(error as? CatalogError, expected, "\(error)", file: file, line: line)
    }
}

/// A scratch directory per test, and `ckpt` run in it.
class CatalogTestCase: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    func path(_ name: String) -> String { work.appendingPathComponent(name).path }
    func url(_ name: String) -> URL { work.appendingPathComponent(name) }

    @discardableResult
    func ckpt(_ arguments: String..., in directory: URL? = nil, environment: [String: String] = [:], expect status: Int32 = 0,
              file: StaticString = #filePath, line: UInt = #line) throws -> CatalogCLI.Result {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: CatalogCLI.binary.path), "build ckpt first: \(CatalogCLI.binary.path)", file: file, line: line)
        let result = try CatalogCLI.run(arguments, in: directory ?? work, environment: environment)
        XCTAssertFalse(result.crashed, "ckpt \(arguments.joined(separator: " ")) crashed: \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.status, status, "ckpt \(arguments.joined(separator: " ")): \(result.stderr)\(result.stdout)", file: file, line: line)
        return result
    }
}

/// Deterministic Gaussian weights: SplitMix64 feeding Box-Muller, so every run of a test
/// sees the same model without shipping one.
struct Gaussian {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` float32 samples of N(0, scale^2), as tensor bytes.
    mutating func floats(_ count: Int, scale: Float) -> Data {
        var data = Data(count: count * 4)
        data.withUnsafeMutableBytes { raw in
            let out = raw.bindMemory(to: Float.self)
            var k = 0
            while k < count {
                let u1 = Float(next() >> 40 | 1) * 0x1p-24, u2 = Float(next() >> 40) * 0x1p-24
                let radius = (-2 * logf(u1)).squareRoot() * scale
                out[k] = radius * cosf(2 * .pi * u2)
                if k + 1 < count { out[k + 1] = radius * sinf(2 * .pi * u2) }
                k += 2
            }
        }
        return data
    }

    mutating func tensor(_ shape: [Int], scale: Float = 0.05) -> Tensor {
        try! Tensor(dtype: .f32, shape: shape, data: floats(shape.reduce(1, *), scale: scale))
    }
}

/// MiniLM-L6 (sentence-transformers/all-MiniLM-L6-v2): the exact tensor names and
/// shapes of its model.safetensors: 104 tensors, 22.7 M parameters.
enum MiniLM {
    static let layers = 6

    static func layerShapes(_ layer: Int) -> [(String, [Int])] {
        let p = "encoder.layer.\(layer)."
        return [
            (p + "attention.output.LayerNorm.bias", [384]), (p + "attention.output.LayerNorm.weight", [384]),
            (p + "attention.output.dense.bias", [384]), (p + "attention.output.dense.weight", [384, 384]),
            (p + "attention.self.key.bias", [384]), (p + "attention.self.key.weight", [384, 384]),
            (p + "attention.self.query.bias", [384]), (p + "attention.self.query.weight", [384, 384]),
            (p + "attention.self.value.bias", [384]), (p + "attention.self.value.weight", [384, 384]),
            (p + "intermediate.dense.bias", [1536]), (p + "intermediate.dense.weight", [1536, 384]),
            (p + "output.LayerNorm.bias", [384]), (p + "output.LayerNorm.weight", [384]),
            (p + "output.dense.bias", [384]), (p + "output.dense.weight", [384, 1536]),
        ]
    }

    /// Every tensor, in the file's order; `position_ids` is the int64 0..<512 it holds.
    static func checkpoint(seed: UInt64) -> Checkpoint {
        var gaussian = Gaussian(seed: seed)
        var tensors: [NamedTensor] = []
        func add(_ name: String, _ shape: [Int]) { tensors.append(NamedTensor(name: name, tensor: gaussian.tensor(shape))) }
        add("embeddings.LayerNorm.bias", [384])
        add("embeddings.LayerNorm.weight", [384])
        add("embeddings.position_embeddings.weight", [512, 384])
        var ids = Data(count: 512 * 8)
        ids.withUnsafeMutableBytes { raw in for k in 0..<512 { raw.storeBytes(of: Int64(k).littleEndian, toByteOffset: k * 8, as: Int64.self) } }
        tensors.append(NamedTensor(name: "embeddings.position_ids", tensor: try! Tensor(dtype: .i64, shape: [1, 512], data: ids)))
        add("embeddings.token_type_embeddings.weight", [2, 384])
        add("embeddings.word_embeddings.weight", [30522, 384])
        for layer in 0..<layers {
            for (name, shape) in layerShapes(layer) { add(name, shape) }
        }
        add("pooler.dense.bias", [384])
        add("pooler.dense.weight", [384, 384])
        return Checkpoint(tensors: tensors)
    }

    /// The same model with the last encoder layer replaced by new weights.
    static func withLastLayerRetrained(_ base: Checkpoint, seed: UInt64) -> Checkpoint {
        var gaussian = Gaussian(seed: seed)
        var copy = base
        let last = Dictionary(uniqueKeysWithValues: layerShapes(layers - 1))
        for k in copy.tensors.indices {
            if let shape = last[copy.tensors[k].name] { copy.tensors[k].tensor = gaussian.tensor(shape) }
        }
        return copy
    }
}

/// A small model with every feature a version can hold: aliases, an architecture
/// document, metadata and a probe.
enum SmallModel {
    static func checkpoint(seed: UInt64, hidden: Int = 64, architectureWidth: Int? = nil) -> Checkpoint {
        var gaussian = Gaussian(seed: seed)
        let tensors = [
            NamedTensor(name: "0.weight", tensor: gaussian.tensor([hidden, 32])),
            NamedTensor(name: "0.bias", tensor: gaussian.tensor([hidden])),
            NamedTensor(name: "2.weight", aliases: ["head.weight"], tensor: gaussian.tensor([10, hidden])),
            NamedTensor(name: "2.bias", tensor: gaussian.tensor([10])),
        ]
        let architecture = """
            {"version": 1, "module": {"type": "Sequential", "children": [
              {"type": "Linear", "in_features": 32, "out_features": \(architectureWidth ?? hidden)},
              {"type": "ReLU"},
              {"type": "Linear", "in_features": \(architectureWidth ?? hidden), "out_features": 10}]}}
            """
        let probe = Probe(name: "p0", inputs: [gaussian.tensor([1, 32])], outputs: [gaussian.tensor([1, 10])],
                          rtol: 1e-4, atol: 1e-5, origin: .expected)
        return Checkpoint(tensors: tensors, architecture: try! Architecture.parse(Data(architecture.utf8)), // a literal valid document
                          metadata: .object(["epoch": .number(Double(seed)), "note": .string("synthetic")]), probes: [probe])
    }
}

/// A store as an older ckpt left it: versions saved by today's code (which needs today's
/// tables), then the tables of every later migration dropped and their records removed,
/// so the file holds exactly an old schema's tables and rows.
enum OldStore {
    /// The tables each migration adds, by identifier.
    static let tables = ["v2-probes": ["probe_tensor", "probe"], "v3-pruning": ["saved_parent", "pruned_ancestor"]]

    static func make(in directory: URL, schemaUpTo migration: String, _ fill: (Store) throws -> Void) throws -> URL {
        let (store, _) = try Store.create(in: directory)
        try fill(store)
        let later = Schema.versions.drop { $0 != migration }.dropFirst()
        try store.pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            for identifier in later.reversed() {
                for table in tables[identifier]! { try db.execute(sql: "DROP TABLE \(table)") }
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = ?", arguments: [identifier])
            }
            try db.execute(sql: "PRAGMA user_version = \(Schema.versions.firstIndex(of: migration)! + 1)")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        XCTAssertEqual(try store.schema(), Array(Schema.versions.prefix { $0 != migration } + [migration]))
        return store.root
    }
}

extension Store {
    /// Bytes the store takes: every object file plus the catalog, its log folded in first.
    func totalBytes() throws -> Int {
        try checkpointLog()
        return try objects.enumerate().objects.reduce(0) { $0 + $1.size } + catalogBytes()
    }
}
