import Dispatch

/// Splits element-wise work over threads once it is large enough to pay for waking them
/// (about 64k elements; below that one core finishes first).
enum CPUParallel {
    static let minimumWork = 1 << 16

    /// Runs `body` on contiguous parts of 0..<count, concurrently when `work` is large.
    static func split(_ count: Int, work: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let parts = work >= minimumWork ? min(threads, count) : 1
        if parts <= 1 {
            body(0 ..< count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            body(count * part / parts ..< count * (part + 1) / parts)
        }
    }
}
