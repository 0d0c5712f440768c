import Foundation
import Format

/// A checkpoint whose architecture is a graph document, made runnable: its parameters on a
/// backend once, and a compiled plan per set of input shapes (symbols bound from them).
/// Not safe to share between threads (plans reuse buffers).
public final class GraphNetwork {
    public let document: GraphDocument
    public let backend: Backend
    /// Every plan's buffers are reserved here before they are allocated.
    public let budget: MemoryBudget
    private let parameters: [String: GraphParameter]
    private var plans: [[[Int]]: (Plan, [ElementKind])] = [:]
    private let declaredOutputs: [DType?]

    /// Refuses a document that uses any op the engine cannot run, listing every one with its
    /// count, and a checkpoint that lacks a tensor the document binds or holds it in another shape.
    public init(document: GraphDocument, checkpoint: Checkpoint, backend: Backend = CPUBackend(), budget: MemoryBudget = MemoryBudget()) throws {
        try GraphNetwork.refuseUnsupported(document)
        var parameters: [String: GraphParameter] = [:]
        var mismatches: [ArchitectureMismatch] = []
        for binding in document.tensors {
            guard let tensor = checkpoint.tensor(named: binding.tensor) else {
                mismatches.append(.missing(name: binding.tensor, shape: binding.type.fixedShape ?? []))
                continue
            }
            if let shape = binding.type.fixedShape, shape != tensor.shape {
                mismatches.append(.wrongShape(name: binding.tensor, stored: tensor.shape, expected: shape))
                continue
            }
            let values = try GraphTensors.floats(tensor, "tensor '\(binding.tensor)'")
            let buffer = try backend.makeBuffer(count: Swift.max(values.count, 1))
            try values.withUnsafeBufferPointer { try backend.upload($0, to: buffer, offset: 0) }
            parameters[binding.value] = GraphParameter(buffer: buffer, shape: tensor.shape, kind: ElementKind(tensor.dtype), host: tensor)
        }
        if !mismatches.isEmpty { throw EngineError.architectureMismatch(mismatches) }
        let types = document.valueTypes()
        declaredOutputs = document.outputs.map { output in
            if case .tensor(let name) = output { return types[name]?.tensor?.dtype }
            return nil
        }
        self.document = document
        self.parameters = parameters
        self.backend = backend
        self.budget = budget
    }

    /// Throws `unsupportedOps` listing every op of `document` the engine lacks, with its count.
    public static func refuseUnsupported(_ document: GraphDocument) throws {
        let missing = GraphOpTable.unsupported(document.opCounts())
        if !missing.isEmpty { throw EngineError.unsupportedOps(missing) }
    }

    /// The plan for inputs of `shapes` (in the graph's input order), compiled on first use.
    public func plan(inputShapes shapes: [[Int]]) throws -> Plan {
        try compiled(shapes).0
    }

    private func compiled(_ shapes: [[Int]]) throws -> (Plan, [ElementKind]) {
        if let plan = plans[shapes] { return plan }
        let builder = GraphPlanBuilder(document: document, parameters: parameters, backend: backend, budget: budget)
        let (plan, kinds) = try builder.build(inputShapes: shapes)
        plans[shapes] = (plan, kinds)
        return (plan, kinds)
    }

    /// One forward pass: the inputs in the graph's order, each of the kind its declaration
    /// says (any float width for a float input, any integer type for an integer one); the
    /// outputs in order, floats as f32, integers as i64 (or the declared i32), booleans as bool.
    public func run(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == document.inputs.count else {
            throw EngineError.graphInputCount(expected: document.inputs.count, given: inputs.count)
        }
        var values: [[Float]] = []
        for (declared, tensor) in zip(document.inputs, inputs) {
            if let dtype = declared.type.tensor?.dtype, ElementKind(dtype) != ElementKind(tensor.dtype) {
                throw EngineError.inputDTypeMismatch(input: declared.name, declared: dtype, given: tensor.dtype)
            }
            values.append(try GraphTensors.floats(tensor, "input '\(declared.name)'"))
        }
        let (plan, kinds) = try compiled(inputs.map(\.shape))
        let outputs = try plan.run(inputs: values)
        return try outputs.enumerated().map { index, values in
            let dtype = GraphTensors.outputDType(kinds[index], declared: declaredOutputs[index])
            return try GraphTensors.tensor(Array(values.prefix(plan.outputShapes[index].reduce(1, *))), shape: plan.outputShapes[index], dtype: dtype)
        }
    }
}
