import COpenBLAS

/// The yardstick for the engine's benchmark: the same products as a network's layers made
/// with bare cblas_sgemm calls (no bias, no activation, no plan), to be timed in the same run
/// and by the same clock as the network.
public final class BareGemm {
    private let products: [(m: Int, n: Int, k: Int)]
    private let threads: Int
    private var buffers: [(a: [Float], b: [Float], c: UnsafeMutablePointer<Float>)]

    /// Products C[m×n] = A[m×k]·B[n×k]ᵀ, as a Linear layer makes them, on `threads` OpenBLAS threads.
    public init(products: [(m: Int, n: Int, k: Int)], threads: Int) {
        self.products = products
        self.threads = threads
        buffers = products.map { p in
            ([Float](repeating: 0.01, count: p.m * p.k), [Float](repeating: 0.02, count: p.n * p.k),
             UnsafeMutablePointer<Float>.allocate(capacity: p.m * p.n))
        }
    }

    deinit { buffers.forEach { $0.c.deallocate() } }

    /// One pass over every product.
    public func run() {
        openblas_set_num_threads(Int32(threads))
        for (p, buffer) in zip(products, buffers) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(p.m), Int32(p.n), Int32(p.k), 1,
                        buffer.a, Int32(p.k), buffer.b, Int32(p.k), 0, buffer.c, Int32(p.n))
        }
    }
}
