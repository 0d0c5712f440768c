/// The module types an architecture document may name (`"type"` in a node).
///
/// The raw value is the spelling in the document, PyTorch's class name where there is one.
public enum LayerType: String, CaseIterable, Sendable {
    case sequential = "Sequential"
    case parallel = "Parallel"
    case repeated = "Repeat"
    case shared = "Shared"
    case linear = "Linear"
    case conv2d = "Conv2d"
    case maxPool2d = "MaxPool2d"
    case avgPool2d = "AvgPool2d"
    case adaptiveAvgPool2d = "AdaptiveAvgPool2d"
    case batchNorm1d = "BatchNorm1d"
    case batchNorm2d = "BatchNorm2d"
    case layerNorm = "LayerNorm"
    case dropout = "Dropout"
    case flatten = "Flatten"
    case identity = "Identity"
    case relu = "ReLU"
    case leakyReLU = "LeakyReLU"
    case sigmoid = "Sigmoid"
    case tanh = "Tanh"
    case gelu = "GELU"
    case silu = "SiLU"
    case softmax = "Softmax"
    case tensorReduction = "TensorReduction"
    case fourierHalf = "FourierHalf"
    case opaque = "Opaque"

    /// Containers hold child modules; every other type is a leaf (Opaque may hold children too).
    public var holdsChildren: Bool {
        switch self {
        case .sequential, .parallel, .repeated, .opaque: return true
        default: return false
        }
    }
}

/// An element-wise nonlinearity. Shared with the engine, which runs them as one kernel.
public enum Activation: Equatable, Sendable {
    case relu
    case leakyReLU(negativeSlope: Double)
    case sigmoid
    case tanh
    /// GELU with the exact erf form (`approximate='none'`).
    case gelu
    /// GELU's tanh approximation (`approximate='tanh'`).
    case geluTanh
    case silu
}

public struct LinearConfig: Equatable, Sendable {
    /// nil until inferred from an input shape or from the weight (PyTorch's LazyLinear).
    public var inFeatures: Int?
    public var outFeatures: Int
    public var bias: Bool

    public init(inFeatures: Int?, outFeatures: Int, bias: Bool = true) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.bias = bias
    }
}

/// A pair of per-axis sizes (height, width), as PyTorch's `_pair`.
public struct Pair: Equatable, Sendable, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(_ both: Int) { self.init(both, both) }
    /// `(5, 3)`, as PyTorch prints kernel sizes and strides.
    public var description: String { "(\(h), \(w))" }
}

public struct Conv2dConfig: Equatable, Sendable {
    public var inChannels: Int?
    public var outChannels: Int
    public var kernelSize: Pair
    public var stride: Pair
    public var padding: Pair
    public var dilation: Pair
    public var groups: Int
    public var bias: Bool

    public init(inChannels: Int?, outChannels: Int, kernelSize: Pair, stride: Pair = Pair(1), padding: Pair = Pair(0),
                dilation: Pair = Pair(1), groups: Int = 1, bias: Bool = true) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.bias = bias
    }
}

/// MaxPool2d and AvgPool2d. `dilation` is MaxPool2d's only; `countIncludePad` AvgPool2d's only.
public struct Pool2dConfig: Equatable, Sendable {
    public var kernelSize: Pair
    public var stride: Pair
    public var padding: Pair
    public var dilation: Pair
    public var ceilMode: Bool
    public var countIncludePad: Bool

    public init(kernelSize: Pair, stride: Pair? = nil, padding: Pair = Pair(0), dilation: Pair = Pair(1),
                ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }
}

public struct BatchNormConfig: Equatable, Sendable {
    public var numFeatures: Int?
    public var eps: Double
    public var momentum: Double
    public var affine: Bool
    public var trackRunningStats: Bool

    public init(numFeatures: Int?, eps: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true, trackRunningStats: Bool = true) {
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.trackRunningStats = trackRunningStats
    }
}

