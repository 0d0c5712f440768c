import Format

/// Walks the expanded module tree once for a given input shape and turns every module into
/// kernels over backend buffers. Shapes follow `ShapeRules`, the same rules `ckpt arch` shows.
struct PlanBuilder {
    /// A tensor produced while building: where it lives and its shape.
    struct Value {
        var buffer: DeviceBuffer
        var shape: [Int]
        var count: Int { shape.reduce(1, *) }
    }

    let tree: ModuleTree
    let weights: NetworkWeights
    let backend: Backend
    var kernels: [Kernel] = []

    init(tree: ModuleTree, weights: NetworkWeights, backend: Backend) {
        self.tree = tree
        self.weights = weights
        self.backend = backend
    }

    mutating func build(inputShape: [Int]) throws -> Plan {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw EngineError.invalidInputShape(inputShape)
        }
        let input = Value(buffer: try backend.makeBuffer(count: inputShape.reduce(1, *)), shape: inputShape)
        let output = try emit(tree.root, input)
        return Plan(inputShape: inputShape, outputShape: output.shape, backend: backend, input: input.buffer,
                    output: output.buffer, kernels: kernels)
    }

    private mutating func fresh(_ shape: [Int]) throws -> Value {
        Value(buffer: try backend.makeBuffer(count: shape.reduce(1, *)), shape: shape)
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
            let outer = shape[..<dim].reduce(1, *)
            let y = try fresh(shape)
            kernels.append(.concat(parts: parts.map { ($0.buffer, $0.count / outer) }, y: y.buffer, outer: outer))
            return y
        case .opaque(let config):
            throw EngineError.opaqueModule(path: target.path, className: config.className)
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
        let y = try fresh(shape)
        kernels.append(.linear(x: x.buffer, weight: try weights.buffer(module.path, "weight"),
                               bias: config.bias ? try weights.buffer(module.path, "bias") : nil, y: y.buffer,
                               rows: x.count / inFeatures, inFeatures: inFeatures, outFeatures: config.outFeatures,
                               activation: activation))
        return y
    }

    /// `activation` is applied inside the kernel (Conv2d only; the caller fuses).
    private mutating func leaf(_ module: ExpandedModule, _ x: Value, activation: Activation? = nil) throws -> Value {
        let (layer, shape) = try ShapeRules.leaf(module.layer, input: x.shape, context: context(module, module.layer))
        let rank = x.shape.count
        switch layer {
        case .dropout, .identity:
            return x // inference: nothing to do
        case .flatten:
            return Value(buffer: x.buffer, shape: shape) // a view: same memory, new shape
        case .conv2d(let c):
            let y = try fresh(shape)
            let geometry = ConvGeometry(batch: rank == 4 ? x.shape[0] : 1, inChannels: x.shape[rank - 3], inHeight: x.shape[rank - 2],
                                        inWidth: x.shape[rank - 1], outChannels: c.outChannels, outHeight: shape[rank - 2],
                                        outWidth: shape[rank - 1], kernel: c.kernelSize, stride: c.stride, padding: c.padding,
                                        dilation: c.dilation, groups: c.groups)
            kernels.append(.conv2d(x: x.buffer, weight: try weights.buffer(module.path, "weight"),
                                   bias: c.bias ? try weights.buffer(module.path, "bias") : nil, y: y.buffer, geometry: geometry,
                                   activation: activation))
            return y
        case .maxPool2d(let c), .avgPool2d(let c):
            let y = try fresh(shape)
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
            let y = try fresh(shape)
            kernels.append(.adaptiveAvgPool2d(x: x.buffer, y: y.buffer, planes: x.shape[..<(rank - 2)].reduce(1, *),
                                              inHeight: x.shape[rank - 2], inWidth: x.shape[rank - 1],
                                              outHeight: shape[rank - 2], outWidth: shape[rank - 1]))
            return y
        case .batchNorm1d, .batchNorm2d:
            let y = try fresh(shape)
            let (scale, shift) = try weights.foldedNorm(module.path)
            kernels.append(.channelAffine(x: x.buffer, scale: scale, shift: shift, y: y.buffer, outer: x.shape[0],
                                          channels: x.shape[1], inner: x.shape[2...].reduce(1, *)))
            return y
        case .layerNorm(let c):
            let y = try fresh(shape)
            let columns = c.normalizedShape.reduce(1, *)
            kernels.append(.layerNorm(x: x.buffer, weight: c.elementwiseAffine ? try weights.buffer(module.path, "weight") : nil,
                                      bias: c.elementwiseAffine && c.bias ? try weights.buffer(module.path, "bias") : nil,
                                      y: y.buffer, rows: x.count / columns, columns: columns, eps: Float(c.eps)))
            return y
        case .activation(let activation):
            let y = try fresh(shape)
            kernels.append(.activation(activation, x: x.buffer, y: y.buffer, count: x.count))
            return y
        case .softmax(let dim):
            let axis = dim < 0 ? dim + rank : dim
            let y = try fresh(shape)
            kernels.append(.softmax(x: x.buffer, y: y.buffer, outer: x.shape[..<axis].reduce(1, *), axis: x.shape[axis],
                                    inner: x.shape[(axis + 1)...].reduce(1, *)))
            return y
        case .tensorReduction(let inFeatures, let outFeatures):
            let y = try fresh(shape)
            kernels.append(.tensorReduction(x: x.buffer, weight: try weights.buffer(module.path, "weight"), y: y.buffer,
                                            rows: x.shape[0], inFeatures: inFeatures ?? x.shape[1], outFeatures: outFeatures))
            return y
        case .fourierHalf:
            let y = try fresh(shape)
            let length = x.shape[rank - 1]
            kernels.append(.fourierHalf(x: x.buffer, y: y.buffer, rows: x.count / length, length: length))
            return y
        case .linear, .sequential, .parallel, .repeated, .shared, .opaque:
            throw EngineError.unsupportedLayer(module: module.path, type: layer.type.rawValue, why: "not a leaf")
        }
    }
}
