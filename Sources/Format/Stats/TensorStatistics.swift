import Foundation

/// Where the bytes of a tensor to measure come from.
public enum StatsSource: @unchecked Sendable {
    /// A tensor of a `.ckpt` (or of a store object, which is one): read chunk by chunk,
    /// each chunk's checksum checked before it is decoded.
    case container(ContainerReader, TensorRecord)
    /// A tensor already in memory (an imported file): read in 2 MiB blocks.
    case memory(Tensor)
}

/// One tensor to measure, under the names it is to be reported by.
public struct StatsInput: Sendable {
    public var name: String
    public var aliases: [String]
    public var dtype: DType
    public var shape: [Int]
    public var source: StatsSource

    public init(name: String, aliases: [String] = [], source: StatsSource) {
        self.name = name
        self.aliases = aliases
        self.source = source
        switch source {
        case .container(_, let record):
            dtype = record.dtype
            shape = record.shape
        case .memory(let tensor):
            dtype = tensor.dtype
            shape = tensor.shape
        }
    }

    public var allNames: [String] { [name] + aliases }

    /// Every tensor of a `.ckpt`, to be read chunk by chunk.
    public static func all(of reader: ContainerReader) -> [StatsInput] {
        reader.manifest.tensors.map { StatsInput(name: $0.name, aliases: $0.aliases, source: .container(reader, $0)) }
    }

    /// Every tensor of a checkpoint in memory.
    public static func all(of checkpoint: Checkpoint) -> [StatsInput] {
        checkpoint.tensors.map { StatsInput(name: $0.name, aliases: $0.aliases, source: .memory($0.tensor)) }
    }
}

/// Per-tensor statistics in one streaming pass over the data: every chunk of every tensor
/// is a job, jobs run on all cores (one decode buffer per worker, so memory stays at a
/// chunk per core whatever the model's size), each job yields a `StatsPartial`, and each
/// tensor's partials are merged in chunk order, so results do not depend on scheduling.
public enum TensorStatistics {
    /// Bins of the histogram each tensor gets.
    public static let defaultBins = 64
    /// Block size for tensors in memory (the size `.ckpt` chunks have by default).
    static let blockSize = 2 << 20

    private struct Job {
        var input: Int
        /// A chunk index for a container, a byte range for memory.
        var chunk: Int
        var range: Range<Int>
    }

    /// Statistics of every input, in input order.
    /// - Parameters:
    ///   - bins: bins of each histogram.
    ///   - workers: threads to use (default: every active core).
    ///   - progress: called with (bytes done, bytes in all) as chunks finish.
    public static func compute(_ inputs: [StatsInput], bins: Int = defaultBins, workers: Int? = nil,
                               progress: ((Int, Int) -> Void)? = nil) throws -> [TensorStats] {
        var jobs: [Job] = []
        var scratchSize = 0
        for (i, input) in inputs.enumerated() where StatsElements.supports(input.dtype) {
            switch input.source {
            case .container(_, let record):
                var start = 0
                for (k, chunk) in record.chunks.enumerated() {
                    jobs.append(Job(input: i, chunk: k, range: start..<(start + chunk.size)))
                    start += chunk.size
                    scratchSize = Swift.max(scratchSize, chunk.size)
                }
            case .memory(let tensor):
                let step = Swift.max(1, blockSize / input.dtype.size) * input.dtype.size
                var start = 0
                while start < tensor.data.count {
                    let end = Swift.min(start + step, tensor.data.count)
                    jobs.append(Job(input: i, chunk: 0, range: start..<end))
                    start = end
                }
            }
        }
        let partials = try run(jobs, inputs: inputs, scratchSize: scratchSize,
                               workers: workers ?? ProcessInfo.processInfo.activeProcessorCount, progress: progress)

        var perInput = [[StatsPartial]](repeating: [], count: inputs.count)
        for (job, partial) in zip(jobs, partials) { perInput[job.input].append(partial) }
        return inputs.enumerated().map { i, input in finish(input, perInput[i], bins: bins) }
    }

    /// Statistics of one tensor in memory.
    public static func compute(_ tensor: Tensor, name: String, bins: Int = defaultBins) throws -> TensorStats {
        try compute([StatsInput(name: name, source: .memory(tensor))], bins: bins)[0]
    }

