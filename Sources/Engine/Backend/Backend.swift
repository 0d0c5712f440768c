/// Memory on a compute device, holding `count` float32 values. Only the backend that made
/// it can read or write it; the host sees its contents through `Backend.download`.
public protocol DeviceBuffer: AnyObject {
    var count: Int { get }
}

/// Where a plan runs. The contract is that of a queue-based device (OpenCL, CUDA):
/// buffers live on the device, `enqueue` may return before the work is done, a forward pass
/// enqueues all of its kernels and then synchronises once, and results reach the host only
/// through an explicit `download`. The CPU backend happens to run each kernel at once.
public protocol Backend: AnyObject {
    /// `cpu`, `opencl:0`, ...
    var name: String { get }

    /// A new buffer of `count` float32 values, contents undefined.
    func makeBuffer(count: Int) throws -> DeviceBuffer

    /// Copies host values into `buffer` starting at element `offset`. The host memory may
    /// be reused as soon as this returns.
    func upload(_ values: UnsafeBufferPointer<Float>, to buffer: DeviceBuffer, offset: Int) throws

    /// Copies `values.count` elements from `buffer` at `offset` to the host, after the
    /// queued work that writes them has finished.
    func download(_ buffer: DeviceBuffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws

    /// Queues one kernel; every buffer it names must come from this backend.
    func enqueue(_ kernel: Kernel) throws

    /// Waits until all queued kernels have finished.
    func synchronize() throws

    /// How many convolution scratch areas (im2col columns) may exist at once: one per
    /// worker thread on the CPU. The plan reserves this many of its largest in the budget.
    var scratchCopies: Int { get }

    /// Whether this backend implements `kernel` (a graph plan refuses to build otherwise).
    func canRun(_ kernel: GraphKernel) -> Bool
}

extension Backend {
    /// One scratch area, reused by kernel after kernel (a queue-based device).
    public var scratchCopies: Int { 1 }

    public func canRun(_ kernel: GraphKernel) -> Bool { true }

    /// A buffer holding `values`.
    public func makeBuffer(_ values: [Float]) throws -> DeviceBuffer {
        let buffer = try makeBuffer(count: values.count)
        try values.withUnsafeBufferPointer { try upload($0, to: buffer, offset: 0) }
        return buffer
    }

    /// The whole buffer, read back to the host.
    public func download(_ buffer: DeviceBuffer) throws -> [Float] {
        var values = [Float](repeating: 0, count: buffer.count)
        try values.withUnsafeMutableBufferPointer { try download(buffer, offset: 0, into: $0) }
        return values
    }
}
