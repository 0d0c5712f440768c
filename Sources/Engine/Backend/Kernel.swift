import Format

/// The geometry of one 2-d convolution over a batch (NCHW, weights [out, in/groups, kh, kw]).
public struct ConvGeometry: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var outHeight: Int
    public var outWidth: Int
    public var kernel: Pair
    public var stride: Pair
    public var padding: Pair
    public var dilation: Pair
    public var groups: Int

    /// Multiply-adds of the whole convolution, to choose a thread count.
    public var multiplyAdds: Int {
        batch * outChannels * outHeight * outWidth * (inChannels / groups) * kernel.h * kernel.w
    }
}

/// The geometry of a 2-d pooling over `planes` independent H×W planes.
public struct PoolGeometry: Equatable, Sendable {
    public var planes: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outHeight: Int
    public var outWidth: Int
    public var kernel: Pair
    public var stride: Pair
    public var padding: Pair
    public var dilation: Pair
}

/// One unit of work a backend runs. The cases are whole layers rather than BLAS calls so
/// that each backend can implement them its own way (im2col + sgemm on the CPU, a tiled
/// kernel on a GPU). Shapes are in elements; every buffer is dense, row-major.
public enum Kernel {
    /// y[r, :] = activation(W · x[r, :] + b) for r in 0..<rows; W is [out, in] as PyTorch stores it.
    case linear(x: DeviceBuffer, weight: DeviceBuffer, bias: DeviceBuffer?, y: DeviceBuffer,
                rows: Int, inFeatures: Int, outFeatures: Int, activation: Activation?)
    /// Cross-correlation as torch.nn.Conv2d, bias optional, zero padding, then the activation if any.
    case conv2d(x: DeviceBuffer, weight: DeviceBuffer, bias: DeviceBuffer?, y: DeviceBuffer, geometry: ConvGeometry, activation: Activation?)
    /// Padding counts as -infinity, as in PyTorch.
    case maxPool2d(x: DeviceBuffer, y: DeviceBuffer, geometry: PoolGeometry)
    /// PyTorch's divisor rules: the window clipped to the padded input, or to the input itself
    /// when `countIncludePad` is false.
    case avgPool2d(x: DeviceBuffer, y: DeviceBuffer, geometry: PoolGeometry, countIncludePad: Bool)
    /// Windows [floor(i·H/OH), ceil((i+1)·H/OH)), as torch.nn.AdaptiveAvgPool2d.
    case adaptiveAvgPool2d(x: DeviceBuffer, y: DeviceBuffer, planes: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int)
    /// y[o, c, i] = x[o, c, i] · scale[c] + shift[c]: inference BatchNorm with its statistics folded in.
    case channelAffine(x: DeviceBuffer, scale: DeviceBuffer, shift: DeviceBuffer, y: DeviceBuffer, outer: Int, channels: Int, inner: Int)
    /// Normalises each row of `columns` values (biased variance), then the optional affine.
    case layerNorm(x: DeviceBuffer, weight: DeviceBuffer?, bias: DeviceBuffer?, y: DeviceBuffer, rows: Int, columns: Int, eps: Float)
    case activation(Activation, x: DeviceBuffer, y: DeviceBuffer, count: Int)
    /// Softmax along the middle axis of [outer, axis, inner].
    case softmax(x: DeviceBuffer, y: DeviceBuffer, outer: Int, axis: Int, inner: Int)
    /// For each of `outer` blocks, the parts' blocks one after another; part i gives `inner` values a block.
    case concat(parts: [(buffer: DeviceBuffer, inner: Int)], y: DeviceBuffer, outer: Int)
    /// y[n, k] = Σ_ij W[i, j, k] x[n, i] x[n, j].
    case tensorReduction(x: DeviceBuffer, weight: DeviceBuffer, y: DeviceBuffer, rows: Int, inFeatures: Int, outFeatures: Int)
    /// The leading length/2 DFT coefficients of each row, as [real parts | imaginary parts].
    case fourierHalf(x: DeviceBuffer, y: DeviceBuffer, rows: Int, length: Int)
    case copy(x: DeviceBuffer, y: DeviceBuffer, count: Int)
    /// The kernels only graph programs use (`GraphKernel`).
    case graph(GraphKernel)
}
