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

    public static func read(contentsOf url: URL, key: String? = nil, budget: MemoryBudget? = nil) throws -> Checkpoint {
        let data = try InteropFile.mapped(url)
        return try read(data: data, key: key, name: url.deletingPathExtension().lastPathComponent, budget: budget)
    }

    /// `key` is a dotted path into nested dicts, lists and modules (`model`, `model.encoder`):
    /// only that subtree is imported, its names relative to it. `name` names a file that
    /// holds a single tensor. Tensors that are not slices of `data` (strided views, big-endian
    /// or sign-flipped ones) are reserved in `budget` before they are allocated: one total for
    /// the whole file, so many views of one storage cannot add up past it.
    public static func read(data: Data, key: String? = nil, name: String? = nil, budget: MemoryBudget? = nil) throws -> Checkpoint {
        try read(data: data, zip: nil, key: key, name: name, budget: budget)
    }

    /// Reads a detected file, with the mapping and zip directory detection already made.
    public static func read(_ file: DetectedFile, key: String? = nil, budget: MemoryBudget? = nil) throws -> Checkpoint {
        let name = file.url.deletingPathExtension().lastPathComponent
        if let (data, zip) = file.torchZip { return try read(data: data, zip: zip, key: key, name: name, budget: budget) }
        return try read(data: InteropFile.mapped(file.url), zip: nil, key: key, name: name, budget: budget)
    }

    /// Without a `budget`, one sized from the file (`MemoryBudget.forUncompressedInput`): a
    /// .pt file stores its elements as they are, so what it can rightly expand to (strided
    /// views copied out, byte-swapped copies) is of the order of its own size.
    static func read(data: Data, zip: TorchZip?, key: String?, name: String?, budget: MemoryBudget?) throws -> Checkpoint {
        let budget = budget ?? MemoryBudget.forUncompressedInput(bytes: data.count)
        let archive = try TorchArchive.load(data, zip: zip, budget: budget)
        let walk = PickleWalk()
        var value = archive.root
        var rootName = name ?? archive.prefix ?? "tensor"
        if let key, !key.isEmpty {
            value = try TorchPaths.select(key, in: archive.root, walk: walk)
            rootName = key
        }
        return try TorchCheckpointBuilder(archive: archive, walk: walk, budget: budget).checkpoint(of: value, rootName: rootName)
    }

    /// A readable outline of what the file holds: containers, tensors (dtype and shape),
    /// modules, and the other values, one per line.
    public static func tree(contentsOf url: URL) throws -> String {
        try tree(data: InteropFile.mapped(url))
    }

    public static func tree(data: Data) throws -> String {
        try TorchTree(archive: TorchArchive.load(data)).render()
    }

    /// The outline of a detected file, with the mapping and zip directory detection already made.
    public static func tree(_ file: DetectedFile) throws -> String {
        if let (data, zip) = file.torchZip { return try TorchTree(archive: TorchArchive.load(data, zip: zip)).render() }
        return try tree(contentsOf: file.url)
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

    /// Counts `n` more values visited (or replayed from a memo).
    func count(_ n: Int = 1) throws {
        visits += n
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
            // A described instance: the items a dict or list subclass was filled with, then its
            // state; one with neither is known by its constructor arguments (an Enum's value).
            var out: [(String, PickleValue)] = []
            if let items = object.items { out += children(of: .dict(items)) }
            if let list = object.listItems { out += children(of: .list(list)) }
            if let state = object.stateDict {
                out += children(of: .dict(state))
            } else if object.state == nil, out.isEmpty {
                out = object.arguments.enumerated().map { (String($0.offset), $0.element) }
            }
            return out
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
    let budget: MemoryBudget

    func checkpoint(of value: PickleValue, rootName: String) throws -> Checkpoint {
        let found = try TensorCollector(walk: walk).tensors(in: value, depth: 0).map { ($0.0.isEmpty ? rootName : $0.0, $0.1) }
        let tensors = try materialize(found)
        if let (object, _) = TorchModuleParts.of(value) {
            let document = try TorchModuleDocument.document(for: object, walk: walk)
            // A document the engine could not read would be worse than none: check it now.
            let architecture = try? Architecture.parse(document.serialized())
            return Checkpoint(tensors: tensors, architecture: architecture)
        }
        var metadata = try TorchMetadata(walk: walk).json(value)
        if case .object(let object)? = metadata, object.isEmpty { metadata = nil }
        if case .null? = metadata { metadata = nil }
        return Checkpoint(tensors: tensors, metadata: metadata)
    }

    /// One stored tensor per distinct view; later names of the same view are its aliases.
    private func materialize(_ found: [(String, TorchTensor)]) throws -> [NamedTensor] {
        var result: [NamedTensor] = []
        var byView: [TorchTensor.ViewKey: Int] = [:]
        var names = Set<String>()
        for (name, tensor) in found {
            guard names.insert(name).inserted else { throw FormatError(.duplicateName(kind: "tensor", name: name)) }
            let key = try tensor.viewKey()
            if let index = byView[key] {
                result[index].aliases.append(name)
                continue
            }
            let record = try archive.record(for: tensor.storage)
            let materialized = try tensor.materialize(record: record, bigEndian: archive.bigEndian, name: name, budget: budget)

            byView[key] = result.count
            result.append(NamedTensor(name: name, tensor: materialized))
        }
        return result
    }
}

/// The tensors under a value with their names relative to it (a module's in state_dict
/// order: own parameters, persistent buffers, then each child's).
///
/// Each container or module is walked once: what it holds is memoised by identity and
/// replayed under every further path that reaches it, as torch names a shared module's
/// tensors under each of its paths. Every name made, walked or replayed, counts against the
/// walk's budget, so a DAG whose paths multiply (each module's two children the same next
/// module) is refused at once rather than walked exponentially.
final class TensorCollector {
    let walk: PickleWalk
    /// The most names one value's tensors may have (aliases included); a real checkpoint has
    /// at most hundreds of thousands.
    let maxNames: Int
    private var memo: [ObjectIdentifier: [(String, TorchTensor)]] = [:]
    private var onPath = Set<ObjectIdentifier>()

    init(walk: PickleWalk, maxNames: Int = 1_000_000) {
        self.walk = walk
        self.maxNames = maxNames
    }

    /// `""` names `value` itself when it is a tensor.
    func tensors(in value: PickleValue, depth: Int) throws -> [(String, TorchTensor)] {
        try walk.count()
        try walk.check(depth: depth)
        switch value {
        case .tensor(let tensor): return [("", tensor)]
        case .dict, .tuple, .list, .object: break
        default: return []
        }
        guard let id = value.identity else { return [] }
        if let known = memo[id] {
            try walk.count(known.count)
            return known
        }
        guard onPath.insert(id).inserted else { return [] } // a cycle: already being walked
        defer { onPath.remove(id) }
        var found: [(String, TorchTensor)] = []
        if let (_, parts) = TorchModuleParts.of(value) {
            for (name, tensor, _) in parts.ownTensors { found.append((name, tensor)) }
            try walk.count(found.count)
            for (name, child) in parts.children {
                guard case .object(let object) = child, TorchModuleParts(object) != nil else { continue }
                guard !onPath.contains(ObjectIdentifier(object)) else { throw Fault.refused("module '\(name)'", "it contains itself") }
                try append(child, named: name, to: &found, depth: depth + 1)
            }
        } else {
            for (name, child) in TorchPaths.children(of: value) {
                try append(child, named: name, to: &found, depth: depth + 1)
            }
        }
        memo[id] = found
        return found
    }

    private func append(_ child: PickleValue, named name: String, to found: inout [(String, TorchTensor)], depth: Int) throws {
        let inner = try tensors(in: child, depth: depth)
        guard found.count + inner.count <= maxNames else {
            throw FormatError(.walkBudgetExceeded(what: "the names of the file's tensors", limit: maxNames))
        }
        try walk.count(inner.count)
        for (path, tensor) in inner { found.append((joinPath(name, path), tensor)) }
    }
}

/// The non-tensor values of a training checkpoint as JSON: epochs, hyper-parameters,
/// optimizer settings. Tensors are left out of dicts (they are imported under their
/// paths) and named as `"tensor:NAME"` inside lists, so positions keep their meaning.
///
/// A value met again whose subtree holds no tensor is not walked again: its JSON is
/// memoised by identity, and its expanded size counts against `maxValues`, since the
/// document written out repeats it. A value that contains itself (an object's `_parent`)
/// is written as the string `"cycle"`.
final class TorchMetadata {
    let walk: PickleWalk
    /// The most values the metadata document may hold once expanded.
    let maxValues: Int
    private var memo: [ObjectIdentifier: (json: JSONValue?, size: Int)] = [:]
    private var onPath = Set<ObjectIdentifier>()

    init(walk: PickleWalk, maxValues: Int = 1_000_000) {
        self.walk = walk
        self.maxValues = maxValues
    }

    func json(_ value: PickleValue) throws -> JSONValue? {
        try node(value, prefix: "", depth: 0).json
    }

    /// The JSON of `value`, its expanded size, and whether a tensor lies under it (then the
    /// JSON names paths, and is not memoised).
    private func node(_ value: PickleValue, prefix: String, depth: Int) throws -> (json: JSONValue?, size: Int, tensors: Bool) {
        try walk.count()
        try walk.check(depth: depth)
        switch value {
        case .none: return (.null, 1, false)
        case .bool(let flag): return (.bool(flag), 1, false)
        case .int(let n): return (.number(Double(n)), 1, false)
        case .bigInt(let bytes): return (.string("int of \(bytes.count) bytes"), 1, false)
        case .float(let x): return (x.isFinite ? .number(x) : .string("\(x)"), 1, false)
        case .string(let text): return (.string(text), 1, false)
        case .bytes(let data): return (.string("bytes[\(data.count)]"), 1, false)
        case .global(let global): return (.string("global:\(global.qualifiedName)"), 1, false)
        case .storage(let storage): return (.string("storage:\(storage.key)"), 1, false)
        case .tensor: return (nil, 0, true)
        case .tuple, .list, .dict, .object: break
        }
        guard let id = value.identity else { return (.null, 1, false) }
        if let known = memo[id] {
            try walk.count(known.size)
            return (known.json, known.size, false)
        }
        guard onPath.insert(id).inserted else { return (.string("cycle"), 1, false) }
        defer { onPath.remove(id) }
        var size = 1
        var tensors = false
        func add(_ child: (json: JSONValue?, size: Int, tensors: Bool)) throws {
            size += child.size
            tensors = tensors || child.tensors
            guard size <= maxValues else { throw FormatError(.walkBudgetExceeded(what: "the checkpoint's metadata", limit: maxValues)) }
        }
        let result: JSONValue?
        switch value {
        case .tuple, .list:
            var items: [JSONValue] = []
            for (index, item) in (value.sequence ?? []).enumerated() {
                let path = joinPath(prefix, String(index))
                if case .tensor = item {
                    items.append(.string("tensor:\(path)"))
                    try add((nil, 1, true))
                    continue
                }
                let child = try node(item, prefix: path, depth: depth + 1)
                try add(child)
                items.append(child.json ?? .null)
            }
            result = .array(items)
        default:
            if TorchModuleParts.of(value) != nil { return (nil, 0, true) }
            var object: [String: JSONValue] = [:]
            let children = TorchPaths.children(of: value)
            for (name, child) in children {
                let inner = try node(child, prefix: joinPath(prefix, name), depth: depth + 1)
                try add(inner)
                if let json = inner.json { object[name] = json }
            }
            if case .object(let instance) = value { object["__class__"] = .string(instance.className) }
            result = object.isEmpty && !children.isEmpty ? nil : .object(object) // nil: tensors only
        }
        if !tensors { memo[id] = (result, size) }
        return (result, size, tensors)
    }
}
