import Format

/// What the values of a tensor mean. The engine holds every value as float32; the kind
/// says which were integers or booleans, so casts, integer division and the dtype of an
/// output follow PyTorch.
enum ElementKind: Equatable {
    case float, integer, boolean

    /// The kind of a dtype (floats of every width compute as float32).
    init(_ dtype: DType) {
        switch dtype {
        case .bool: self = .boolean
        case .i64, .i32, .i16, .i8, .u64, .u32, .u16, .u8: self = .integer
        default: self = .float
        }
    }

    /// PyTorch's promotion of two operands' kinds.
    func promoted(with other: ElementKind) -> ElementKind {
        if self == .float || other == .float { return .float }
        if self == .integer || other == .integer { return .integer }
        return .boolean
    }
}

/// A tensor while a graph is compiled: a strided view of a backend buffer. Views
/// (transpose, slice, expand, unsqueeze) only change the strides; kernels that need dense
/// memory get a copy made by `GraphCompiler.dense`.
struct GraphTensor {
    var buffer: DeviceBuffer
    /// The buffer's identity in the compiler's lifetime accounting.
    var bufferID: Int
    var offset: Int
    var shape: [Int]
    var strides: [Int]
    var kind: ElementKind

    var count: Int { shape.reduce(1, *) }
    var rank: Int { shape.count }

    /// Row-major strides of `shape`.
    static func denseStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }

    /// Whether the elements lie in row-major order from `offset` (axes of size 1 may have any stride).
    var isContiguous: Bool {
        var step = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            guard strides[axis] == step else { return false }
            step *= shape[axis]
        }
        return true
    }

    /// Dense from element 0 of its buffer: what kernels that take a plain buffer need.
    var isDenseBuffer: Bool { offset == 0 && isContiguous }

    /// The operand a strided kernel reads.
    var operand: StridedOperand { StridedOperand(buffer: buffer, offset: offset, strides: strides) }

    /// This view with another shape and strides.
    func viewed(_ shape: [Int], _ strides: [Int], offset: Int? = nil) -> GraphTensor {
        GraphTensor(buffer: buffer, bufferID: bufferID, offset: offset ?? self.offset, shape: shape, strides: strides, kind: kind)
    }

    /// The strides to read this tensor as if it had `target` shape (NumPy broadcasting), or nil.
    func broadcastStrides(to target: [Int]) -> [Int]? {
        guard rank <= target.count else { return nil }
        var result = [Int](repeating: 0, count: target.count)
        let lead = target.count - rank
        for axis in 0 ..< rank {
            if shape[axis] == target[lead + axis] { result[lead + axis] = strides[axis] }
            else if shape[axis] != 1 { return nil }
        }
        return result
    }
}

/// A value a graph node takes or gives: a tensor, a list of them, or a scalar argument.
/// Sizes that are symbols in the document are concrete here: a plan is built for one set
/// of input shapes.
enum CompiledValue {
    case tensor(GraphTensor)
    case tensors([GraphTensor?])
    case int(Int)
    case ints([Int])
    case float(Double)
    case floats([Double])
    case bool(Bool)
    case bools([Bool])
    case string(String)
    /// A dtype argument (`to(dtype=...)`), as the element kind it gives.
    case dtype(ElementKind)
    /// None, or an argument the engine has no use for (a device, a layout).
    case absent

    /// The tensors this value holds (one, several, or none).
    var tensors: [GraphTensor] {
        switch self {
        case .tensor(let t): return [t]
        case .tensors(let list): return list.compactMap { $0 }
        default: return []
        }
    }
}
