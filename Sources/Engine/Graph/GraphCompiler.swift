import Format

/// Turns the nodes of a graph program into kernels over backend buffers, for one set of
/// concrete input shapes. Every value is a strided view of a buffer; a buffer returns to a
/// free pool as soon as the last value that views it has had its last use, and later nodes
/// reuse it. Every size is computed with checked arithmetic, and every new buffer is
/// reserved in the memory budget before it is allocated.
struct GraphCompiler {
    let backend: Backend
    let budget: MemoryBudget
    private(set) var kernels: [Kernel] = []
    /// Bytes reserved in `budget` for this plan's buffers (the plan gives them back).
    private(set) var reserved: UInt64 = 0

    private struct BufferRecord {
        var buffer: DeviceBuffer
        /// Names bound to values that view this buffer.
        var references = 0
        /// Inputs, outputs and constants: never reused.
        var pinned: Bool
    }
    private var buffers: [Int: BufferRecord] = [:]
    private var nextBufferID = 0
    private var pool: [DeviceBuffer] = []
    /// Buffers made while the current node was compiled, settled when it is done.
    private var unsettled: [Int] = []
    private var scalars: [Float: GraphTensor] = [:]
    private var hostTensors: [Int: Tensor] = [:]
    /// The largest scratch each kernel family needs, by scratch area, in floats.
    private var scratchFloats: [Int] = []

    /// The value each name holds, and how many more nodes (or graph outputs) read it.
    private(set) var values: [String: CompiledValue] = [:]
    private var remainingUses: [String: Int] = [:]

    init(backend: Backend, budget: MemoryBudget) {
        self.backend = backend
        self.budget = budget
    }

    // MARK: Buffers

    private mutating func reserve(floats: Int, for what: String) throws {
        let bytes = try PlanArithmetic.multiply(floats, MemoryLayout<Float>.size, what)
        do {
            try budget.reserve(bytes, for: what)
        } catch let error as FormatError {
            if case let .memoryBudgetExceeded(_, requested, inUse, limit) = error.reason.root {
                throw EngineError.allocationRefused(what: what, bytes: requested, inUse: inUse, limit: limit)
            }
            throw error
        }
        reserved += UInt64(bytes)
    }

    /// Gives the reserved bytes back (a build that failed).
    mutating func abandon() {
        budget.release(reserved)
        reserved = 0
    }

    private mutating func record(_ buffer: DeviceBuffer, pinned: Bool) -> Int {
        let id = nextBufferID
        nextBufferID += 1
        buffers[id] = BufferRecord(buffer: buffer, pinned: pinned)
        if !pinned { unsettled.append(id) }
        return id
    }

    /// A dense tensor of `shape` in a free buffer of the pool (at most twice the size) or a new one.
    mutating func fresh(_ shape: [Int], _ kind: ElementKind, _ what: @autoclosure () -> String, pinned: Bool = false) throws -> GraphTensor {
        let count = try PlanArithmetic.elementCount(shape.isEmpty ? [1] : shape, of: what())
        let buffer: DeviceBuffer
        if !pinned, let index = pool.indices.filter({ pool[$0].count >= count && pool[$0].count / 2 <= count })
            .min(by: { pool[$0].count < pool[$1].count }) {
            buffer = pool.remove(at: index)
        } else {
            try reserve(floats: count, for: what())
            buffer = try backend.makeBuffer(count: count)
        }
        let id = record(buffer, pinned: pinned)
        return GraphTensor(buffer: buffer, bufferID: id, offset: 0, shape: shape, strides: GraphTensor.denseStrides(shape), kind: kind)
    }

    /// A pinned tensor holding `values` (a parameter, a constant, a computed index table).
    mutating func constant(_ values: [Float], shape: [Int], kind: ElementKind, _ what: String) throws -> GraphTensor {
        let tensor = try fresh(shape, kind, what, pinned: true)
        try values.withUnsafeBufferPointer { try backend.upload($0, to: tensor.buffer, offset: 0) }
        return tensor
    }

    /// A buffer that outlives the plan (a parameter the network uploaded once), pinned;
    /// `host` keeps its values reachable for folding (BatchNorm statistics).
    mutating func adopt(_ buffer: DeviceBuffer, shape: [Int], kind: ElementKind, host: Tensor?) -> GraphTensor {
        let id = record(buffer, pinned: true)
        if let host { hostTensors[id] = host }
        return GraphTensor(buffer: buffer, bufferID: id, offset: 0, shape: shape, strides: GraphTensor.denseStrides(shape), kind: kind)
    }

    /// The values of a parameter, when `t` is one viewed whole.
    func hostValues(_ t: GraphTensor) throws -> [Float]? {
        guard t.isDenseBuffer, let tensor = hostTensors[t.bufferID], tensor.elementCount == t.count else { return nil }
        return try FloatConversion.floats(tensor)
    }

