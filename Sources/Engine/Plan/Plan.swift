import Format

/// A network compiled for one set of input shapes: its kernels in order, over buffers that
/// live on the backend. Running it uploads the inputs, enqueues every kernel, synchronises
/// once and downloads the outputs. A module tree gives one input and one output; a graph
/// program may take and give several.
public final class Plan {
    public let inputShapes: [[Int]]
    public let outputShapes: [[Int]]
    public let backend: Backend
    let inputs: [DeviceBuffer]
    let outputs: [DeviceBuffer]
    let kernels: [Kernel]
    /// The budget this plan's buffers are reserved in, and how much, given back at deinit.
    private let budget: MemoryBudget
    private let reserved: UInt64

    init(inputShapes: [[Int]], outputShapes: [[Int]], backend: Backend, inputs: [DeviceBuffer], outputs: [DeviceBuffer],
         kernels: [Kernel], budget: MemoryBudget, reserved: UInt64) {
        self.inputShapes = inputShapes
        self.outputShapes = outputShapes
        self.backend = backend
        self.inputs = inputs
        self.outputs = outputs
        self.kernels = kernels
        self.budget = budget
        self.reserved = reserved
    }

    convenience init(inputShape: [Int], outputShape: [Int], backend: Backend, input: DeviceBuffer, output: DeviceBuffer, kernels: [Kernel],
                     budget: MemoryBudget, reserved: UInt64) {
        self.init(inputShapes: [inputShape], outputShapes: [outputShape], backend: backend, inputs: [input], outputs: [output],
                  kernels: kernels, budget: budget, reserved: reserved)
    }

    deinit { budget.release(reserved) }
    /// Kernels one forward pass enqueues.
    public var kernelCount: Int { kernels.count }
    /// The first input's shape (a module tree's only one).
    public var inputShape: [Int] { inputShapes[0] }
    /// The first output's shape (a module tree's only one).
    public var outputShape: [Int] { outputShapes[0] }
    /// Values one pass takes and gives through the first input and output (the buffers' sizes, checked when the plan was built).
    public var inputCount: Int { inputs[0].count }
    public var outputCount: Int { outputs[0].count }

    /// One forward pass: `input` holds `inputCount` values, `output` receives `outputCount`.
    public func run(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) throws {
        guard inputs.count == 1, outputs.count == 1, input.count == inputCount, output.count == outputCount else {
            throw EngineError.bufferSizeMismatch(expectedInput: inputCount, expectedOutput: outputCount, input: input.count, output: output.count)
        }
        try backend.upload(input, to: inputs[0], offset: 0)
        for kernel in kernels { try backend.enqueue(kernel) }
        try backend.synchronize()
        try backend.download(outputs[0], offset: 0, into: output)
    }

    public func run(_ input: [Float]) throws -> [Float] {
        var output = [Float](repeating: 0, count: outputCount)
        try input.withUnsafeBufferPointer { source in
            try output.withUnsafeMutableBufferPointer { try run(source, into: $0) }
        }
        return output
    }

    /// One forward pass over several inputs, in the plan's order; every output, in order.
    public func run(inputs values: [[Float]]) throws -> [[Float]] {
        guard values.count == inputs.count else { throw EngineError.graphInputCount(expected: inputs.count, given: values.count) }
        for (buffer, value) in zip(inputs, values) {
            guard value.count == buffer.count else {
                throw EngineError.bufferSizeMismatch(expectedInput: buffer.count, expectedOutput: outputs.first?.count ?? 0,
                                                     input: value.count, output: outputs.first?.count ?? 0)
            }
            try value.withUnsafeBufferPointer { try backend.upload($0, to: buffer, offset: 0) }
        }
        for kernel in kernels { try backend.enqueue(kernel) }
        try backend.synchronize()
        return try outputs.map { try backend.download($0) }
    }
}
