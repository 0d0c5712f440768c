import Format

/// A network compiled for one input shape: its kernels in order, over buffers that live on
/// the backend. Running it uploads the input, enqueues every kernel, synchronises once and
/// downloads the output.
public final class Plan {
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let backend: Backend
    let input: DeviceBuffer
    let output: DeviceBuffer
    let kernels: [Kernel]
    /// Values one pass takes and gives (the buffers' sizes, checked when the plan was built).
    public let inputCount: Int
    public let outputCount: Int
    /// The budget this plan's buffers are reserved in, and how much, given back at deinit.
    private let budget: MemoryBudget
    private let reserved: UInt64

    init(inputShape: [Int], outputShape: [Int], backend: Backend, input: DeviceBuffer, output: DeviceBuffer, kernels: [Kernel],
         budget: MemoryBudget, reserved: UInt64) {
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.backend = backend
        self.input = input
        self.output = output
        self.kernels = kernels
        inputCount = input.count
        outputCount = output.count
        self.budget = budget
        self.reserved = reserved
    }

    deinit { budget.release(reserved) }
    /// Kernels one forward pass enqueues.
    public var kernelCount: Int { kernels.count }

    /// One forward pass: `input` holds `inputCount` values, `output` receives `outputCount`.
    public func run(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) throws {
        guard input.count == inputCount, output.count == outputCount else {
            throw EngineError.bufferSizeMismatch(expectedInput: inputCount, expectedOutput: outputCount, input: input.count, output: output.count)
        }
        try backend.upload(input, to: self.input, offset: 0)
        for kernel in kernels { try backend.enqueue(kernel) }
        try backend.synchronize()
        try backend.download(self.output, offset: 0, into: output)
    }

    public func run(_ input: [Float]) throws -> [Float] {
        var output = [Float](repeating: 0, count: outputCount)
        try input.withUnsafeBufferPointer { source in
            try output.withUnsafeMutableBufferPointer { try run(source, into: $0) }
        }
        return output
    }
}
