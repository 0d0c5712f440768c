/// A module of the expanded tree: `Repeat` unrolled into a Sequential of named copies,
/// every module knowing its full dotted path.
public struct ExpandedModule: Sendable {
    /// Dotted path from the root (`"0.block 1.2"`); empty for the root.
    public let path: String
    public let name: String
    public var layer: Layer
    public var children: [ExpandedModule]
    /// Child indices leading to the node of the written document this module came from;
    /// the copies a Repeat makes share their template's origin.
    public let origin: [Int]
}

/// The expanded, validated module tree of a document. Paths here are the module paths of
/// PyTorch (`named_modules()`), so `path + "." + tensor` is a state_dict key.
public struct ModuleTree: Sendable {
    public let root: ExpandedModule
    private let index: [String: [Int]]

    /// Expands and validates `root`: child names, Shared targets, and the sizes of every
    /// tensor whose sizes are known (`ArchitectureLimits`). The expansion is bounded:
    /// Repeats inside Repeats cannot multiply into more than `ArchitectureLimits.maxModules`.
    public init(_ root: ModuleNode) throws {
        var index: [String: [Int]] = [:]
        self.root = try ModuleTree.expand(root, path: "", name: root.name, origin: [], position: [], index: &index)
        self.index = index
        try validateSharedTargets()
        for module in allModules() { _ = try ModuleTree.ownTensors(of: module, allowingLazy: true) }
    }

    /// The module at a dotted path, or nil.
    public func module(at path: String) -> ExpandedModule? {
        guard let position = index[path] else { return nil }
        var module = root
        for step in position { module = module.children[step] }
        return module
    }

    /// What actually runs at `module`: the target of a Shared node, else the module itself.
    public func effective(_ module: ExpandedModule) -> ExpandedModule {
        if case .shared(let target) = module.layer, let found = self.module(at: target) { return found }
        return module
    }

    /// Every module, depth first, parents before children.
    public func allModules() -> [ExpandedModule] {
        var out: [ExpandedModule] = []
        func walk(_ module: ExpandedModule) {
            out.append(module)
            module.children.forEach(walk)
        }
        walk(root)
        return out
    }

    private static func expand(_ node: ModuleNode, path: String, name: String, origin: [Int], position: [Int],
                               index: inout [String: [Int]]) throws -> ExpandedModule {
        index[path] = position
        let context = "architecture: module '\(ArchitectureParser.displayPath(path))' (\(node.layer.type.rawValue))"
        // Every expanded module has an index entry, so its size is the walk's count.
        guard index.count <= ArchitectureLimits.maxModules else {
            throw FormatError(.context(context, .walkBudgetExceeded(what: "the expanded module tree", limit: ArchitectureLimits.maxModules)))
        }
        // (name, document node, origin) of each expanded child.
        var parts: [(String, ModuleNode, [Int])] = []
        var layer = node.layer
        if case .repeated(let count, let pattern) = node.layer {
            guard node.children.count == 1 else {
                throw FormatError(.context(context, .invalidValue(field: "children", value: "\(node.children.count) modules", expected: "exactly one, the block it repeats")))
            }
            parts = (0 ..< count).map { (Layer.repeatedName(pattern: pattern, index: $0), node.children[0], origin + [0]) }
            layer = .sequential // PyTorch holds the copies in a Sequential named by the pattern
        } else {
            parts = node.children.enumerated().map { ($0.element.name, $0.element, origin + [$0.offset]) }
        }
        var seen = Set<String>()
        var children: [ExpandedModule] = []
        for (offset, (childName, child, childOrigin)) in parts.enumerated() {
            guard !childName.isEmpty else {
                throw FormatError(.context(context, .invalidValue(field: "the name of child \(offset)", value: "''", expected: "a non-empty name")))
            }
            guard !childName.contains(".") else {
                throw FormatError(.context(context, .invalidValue(field: "child name", value: "'\(childName)'",
                                                                  expected: "a name that holds no dot (a dot would break dotted tensor names)")))
            }
            guard seen.insert(childName).inserted else { throw FormatError(.context(context, .duplicateName(kind: "child module", name: childName))) }
            children.append(try expand(child, path: joinPath(path, childName), name: childName, origin: childOrigin,
                                       position: position + [offset], index: &index))
        }
        return ExpandedModule(path: path, name: name, layer: layer, children: children, origin: origin)
    }

    private func validateSharedTargets() throws {
        var shared = 0
        for module in allModules() {
            guard case .shared(let target) = module.layer else { continue }
            shared += 1
            guard shared <= ArchitectureLimits.maxSharedModules else {
                throw FormatError(.context("architecture: module '\(ArchitectureParser.displayPath(module.path))' (Shared)",
                                           .walkBudgetExceeded(what: "the Shared modules of the expanded tree", limit: ArchitectureLimits.maxSharedModules)))
            }
            let context = "architecture: module '\(ArchitectureParser.displayPath(module.path))' (Shared)"
            guard let found = self.module(at: target) else {
                throw FormatError(.context(context, .notFound(kind: "target module", name: target)))
            }
            if case .shared = found.layer {
                throw FormatError(.context(context, .refused(what: "target '\(target)'", why: "it is itself Shared; name the module it shares")))
            }
            if target.isEmpty || module.path == target || module.path.hasPrefix(target + ".") {
                throw FormatError(.context(context, .refused(what: "target '\(ArchitectureParser.displayPath(target))'",
                                                             why: "it contains this module, so it would run itself")))
            }
        }
    }
}