    private final class Queue: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        var failed = false
        var doneBytes = 0
    }

    private static func run(_ jobs: [Job], inputs: [StatsInput], scratchSize: Int, workers: Int,
                            progress: ((Int, Int) -> Void)?) throws -> [StatsPartial] {
        var results = [StatsPartial](repeating: StatsPartial(), count: jobs.count)
        var failures = [Error?](repeating: nil, count: jobs.count)
        let queue = Queue()
        // Progress only: a sum of validated sizes that may still exceed Int is capped.
        let totalBytes = jobs.reduce(0) { let (sum, overflow) = $0.addingReportingOverflow($1.range.count); return overflow ? Int.max : sum }
        let threads = Swift.max(1, Swift.min(workers, jobs.count))
        results.withUnsafeMutableBufferPointer { out in
            failures.withUnsafeMutableBufferPointer { errors in
                let out = out, errors = errors
                DispatchQueue.concurrentPerform(iterations: threads) { _ in
                    // One validated chunk (at most 16 MiB) per worker; failable, never an abort.
                    var scratch: OwnedBuffer?
                    while true {
                        queue.lock.lock()
                        let j = queue.next
                        queue.next += 1
                        let stop = queue.failed
                        queue.lock.unlock()
                        if j >= jobs.count || stop { break }
                        let job = jobs[j]
                        let input = inputs[job.input]
                        do {
                            switch input.source {
                            case .container(let reader, let record):
                                if scratch == nil, record.codec != .raw {
                                    scratch = try OwnedBuffer(count: scratchSize, budget: nil, for: "a chunk of tensor '\(record.name)'")
                                }
                                out[j] = try reader.withDecodedChunk(record, index: job.chunk,
                                                                     scratch: scratch?.bytes ?? UnsafeMutableRawBufferPointer(start: nil, count: 0)) {
                                    measure(input.dtype, $0)
                                }
                            case .memory(let tensor):
                                out[j] = tensor.data.withUnsafeBytes { measure(input.dtype, UnsafeRawBufferPointer(rebasing: $0[job.range])) }
                            }
                        } catch {
                            errors[j] = error
                            queue.lock.lock()
                            queue.failed = true
                            queue.lock.unlock()
                        }
                        if let progress {
                            queue.lock.lock()
                            queue.doneBytes += job.range.count
                            progress(queue.doneBytes, totalBytes)
                            queue.lock.unlock()
                        }
                    }
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        return results
    }

    private struct Measure: StatsElementVisitor {
        let bytes: UnsafeRawBufferPointer
        func visit<E: StatsElement>(_ type: E.Type) -> StatsPartial { StatsPartial.measure(type, bytes) }
    }

    static func measure(_ dtype: DType, _ bytes: UnsafeRawBufferPointer) -> StatsPartial {
        StatsElements.dispatch(dtype, Measure(bytes: bytes)) ?? StatsPartial()
    }

    /// Merges a tensor's partials (in chunk order) into its figures.
    static func finish(_ input: StatsInput, _ parts: [StatsPartial], bins: Int) -> TensorStats {
        let elements = input.shape.reduce(1, &*) // validated shapes: the product fits
        guard StatsElements.supports(input.dtype) else {
            return TensorStats(name: input.name, aliases: input.aliases, dtype: input.dtype, shape: input.shape, elements: elements,
                               computed: false, finite: 0, mean: nil, std: nil, min: nil, max: nil, l2Norm: nil,
                               zeros: 0, nan: 0, inf: 0, histogram: Histogram(lo: 0, hi: 0, counts: []))
        }
        var total = StatsPartial()
        for part in parts { total.absorb(part) }
        let some = total.finite > 0
        let lo = some ? total.min : 0, hi = some ? total.max : 0
        let histogram = Histogram(lo: lo, hi: hi, counts: StatsPartial.display(parts, lo: lo, hi: hi, bins: bins))
        return TensorStats(name: input.name, aliases: input.aliases, dtype: input.dtype, shape: input.shape, elements: elements,
                           computed: true, finite: total.finite,
                           mean: some ? total.mean : nil,
                           std: some ? (Swift.max(total.m2, 0) / Double(total.finite)).squareRoot() : nil,
                           min: some ? total.min : nil, max: some ? total.max : nil,
                           l2Norm: some ? total.sumSquares.squareRoot() : nil,
                           zeros: total.zeros, nan: total.nan, inf: total.inf, histogram: histogram)
    }
}
