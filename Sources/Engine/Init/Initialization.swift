import Foundation
import Format

/// A fresh checkpoint for an architecture: every parameter drawn by its initialiser from
/// its own Philox stream (seed, tensor name), so one seed gives the same bytes anywhere.
public enum Initialization {
    /// `rules` apply to parameters (the last matching rule wins); buffers always take
    /// PyTorch's defaults. Lazy sizes are inferred from `inputShape`, or from the
    /// document's own input shape. A rule that matches no parameter is an error, since it
    /// is almost always a typo. Every tensor's size is checked and reserved in `budget`
    /// before it is drawn, so a document declaring a Linear(9e15, 9e15) is a typed error.
    public static func checkpoint(for document: ArchitectureDocument, rules: [InitRule] = [], seed: UInt64 = 0,
                                  inputShape: [Int]? = nil, budget: MemoryBudget = MemoryBudget()) throws -> Checkpoint {
        var resolved = document
        if let shape = inputShape ?? document.inputShape { resolved = try document.resolved(inputShape: shape) }
        let specs = try resolved.tree().tensorSpecs()
        var used = Set<Int>()
        var tensors: [NamedTensor] = []
        var reserved: UInt64 = 0
        defer { budget.release(reserved) }
        for spec in specs {
            reserved += try reserve(spec, in: budget)
            var initializer = Initializer.pytorchDefault
            if spec.role == .parameter {
                for (index, rule) in rules.enumerated().reversed() where spec.allNames.contains(where: rule.matches) {
                    initializer = rule.initializer
                    used.insert(index)
                    break
                }
            }
            tensors.append(NamedTensor(name: spec.name, aliases: spec.aliases, tensor: try tensor(spec, initializer, seed: seed)))
        }
        // A rule shadowed by a later one still counts as used if it matches something.
        for (index, rule) in rules.enumerated() where !used.contains(index) {
            if !specs.contains(where: { $0.role == .parameter && $0.allNames.contains(where: rule.matches) }) {
                throw EngineError.ruleMatchesNothing(rule: "\(rule)", example: specs.first?.name ?? "0.weight")
            }
        }
        let metadata: JSONValue = .object([
            "created_by": .string("ckpt new"),
            "seed": .string(String(seed)),
            "init": .array(rules.map { .string($0.description) }),
        ])
        return Checkpoint(tensors: tensors, architecture: Architecture(resolved), metadata: metadata)
    }

    /// Reserves the bytes of `spec` (as stored: f32 for float types), its size checked.
    private static func reserve(_ spec: TensorSpec, in budget: MemoryBudget) throws -> UInt64 {
        let what = "tensor '\(spec.name)' \(Tensor.describe(spec.shape))"
        var count = 1
        for size in spec.shape {
            guard size >= 0 else { throw EngineError.emptyOutput(what: what, shape: spec.shape) }
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw EngineError.arithmeticOverflow(what: what) }
            count = product
        }
        let bytes = try PlanArithmetic.multiply(count, spec.dtype.isFloatingPoint ? 4 : spec.dtype.size, what)
        do { try budget.reserve(bytes, for: what) } catch let error as FormatError {
            if case let .memoryBudgetExceeded(_, requested, inUse, limit) = error.reason.root {
                throw EngineError.allocationRefused(what: what, bytes: requested, inUse: inUse, limit: limit)
            }
            throw error
        }
        return UInt64(bytes)
    }

    /// One tensor's values: float types as f32 drawn by `initializer`; integer counters as zeros.
    static func tensor(_ spec: TensorSpec, _ initializer: Initializer, seed: UInt64) throws -> Tensor {
        guard spec.dtype.isFloatingPoint else {
            return try Tensor(dtype: spec.dtype, shape: spec.shape, data: Data(count: spec.elementCount * spec.dtype.size))
        }
        var stream = RandomStream(seed: seed, name: spec.name)
        let values = try initializer.values(for: spec, stream: &stream)
        return try FloatConversion.tensor(shape: spec.shape, values: values)
    }
}
