/// The type of a tensor flowing through a graph: element type and a shape whose sizes may
/// be symbolic.
public struct GraphTensorType: Sendable, Equatable, Hashable {
    public var dtype: DType
    public var shape: [SymbolicSize]

    public init(dtype: DType, shape: [SymbolicSize]) {
        self.dtype = dtype
        self.shape = shape
    }

    /// The shape when every size is fixed.
    public var fixedShape: [Int]? {
        var sizes: [Int] = []
        for size in shape {
            guard let value = size.constantValue else { return nil }
            sizes.append(value)
        }
        return sizes
    }
}

/// What a named value of a graph holds.
public enum GraphValueType: Sendable, Equatable, Hashable {
    case tensor(GraphTensorType)
    /// A Python int computed from sizes (`aten.sym_size.int`), with its expression in the
    /// program's symbols when torch recorded one.
    case symInt(SymbolicSize?)
    /// A Python float computed from sizes.
    case symFloat
    /// A Python bool computed from sizes (the guards of `aten._assert_scalar`).
    case symBool

    /// The tensor type, if this is a tensor.
    public var tensor: GraphTensorType? {
        if case .tensor(let type) = self { return type }
        return nil
    }
}

/// A named value and its type: a graph input or one output of a node.
public struct GraphValue: Sendable, Equatable, Hashable {
    public var name: String
    public var type: GraphValueType

    public init(name: String, type: GraphValueType) {
        self.name = name
        self.type = type
    }
}

/// A dynamic dimension of the program: a named symbol with its range (torch.export's
/// `range_constraints`). `max` is nil when the range is open above.
public struct GraphSymbol: Sendable, Equatable, Hashable {
    public var name: String
    public var min: Int
    public var max: Int?

    public init(name: String, min: Int, max: Int?) {
        self.name = name
        self.min = min
        self.max = max
    }

    /// Whether `value` is in the symbol's range.
    public func admits(_ value: Int) -> Bool { value >= min && (max.map { value <= $0 } ?? true) }
}

/// Where a graph placeholder's tensor comes from in the checkpoint.
public enum GraphTensorRole: String, Sendable, Equatable, Hashable, CaseIterable {
    /// A parameter (`nn.Parameter`), in the state_dict.
    case parameter
    /// A persistent buffer, in the state_dict.
    case buffer
    /// A buffer registered with `persistent=False`: stored in the checkpoint, not in a state_dict.
    case nonPersistentBuffer = "non_persistent_buffer"
    /// A tensor attribute that is neither (torch.export's tensor constants, `self.k = torch.tensor(...)`).
    case constant
}

/// A placeholder of the graph bound to a tensor of the checkpoint by its state_dict name.
public struct GraphTensorBinding: Sendable, Equatable, Hashable {
    /// The value name used by the nodes (`p_fc_weight`).
    public var value: String
    /// The tensor's name in the checkpoint (`fc.weight`).
    public var tensor: String
    public var role: GraphTensorRole
    public var type: GraphTensorType

    public init(value: String, tensor: String, role: GraphTensorRole, type: GraphTensorType) {
        self.value = value
        self.tensor = tensor
        self.role = role
        self.type = type
    }
}

/// A buffer the program updates in place: after a run, `value` is the buffer's new content.
public struct GraphMutation: Sendable, Equatable, Hashable {
    /// The buffer's name in the checkpoint.
    public var tensor: String
    /// The value holding the new content.
    public var value: String

    public init(tensor: String, value: String) {
        self.tensor = tensor
        self.value = value
    }
}

/// A module of the source network that nodes came from (`nn_module_stack`).
public struct GraphModule: Sendable, Equatable, Hashable {
    /// The module's path in the network, as in state_dict names (`layer1.0.conv1`; the root is "").
    public var path: String
    /// Its Python class (`torch.nn.modules.conv.Conv2d`).
    public var className: String

    public init(path: String, className: String) {
        self.path = path
        self.className = className
    }
}