public struct LayerNormConfig: Equatable, Sendable {
    public var normalizedShape: [Int]
    public var eps: Double
    public var elementwiseAffine: Bool
    public var bias: Bool

    public init(normalizedShape: [Int], eps: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.normalizedShape = normalizedShape
        self.eps = eps
        self.elementwiseAffine = elementwiseAffine
        self.bias = bias
    }
}

/// A tensor an Opaque module owns directly (not through its children).
public struct OpaqueTensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var dtype: DType
    /// A buffer (running statistics and the like) rather than a trainable parameter.
    public var isBuffer: Bool

    public init(name: String, shape: [Int], dtype: DType = .f32, isBuffer: Bool = false) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.isBuffer = isBuffer
    }
}

/// A module ckpt keeps (class, tensors, settings) but does not run.
public struct OpaqueConfig: Equatable, Sendable {
    /// The module's class as its framework names it, e.g. `transformers.GPT2Attention`.
    public var className: String
    public var tensors: [OpaqueTensor]
    /// Whatever else is known about it, kept as given.
    public var config: JSONValue?
    /// Why it is Opaque; nil in a document that does not say (hand-written, or older).
    public var reason: OpaqueReason?

    public init(className: String, tensors: [OpaqueTensor] = [], config: JSONValue? = nil, reason: OpaqueReason? = nil) {
        self.className = className
        self.tensors = tensors
        self.config = config
        self.reason = reason
    }
}

/// One module's type and configuration.
public enum Layer: Equatable, Sendable {
    case sequential
    /// Runs every child on the same input and concatenates the outputs on `axis`.
    case parallel(axis: Int)
    /// `count` copies of the one child, named by `pattern` with `{i}` replaced by 0, 1, ...
    case repeated(count: Int, pattern: String)
    /// The very module at `target` (a dotted path from the root) used again here: tied parameters.
    case shared(target: String)
    case linear(LinearConfig)
    case conv2d(Conv2dConfig)
    case maxPool2d(Pool2dConfig)
    case avgPool2d(Pool2dConfig)
    /// Output height and width; nil keeps the input's size on that axis.
    case adaptiveAvgPool2d(outputSize: [Int?])
    case batchNorm1d(BatchNormConfig)
    case batchNorm2d(BatchNormConfig)
    case layerNorm(LayerNormConfig)
    case dropout(p: Double)
    case flatten(startDim: Int, endDim: Int)
    case identity
    case activation(Activation)
    case softmax(dim: Int)
    /// y[n,k] = sum_ij W[i,j,k] x[n,i] x[n,j]; W has shape [in, in, out].
    case tensorReduction(inFeatures: Int?, outFeatures: Int)
    /// The leading n/2 DFT coefficients along the last axis, as [real parts | imaginary parts].
    case fourierHalf
    case opaque(OpaqueConfig)

    public var type: LayerType {
        switch self {
        case .sequential: return .sequential
        case .parallel: return .parallel
        case .repeated: return .repeated
        case .shared: return .shared
        case .linear: return .linear
        case .conv2d: return .conv2d
        case .maxPool2d: return .maxPool2d
        case .avgPool2d: return .avgPool2d
        case .adaptiveAvgPool2d: return .adaptiveAvgPool2d
        case .batchNorm1d: return .batchNorm1d
        case .batchNorm2d: return .batchNorm2d
        case .layerNorm: return .layerNorm
        case .dropout: return .dropout
        case .flatten: return .flatten
        case .identity: return .identity
        case .activation(let activation):
            switch activation {
            case .relu: return .relu
            case .leakyReLU: return .leakyReLU
            case .sigmoid: return .sigmoid
            case .tanh: return .tanh
            case .gelu, .geluTanh: return .gelu
            case .silu: return .silu
            }
        case .softmax: return .softmax
        case .tensorReduction: return .tensorReduction
        case .fourierHalf: return .fourierHalf
        case .opaque: return .opaque
        }
    }
}
