import COpenBLAS

/// OpenBLAS's thread count, set per product. Waking worker threads costs several
/// microseconds, more than a small product takes on one core, so products under
/// `threshold` multiply-adds run on the calling thread and larger ones on every core.
struct BLASThreads {
    /// Below this many multiply-adds one thread is faster (measured with `ckpt bench-engine`).
    static let threshold = 1 << 22
    let maximum: Int
    private var current: Int32

    init(maximum: Int?) {
        let available = Int(openblas_get_num_threads())
        self.maximum = max(1, min(maximum ?? available, available))
        current = openblas_get_num_threads()
    }

    /// Sets the thread count for a product of `multiplyAdds`; cheap when it does not change.
    mutating func prepare(multiplyAdds: Int) {
        use(multiplyAdds < BLASThreads.threshold ? 1 : maximum)
    }

    mutating func use(_ threads: Int) {
        let wanted = Int32(threads)
        if wanted != current {
            openblas_set_num_threads(wanted)
            current = wanted
        }
    }
}
