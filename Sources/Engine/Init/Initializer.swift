import Format

/// How a fresh tensor's values are drawn; the names and arguments are torch.nn.init's.
public enum Initializer: Equatable, Sendable {
    /// What PyTorch's `reset_parameters` does for the owning module: kaiming-uniform with
    /// a = sqrt(5) for Linear/Conv2d weights, uniform ±1/sqrt(fan_in) for their biases,
    /// ones and zeros for norm weights and biases and running statistics.
    case pytorchDefault
    case zeros
    case ones
    case constant(Double)
    case normal(mean: Double, std: Double)
    case uniform(low: Double, high: Double)
    case xavierUniform(gain: Double)
    case xavierNormal(gain: Double)
    case kaimingUniform(a: Double, mode: FanMode, nonlinearity: Nonlinearity)
    case kaimingNormal(a: Double, mode: FanMode, nonlinearity: Nonlinearity)

    public enum FanMode: String, Sendable {
        case fanIn = "fan_in"
        case fanOut = "fan_out"
    }

    /// torch.nn.init.calculate_gain's nonlinearities.
    public enum Nonlinearity: String, Sendable, CaseIterable {
        case linear, conv1d, conv2d, sigmoid, tanh, relu, selu
        case leakyReLU = "leaky_relu"

        /// The recommended gain; `a` is leaky_relu's negative slope.
        public func gain(a: Double) -> Double {
            switch self {
            case .linear, .conv1d, .conv2d, .sigmoid: return 1
            case .tanh: return 5.0 / 3
            case .relu: return (2.0).squareRoot()
            case .leakyReLU: return (2.0 / (1 + a * a)).squareRoot()
            case .selu: return 3.0 / 4
            }
        }
    }

    /// The values for `spec`, drawn from `stream`. Arithmetic is IEEE double, rounded once to
    /// float per value, with no platform math, so the bytes agree on every machine.
    public func values(for spec: TensorSpec, stream: inout RandomStream) throws -> [Float] {
        let count = spec.elementCount
        func draw(_ make: (inout RandomStream) -> Double) -> [Float] {
            var out = [Float](); out.reserveCapacity(count)
            for _ in 0 ..< count { out.append(Float(make(&stream))) }
            return out
        }
        func uniform(_ low: Double, _ high: Double) -> [Float] { draw { low + (high - low) * $0.nextUnit() } }
        func normal(_ mean: Double, _ std: Double) -> [Float] { draw { mean + std * $0.nextNormal() } }

        switch self {
        case .pytorchDefault:
            return try Initializer.pytorchDefault(for: spec).values(for: spec, stream: &stream)
        case .zeros: return [Float](repeating: 0, count: count)
        case .ones: return [Float](repeating: 1, count: count)
        case .constant(let value): return [Float](repeating: Float(value), count: count)
        case .normal(let mean, let std): return normal(mean, std)
        case .uniform(let low, let high): return uniform(low, high)
        case .xavierUniform(let gain):
            let (fanIn, fanOut) = try Initializer.fans(spec, for: "xavier_uniform")
            let bound = gain * (2.0 / Double(fanIn + fanOut)).squareRoot() * (3.0).squareRoot()
            return uniform(-bound, bound)
        case .xavierNormal(let gain):
            let (fanIn, fanOut) = try Initializer.fans(spec, for: "xavier_normal")
            return normal(0, gain * (2.0 / Double(fanIn + fanOut)).squareRoot())
        case .kaimingUniform(let a, let mode, let nonlinearity):
            let std = try Initializer.kaimingStd(spec, a: a, mode: mode, nonlinearity: nonlinearity, name: "kaiming_uniform")
            let bound = (3.0).squareRoot() * std
            return uniform(-bound, bound)
        case .kaimingNormal(let a, let mode, let nonlinearity):
            return normal(0, try Initializer.kaimingStd(spec, a: a, mode: mode, nonlinearity: nonlinearity, name: "kaiming_normal"))
        }
    }

    /// PyTorch's `reset_parameters` rule for one tensor of its module.
    public static func pytorchDefault(for spec: TensorSpec) throws -> Initializer {
        switch (spec.layer, spec.localName) {
        case (.linear, "weight"), (.conv2d, "weight"):
            return .kaimingUniform(a: (5.0).squareRoot(), mode: .fanIn, nonlinearity: .leakyReLU)
        case (.linear(let c), "bias"):
            let bound = c.inFeatures.map { $0 > 0 ? 1 / Double($0).squareRoot() : 0 } ?? 0
            return .uniform(low: -bound, high: bound)
        case (.conv2d(let c), "bias"):
            let fanIn = (c.inChannels ?? 0) / c.groups * c.kernelSize.h * c.kernelSize.w
            let bound = fanIn > 0 ? 1 / Double(fanIn).squareRoot() : 0
            return .uniform(low: -bound, high: bound)
        case (.batchNorm1d, "weight"), (.batchNorm2d, "weight"), (.layerNorm, "weight"), (_, "running_var"):
            return .ones
        case (.tensorReduction, "weight"):
            return .normal(mean: 0, std: 0.1) // the chapter's torch.randn(i, i, k) * 0.1
        default:
            return .zeros // biases of norms, running means, counters, Opaque tensors
        }
    }

    /// torch.nn.init._calculate_fan_in_and_fan_out: [out, in, receptive field...].
    static func fans(_ spec: TensorSpec, for name: String) throws -> (Int, Int) {
        guard spec.shape.count >= 2 else {
            throw EngineError.initializerNeedsAxes(initializer: name, tensor: spec.name, shape: spec.shape)
        }
        let receptive = spec.shape.dropFirst(2).reduce(1, *)
        return (spec.shape[1] * receptive, spec.shape[0] * receptive)
    }

    static func kaimingStd(_ spec: TensorSpec, a: Double, mode: FanMode, nonlinearity: Nonlinearity, name: String) throws -> Double {
        let (fanIn, fanOut) = try fans(spec, for: name)
        let fan = mode == .fanIn ? fanIn : fanOut
        guard fan > 0 else { throw EngineError.zeroFan(initializer: name, tensor: spec.name) }
        return nonlinearity.gain(a: a) / Double(fan).squareRoot()
    }
}
