import Foundation

/// The archive `torch.export.save(torch.export.export(model, args), "m.pt2")` writes, read
/// with no Python and no pickle code executed: the program becomes a graph document
/// (`GraphDocument`, spec/ARCH.md "Graph documents"), every parameter, buffer and constant a
/// tensor under its state_dict name from the graph signature (so a state_dict of the same
/// model lines up), and the example inputs a `sample` probe (inputs only).
///
/// Every byte is hostile: the zip goes through the torch reader's checks, the JSON through a
/// depth bound and the graph validator's limits, tensor views through the one strided copy
/// and the input's `MemoryBudget`, the sample-input pickle through the safe pickle machine.
/// A schema major version this reader does not know is refused by number.
public enum Pt2File {
    public static func read(contentsOf url: URL, budget: MemoryBudget? = nil) throws -> Checkpoint {
        do { return try read(data: InteropFile.mapped(url), zip: nil, budget: budget) } catch { throw error.attributed(to: url.path) }
    }

    /// Reads an archive held in memory (or mapped).
    public static func read(data: Data, budget: MemoryBudget? = nil) throws -> Checkpoint {
        try read(data: data, zip: nil, budget: budget)
    }

    /// True when `data` is a zip laid out as a pt2 archive.
    public static func recognizes(_ data: Data) -> Bool { ExportArchive.zip(data) != nil }

    /// Without a `budget`, one sized from the file: weights are stored as they are, so what
    /// they can rightly expand to (views copied out, byte swaps) is of the order of the file.
    static func read(data: Data, zip: TorchZip?, budget: MemoryBudget?) throws -> Checkpoint {
        let budget = budget ?? MemoryBudget.forUncompressedInput(bytes: data.count)
        let archive = try ExportArchive(data: data, zip: zip)
        let model = try programName(in: archive)
        let program: ExportProgram
        do {
            let text = try archive.required("models/\(model).json")
            try budget.reserve(text.count * 8, for: "the program's JSON") // the decoded tree, roughly
            program = try ExportProgram(json: try ExactJSON.parse(text, maxDepth: GraphLimits.maxJSONDepth, what: "the program"))
        } catch let error as FormatError {
            throw error.within("\(archive.zip.prefix)/models/\(model).json")
        }
        let document = program.document
        let tensors = try self.tensors(for: document, model: model, archive: archive, budget: budget)
        var probes: [Probe] = []
        if let inputs = try sampleInputs(model: model, archive: archive, document: document, budget: budget) {
            probes.append(Probe(name: "sample", inputs: inputs, outputs: [], origin: .sample))
        }
        var metadata: [String: JSONValue] = ["source": .string("torch.export"), "export_schema": .string(program.schemaVersion)]
        if let torch = program.torchVersion { metadata["torch_version"] = .string(torch) }
        return Checkpoint(tensors: tensors, architecture: Architecture(document), metadata: .object(metadata), probes: probes)
    }

    private static func programName(in archive: ExportArchive) throws -> String {
        let names = archive.modelNames
        if names.contains("model") { return "model" }
        guard names.count == 1, let only = names.first else {
            if names.isEmpty { throw FormatError(.notFound(kind: "zip entry", name: "\(archive.zip.prefix)/models/*.json")) }
            throw Fault.refused("an archive of \(names.count) programs (\(names.prefix(8).joined(separator: ", ")))", "ckpt imports one program; none is named 'model'")
        }
        return only
    }

    /// The bound tensors in signature order (parameters, buffers, constants), named as the
    /// state_dict names them; a name whose view repeats an earlier one's is its alias; tensors
    /// of the payload that no placeholder uses follow, so nothing stored is lost.
    private static func tensors(for document: GraphDocument, model: String, archive: ExportArchive, budget: MemoryBudget) throws -> [NamedTensor] {
        let reader = ExportWeights(archive: archive, budget: budget)
        var payload = try reader.tensors(config: "data/weights/\(model)_weights_config.json", folder: "data/weights/")
        if payload.isEmpty, let legacy = try archive.record("data/weights/\(model).pt") {
            for named in try TorchFile.read(data: legacy, budget: budget).tensors {
                for name in named.allNames { payload[name] = (named.tensor, nil) }
            }
        }
        for (name, entry) in try reader.tensors(config: "data/constants/\(model)_constants_config.json", folder: "data/constants/") {
            guard payload.updateValue(entry, forKey: name) == nil else { throw FormatError(.duplicateName(kind: "weight or constant", name: name)) }
        }
        var result: [NamedTensor] = []
        var byView: [TorchTensor.ViewKey: Int] = [:]
        var used = Set<String>()
        func add(_ name: String, _ entry: (tensor: Tensor, view: TorchTensor.ViewKey?)) {
            used.insert(name)
            if let view = entry.view, let index = byView[view] {
                result[index].aliases.append(name)
                return
            }
            if let view = entry.view { byView[view] = result.count }
            result.append(NamedTensor(name: name, tensor: entry.tensor))
        }
        for binding in document.tensors {
            guard let entry = payload[binding.tensor] else {
                throw FormatError(.context("the graph's \(binding.role.rawValue) '\(binding.value)'", .notFound(kind: "stored tensor", name: binding.tensor)))
            }
            let type = binding.type
            guard entry.tensor.dtype == type.dtype, type.fixedShape == entry.tensor.shape else {
                throw FormatError(.context("stored tensor '\(binding.tensor)' is \(entry.tensor.dtype.rawValue)\(Tensor.describe(entry.tensor.shape))",
                                           .shapeMismatch(name: binding.value, expected: type.fixedShape ?? [], found: entry.tensor.shape)))
            }
            add(binding.tensor, entry)
        }
        for name in payload.keys.sorted() where !used.contains(name) { add(name, payload[name]!) }
        return result
    }

    /// The example inputs (`data/sample_inputs/NAME.pt`: torch.save of `(args, kwargs)`), in
    /// the graph's input order: positional arguments, then keyword arguments as pickled.
    /// Nil when the archive has none.
    private static func sampleInputs(model: String, archive: ExportArchive, document: GraphDocument, budget: MemoryBudget) throws -> [Tensor]? {
        guard let bytes = try archive.record("data/sample_inputs/\(model).pt") else { return nil }
        let context = "\(archive.zip.prefix)/data/sample_inputs/\(model).pt"
        let pickled: Checkpoint
        do { pickled = try TorchFile.read(data: bytes, name: "input", budget: budget) } catch let error as FormatError { throw error.within(context) }
        // Names are paths into (args, kwargs): "0.K" for argument K, "1.NAME" for a keyword.
        var found: [(order: (Int, Int, Int), tensor: Tensor)] = []
        var walk = 0
        for named in pickled.tensors {
            for name in named.allNames {
                walk += 1
                let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2, let group = Int(parts[0]), group == 0 || group == 1 else {
                    throw Fault.malformed(context, "tensor '\(name)' is not inside (args, kwargs)")
                }
                found.append(((group, group == 0 ? Int(parts[1].prefix(while: \.isNumber)) ?? Int.max : 0, walk), named.tensor))
            }
        }
        found.sort { $0.order < $1.order }
        let expected = document.inputs.compactMap { $0.type.tensor }
        guard found.count == expected.count, zip(found, expected).allSatisfy({ $0.tensor.dtype == $1.dtype && $0.tensor.shape.count == $1.shape.count }) else {
            throw Fault.malformed(context, "its \(found.count) tensors do not match the program's \(expected.count) tensor inputs")
        }
        return found.map(\.tensor)
    }
}
