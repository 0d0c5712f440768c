import Foundation

/// How far tensor `b` is from tensor `a`, element by element (same dtype and shape).
public struct TensorDifference: Codable, Equatable, Sendable {
    /// ||b - a|| / ||a|| (Euclidean norms over every element, in Double); 0 when both are
    /// zero, nil when `a` is zero and `b` is not, or when a NaN or Inf makes it undefined.
    public var relative: Double?
    /// max |b - a|; nil when undefined (NaN or Inf involved).
    public var maxAbs: Double?
    /// ||a|| and ||b - a||.
    public var normA: Double?
    public var normDifference: Double?

    /// Compares `a` and `b` in 2 MiB blocks on all cores; nil when their dtypes or shapes
    /// differ or the dtype has no arithmetic (c64).
    public static func compare(_ a: Tensor, _ b: Tensor, workers: Int? = nil) -> TensorDifference? {
        guard a.dtype == b.dtype, a.shape == b.shape, a.data.count == b.data.count,
              StatsElements.supports(a.dtype) else { return nil }
        let width = a.dtype.size
        let step = Swift.max(1, TensorStatistics.blockSize / width) * width
        let blocks = stride(from: 0, to: a.data.count, by: step).map { $0..<Swift.min($0 + step, a.data.count) }
        var parts = [Part](repeating: Part(), count: blocks.count)
        let threads = Swift.max(1, Swift.min(workers ?? ProcessInfo.processInfo.activeProcessorCount, blocks.count))
        parts.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                var k = worker
                while k < blocks.count {
                    let range = blocks[k]
                    out[k] = a.data.withUnsafeBytes { p in
                        b.data.withUnsafeBytes { q in
                            StatsElements.dispatch(a.dtype, Compare(a: UnsafeRawBufferPointer(rebasing: p[range]),
                                                                    b: UnsafeRawBufferPointer(rebasing: q[range]))) ?? Part()
                        }
                    }
                    k += threads
                }
            }
        }
        var total = Part()
        for part in parts {
            total.squaredA += part.squaredA
            total.squaredDifference += part.squaredDifference
            if part.maxAbs > total.maxAbs || part.maxAbs.isNaN { total.maxAbs = part.maxAbs.isNaN ? .nan : part.maxAbs }
            total.undefined = total.undefined || part.undefined
        }
        var result = TensorDifference()
        guard !total.undefined else { return result }
        result.maxAbs = total.maxAbs.isFinite ? total.maxAbs : nil
        let normA = total.squaredA.squareRoot(), normDifference = total.squaredDifference.squareRoot()
        result.normA = normA.isFinite ? normA : nil
        result.normDifference = normDifference.isFinite ? normDifference : nil
        if total.squaredA > 0 {
            let ratio = (total.squaredDifference / total.squaredA).squareRoot()
            result.relative = ratio.isFinite ? ratio : nil
        } else {
            result.relative = total.squaredDifference == 0 ? 0 : nil
        }
        return result
    }

    struct Part {
        var squaredA = 0.0
        var squaredDifference = 0.0
        var maxAbs = 0.0
        var undefined = false
    }

    private struct Compare: StatsElementVisitor {
        let a: UnsafeRawBufferPointer
        let b: UnsafeRawBufferPointer
        func visit<E: StatsElement>(_ type: E.Type) -> Part {
            var part = Part()
            let n = a.count / E.width
            guard n > 0, let p = a.baseAddress, let q = b.baseAddress else { return part }
            var squaredA = 0.0, squaredDifference = 0.0, maxAbs = 0.0
            for i in 0..<n {
                let x = E.value(p, i), y = E.value(q, i)
                let d = y - x
                squaredA += x * x
                squaredDifference += d * d
                let magnitude = abs(d)
                if magnitude > maxAbs { maxAbs = magnitude }
            }
            // NaN anywhere (or Inf - Inf) shows up in the sums.
            part.undefined = !squaredA.isFinite || !squaredDifference.isFinite
            part.squaredA = squaredA
            part.squaredDifference = squaredDifference
            part.maxAbs = maxAbs
            return part
        }
    }
}
