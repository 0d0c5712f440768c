import Foundation

/// PyTorch's `torch.save` files (`.pt`, `.pth`, `.bin`): the zip format (any folder name,
/// 64-byte aligned records, ZIP64) and the legacy pre-1.6 format, read with a restricted
/// pickle machine that never imports or runs anything (see `PickleMachine`,
/// `TorchGlobals`); written as a zip-format state_dict that `torch.load(weights_only=True)`
/// accepts.
///
/// What a file holds becomes a `Checkpoint`:
/// - a state_dict, or any nesting of dicts, lists and objects around tensors (a training
///   checkpoint `{'model': ..., 'optimizer': ..., 'epoch': 3}`): the tensors under their
///   dotted paths, everything else as JSON metadata (tensors inside lists appear there as
///   `"tensor:NAME"`);
/// - a whole module (`torch.save(net)`): its state_dict and an architecture document
///   rebuilt from the modules' classes and attributes.
/// Tensors that are the same view of the same storage (tied weights) are stored once, the
/// other names as aliases.
public enum TorchFile {
    /// The legacy format's first bytes (a protocol-2 pickle of its magic number).
    public static var legacyMagic: [UInt8] { TorchArchive.legacyMagic }

    public static func read(contentsOf url: URL, key: String? = nil) throws -> Checkpoint {
        let data = try InteropFile.mapped(url)
        return try read(data: data, key: key, name: url.deletingPathExtension().lastPathComponent)
    }

    /// `key` is a dotted path into nested dicts, lists and modules (`model`, `model.encoder`):
    /// only that subtree is imported, its names relative to it. `name` names a file that
    /// holds a single tensor.
    public static func read(data: Data, key: String? = nil, name: String? = nil) throws -> Checkpoint {
        let archive = try TorchArchive.load(data)
        let walk = PickleWalk()
        var value = archive.root
        var rootName = name ?? archive.prefix ?? "tensor"
        if let key, !key.isEmpty {
            value = try TorchPaths.select(key, in: archive.root, walk: walk)
            rootName = key
        }
        return try TorchCheckpointBuilder(archive: archive, walk: walk).checkpoint(of: value, rootName: rootName)
    }

    /// A readable outline of what the file holds: containers, tensors (dtype and shape),
    /// modules, and the other values, one per line.
    public static func tree(contentsOf url: URL) throws -> String {
        try tree(data: InteropFile.mapped(url))
    }

    public static func tree(data: Data) throws -> String {
        let archive = try TorchArchive.load(data)
        return try TorchTree(archive: archive).render()
    }

    /// True when `data` is a torch file: a zip holding `<folder>/data.pkl` (or a TorchScript
    /// archive, which reading refuses), or the legacy format.
    public static func recognizes(_ data: Data) -> Bool {
        TorchArchive.isLegacy(data) || TorchArchive.isTorchZip(data)
    }
}

/// A budget for walking a pickle's object graph: a hostile pickle can nest values deeply,
/// or share them so that a walk would visit exponentially many.
final class PickleWalk {
    let maxDepth = 256
    let maxVisits = 20_000_000
    private(set) var visits = 0

    func count() throws {
        visits += 1
        guard visits <= maxVisits else { throw FormatError(.walkBudgetExceeded(what: "the pickle's object graph", limit: maxVisits)) }
    }

    func check(depth: Int) throws {
        guard depth <= maxDepth else { throw FormatError(.tooDeep(what: "the pickle's values", limit: maxDepth)) }
    }
}

/// Dotted names of a pickle's values, as a state_dict names tensors.
enum TorchPaths {
    /// A dict key as a name part.
    static func label(_ key: PickleValue) -> String? {
        switch key {
        case .string(let text): return text
        case .int(let n): return String(n)
        case .bool(let flag): return flag ? "True" : "False"
        default: return nil
        }
    }

