import Foundation

extension CheckpointStructure {
    /// The canonical flattening: every tensor leaf with its dotted path (dict keys by
    /// `Key.pathLabel`, list and tuple items by index, joined with `.` as state_dict keys
    /// are) and the tensor it names. `{'model': {'0.weight': t}}` gives `model.0.weight`;
    /// `{'optimizer': {'state': {0: {'exp_avg': t}}}}` gives `optimizer.state.0.exp_avg`;
    /// a plain state_dict gives its own keys. Importers name tensors by these paths.
    public var tensorLeaves: [(path: String, tensor: String)] {
        var out: [(String, String)] = []
        collectLeaves(prefix: "", into: &out)
        return out
    }

    private func collectLeaves(prefix: String, into out: inout [(String, String)]) {
        switch self {
        case .tensor(let name): out.append((prefix, name))
        case .dict(let entries, _):
            for entry in entries { entry.value.collectLeaves(prefix: joinPath(prefix, entry.key.pathLabel), into: &out) }
        case .list(let items), .tuple(let items):
            for (k, item) in items.enumerated() { item.collectLeaves(prefix: joinPath(prefix, String(k)), into: &out) }
        default: break
        }
    }

    /// The names of every tensor leaf, in order (a tied tensor once per leaf).
    public var referencedTensors: [String] { tensorLeaves.map(\.tensor) }

    /// The dotted paths of the opaque leaves (what an exporter writes as None).
    public var opaquePaths: [String] {
        var out: [String] = []
        func walk(_ node: CheckpointStructure, _ prefix: String) {
            switch node {
            case .opaque: out.append(prefix.isEmpty ? "(root)" : prefix)
            case .dict(let entries, _): for entry in entries { walk(entry.value, joinPath(prefix, entry.key.pathLabel)) }
            case .list(let items), .tuple(let items): for (k, item) in items.enumerated() { walk(item, joinPath(prefix, String(k))) }
            default: break
            }
        }
        walk(self, "")
        return out
    }

    /// The same structure with every tensor leaf renamed by `rename` (a prefix stripped,
    /// names mapped to a store's): the nesting, keys and other leaves stay as they are.
    public func renamingTensors(_ rename: (String) -> String) -> CheckpointStructure {
        switch self {
        case .tensor(let name): return .tensor(rename(name))
        case .dict(let entries, let ordered):
            return .dict(entries.map { Entry($0.key, $0.value.renamingTensors(rename)) }, ordered: ordered)
        case .list(let items): return .list(items.map { $0.renamingTensors(rename) })
        case .tuple(let items): return .tuple(items.map { $0.renamingTensors(rename) })
        default: return self
        }
    }

    /// The node at dotted `path` (keys and indices as `tensorLeaves` spells them; keys may
    /// hold dots, so at each level the longest child label the rest starts with wins, as
    /// torch files are selected), or nil.
    public func subtree(at path: String) -> CheckpointStructure? {
        var node = self
        var rest = Substring(path)
        while !rest.isEmpty {
            let children: [(String, CheckpointStructure)]
            switch node {
            case .dict(let entries, _): children = entries.map { ($0.key.pathLabel, $0.value) }
            case .list(let items), .tuple(let items): children = items.enumerated().map { (String($0.offset), $0.element) }
            default: return nil
            }
            guard let (label, child) = children.filter({ rest == $0.0 || rest.hasPrefix($0.0 + ".") }).max(by: { $0.0.count < $1.0.count }) else {
                return nil
            }
            node = child
            rest = rest.dropFirst(label.count)
            if rest.hasPrefix(".") { rest = rest.dropFirst() }
        }
        return node
    }

    /// Checks what a file could get wrong: nesting deeper than `limits.maxDepth`, more than
    /// `limits.maxNodes` nodes, two keys of one dict that Python holds equal, an integer
    /// text that is not a decimal beyond 64 bits, and a tensor leaf naming no tensor of
    /// `tensorNames` (a dangling reference). Errors are typed (`tooDeep`,
    /// `walkBudgetExceeded`, `duplicateName` of kind `dict key`, `invalidValue`,
    /// `notFound` of kind `tensor`), inside the context `structure` and the leaf's path.
    public func validate(against tensorNames: Set<String>, limits: Limits = Limits()) throws {
        var nodes = 0
        do {
            try check(path: "", depth: 0, names: tensorNames, limits: limits, nodes: &nodes)
        } catch let error as FormatError {
            throw error.within("structure")
        }
    }

    private func check(path: String, depth: Int, names: Set<String>, limits: Limits, nodes: inout Int) throws {
        nodes += 1
        guard nodes <= limits.maxNodes else { throw FormatError(.walkBudgetExceeded(what: "the structure", limit: limits.maxNodes)) }
        guard depth <= limits.maxDepth else { throw FormatError(.tooDeep(what: "the structure", limit: limits.maxDepth)) }
        func at(_ body: () throws -> Void) throws {
            do { try body() } catch let error as FormatError where !path.isEmpty {
                if case .context = error.reason { throw error }
                throw error.within("'\(path)'")
            }
        }
        switch self {
        case .tensor(let name):
            try at { guard names.contains(name) else { throw FormatError(.notFound(kind: "tensor", name: name)) } }
        case .bigInt(let text):
            try at { try Self.checkBigInt(text, limits: limits) }
        case .dict(let entries, _):
            var seen = Set<Key.PythonKey>()
            for entry in entries {
                guard seen.insert(entry.key.pythonIdentity).inserted else {
                    try at { throw FormatError(.duplicateName(kind: "dict key", name: entry.key.pathLabel)) }
                    return
                }
                try entry.value.check(path: joinPath(path, entry.key.pathLabel), depth: depth + 1, names: names, limits: limits, nodes: &nodes)
            }
        case .list(let items), .tuple(let items):
            for (k, item) in items.enumerated() {
                try item.check(path: joinPath(path, String(k)), depth: depth + 1, names: names, limits: limits, nodes: &nodes)
            }
        case .int, .float, .string, .bool, .bytes, .none, .opaque:
            break
        }
    }

