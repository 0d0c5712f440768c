/// Filling in the sizes a document leaves out (`in_features`, `in_channels`, `num_features`),
/// from an input shape (as PyTorch's Lazy modules do on their first call) or from the
/// shapes of the tensors a checkpoint already holds.
extension ArchitectureDocument {
    /// True when no module leaves a size to be inferred.
    public var isResolved: Bool {
        guard let tree = try? tree() else { return false }
        return tree.allModules().allSatisfy { !$0.layer.isLazy }
    }

    /// The document with lazy sizes inferred from its own input shape when it has one and
    /// needs it; otherwise the document unchanged.
    public func resolvingLazySizes() throws -> ArchitectureDocument {
        guard let inputShape, !isResolved else { return self }
        return try resolved(inputShape: inputShape)
    }

    /// The parameters and buffers the document declares (see `ModuleTree.tensorSpecs`),
    /// lazy sizes inferred from its input shape.
    public func tensorSpecs() throws -> [TensorSpec] {
        try resolvingLazySizes().tree().tensorSpecs()
    }

    /// The document with lazy sizes inferred from `inputShape`, which it also records.
    /// Sizes already given must agree with the shapes. Shapes stop at an Opaque module;
    /// sizes after it stay as written.
    public func resolved(inputShape: [Int]) throws -> ArchitectureDocument {
        let (trace, _) = try tree().traceShapesUntilOpaque(input: inputShape)
        var copy = self
        copy.inputShape = inputShape
        copy.root = Self.apply(trace.resolutions, to: root, origin: [])
        return copy
    }

    /// The document with lazy sizes read off tensor shapes (a Linear's weight is
    /// [out, in], so its in_features is the weight's second size). Sizes with no tensor to
    /// read stay lazy.
    public func resolved(tensorShapes: [String: [Int]]) -> ArchitectureDocument {
        guard let tree = try? tree() else { return self }
        var resolutions: [[Int]: Layer] = [:]
        for module in tree.allModules() where module.layer.isLazy {
            if let layer = module.layer.resolving(tensorShapes: { tensorShapes[joinPath(module.path, $0)] }) {
                resolutions[module.origin] = layer
            }
        }
        var copy = self
        copy.root = Self.apply(resolutions, to: root, origin: [])
        return copy
    }

    private static func apply(_ resolutions: [[Int]: Layer], to node: ModuleNode, origin: [Int]) -> ModuleNode {
        var node = node
        if let layer = resolutions[origin] { node.layer = layer }
        node.children = node.children.enumerated().map { apply(resolutions, to: $0.element, origin: origin + [$0.offset]) }
        return node
    }
}

extension Layer {
    /// Leaves a size to be inferred.
    public var isLazy: Bool {
        switch self {
        case .linear(let c): return c.inFeatures == nil
        case .conv2d(let c): return c.inChannels == nil
        case .batchNorm1d(let c), .batchNorm2d(let c): return c.numFeatures == nil
        case .tensorReduction(let inFeatures, _): return inFeatures == nil
        default: return false
        }
    }

    /// The layer with its lazy size read from its own tensors' shapes, or nil. The shapes
    /// come from a file: a size outside the parser's bounds (`ArchitectureLimits.maxSize`)
    /// is not taken, so the size stays lazy and the layer is refused later by name.
    func resolving(tensorShapes shape: (String) -> [Int]?) -> Layer? {
        func size(_ value: Int) -> Int? { (1 ... ArchitectureLimits.maxSize).contains(value) ? value : nil }
        switch self {
        case .linear(var c):
            guard let weight = shape("weight"), weight.count == 2, let inFeatures = size(weight[1]) else { return nil }
            c.inFeatures = inFeatures
            return .linear(c)
        case .conv2d(var c):
            // weight[1] <= 2^31 and groups <= 2^31: the product fits; it must still be a size.
            guard let weight = shape("weight"), weight.count == 4, let perGroup = size(weight[1]),
                  let inChannels = size(perGroup * c.groups) else { return nil }
            c.inChannels = inChannels
            return .conv2d(c)
        case .batchNorm1d(var c), .batchNorm2d(var c):
            guard let stat = shape("running_mean") ?? shape("weight"), stat.count == 1, let features = size(stat[0]) else { return nil }
            c.numFeatures = features
            if case .batchNorm1d = self { return .batchNorm1d(c) }
            return .batchNorm2d(c)
        case .tensorReduction(_, let outFeatures):
            guard let weight = shape("weight"), weight.count == 3, let inFeatures = size(weight[0]) else { return nil }
            return .tensorReduction(inFeatures: inFeatures, outFeatures: outFeatures)
        default:
            return nil
        }
    }
}
