import Foundation
import XCTest
@testable import Format

/// `.pt2` import against what torch wrote (fixtures/export/make.py): every tensor equals
/// torch's own state_dict (plus the program's constants), the graph's inputs and outputs
/// are those torch declared, dynamic dimensions keep their range, nodes keep their module
/// paths; and crafted archives are refused with typed reasons.
final class Pt2ImportTests: XCTestCase {
    static let models = ["mlp", "tagger", "gru", "encoder", "unet", "dynamic", "vit", "bert", "distilbert", "gpt2"]

    static func url(_ name: String) -> URL { TorchTests.url("export/\(name)") }

    static func arrays(_ model: String, _ kind: String) throws -> [Tensor] {
        var result: [Tensor] = []
        while FileManager.default.fileExists(atPath: url("\(model).\(kind)\(result.count).npy").path) {
            result.append(try Npy.read(contentsOf: url("\(model).\(kind)\(result.count).npy")))
        }
        return result
    }

    func testEveryFixtureImportsWithTorchsTensorsInputsAndOutputs() throws {
        for model in Self.models {
            let checkpoint = try Pt2File.read(contentsOf: Self.url("\(model).pt2"))
            let graph = try XCTUnwrap(checkpoint.architecture?.graph, model)
            // Tensors: exactly the state_dict and constants torch saved, byte for byte.
            let truth = try Safetensors.read(contentsOf: Self.url("\(model).safetensors"))
            XCTAssertEqual(Set(checkpoint.allNames), Set(truth.allNames), model)
            for name in truth.allNames {
                let mine = try XCTUnwrap(checkpoint.tensor(named: name), "\(model) \(name)")
                let theirs = try XCTUnwrap(truth.tensor(named: name))
                XCTAssertEqual(mine.dtype, theirs.dtype, "\(model) \(name)")
                XCTAssertEqual(mine.shape, theirs.shape, "\(model) \(name)")
                XCTAssertEqual(mine.data, theirs.data, "\(model) \(name)")
            }
            // Every placeholder bound to a stored tensor, under its state_dict name.
            for binding in graph.tensors { XCTAssertNotNil(checkpoint.tensor(named: binding.tensor), "\(model) \(binding.tensor)") }
            // Inputs as torch declared them (fixed sizes equal, dynamic ones a symbol), and the
            // sample probe holds torch's example inputs exactly.
            let inputs = try Self.arrays(model, "in")
            XCTAssertEqual(graph.inputs.count, inputs.count, model)
            for (value, array) in zip(graph.inputs, inputs) {
                let type = try XCTUnwrap(value.type.tensor, model)
                XCTAssertEqual(type.dtype, array.dtype, model)
                XCTAssertEqual(type.shape.count, array.shape.count, model)
                if model != "dynamic" { XCTAssertEqual(type.fixedShape, array.shape, model) }
            }
            let sample = try XCTUnwrap(checkpoint.probes.first, model)
            XCTAssertEqual(sample.origin, .sample)
            XCTAssertTrue(sample.outputs.isEmpty)
            XCTAssertEqual(sample.inputs.map(\.data), inputs.map(\.data), model)
            XCTAssertEqual(sample.inputs.map(\.shape), inputs.map(\.shape), model)
            // Outputs: one per tensor torch returned, of its dtype and (fixed) shape.
            let outputs = try Self.arrays(model, "out")
            XCTAssertEqual(graph.outputs.count, outputs.count, model)
            let types = graph.valueTypes()
            for (argument, array) in zip(graph.outputs, outputs) {
                guard case .tensor(let name) = argument, let type = types[name]?.tensor else { XCTFail("\(model): output \(argument)"); continue }
                XCTAssertEqual(type.dtype, array.dtype, model)
                if model != "dynamic" { XCTAssertEqual(type.fixedShape, array.shape, model) }
            }
            // Every op keeps torch's ATen name.
            XCTAssertTrue(graph.nodes.allSatisfy { $0.op.hasPrefix("aten.") }, "\(model): \(Set(graph.nodes.map(\.op)).filter { !$0.hasPrefix("aten.") })")
        }
    }