    /// The named children of a container, module or object, in order.
    static func children(of value: PickleValue) -> [(String, PickleValue)] {
        switch value {
        case .dict(let dict):
            return dict.entries.compactMap { key, child in label(key).map { ($0, child) } }
        case .tuple, .list:
            return (value.sequence ?? []).enumerated().map { (String($0.offset), $0.element) }
        case .object(let object):
            if let parts = TorchModuleParts(object) { return parts.parameters + parts.buffers + parts.children }
            guard let state = object.stateDict else { return [] }
            return children(of: .dict(state))
        default:
            return []
        }
    }

    /// The value at dotted path `key`. Keys may hold dots themselves (`0.weight`): at each
    /// level the longest child name that the rest of the path starts with wins.
    static func select(_ key: String, in root: PickleValue, walk: PickleWalk) throws -> PickleValue {
        var value = root
        var rest = Substring(key)
        var depth = 0
        while !rest.isEmpty {
            try walk.check(depth: depth)
            depth += 1
            let options = children(of: value)
            var best: (String, PickleValue)?
            for (name, child) in options where rest == name || rest.hasPrefix(name + ".") {
                if name.count > best?.0.count ?? -1 { best = (name, child) }
            }
            guard let (name, child) = best else {
                let done = key.dropLast(rest.count)
                let here = done.isEmpty ? "the top level" : "'\(done.dropLast())'"
                let names = options.prefix(12).map { "'\($0.0)'" }.joined(separator: ", ")
                let holds = "\(here) holds \(options.isEmpty ? "no named values" : names + (options.count > 12 ? ", ..." : ""))"
                throw FormatError(.context(holds, .notFound(kind: "key", name: key)))
            }
            value = child
            rest = rest.dropFirst(name.count)
            if rest.hasPrefix(".") { rest = rest.dropFirst() }
        }
        return value
    }
}

/// Turns the selected value into a `Checkpoint`.
struct TorchCheckpointBuilder {
    let archive: TorchArchive
    let walk: PickleWalk

    func checkpoint(of value: PickleValue, rootName: String) throws -> Checkpoint {
        if let (object, parts) = TorchModuleParts.of(value) {
            var found: [(String, TorchTensor)] = []
            var onPath = Set<ObjectIdentifier>()
            try collectModule(parts, prefix: "", into: &found, onPath: &onPath, depth: 0)
            let tensors = try materialize(found)
            let document = try TorchModuleDocument.document(for: object, walk: walk)
            // A document the engine could not read would be worse than none: check it now.
            let text = document.serialized()
            let architecture = (try? ArchitectureDocument.parse(text)) != nil ? text : nil
            return Checkpoint(tensors: tensors, architecture: architecture)
        }
        var found: [(String, TorchTensor)] = []
        var onPath = Set<ObjectIdentifier>()
        try collect(value, prefix: "", into: &found, onPath: &onPath, depth: 0, rootName: rootName)
        let tensors = try materialize(found)
        var metadata = try TorchMetadata(walk: walk).json(value, prefix: "", depth: 0, rootName: rootName)
        if case .object(let object)? = metadata, object.isEmpty { metadata = nil }
        if case .null? = metadata { metadata = nil }
        return Checkpoint(tensors: tensors, metadata: metadata)
    }

    private func collect(_ value: PickleValue, prefix: String, into found: inout [(String, TorchTensor)],
                         onPath: inout Set<ObjectIdentifier>, depth: Int, rootName: String) throws {
        try walk.count()
        try walk.check(depth: depth)
        switch value {
        case .tensor(let tensor):
            found.append((prefix.isEmpty ? rootName : prefix, tensor))
            return
        case .dict, .tuple, .list, .object:
            break
        default:
            return
        }
        guard let id = value.identity, onPath.insert(id).inserted else { return } // a cycle: already being walked
        defer { onPath.remove(id) }
        if let (_, parts) = TorchModuleParts.of(value) {
            try collectModule(parts, prefix: prefix, into: &found, onPath: &onPath, depth: depth)
            return
        }
        for (name, child) in TorchPaths.children(of: value) {
            try collect(child, prefix: joinPath(prefix, name), into: &found, onPath: &onPath, depth: depth + 1, rootName: rootName)
        }
    }

