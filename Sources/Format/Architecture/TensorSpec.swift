/// One parameter or buffer the architecture expects, named as in PyTorch's state_dict.
public struct TensorSpec: Equatable, Sendable {
    public enum Role: String, Sendable {
        case parameter
        /// Running statistics and counters: state, not trained weights.
        case buffer
    }

    /// The stored name: the path of the module that owns it.
    public var name: String
    /// Names of the same tensor through Shared modules (`4.weight` for `2.weight`).
    public var aliases: [String]
    public var shape: [Int]
    public var dtype: DType
    public var role: Role
    /// The owning module's path and the tensor's attribute there (`weight`, `running_mean`).
    public var modulePath: String
    public var localName: String
    /// The owning module's layer, lazy sizes filled in; initialisers read fan-in from it.
    public var layer: Layer

    public var allNames: [String] { [name] + aliases }
    /// Elements of `shape`; at most `ArchitectureLimits.maxElements` for a spec from a
    /// validated tree (shapes are checked when specs are made), so this cannot overflow.
    public var elementCount: Int { shape.reduce(1, &*) }
}

extension ModuleTree {
    /// Every tensor of the network in state_dict order, each once, with its aliases.
    /// Fails when a lazy size is still unknown.
    public func tensorSpecs() throws -> [TensorSpec] {
        var specs: [TensorSpec] = []
        var sharedPrefixes: [(alias: String, target: String)] = []
        func walk(_ module: ExpandedModule) throws {
            if case .shared(let target) = module.layer {
                sharedPrefixes.append((module.path, target))
                return
            }
            for (local, shape, dtype, role) in try ModuleTree.ownTensors(of: module) {
                specs.append(TensorSpec(name: joinPath(module.path, local), aliases: [], shape: shape, dtype: dtype, role: role,
                                        modulePath: module.path, localName: local, layer: module.layer))
            }
            for child in module.children { try walk(child) }
        }
        try walk(root)
        // A Shared module's names are its target's names under its own path; a target may
        // itself hold Shared modules, so repeat until nothing new appears.
        var changed = true
        while changed {
            changed = false
            for index in specs.indices {
                for (alias, target) in sharedPrefixes {
                    for name in specs[index].allNames where name.hasPrefix(target + ".") {
                        let aliased = alias + name.dropFirst(target.count)
                        if !specs[index].allNames.contains(aliased) {
                            specs[index].aliases.append(aliased)
                            changed = true
                        }
                    }
                }
            }
        }
        return specs
    }

    /// The tensors a module owns itself (not its children's): local name, shape, dtype, role,
    /// each shape checked against `ArchitectureLimits` (so products of its sizes are safe).
    /// A size still lazy is an error, or with `allowingLazy` leaves that tensor out.
    static func ownTensors(of module: ExpandedModule, allowingLazy: Bool = false) throws -> [(String, [Int], DType, TensorSpec.Role)] {
        let context = "module '\(ArchitectureParser.displayPath(module.path))' (\(module.layer.type.rawValue))"
        let tensors: [(String, [Int], DType, TensorSpec.Role)]
        do {
            tensors = try declaredTensors(of: module)
        } catch is LazySize {
            if allowingLazy { return [] }
            throw FormatError(.context(context, .missingField(lazyField(module.layer) + " (give the document an input_shape, or --input-shape, to infer it)")))
        }
        for (name, shape, _, _) in tensors {
            do { _ = try ArchitectureLimits.checkedElements(shape, what: "tensor '\(name)'") } catch let error as FormatError {
                throw error.within(context)
            }
        }
        return tensors
    }

    /// A lazy size that has not been inferred yet.
    private struct LazySize: Error {}

    private static func lazyField(_ layer: Layer) -> String {
        switch layer {
        case .conv2d: return "in_channels"
        case .batchNorm1d, .batchNorm2d: return "num_features"
        default: return "in_features"
        }
    }

    private static func declaredTensors(of module: ExpandedModule) throws -> [(String, [Int], DType, TensorSpec.Role)] {
        func lazy(_ what: String) -> LazySize { LazySize() }
        switch module.layer {
        case .linear(let c):
            guard let inFeatures = c.inFeatures else { throw lazy("in_features") }
            return [("weight", [c.outFeatures, inFeatures], .f32, .parameter)] + (c.bias ? [("bias", [c.outFeatures], .f32, .parameter)] : [])
        case .conv2d(let c):
            guard let inChannels = c.inChannels else { throw lazy("in_channels") }
            return [("weight", [c.outChannels, inChannels / c.groups, c.kernelSize.h, c.kernelSize.w], .f32, .parameter)]
                + (c.bias ? [("bias", [c.outChannels], .f32, .parameter)] : [])
        case .batchNorm1d(let c), .batchNorm2d(let c):
            guard let features = c.numFeatures else { throw lazy("num_features") }
            var tensors: [(String, [Int], DType, TensorSpec.Role)] = []
            if c.affine { tensors += [("weight", [features], .f32, .parameter), ("bias", [features], .f32, .parameter)] }
            if c.trackRunningStats {
                tensors += [("running_mean", [features], .f32, .buffer), ("running_var", [features], .f32, .buffer),
                            ("num_batches_tracked", [], .i64, .buffer)]
            }
            return tensors
        case .layerNorm(let c):
            guard c.elementwiseAffine else { return [] }
            return [("weight", c.normalizedShape, .f32, .parameter)] + (c.bias ? [("bias", c.normalizedShape, .f32, .parameter)] : [])
        case .tensorReduction(let inFeatures, let outFeatures):
            guard let inFeatures else { throw lazy("in_features") }
            return [("weight", [inFeatures, inFeatures, outFeatures], .f32, .parameter)]
        case .opaque(let c):
            return c.tensors.map { ($0.name, $0.shape, $0.dtype, $0.isBuffer ? .buffer : .parameter) }
        case .sequential, .parallel, .repeated, .shared, .maxPool2d, .avgPool2d, .adaptiveAvgPool2d, .dropout,
             .flatten, .identity, .activation, .softmax, .fourierHalf:
            return []
        }
    }
}
