import Format

/// A tensor as a kernel reads or writes it: a buffer, the element where it starts and the
/// step of each axis in elements (0 on a broadcast axis). The shape is the kernel's.
public struct StridedOperand {
    public var buffer: DeviceBuffer
    public var offset: Int
    public var strides: [Int]

    public init(buffer: DeviceBuffer, offset: Int, strides: [Int]) {
        self.buffer = buffer
        self.offset = offset
        self.strides = strides
    }
}

/// The element-wise computations of graph programs. Values are float32; integers and
/// booleans are held as exact floats (booleans as 0 and 1), so a comparison gives 0 or 1
/// and a cast to an integer truncates toward zero.
public enum ElementOp: Equatable, Sendable {
    // One operand.
    case identity, negate, abs, exp, log, sqrt, rsqrt, reciprocal, sin, cos, floor, ceil, round, truncate, sign
    case relu, sigmoid, tanh, erf, gelu, geluTanh, silu, hardswish, hardsigmoid, mish, softplus(beta: Float, threshold: Float)
    case leakyReLU(slope: Float), elu(alpha: Float)
    case clamp(low: Float, high: Float)
    case logicalNot, isNonZero
    case powScalar(Float), scaled(Float)
    // Two operands (the first and the second).
    case add(alpha: Float), subtract(alpha: Float), multiply, divide, floorDivide, remainder, power, maximum, minimum
    case equal, notEqual, less, lessEqual, greater, greaterEqual, logicalAnd, logicalOr, logicalXor
    // Three operands: condition, value where it is non-zero, value elsewhere.
    case select

    /// How many operands the op reads.
    public var arity: Int {
        switch self {
        case .add, .subtract, .multiply, .divide, .floorDivide, .remainder, .power, .maximum, .minimum, .equal, .notEqual,
             .less, .lessEqual, .greater, .greaterEqual, .logicalAnd, .logicalOr, .logicalXor:
            return 2
        case .select: return 3
        default: return 1
        }
    }
}

/// Reductions along one axis of [outer, axis, inner].
public enum ReductionOp: Equatable, Sendable {
    case sum, mean, maximum, minimum, product, argmax, argmin
    /// Variance with Bessel's correction `correction` (0: biased).
    case variance(correction: Int)
    /// The vector p-norm (Σ|x|^p)^(1/p); infinity: the largest |x|.
    case norm(order: Double)
}

/// The one recurrent layer's weights, as PyTorch's `_flat_weights` hold them per layer and direction.
public struct RecurrentWeights {
    public var inputWeights: DeviceBuffer // [gates·hidden, input]
    public var hiddenWeights: DeviceBuffer // [gates·hidden, hidden]
    public var inputBias: DeviceBuffer?
    public var hiddenBias: DeviceBuffer?

    public init(inputWeights: DeviceBuffer, hiddenWeights: DeviceBuffer, inputBias: DeviceBuffer?, hiddenBias: DeviceBuffer?) {
        self.inputWeights = inputWeights
        self.hiddenWeights = hiddenWeights
        self.inputBias = inputBias
        self.hiddenBias = hiddenBias
    }
}

/// The geometry of a recurrent layer stack run over a whole sequence (time-major buffers).
public struct RecurrentGeometry: Equatable, Sendable {
    public enum Cell: Equatable, Sendable { case lstm, gru }
    public var cell: Cell
    public var steps: Int
    public var batch: Int
    public var inputSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var bidirectional: Bool

    public var directions: Int { bidirectional ? 2 : 1 }
    public var gates: Int { cell == .lstm ? 4 : 3 }
}

/// The geometry of one scaled dot-product attention over `batch` independent heads.
public struct AttentionGeometry: Equatable, Sendable {
    /// Heads of all samples: `batch` = samples · heads (the mask is read per sample and head).
    public var batch: Int
    public var heads: Int
    public var queries: Int
    public var keys: Int
    public var depth: Int
    public var valueDepth: Int
    public var scale: Float
    public var causal: Bool
    /// How the mask is read: added (a float mask) or keep-where-true (a boolean mask).
    public var booleanMask: Bool
}