    func testOpsAndModulePathsAreTorchs() throws {
        // ops.json lists the targets torch's own graph holds (getitem is folded into outputs when serialized).
        let ops = try JSONValue.parse(Data(contentsOf: Self.url("ops.json")))
        for model in Self.models {
            let graph = try XCTUnwrap(Pt2File.read(contentsOf: Self.url("\(model).pt2")).architecture?.graph)
            guard case .array(let listed)? = ops[model]?["ops"] else { return XCTFail(model) }
            let expected = Set(listed.compactMap(\.stringValue).filter { $0.hasPrefix("aten.") })
            XCTAssertEqual(Set(graph.nodes.map(\.op)), expected, model)
        }
        let bert = try XCTUnwrap(Pt2File.read(contentsOf: Self.url("bert.pt2")).architecture?.graph)
        let query = "model.encoder.layer.1.attention.self.query"
        XCTAssertEqual(bert.modules.first { $0.path == query }?.className, "torch.nn.modules.linear.Linear")
        let node = try XCTUnwrap(bert.nodes.first { $0.module == query })
        XCTAssertEqual(node.op, "aten.linear.default")
        XCTAssertEqual(node.moduleStack.prefix(3), ["", "model", "model.encoder"])
        XCTAssertEqual(node.input("weight").flatMap { argument -> String? in
            if case .tensor(let name) = argument { return bert.tensors.first { $0.value == name }?.tensor }
            return nil
        }, query + ".weight")
        // The LSTM's three outputs are values of their own; its weights are one list argument.
        let tagger = try XCTUnwrap(Pt2File.read(contentsOf: Self.url("tagger.pt2")).architecture?.graph)
        let lstm = try XCTUnwrap(tagger.nodes.first { $0.op == "aten.lstm.input" })
        XCTAssertEqual(lstm.outputs.count, 3)
        guard case .tensors(let params)? = lstm.input("params") else { return XCTFail("\(lstm.inputs)") }
        XCTAssertEqual(params.count, 4)
        XCTAssertEqual(lstm.input("batch_first"), .bool(true))
    }

    func testADynamicBatchKeepsItsSymbolAndRange() throws {
        let checkpoint = try Pt2File.read(contentsOf: Self.url("dynamic.pt2"))
        let graph = try XCTUnwrap(checkpoint.architecture?.graph)
        XCTAssertEqual(graph.symbols.count, 1)
        let symbol = try XCTUnwrap(graph.symbols.first)
        XCTAssertEqual(symbol.min, 1)
        XCTAssertEqual(symbol.max, 64)
        let input = try XCTUnwrap(graph.inputs.first?.type.tensor)
        XCTAssertEqual(input.shape, [.symbol(symbol.name), .constant(1), .constant(8), .constant(8)])
        let types = graph.valueTypes()
        guard case .tensor(let output)? = graph.outputs.first, let outputType = types[output]?.tensor else { return XCTFail() }
        XCTAssertEqual(outputType.shape, [.symbol(symbol.name), .constant(3)])
        // The non-persistent buffer is stored, and marked as not in a state_dict.
        XCTAssertEqual(graph.tensors.first { $0.tensor == "scale" }?.role, .nonPersistentBuffer)
        XCTAssertEqual(graph.tensors.first { $0.tensor == "bn.running_mean" }?.role, .buffer)
    }

