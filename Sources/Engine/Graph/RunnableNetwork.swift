import Format

/// A network of either architecture form, as `ckpt run` and the probe checks use it:
/// inputs in, outputs out, in the network's order.
public protocol RunnableNetwork: AnyObject {
    var backend: Backend { get }
    /// One forward pass.
    func run(_ inputs: [Tensor]) throws -> [Tensor]
}

extension GraphNetwork: RunnableNetwork {}

extension Network: RunnableNetwork {
    /// A module tree takes one input and gives one output.
    public func run(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == 1 else { throw EngineError.graphInputCount(expected: 1, given: inputs.count) }
        return [try run(inputs[0])]
    }
}

/// The network `checkpoint` describes: a module tree becomes a `Network`, a graph document a
/// `GraphNetwork`. Throws `noArchitecture` when it carries none.
public func makeNetwork(for checkpoint: Checkpoint, backend: Backend = CPUBackend(), budget: MemoryBudget = MemoryBudget()) throws -> any RunnableNetwork {
    guard let architecture = checkpoint.architecture else { throw EngineError.noArchitecture }
    switch architecture.form {
    case .modules(let document): return try Network(document: document, checkpoint: checkpoint, backend: backend, budget: budget)
    case .graph(let document): return try GraphNetwork(document: document, checkpoint: checkpoint, backend: backend, budget: budget)
    }
}
