import Foundation
import Format

/// A checkpoint made runnable: its architecture expanded, its tensors on a backend, and a
/// compiled plan per input shape. Not safe to share between threads (plans reuse buffers).
public final class Network {
    public let document: ArchitectureDocument
    public let tree: ModuleTree
    public let backend: Backend
    private let weights: NetworkWeights
    private var plans: [[Int]: Plan] = [:]
    /// Every plan's buffers are reserved here before they are allocated.
    public let budget: MemoryBudget

    /// Loads the checkpoint's architecture and tensors. Fails, naming every one, when the
    /// network holds Opaque modules, and lists every mismatch when tensors and document disagree.
    /// `budget` bounds the memory the plans allocate (default: `CKPT_MEMORY_LIMIT`, else 3/4 of RAM).
    public convenience init(checkpoint: Checkpoint, backend: Backend = CPUBackend(), budget: MemoryBudget = MemoryBudget()) throws {
        guard let architecture = checkpoint.architecture else {
            throw EngineError.noArchitecture
        }
        try self.init(document: try architecture.moduleTree(for: "running the network"), checkpoint: checkpoint, backend: backend, budget: budget)
    }

    public init(document: ArchitectureDocument, checkpoint: Checkpoint, backend: Backend = CPUBackend(),
                budget: MemoryBudget = MemoryBudget()) throws {
        let resolved = try resolve(document, checkpoint)
        let tree = try resolved.tree()
        try Network.refuseOpaque(tree)
        try checkArchitecture(resolved, against: checkpoint)
        self.document = resolved
        self.tree = tree
        self.backend = backend
        self.budget = budget
        weights = try NetworkWeights(tree: tree, specs: try tree.tensorSpecs(), tensor: { spec in
            spec.allNames.lazy.compactMap { checkpoint.tensor(named: $0) }.first
        }, backend: backend)
    }

    /// Throws `opaqueModules` listing every Opaque module of the tree (path, class, reason).
    public static func refuseOpaque(_ tree: ModuleTree) throws {
        let opaque = opaqueModules(tree)
        if !opaque.isEmpty { throw EngineError.opaqueModules(opaque) }
    }

    /// Every Opaque module of the tree, in tree order.
    public static func opaqueModules(_ tree: ModuleTree) -> [OpaqueModule] {
        tree.allModules().compactMap { module in
            guard case .opaque(let config) = module.layer else { return nil }
            return OpaqueModule(path: module.path, className: config.className, reason: config.reason)
        }
    }

    /// The plan for inputs of `shape` (batch axis included), compiled on first use.
    public func plan(inputShape shape: [Int]) throws -> Plan {
        if let plan = plans[shape] { return plan }
        var builder = PlanBuilder(tree: tree, weights: weights, backend: backend, budget: budget)
        let plan = try builder.build(inputShape: shape)
        plans[shape] = plan
        return plan
    }

    /// One forward pass; the input may be any float type, the output is float32.
    public func run(_ input: Tensor) throws -> Tensor {
        let plan = try self.plan(inputShape: input.shape)
        let output = try plan.run(try FloatConversion.floats(input))
        return try FloatConversion.tensor(shape: plan.outputShape, values: output)
    }
}