    func testAGraphCheckpointRoundTripsThroughACkpt() throws {
        let checkpoint = try Pt2File.read(contentsOf: Self.url("gpt2.pt2"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-pt2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("gpt2.ckpt")
        try CheckpointFile.write(checkpoint, to: url)
        let back = try CheckpointFile.read(contentsOf: url)
        XCTAssertEqual(back.architecture, checkpoint.architecture)
        XCTAssertEqual(back.architecture?.text, checkpoint.architecture?.text)
        XCTAssertEqual(back.probes.first?.origin, .sample)
        XCTAssertEqual(back.probes.first?.inputs.map(\.data), checkpoint.probes.first?.inputs.map(\.data))
        XCTAssertTrue(try ContainerReader(contentsOf: url).verify(loading: false).report.ok)
        XCTAssertEqual(try FileKind.detect(Self.url("gpt2.pt2")), .pt2)
        XCTAssertEqual(try Importer.load(contentsOf: Self.url("gpt2.pt2")).architecture, checkpoint.architecture)
    }

    // MARK: Hostile archives

    /// The records of a real archive, one of them rewritten, zipped again as torch writes zips.
    static func crafted(_ model: String, _ record: String, _ edit: (Data) -> Data) throws -> Data {
        let data = try Data(contentsOf: url("\(model).pt2"))
        let archive = try ExportArchive(data: data, zip: nil)
        var records: [TorchWriter.Record] = []
        for entry in archive.zip.records {
            let local = String(entry.name.dropFirst(archive.zip.prefix.count + 1))
            let bytes = try archive.required(local)
            records.append(TorchWriter.Record(name: local, data: local == record ? edit(bytes) : bytes))
        }
        var writer = try TorchWriter(Checkpoint(), folder: archive.zip.prefix)
        writer.records = records
        var out = Data()
        try writer.write { out.append(contentsOf: $0) }
        return out
    }

    static func editingJSON(_ model: String, _ edit: @escaping (String) -> String) throws -> Data {
        try crafted(model, "models/model.json") { Data(edit(String(decoding: $0, as: UTF8.self)).utf8) }
    }

    func reason(_ data: Data, file: StaticString = #filePath, line: UInt = #line) -> FormatError.Reason? {
        do {
            _ = try Pt2File.read(data: data)
            XCTFail("accepted", file: file, line: line)
        } catch let error as FormatError {
            return error.reason.root
        } catch {
            XCTFail("untyped: \(error)", file: file, line: line)
        }
        return nil
    }

    func testTheRewrittenArchiveStillReads() throws {
        let same = try Pt2File.read(data: try Self.crafted("mlp", "models/model.json") { $0 })
        XCTAssertEqual(same.architecture, try Pt2File.read(contentsOf: Self.url("mlp.pt2")).architecture)
    }

    func testAnUnknownSchemaMajorVersionIsRefusedByNumber() throws {
        let data = try Self.editingJSON("mlp") { $0.replacingOccurrences(of: #""schema_version": {"major": 8"#, with: #""schema_version": {"major": 99"#) }
        XCTAssertEqual(reason(data), .unsupportedVersion(what: "torch.export schema", found: "99.20", supported: "8.x"))
    }

    func testDanglingReferencesAndHugeSizesAreTypedErrors() throws {
        // The first linear reads a value no one defined.
        let dangling = try Self.editingJSON("mlp") {
            $0.replacingOccurrences(of: #"{"name": "input", "arg": {"as_tensor": {"name": "x"}}"#, with: #"{"name": "input", "arg": {"as_tensor": {"name": "ghost"}}"#)
        }
        XCTAssertEqual(reason(dangling), .notFound(kind: "value defined before argument 'input'", name: "ghost"))
        // A size beyond every bound, and an integer beyond 64 bits.
        let huge = try Self.editingJSON("mlp") { $0.replacingOccurrences(of: #"{"as_int": 16}"#, with: #"{"as_int": 9223372036854775807}"#) }
        // (The first tensor using that size is a weight [32, 16]: its element count is refused.)
        guard case .limitExceeded(what: let what, value: _, limit: 1 << 48)? = reason(huge) else { return XCTFail("\(String(describing: reason(huge)))") }
        XCTAssertTrue(what.contains("9223372036854775807"), what)
        let wide = try Self.editingJSON("mlp") { $0.replacingOccurrences(of: #"{"as_int": 16}"#, with: #"{"as_int": 92233720368547758070}"#) }
        guard case .invalidValue(field: _, value: _, expected: "an integer")? = reason(wide) else { return XCTFail("\(String(describing: reason(wide)))") }
        // A symbolic size that is no arithmetic ckpt knows.
        let function = try Self.editingJSON("dynamic") {
            $0.replacingOccurrences(of: #""expr_str": "Symbol("#, with: #""expr_str": "Exec(Symbol("#).replacingOccurrences(of: #"integer=True)""#, with: #"integer=True))""#)
        }
        guard case .refused(what: _, why: let why)? = reason(function) else { return XCTFail("\(String(describing: reason(function)))") }
        XCTAssertTrue(why.contains("Exec"), why)
    }

    func testDeepNestingAndBrokenRecordsAreTypedErrors() throws {
        let deep = try Self.editingJSON("mlp") { $0.replacingOccurrences(of: #""verifiers": ["#, with: #""verifiers": ["# + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + ",") }
        XCTAssertEqual(reason(deep), .tooDeep(what: "the program", limit: GraphLimits.maxJSONDepth))
        let notJSON = try Self.crafted("mlp", "models/model.json") { $0.prefix(100) }
        guard case .malformed(what: "the program", _)? = reason(notJSON) else { return XCTFail() }
        // A weight record shorter than the view its tensor_meta declares.
        let short = try Self.crafted("mlp", "data/weights/weight_0") { $0.prefix(8) }
        guard case .malformed(_, let detail)? = reason(short) else { return XCTFail("\(String(describing: reason(short)))") }
        XCTAssertTrue(detail.contains("needs"), detail)
        // A path_name that leaves the folder.
        let escape = try Self.crafted("mlp", "data/weights/model_weights_config.json") {
            Data(String(decoding: $0, as: UTF8.self).replacingOccurrences(of: #""path_name": "weight_0""#, with: #""path_name": "../../etc/passwd""#).utf8)
        }
        guard case .refused(what: "path_name '../../etc/passwd'", _)? = reason(escape) else { return XCTFail("\(String(describing: reason(escape)))") }
        // Sample inputs whose pickle calls a global outside the allowlist: refused, nothing run.
        var pickle = PickleScript()
        pickle.global("os", "system")
        pickle.mark()
        pickle.string("touch /tmp/ckpt-pt2-pwned")
        pickle.tuple()
        pickle.reduce()
        pickle.stop()
        let evilInputs = try HostileInteropTests.torchZip(pickle)
        let evil = try Self.crafted("mlp", "data/sample_inputs/model.pt") { _ in evilInputs }
        XCTAssertEqual(reason(evil), .refusedGlobal(module: "os", name: "system"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/ckpt-pt2-pwned"))
        let format = try Self.crafted("mlp", "archive_format") { _ in Data("executorch".utf8) }
        XCTAssertEqual(reason(format), .refused(what: "archive_format 'executorch'", why: "ckpt reads the 'pt2' archives torch.export.save writes"))
    }
}