/// The kernels graph programs add to the module-tree set. Every shape is in elements and
/// computed (checked) by the graph compiler; operands are strided views, outputs dense
/// unless said otherwise.
public indirect enum GraphKernel {
    /// y[i] = op(operands[i]) over `shape`, each operand read through its strides, y written
    /// through its own (so a copy into a slice of a larger tensor is one of these).
    case map(ElementOp, operands: [StridedOperand], y: StridedOperand, shape: [Int])
    /// y[i] = value for i in 0..<count.
    case fill(y: DeviceBuffer, value: Float, count: Int)
    /// Batched products y[b] = alpha · a[b] · b[b] (+ y[b] when `accumulate`): a is m×k and
    /// b is k×n, each read through (row, column) strides, one of which must be 1; the batch
    /// axes carry their own strides (0 where broadcast). y is dense [batch…, m, n].
    case matmul(a: StridedOperand, b: StridedOperand, y: DeviceBuffer, batchShape: [Int], m: Int, n: Int, k: Int,
                alpha: Float, accumulate: Bool)
    /// Transposed convolution (torch.nn.ConvTranspose2d): weights [in, out/groups, kh, kw];
    /// the geometry's in/out are those of the layer, padding that of the forward convolution.
    case convTranspose2d(x: DeviceBuffer, weight: DeviceBuffer, bias: DeviceBuffer?, y: DeviceBuffer, geometry: ConvGeometry)
    /// Group normalisation of [batch, channels, inner] in `groups` groups, then the per-channel affine.
    case groupNorm(x: DeviceBuffer, weight: DeviceBuffer?, bias: DeviceBuffer?, y: DeviceBuffer, batch: Int, channels: Int,
                   inner: Int, groups: Int, eps: Float)
    /// log(softmax) along the middle axis of [outer, axis, inner].
    case logSoftmax(x: DeviceBuffer, y: DeviceBuffer, outer: Int, axis: Int, inner: Int)
    case reduce(ReductionOp, x: DeviceBuffer, y: DeviceBuffer, outer: Int, axis: Int, inner: Int)
    /// Running sums along the middle axis of [outer, axis, inner].
    case cumsum(x: DeviceBuffer, y: DeviceBuffer, outer: Int, axis: Int, inner: Int)
    /// y[o, j, i] = x[o, index[j], i] for x of [outer, axis, inner]; an index outside
    /// [-axis, axis) stops the pass with `EngineError.indexOutOfRange`.
    case indexSelect(x: DeviceBuffer, index: DeviceBuffer, y: DeviceBuffer, outer: Int, axis: Int, inner: Int, count: Int)
    /// torch.gather along the middle axis: y[o, j, i] = x[o, index[o, j, i], i], x of
    /// [outer, axis, inner] and index (and y) of [outer, count, inner].
    case gather(x: DeviceBuffer, index: DeviceBuffer, y: DeviceBuffer, outer: Int, axis: Int, inner: Int, count: Int)
    /// Adaptive max pooling with PyTorch's windows (as adaptiveAvgPool2d).
    case adaptiveMaxPool2d(x: DeviceBuffer, y: DeviceBuffer, planes: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int)
    /// Nearest (`bilinear` false: source index floor(dst · in/out), or the given scales) or
    /// bilinear resampling of H×W planes.
    case upsample(x: DeviceBuffer, y: DeviceBuffer, planes: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int,
                  bilinear: Bool, alignCorners: Bool, scaleHeight: Double?, scaleWidth: Double?)
    /// softmax(q·kᵀ·scale + mask) · v per head, q [batch, queries, depth], k [batch, keys,
    /// depth], v [batch, keys, valueDepth]; the mask (optional) read through strides over
    /// (sample, head, query, key); `causal` hides keys after the query.
    case attention(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, mask: StridedOperand?, y: DeviceBuffer, geometry: AttentionGeometry)
    /// A whole LSTM or GRU stack over a time-major sequence [steps, batch, input]: `output`
    /// [steps, batch, directions·hidden]; initial and final states [layers·directions,
    /// batch, hidden] (`cell` states for LSTM only). Weights per layer and direction, as PyTorch orders them.
    case recurrent(x: DeviceBuffer, weights: [RecurrentWeights], h0: DeviceBuffer, c0: DeviceBuffer?, output: DeviceBuffer,
                   hn: DeviceBuffer, cn: DeviceBuffer?, geometry: RecurrentGeometry)
}

extension GraphKernel {
    /// The kernel's name, for messages.
    public var name: String {
        switch self {
        case .map: return "map"
        case .fill: return "fill"
        case .matmul: return "matmul"
        case .convTranspose2d: return "conv_transpose2d"
        case .groupNorm: return "group_norm"
        case .logSoftmax: return "log_softmax"
        case .reduce: return "reduce"
        case .cumsum: return "cumsum"
        case .indexSelect: return "index_select"
        case .gather: return "gather"
        case .adaptiveMaxPool2d: return "adaptive_max_pool2d"
        case .upsample: return "upsample"
        case .attention: return "attention"
        case .recurrent: return "recurrent"
        }
    }
}
