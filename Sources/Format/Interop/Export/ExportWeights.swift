import Foundation

/// The tensors of a pt2 archive's payload config (`data/weights/NAME_weights_config.json`,
/// `data/constants/NAME_constants_config.json`, schema.py's `PayloadConfig`): each name maps
/// to a record holding a whole untyped storage and the tensor's view of it (`tensor_meta`:
/// dtype, sizes, strides, storage offset). Views go through the torch reader's one strided
/// copy (`TorchTensor.materialize`), and two names with the same view of one record are one
/// tensor and its alias, as tied weights are in a `.pt` file.
struct ExportWeights {
    let archive: ExportArchive
    let budget: MemoryBudget

    /// The tensors of the config at `config` in folder `folder`, keyed by name.
    func tensors(config: String, folder: String) throws -> [String: (tensor: Tensor, view: TorchTensor.ViewKey?)] {
        guard let text = try archive.record(config) else { return [:] }
        let json = try ExactJSON.parse(text, maxDepth: 16, what: "'\(archive.zip.prefix)/\(config)'")
        let entries = try ExportJSON(json, path: config)["config"].object()
        guard entries.count <= GraphLimits.maxValues else {
            throw FormatError(.limitExceeded(what: "the entries of \(config)", value: UInt64(entries.count), limit: UInt64(GraphLimits.maxValues)))
        }
        var storages: [String: TorchStorage] = [:]
        var result: [String: (tensor: Tensor, view: TorchTensor.ViewKey?)] = [:]
        for (name, entry) in entries {
            do {
                result[name] = try tensor(entry, folder: folder, storages: &storages)
            } catch let error as FormatError {
                throw error.within("tensor '\(name)'")
            }
        }
        return result
    }

    private func tensor(_ entry: ExportJSON, folder: String, storages: inout [String: TorchStorage]) throws -> (tensor: Tensor, view: TorchTensor.ViewKey?) {
        let path = try entry["path_name"].string()
        guard !path.isEmpty, !path.contains("/"), !path.contains("\\"), path != "..", path != "." else {
            throw Fault.refused("path_name '\(path)'", "it is not a plain name")
        }
        let local = folder + path
        let bytes = try archive.required(local)
        if !entry["use_pickle"].isNull, try entry["use_pickle"].bool() {
            // torch pickles tensor subclasses (torch.save of one tensor): read with the safe reader.
            let checkpoint = try TorchFile.read(data: bytes, name: path, budget: budget)
            guard checkpoint.tensors.count == 1, let only = checkpoint.tensors.first else {
                throw Fault.malformed("'\(archive.zip.prefix)/\(local)'", "a pickled payload that is not one tensor")
            }
            return (only.tensor, nil)
        }
        let meta = entry["tensor_meta"]
        let code = try meta["dtype"].int()
        guard let dtype = ExportSchema.dtype(code) else { throw FormatError(.unsupportedDType(ExportSchema.scalarTypeName(code))) }
        if !meta["layout"].isNull, try meta["layout"].int() != 7 {
            throw Fault.refused("a tensor of layout \(ExportSchema.layout(try meta["layout"].int()) ?? "?")", "ckpt imports strided (dense) tensors")
        }
        func fixed(_ json: ExportJSON) throws -> Int {
            let (kind, value) = try json.union()
            guard kind == "as_int" else { throw json.fail("a fixed size (as_int)") }
            let number = try value.int()
            guard number >= 0 else { throw json.fail("a non-negative size") }
            return number
        }
        let shape = try meta["sizes"].array(limit: ArchitectureLimits.maxRank).map(fixed)
        let stride = try meta["strides"].array(limit: ArchitectureLimits.maxRank).map(fixed)
        guard shape.count == stride.count else { throw Fault.malformed("tensor_meta", "\(shape.count) sizes but \(stride.count) strides") }
        let offset = meta["storage_offset"].isNull ? 0 : try fixed(meta["storage_offset"])
        let count = try ArchitectureLimits.checkedElements(shape, what: "the tensor")
        if bytes.isEmpty {
            // torch writes no bytes for an empty tensor, and for a fake one, whose values are zeros.
            let zeros = try ElementBytes.allocate(try checkedMultiply(count, dtype.size, "tensor size"), budget: budget, for: "a zero tensor")
            return (try Tensor(dtype: dtype, shape: shape, data: zeros), nil)
        }
        let storage: TorchStorage
        if let known = storages[path] {
            storage = known
        } else {
            storage = try TorchStorage(key: path, dtype: nil, numel: bytes.count, location: "cpu")
            storages[path] = storage
        }
        let view = TorchTensor(storage: storage, dtype: dtype, offset: offset, shape: shape, stride: stride, conjugate: false, negative: false)
        let tensor = try view.materialize(record: bytes, bigEndian: archive.bigEndian, name: path, budget: budget)
        return (tensor, try view.viewKey())
    }
}
