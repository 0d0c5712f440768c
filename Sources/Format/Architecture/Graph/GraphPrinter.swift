/// A graph document printed as a module tree, as PyTorch prints a module: the modules the
/// nodes came from (their `module` stacks), nested by path, each with the ops of its own
/// nodes and the parameters of its subtree; then the graph's inputs, outputs, dynamic
/// dimensions and op totals.
public enum GraphPrinter {
    public static func render(_ document: GraphDocument) throws -> String {
        // Each module's parent is the longest other path of the table it extends ("a.b" -> "a" -> "").
        let paths = document.modules.map(\.path)
        let known = Set(paths)
        var children: [String: [String]] = [:]
        var roots: [String] = []
        for path in paths {
            if let parent = parent(of: path, in: known) { children[parent, default: []].append(path) } else { roots.append(path) }
        }
        var ops: [String: [String: Int]] = [:]
        var unowned: [String: Int] = [:]
        for node in document.nodes {
            if let module = node.module { ops[module, default: [:]][shortName(node.op), default: 0] += 1 } else { unowned[shortName(node.op), default: 0] += 1 }
        }
        // Parameters counted at the deepest module whose path prefixes their name.
        var own: [String: Int] = [:]
        for binding in document.tensors where binding.role == .parameter {
            let owner = parent(of: binding.tensor, in: known) ?? ""
            let count = try ArchitectureLimits.checkedElements(binding.type.fixedShape ?? [], what: "tensor '\(binding.tensor)'")
            own[owner] = try Checked.sum([own[owner, default: 0], count])
        }
        var subtree: [String: Int] = [:]
        func total(_ path: String) throws -> Int {
            let value = try Checked.sum([own[path, default: 0]] + (children[path] ?? []).map(total))
            subtree[path] = value
            return value
        }
        for root in roots { _ = try total(root) }
        let classes = Dictionary(document.modules.map { ($0.path, $0.className) }, uniquingKeysWith: { first, _ in first })

        var rows: [(left: String, right: String)] = []
        func visit(_ path: String, indent: String, depth: Int) {
            guard depth <= GraphLimits.maxModuleDepth else { return } // the table is validated; a cycle cannot occur
            let name = path.isEmpty ? "" : "(\(localName(path, parent: parent(of: path, in: known)))): "
            let className = classes[path].map { $0.split(separator: ".").last.map(String.init) ?? $0 } ?? "?"
            var right: [String] = []
            if let count = subtree[path], count > 0 { right.append(ArchitecturePrinter.grouped(count) + " params") }
            if let mine = ops[path] { right.append(describe(mine)) }
            let kids = children[path] ?? []
            rows.append((indent + name + className + (kids.isEmpty ? "" : "("), right.joined(separator: "  ")))
            for kid in kids { visit(kid, indent: indent + "  ", depth: depth + 1) }
            if !kids.isEmpty { rows.append((indent + ")", "")) }
        }
        for root in roots { visit(root, indent: "", depth: 0) }
        let width = min(rows.map(\.left.count).max() ?? 0, 80)
        var out = ""
        for row in rows {
            out += row.right.isEmpty ? row.left + "\n" : row.left.padding(toLength: max(width, row.left.count), withPad: " ", startingAt: 0) + "  " + row.right + "\n"
        }
        if !unowned.isEmpty { out += "outside any module: \(describe(unowned))\n" }
        func value(_ value: GraphValue) -> String {
            switch value.type {
            case .tensor(let type): return "\(value.name) \(type.dtype.rawValue)[" + type.shape.map(\.description).joined(separator: ", ") + "]"
            case .symInt: return "\(value.name) int"
            case .symFloat: return "\(value.name) float"
            case .symBool: return "\(value.name) bool"
            }
        }
        let types = document.valueTypes()
        out += "inputs: " + (document.inputs.isEmpty ? "none" : document.inputs.map(value).joined(separator: ", ")) + "\n"
        out += "outputs: " + document.outputs.map { argument -> String in
            guard case .tensor(let name) = argument, let type = types[name] else { return "\(argument)" }
            return value(GraphValue(name: name, type: type))
        }.joined(separator: ", ") + "\n"
        if !document.symbols.isEmpty {
            out += "dynamic: " + document.symbols.map { "\($0.name) in \($0.min)...\($0.max.map(String.init) ?? "")" }.joined(separator: ", ") + "\n"
        }
        let parameters = try Checked.sum(document.tensors.filter { $0.role == .parameter }.map {
            try ArchitectureLimits.checkedElements($0.type.fixedShape ?? [], what: "tensor '\($0.tensor)'")
        })
        let counts = Dictionary(document.opCounts().map { (shortName($0.key), $0.value) }, uniquingKeysWith: +)
        out += "parameters: \(ArchitecturePrinter.grouped(parameters)), \(document.tensors.count) tensors; \(document.nodes.count) nodes, \(counts.count) ops: "
        out += counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ") + "\n"
        return out
    }

    /// The deepest path of `known` other than `name` that `name` extends by a dotted part.
    static func parent(of name: String, in known: Set<String>) -> String? {
        var candidate = Substring(name)
        while let dot = candidate.lastIndex(of: ".") {
            candidate = candidate[..<dot]
            if known.contains(String(candidate)) { return String(candidate) }
        }
        return name.isEmpty || !known.contains("") ? nil : ""
    }

    private static func localName(_ path: String, parent: String?) -> String {
        guard let parent, !parent.isEmpty else { return path }
        return String(path.dropFirst(parent.count + 1))
    }

    /// `aten.conv2d.default` -> `conv2d`, `aten.add.Tensor` -> `add.Tensor`: the overload only where it tells ops apart.
    static func shortName(_ op: String) -> String {
        var parts = op.split(separator: ".").map(String.init)
        if parts.first == "aten" { parts.removeFirst() }
        if parts.last == "default" { parts.removeLast() }
        return parts.joined(separator: ".")
    }

    private static func describe(_ counts: [String: Int]) -> String {
        counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .map { $0.value == 1 ? $0.key : "\($0.key) x\($0.value)" }.joined(separator: ", ")
    }
}