    /// A big integer is `-`? then decimal digits without a leading zero, outside Int64's
    /// range (inside it the value is an `.int`), within the digit limit.
    static func checkBigInt(_ text: String, limits: Limits) throws {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard digits.count <= limits.maxIntegerDigits else {
            throw FormatError(.limitExceeded(what: "the digits of an integer", value: UInt64(digits.count), limit: UInt64(limits.maxIntegerDigits)))
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (48...57).contains($0) }), digits.first != "0" || digits.count == 1,
              Int64(text) == nil else {
            throw FormatError(.invalidValue(field: "integer", value: "'\(text.prefix(40))'", expected: "decimal digits of an integer beyond 64 bits"))
        }
    }
}

extension Checkpoint {
    /// The structure, or the flat state_dict every checkpoint without one means: each
    /// tensor under its name, then under each of its aliases (tied: one tensor, two keys).
    public var effectiveStructure: CheckpointStructure {
        structure ?? .stateDict(allNames)
    }

    /// Checks `structure` (when there is one) against this checkpoint's tensor names and aliases.
    public func validateStructure(limits: CheckpointStructure.Limits = .init()) throws {
        guard let structure else { return }
        try structure.validate(against: Set(allNames), limits: limits)
    }

    /// The structure a format that writes nesting (a torch pickle) should write: the
    /// structure when it reaches every tensor, else the flat state_dict of every tensor. A
    /// structure that would leave tensors out (a root of a class no reader rebuilds, holding
    /// tensors the collector still found) gives way: the nesting is lost, never a tensor.
    public var exportStructure: CheckpointStructure {
        tensorsOutsideStructure.isEmpty ? effectiveStructure : .stateDict(allNames)
    }

    /// Tensors that no leaf of the structure names (none without a structure): an exporter
    /// that writes the structure cannot place them.
    public var tensorsOutsideStructure: [String] {
        guard let structure else { return [] }
        let used = Set(structure.referencedTensors)
        return tensors.filter { named in !named.allNames.contains(where: used.contains) }.map(\.name)
    }
}

extension CheckpointStructure {
    /// The structure as the JSON of its stored form's `root` (FORMAT.md 4.1): for `--json`
    /// outputs and for comparing two structures with a JSON diff.
    public var jsonValue: JSONValue { json }

    /// A one-line, Python-like outline for people (`{'model': OrderedDict(11 tensors),
    /// 'optimizer': {'state': {0: {...}, ...}, ...}, 'epoch': 3}`): containers below `depth`
    /// levels and items past `width` per container are summarised, long strings cut.
    public func outline(depth: Int = 2, width: Int = 8) -> String {
        switch self {
        case .none: return "None"
        case .bool(let flag): return flag ? "True" : "False"
        case .int(let n): return String(n)
        case .bigInt(let text): return text.count > 24 ? "\(text.prefix(10))...(\(text.count) digits)" : text
        case .float(let x): return x.isNaN ? "nan" : x.description
        case .string(let text): return "'" + (text.count > 40 ? text.prefix(37) + "..." : Substring(text)) + "'"
        case .bytes(let data): return "bytes[\(data.count)]"
        case .tensor(let name): return "tensor(\(name))"
        case .opaque: return "<opaque>"
        case .list(let items), .tuple(let items):
            let (open, close) = { if case .list = self { return ("[", "]") }; return ("(", items.count == 1 ? ",)" : ")") }()
            guard depth > 0 || items.isEmpty else { return "\(open)...\(items.count)\(close)" }
            var parts = items.prefix(width).map { $0.outline(depth: depth - 1, width: width) }
            if items.count > width { parts.append("... \(items.count - width) more") }
            return open + parts.joined(separator: ", ") + close
        case .dict(let entries, let ordered):
            if ordered, entries.allSatisfy({ if case .tensor = $0.value { return true }; return false }) {
                return "OrderedDict(\(entries.count) tensor\(entries.count == 1 ? "" : "s"))"
            }
            guard depth > 0 || entries.isEmpty else { return "{...\(entries.count)}" }
            var parts = entries.prefix(width).map { "\($0.key.outlineText): \($0.value.outline(depth: depth - 1, width: width))" }
            if entries.count > width { parts.append("... \(entries.count - width) more") }
            return (ordered ? "OrderedDict{" : "{") + parts.joined(separator: ", ") + "}"
        }
    }
}

extension CheckpointStructure.Key {
    /// The key as Python prints it (`'lr'`, `0`, `True`, `None`).
    var outlineText: String {
        if case .string(let text) = self { return "'\(text)'" }
        return pathLabel
    }
}
