import Foundation

/// The dataflow-graph form of the architecture document (`spec/ARCH.md`, "Graph documents"):
/// named values and nodes in topological order, the graph's inputs and outputs with dtypes
/// and (possibly symbolic) shapes, and the checkpoint tensors its placeholders are bound to
/// by state_dict name. It is what `ckpt import m.pt2` makes of a torch.export program.
///
/// A value of this type is valid: `validated()` (run by the parser and by every importer)
/// checks that names are unique, that every reference names a value defined before it of the
/// right kind, that every symbol is declared and every count and size is within
/// `GraphLimits`.
public struct GraphDocument: Sendable, Equatable {
    /// The `version` that marks a graph document (1 is the module tree).
    public static let version = 2

    /// Free text for people.
    public var description: String?
    /// The dynamic dimensions and their ranges.
    public var symbols: [GraphSymbol]
    /// The modules nodes came from, each path once, in the order first seen.
    public var modules: [GraphModule]
    /// Placeholders bound to checkpoint tensors (parameters, buffers, constants).
    public var tensors: [GraphTensorBinding]
    /// The inputs a caller gives, in call order.
    public var inputs: [GraphValue]
    /// The operations, each after every node whose values it uses.
    public var nodes: [GraphNode]
    /// What the graph returns, in order: value references (normally tensors).
    public var outputs: [GraphArgument]
    /// Buffers the program updates in place (their new values are not among `outputs`).
    public var mutations: [GraphMutation]

    public init(description: String? = nil, symbols: [GraphSymbol] = [], modules: [GraphModule] = [],
                tensors: [GraphTensorBinding] = [], inputs: [GraphValue], nodes: [GraphNode],
                outputs: [GraphArgument], mutations: [GraphMutation] = []) {
        self.description = description
        self.symbols = symbols
        self.modules = modules
        self.tensors = tensors
        self.inputs = inputs
        self.nodes = nodes
        self.outputs = outputs
        self.mutations = mutations
    }

    /// Parses and validates a graph document (JSON text).
    public static func parse(_ data: Data) throws -> GraphDocument {
        let json = try ExactJSON.parse(data, maxDepth: GraphLimits.maxJSONDepth, what: "graph document")
        return try GraphParser.document(from: json).validated()
    }

    /// The document as UTF-8 JSON text; equal documents give equal bytes.
    public func serialized() -> Data { Data(GraphWriter.text(of: self).utf8) }

    /// The document after every rule of `spec/ARCH.md` "Graph documents" is checked; throws
    /// the first rule broken, naming the node or value.
    public func validated() throws -> GraphDocument {
        try GraphValidator.validate(self)
        return self
    }

    /// The type of every value by name: inputs, bound tensors and node outputs.
    public func valueTypes() -> [String: GraphValueType] {
        var types: [String: GraphValueType] = [:]
        for binding in tensors { types[binding.value] = .tensor(binding.type) }
        for input in inputs { types[input.name] = input.type }
        for node in nodes { for value in node.definedValues { types[value.name] = value.type } }
        return types
    }

    /// How often each operator occurs, for messages and `ckpt arch`.
    public func opCounts() -> [String: Int] {
        nodes.reduce(into: [:]) { $0[$1.op, default: 0] += 1 }
    }

    /// The binding of the checkpoint tensor `name`, if a placeholder uses it.
    public func binding(ofTensor name: String) -> GraphTensorBinding? { tensors.first(where: { $0.tensor == name }) }
}

/// Bounds on every count and size a graph document may hold, checked when it is validated,
/// so that a crafted document cannot trap arithmetic, exhaust memory or recurse without end.
/// The same numbers are in `spec/ARCH.md`, "Graph documents", "Limits".
public enum GraphLimits {
    /// Nodes of the graph. The largest exported vision and language models have ~10^4.
    public static let maxNodes = 1 << 18
    /// Named values of the graph, all together.
    public static let maxValues = 1 << 20
    /// Inputs of one node, outputs of one node, items of one list argument.
    public static let maxListLength = 1 << 16
    /// UTF-8 bytes of any name (values, nodes, tensors, modules, ops, symbols).
    public static let maxNameBytes = 4096
    /// Declared symbols.
    public static let maxSymbols = 4096
    /// Nesting of a symbolic size expression.
    public static let maxExpressionDepth = 32
    /// Terms of one symbolic size expression, all levels together.
    public static let maxExpressionTerms = 256
    /// Nesting of the JSON text (the document itself needs 8).
    public static let maxJSONDepth = 64
    /// Modules of the table and depth of one node's module stack.
    public static let maxModules = 1 << 16
    public static let maxModuleDepth = ArchitectureLimits.maxDepth
}
