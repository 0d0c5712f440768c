/// One element of a list of symbolic ints: a fixed int or a symbolic int value by name.
public enum GraphSymIntElement: Sendable, Equatable, Hashable {
    case constant(Int)
    case value(String)
}

/// An argument of a node, typed as torch.export records it.
public enum GraphArgument: Sendable, Equatable, Hashable {
    case none
    /// A tensor value by name.
    case tensor(String)
    /// A list of tensor values (`cat`, `stack`).
    case tensors([String])
    /// A list whose items are tensors or none (`index.Tensor`).
    case optionalTensors([String?])
    case int(Int)
    case ints([Int])
    /// A float; may be infinite or NaN (a mask fill of -inf).
    case float(Double)
    case floats([Double])
    case bool(Bool)
    case bools([Bool])
    case string(String)
    case strings([String])
    /// A symbolic int value by name.
    case symInt(String)
    /// A list of sizes, each fixed or a symbolic int value (the size list of a `view`).
    case symInts([GraphSymIntElement])
    case symFloat(String)
    case symBool(String)
    case dtype(DType)
    /// A tensor layout by torch's name (`strided`).
    case layout(String)
    /// A memory format by torch's name (`contiguous_format`, `preserve_format`, `channels_last`).
    case memoryFormat(String)
    /// A device by torch's name (`cpu`, `cuda:0`). ckpt runs on its own devices; this is kept.
    case device(String)

    /// Every value the argument refers to, with the kind each must be.
    public var references: [(name: String, kind: GraphReferenceKind)] {
        switch self {
        case .tensor(let name): return [(name, .tensor)]
        case .tensors(let names): return names.map { ($0, .tensor) }
        case .optionalTensors(let names): return names.compactMap { $0 }.map { ($0, .tensor) }
        case .symInt(let name): return [(name, .symInt)]
        case .symInts(let items): return items.compactMap { if case .value(let name) = $0 { return (name, .symInt) } else { return nil } }
        case .symFloat(let name): return [(name, .symFloat)]
        case .symBool(let name): return [(name, .symBool)]
        default: return []
        }
    }
}

/// The kind of value a reference requires.
public enum GraphReferenceKind: String, Sendable {
    case tensor, symInt = "symint", symFloat = "symfloat", symBool = "symbool"

    func admits(_ type: GraphValueType) -> Bool {
        switch (self, type) {
        case (.tensor, .tensor), (.symInt, .symInt), (.symFloat, .symFloat), (.symBool, .symBool): return true
        // torch passes a symbolic int where a float is expected (`sym_float`) and vice versa only through
        // explicit nodes, so kinds must match exactly.
        default: return false
        }
    }
}

/// An argument with the name the operator's schema gives it (`input`, `weight`, `dim`).
public struct GraphNamedArgument: Sendable, Equatable, Hashable {
    public var name: String
    public var value: GraphArgument
    /// Passed by keyword rather than position (torch's `ArgumentKind.KEYWORD`).
    public var keyword: Bool

    public init(name: String, value: GraphArgument, keyword: Bool = false) {
        self.name = name
        self.value = value
        self.keyword = keyword
    }
}

/// One output position of a node.
public enum GraphOutputSlot: Sendable, Equatable, Hashable {
    /// A single value.
    case value(GraphValue)
    /// A list of values (the pieces of `split`, `unbind`).
    case list([GraphValue])
    /// A position the program does not use (an optional output torch left out).
    case none

    /// The values this slot defines.
    public var values: [GraphValue] {
        switch self {
        case .value(let value): return [value]
        case .list(let values): return values
        case .none: return []
        }
    }
}

/// One operation of the graph.
public struct GraphNode: Sendable, Equatable, Hashable {
    /// A name unique in the graph (torch's node name).
    public var name: String
    /// The operator: torch's ATen overload name without the `torch.ops.` prefix
    /// (`aten.conv2d.default`, `aten.add.Tensor`).
    public var op: String
    public var inputs: [GraphNamedArgument]
    public var outputs: [GraphOutputSlot]
    /// The modules the node was traced inside, outermost first, by path (`["", "layer1",
    /// "layer1.0", "layer1.0.conv1"]`); empty when torch recorded none.
    public var moduleStack: [String]

    public init(name: String, op: String, inputs: [GraphNamedArgument], outputs: [GraphOutputSlot], moduleStack: [String] = []) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.moduleStack = moduleStack
    }

    /// The innermost module, the one the node belongs to (nil: none recorded).
    public var module: String? { moduleStack.last }

    /// The argument named `name`.
    public func input(_ name: String) -> GraphArgument? { inputs.first(where: { $0.name == name })?.value }

    /// Every value the node defines, in output order.
    public var definedValues: [GraphValue] { outputs.flatMap(\.values) }
}