    /// A module's state_dict: own parameters, persistent buffers, then each child's.
    private func collectModule(_ parts: TorchModuleParts, prefix: String, into found: inout [(String, TorchTensor)],
                               onPath: inout Set<ObjectIdentifier>, depth: Int) throws {
        try walk.check(depth: depth)
        for (name, tensor, _) in parts.ownTensors {
            try walk.count()
            found.append((joinPath(prefix, name), tensor))
        }
        for (name, child) in parts.children {
            guard case .object(let object) = child, let childParts = TorchModuleParts(object) else { continue }
            let id = ObjectIdentifier(object)
            guard onPath.insert(id).inserted else { throw Fault.refused("module '\(joinPath(prefix, name))'", "it contains itself") }
            defer { onPath.remove(id) }
            try collectModule(childParts, prefix: joinPath(prefix, name), into: &found, onPath: &onPath, depth: depth + 1)
        }
    }

    /// One stored tensor per distinct view; later names of the same view are its aliases.
    private func materialize(_ found: [(String, TorchTensor)]) throws -> [NamedTensor] {
        var result: [NamedTensor] = []
        var byView: [TorchTensor.ViewKey: Int] = [:]
        var names = Set<String>()
        for (name, tensor) in found {
            guard names.insert(name).inserted else { throw FormatError(.duplicateName(kind: "tensor", name: name)) }
            let key = tensor.viewKey
            if let index = byView[key] {
                result[index].aliases.append(name)
                continue
            }
            let record = try archive.record(for: tensor.storage)
            let materialized = try tensor.materialize(record: record, bigEndian: archive.bigEndian, name: name)

            byView[key] = result.count
            result.append(NamedTensor(name: name, tensor: materialized))
        }
        return result
    }
}

/// The non-tensor values of a training checkpoint as JSON: epochs, hyper-parameters,
/// optimizer settings. Tensors are left out of dicts (they are imported under their
/// paths) and named as `"tensor:NAME"` inside lists, so positions keep their meaning.
struct TorchMetadata {
    let walk: PickleWalk

    func json(_ value: PickleValue, prefix: String, depth: Int, rootName: String) throws -> JSONValue? {
        try walk.count()
        try walk.check(depth: depth)
        switch value {
        case .none: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let n): return .number(Double(n))
        case .bigInt(let bytes): return .string("int of \(bytes.count) bytes")
        case .float(let x): return x.isFinite ? .number(x) : .string("\(x)")
        case .string(let text): return .string(text)
        case .bytes(let data): return .string("bytes[\(data.count)]")
        case .global(let global): return .string("global:\(global.qualifiedName)")
        case .storage(let storage): return .string("storage:\(storage.key)")
        case .tensor: return nil
        case .tuple, .list:
            var items: [JSONValue] = []
            for (index, item) in (value.sequence ?? []).enumerated() {
                let path = joinPath(prefix, String(index))
                if case .tensor = item { items.append(.string("tensor:\(path)")); continue }
                items.append(try json(item, prefix: path, depth: depth + 1, rootName: rootName) ?? .null)
            }
            return .array(items)
        case .dict, .object:
            if TorchModuleParts.of(value) != nil { return nil }
            var object: [String: JSONValue] = [:]
            let children = TorchPaths.children(of: value)
            for (name, child) in children {
                if let json = try json(child, prefix: joinPath(prefix, name), depth: depth + 1, rootName: rootName) { object[name] = json }
            }
            if case .object(let instance) = value { object["__class__"] = .string(instance.className) }
            if object.isEmpty, !children.isEmpty { return nil } // tensors only
            return .object(object)
        }
    }
}