    /// One value read everywhere (stride 0): a scalar operand of an element-wise op.
    mutating func scalar(_ value: Float, kind: ElementKind = .float) throws -> GraphTensor {
        if var cached = scalars[value] { cached.kind = kind; return cached }
        let tensor = try constant([value], shape: [], kind: kind, "a scalar operand")
        scalars[value] = tensor
        var result = tensor
        result.kind = kind
        return result
    }

    /// Records that a kernel of this plan uses `floats` of scratch area `area`.
    mutating func needScratch(_ floats: Int, area: Int = 0) {
        while scratchFloats.count <= area { scratchFloats.append(0) }
        scratchFloats[area] = max(scratchFloats[area], floats)
    }

    /// Reserves the scratch areas once (area 0 in as many copies as the backend keeps).
    mutating func reserveScratch() throws {
        for (area, floats) in scratchFloats.enumerated() where floats > 0 {
            let copies = area == 0 ? backend.scratchCopies : 1
            try reserve(floats: try PlanArithmetic.multiply(floats, copies, "kernel scratch"), for: "kernel scratch")
        }
    }

    // MARK: Kernels

    mutating func emit(_ kernel: Kernel) { kernels.append(kernel) }

    /// Queues a graph kernel, or refuses a backend that lacks it (`op` names the node's op).
    mutating func emit(_ kernel: GraphKernel) throws {
        guard backend.canRun(kernel) else { throw EngineError.kernelUnavailable(backend: backend.name, kernel: kernel.name) }
        kernels.append(.graph(kernel))
    }

    /// `x` itself when it is dense from the start of its buffer, else a dense copy.
    mutating func dense(_ x: GraphTensor, _ what: @autoclosure () -> String) throws -> GraphTensor {
        if x.isDenseBuffer { return x }
        let y = try fresh(x.shape, x.kind, what())
        try emit(.map(.identity, operands: [x.operand], y: y.operand, shape: x.shape))
        return y
    }

    /// A dense copy even when `x` is dense (a graph output must own its buffer).
    mutating func copy(_ x: GraphTensor, pinned: Bool, _ what: String) throws -> GraphTensor {
        let y = try fresh(x.shape, x.kind, what, pinned: pinned)
        try emit(.map(.identity, operands: [x.operand], y: y.operand, shape: x.shape))
        return y
    }

    // MARK: Names and lifetimes

    /// Counts how often each name is read, so buffers can be reused after the last read.
    mutating func countUses(_ names: [String]) {
        for name in names { remainingUses[name, default: 0] += 1 }
    }

    /// Binds `name` to `value` (a pinned graph input or a node's result).
    mutating func bind(_ name: String, _ value: CompiledValue) {
        if let old = values[name] { release(old) }
        values[name] = value
        for tensor in value.tensors { buffers[tensor.bufferID]?.references += 1 }
        if remainingUses[name, default: 0] == 0 { drop(name) }
    }

    func lookup(_ name: String) -> CompiledValue? { values[name] }

    /// One read of `name` is done; at the last, the name is dropped.
    mutating func used(_ name: String) {
        guard let left = remainingUses[name] else { return }
        remainingUses[name] = left - 1
        if left - 1 <= 0 { drop(name) }
    }

    private mutating func drop(_ name: String) {
        guard let value = values.removeValue(forKey: name) else { return }
        release(value)
    }

    private mutating func release(_ value: CompiledValue) {
        for tensor in value.tensors {
            guard var record = buffers[tensor.bufferID] else { continue }
            record.references -= 1
            buffers[tensor.bufferID] = record
            // Freed when the node is done (`settle`): a result may be rebound before then.
            if record.references <= 0, !record.pinned { unsettled.append(tensor.bufferID) }
        }
    }

    private mutating func free(_ id: Int) {
        guard let record = buffers.removeValue(forKey: id) else { return }
        pool.append(record.buffer)
    }

    /// After a node: buffers it made that no name holds (dense copies, temporaries) go back to the pool.
    mutating func settle() {
        for id in unsettled where (buffers[id].map { $0.references <= 0 && !$0.pinned } ?? false) { free(id) }
        unsettled.removeAll()
    }

    /// Whether `tensor`'s buffer is held only by this plan's intermediate values (not pinned).
    func isIntermediate(_ tensor: GraphTensor) -> Bool { !(buffers[tensor.bufferID]?.pinned ?? true) }

    /// Marks a buffer as never reusable (it became a graph output).
    mutating func pin(_ tensor: GraphTensor) { buffers[tensor.bufferID]?.pinned = true }
}
