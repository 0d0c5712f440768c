import Foundation

/// One module of an architecture document, as written: a `Repeat` keeps its one template
/// child and a `Shared` node only names its target. `ModuleTree` expands both.
public struct ModuleNode: Equatable, Sendable {
    /// The attribute name in the parent (`"0"`, `"net"`, `"block 1"`); empty for the root.
    /// Parameter names are these names joined with dots, as in a PyTorch state_dict.
    public var name: String
    public var layer: Layer
    public var children: [ModuleNode]

    public init(name: String = "", layer: Layer, children: [ModuleNode] = []) {
        self.name = name
        self.layer = layer
        self.children = children
    }

    /// A Sequential whose children are named 0, 1, 2, ... like `nn.Sequential(*layers)`.
    public static func sequential(_ name: String = "", _ layers: [Layer]) -> ModuleNode {
        ModuleNode(name: name, layer: .sequential,
                   children: layers.enumerated().map { ModuleNode(name: String($0.offset), layer: $0.element) })
    }
}

extension Layer {
    /// The child names of a `Repeat`: the pattern with `{i}` replaced by each index.
    public static func repeatedName(pattern: String, index: Int) -> String {
        pattern.replacingOccurrences(of: "{i}", with: String(index))
    }
}

/// Joins module paths and names with dots, as PyTorch's state_dict keys do.
public func joinPath(_ prefix: String, _ name: String) -> String {
    prefix.isEmpty ? name : (name.isEmpty ? prefix : prefix + "." + name)
}
