import Format

/// Walks the expanded module tree once for a given input shape and turns every module into
/// kernels over backend buffers. Shapes follow `ShapeRules`, the same rules `ckpt arch` shows.
///
/// Every size is computed with checked arithmetic (`PlanArithmetic`) and every buffer is
/// reserved in the memory budget before it is allocated, so an absurd document (a padding
/// of 10^6, a kernel of 2^40) is a typed error, never a trap or a terabyte allocation.
struct PlanBuilder {
    /// A tensor produced while building: where it lives, its shape and its element count
    /// (computed once, checked).
    struct Value {
        var buffer: DeviceBuffer
        var shape: [Int]
        var count: Int
    }

    let tree: ModuleTree
    let weights: NetworkWeights
    let backend: Backend
    let budget: MemoryBudget
    var kernels: [Kernel] = []
    /// Bytes reserved in `budget` for this plan's buffers (the plan gives them back).
    private(set) var reserved: UInt64 = 0
    /// The largest im2col scratch a convolution of this plan needs, in floats.
    private var scratchFloats = 0

    init(tree: ModuleTree, weights: NetworkWeights, backend: Backend, budget: MemoryBudget) {
        self.tree = tree
        self.weights = weights
        self.backend = backend
        self.budget = budget
    }

    mutating func build(inputShape: [Int]) throws -> Plan {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw EngineError.invalidInputShape(inputShape)
        }
        do {
            let input = try fresh(inputShape, "the input")
            let output = try emit(tree.root, input)
            // Scratch is reused by every convolution: the largest one is reserved once per copy the backend keeps.
            try reserve(floats: try PlanArithmetic.multiply(scratchFloats, backend.scratchCopies, "convolution scratch"),
                        for: "convolution scratch (im2col columns)")
            return Plan(inputShape: inputShape, outputShape: output.shape, backend: backend, input: input.buffer,
                        output: output.buffer, kernels: kernels, budget: budget, reserved: reserved)
        } catch {
            budget.release(reserved)
            reserved = 0
            throw error
        }
    }

    /// Reserves `floats` float32 values in the budget, or throws `allocationRefused`.
    private mutating func reserve(floats: Int, for what: String) throws {
        let bytes = try PlanArithmetic.multiply(floats, MemoryLayout<Float>.size, what)
        do {
            try budget.reserve(bytes, for: what)
        } catch let error as FormatError {
            if case let .memoryBudgetExceeded(_, requested, inUse, limit) = error.reason.root {
                throw EngineError.allocationRefused(what: what, bytes: requested, inUse: inUse, limit: limit)
            }
            throw error
        }
        reserved += UInt64(bytes)
    }

    /// A new buffer of `shape`, its size checked and reserved first.
    private mutating func fresh(_ shape: [Int], _ what: String) throws -> Value {
        let count = try PlanArithmetic.elementCount(shape, of: what)
        try reserve(floats: count, for: what)
        return Value(buffer: try backend.makeBuffer(count: count), shape: shape, count: count)
    }

    /// The output of `module`, by name, for messages.
    private func output(_ module: ExpandedModule) -> String {
        "module '\(module.path.isEmpty ? "(root)" : module.path)' (\(module.layer.type.rawValue)) output"
    }

    /// Refuses window settings (Conv2d, pooling) the shape rules cannot compute with.
    private func checkWindows(_ module: ExpandedModule, _ x: Value) throws {
        let rank = x.shape.count
        guard rank >= 2 else { return } // the shape rules say what is wrong with the rank
        let type = module.layer.type.rawValue
        func check(_ kernel: Pair, _ stride: Pair, _ padding: Pair, _ dilation: Pair) throws {
            try PlanArithmetic.checkWindow(size: x.shape[rank - 2], kernel: kernel.h, stride: stride.h, padding: padding.h,
                                           dilation: dilation.h, module: module.path, type: type)
            try PlanArithmetic.checkWindow(size: x.shape[rank - 1], kernel: kernel.w, stride: stride.w, padding: padding.w,
                                           dilation: dilation.w, module: module.path, type: type)
        }
        switch module.layer {
        case .conv2d(let c):
            guard c.groups > 0 else { throw EngineError.unsupportedLayer(module: module.path, type: type, why: "groups \(c.groups) is not positive") }
            guard c.outChannels > 0 else {
                throw EngineError.unsupportedLayer(module: module.path, type: type, why: "out_channels \(c.outChannels) is not positive")
            }
            try check(c.kernelSize, c.stride, c.padding, c.dilation)
        case .maxPool2d(let c), .avgPool2d(let c):
            try check(c.kernelSize, c.stride, c.padding, c.dilation)
        default:
            return
        }
    }

    private func context(_ module: ExpandedModule, _ layer: Layer) -> String {
        "module '\(module.path.isEmpty ? "(root)" : module.path)' (\(layer.type.rawValue))"
    }

    mutating func emit(_ module: ExpandedModule, _ x: Value) throws -> Value {
        let target = tree.effective(module) // a Shared module runs its target, weights and all
        switch target.layer {
        case .sequential, .repeated:
            var value = x
            var index = 0
            let children = target.children
            while index < children.count {
                let child = tree.effective(children[index])
                // Linear or Conv2d followed by an activation: one kernel, the activation applied in place.
                if index + 1 < children.count, case .activation(let activation) = tree.effective(children[index + 1]).layer,
                   child.layer.type == .linear || child.layer.type == .conv2d {
                    value = child.layer.type == .linear ? try linear(child, value, activation: activation)
                                                        : try leaf(child, value, activation: activation)
                    index += 2
                } else {
                    value = try emit(children[index], value)
                    index += 1
                }
            }
            return value
        case .parallel(let axis):
            var parts: [Value] = []
            for child in target.children { parts.append(try emit(child, x)) }
            let shape = try ShapeRules.concatenate(parts.map(\.shape), axis: axis, context: context(module, target.layer))
            let dim = axis < 0 ? axis + shape.count : axis
            let y = try fresh(shape, output(target))
            let outer = try PlanArithmetic.elementCount(Array(shape[..<dim]), of: output(target))
            kernels.append(.concat(parts: parts.map { ($0.buffer, $0.count / outer) }, y: y.buffer, outer: outer))
            return y
        case .opaque(let config):
            throw EngineError.opaqueModules([OpaqueModule(path: target.path, className: config.className, reason: config.reason)])
        case .shared:
            throw EngineError.unsupportedLayer(module: module.path, type: target.layer.type.rawValue, why: "a Shared target must not be Shared")
        case .linear:
            return try linear(target, x, activation: nil)
        default:
            return try leaf(target, x)
        }
    }

    private mutating func linear(_ module: ExpandedModule, _ x: Value, activation: Activation?) throws -> Value {
        guard case .linear(let config) = module.layer else {
            throw EngineError.unsupportedLayer(module: module.path, type: module.layer.type.rawValue, why: "not a Linear")
        }
        let (_, shape) = try ShapeRules.leaf(module.layer, input: x.shape, context: context(module, module.layer))
        let inFeatures = x.shape.last!
        let y = try fresh(shape, output(module))
        kernels.append(.linear(x: x.buffer, weight: try weights.buffer(module.path, "weight"),
                               bias: config.bias ? try weights.buffer(module.path, "bias") : nil, y: y.buffer,
                               rows: x.count / inFeatures, inFeatures: inFeatures, outFeatures: config.outFeatures,
                               activation: activation))
        return y
    }

    /// `activation` is applied inside the kernel (Conv2d only; the caller fuses).
    private mutating func leaf(_ module: ExpandedModule, _ x: Value, activation: Activation? = nil) throws -> Value {
        try checkWindows(module, x)
        let (layer, shape) = try ShapeRules.leaf(module.layer, input: x.shape, context: context(module, module.layer))
        let rank = x.shape.count
        let what = output(module)
        switch layer {
        case .dropout, .identity:
            return x // inference: nothing to do
        case .flatten:
            return Value(buffer: x.buffer, shape: shape, count: x.count) // a view: same memory, new shape
        case .conv2d(let c):
            let y = try fresh(shape, what)
            // im2col columns of one sample: (C/groups)·kh·kw rows of OH·OW.
            let depth = try PlanArithmetic.elementCount([x.shape[rank - 3] / c.groups, c.kernelSize.h, c.kernelSize.w], of: "\(what) columns")
            let columns = try PlanArithmetic.multiply(depth, shape[rank - 2] * shape[rank - 1], "\(what) columns")
            scratchFloats = max(scratchFloats, columns)
            let geometry = ConvGeometry(batch: rank == 4 ? x.shape[0] : 1, inChannels: x.shape[rank - 3], inHeight: x.shape[rank - 2],
                                        inWidth: x.shape[rank - 1], outChannels: c.outChannels, outHeight: shape[rank - 2],
                                        outWidth: shape[rank - 1], kernel: c.kernelSize, stride: c.stride, padding: c.padding,
                                        dilation: c.dilation, groups: c.groups)
            kernels.append(.conv2d(x: x.buffer, weight: try weights.buffer(module.path, "weight"),
                                   bias: c.bias ? try weights.buffer(module.path, "bias") : nil, y: y.buffer, geometry: geometry,
                                   activation: activation))
            return y
        case .maxPool2d(let c), .avgPool2d(let c):
            let y = try fresh(shape, what)
            let geometry = PoolGeometry(planes: x.shape[..<(rank - 2)].reduce(1, *), inHeight: x.shape[rank - 2], inWidth: x.shape[rank - 1],
                                        outHeight: shape[rank - 2], outWidth: shape[rank - 1], kernel: c.kernelSize, stride: c.stride,
                                        padding: c.padding, dilation: c.dilation)
            if case .maxPool2d = layer {
                kernels.append(.maxPool2d(x: x.buffer, y: y.buffer, geometry: geometry))
            } else {
                kernels.append(.avgPool2d(x: x.buffer, y: y.buffer, geometry: geometry, countIncludePad: c.countIncludePad))
            }
            return y
        case .adaptiveAvgPool2d:
            let y = try fresh(shape, what)
            kernels.append(.adaptiveAvgPool2d(x: x.buffer, y: y.buffer, planes: x.shape[..<(rank - 2)].reduce(1, *),
                                              inHeight: x.shape[rank - 2], inWidth: x.shape[rank - 1],
                                              outHeight: shape[rank - 2], outWidth: shape[rank - 1]))
            return y
        case .batchNorm1d, .batchNorm2d:
            let y = try fresh(shape, what)
            let (scale, shift) = try weights.foldedNorm(module.path)
            kernels.append(.channelAffine(x: x.buffer, scale: scale, shift: shift, y: y.buffer, outer: x.shape[0],
                                          channels: x.shape[1], inner: x.shape[2...].reduce(1, *)))
            return y
        case .layerNorm(let c):
            let y = try fresh(shape, what)
            let columns = c.normalizedShape.reduce(1, *)
            kernels.append(.layerNorm(x: x.buffer, weight: c.elementwiseAffine ? try weights.buffer(module.path, "weight") : nil,
                                      bias: c.elementwiseAffine && c.bias ? try weights.buffer(module.path, "bias") : nil,
                                      y: y.buffer, rows: x.count / columns, columns: columns, eps: Float(c.eps)))
            return y
        case .activation(let activation):
            let y = try fresh(shape, what)
            kernels.append(.activation(activation, x: x.buffer, y: y.buffer, count: x.count))
            return y
        case .softmax(let dim):
            let axis = dim < 0 ? dim + rank : dim
            let y = try fresh(shape, what)
            kernels.append(.softmax(x: x.buffer, y: y.buffer, outer: x.shape[..<axis].reduce(1, *), axis: x.shape[axis],
                                    inner: x.shape[(axis + 1)...].reduce(1, *)))
            return y
        case .tensorReduction(let inFeatures, let outFeatures):
            let y = try fresh(shape, what)
            kernels.append(.tensorReduction(x: x.buffer, weight: try weights.buffer(module.path, "weight"), y: y.buffer,
                                            rows: x.shape[0], inFeatures: inFeatures ?? x.shape[1], outFeatures: outFeatures))
            return y
        case .fourierHalf:
            let y = try fresh(shape, what)
            let length = x.shape[rank - 1]
            kernels.append(.fourierHalf(x: x.buffer, y: y.buffer, rows: x.count / length, length: length))
            return y
        case .linear, .sequential, .parallel, .repeated, .shared, .opaque:
            throw EngineError.unsupportedLayer(module: module.path, type: layer.type.rawValue, why: "not a leaf")
        }
    }
}
