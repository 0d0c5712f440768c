import Foundation

/// How far tensor `b` is from tensor `a`, element by element (same dtype and shape): the
/// one definition of "relative change" (`ckpt report`, `ckpt diff` and the catalog use it).
///
/// Elements are read as Double (every dtype but c64). The rules, in this order, per position:
/// - **Unchanged**: the two elements have the same bits, or are both NaN (any payload), or
///   are the same infinity. An unchanged position adds 0 to the difference and its value to
///   ||a|| only when finite. A NaN that stays NaN is not a change.
/// - **Undefined**: otherwise, if either element is NaN or infinite (a value became or
///   stopped being NaN or Inf, or an infinity changed sign). No number measures such a
///   change, so `relative` and `maxAbs` are nil, and `undefinedElements` counts them.
/// - **Finite**: d = b - a, added to ||b - a||, |d| to the maximum.
///
/// Then `relative = ||b - a|| / ||a||` (Euclidean norms over the finite elements): 0 when
/// both norms are 0 (nothing changed, e.g. two zero tensors), nil when ||a|| is 0 and
/// ||b - a|| is not (a change from zero has no finite ratio), nil when a sum of squares
/// overflows Double (only f64 values beyond ~1e154), rather than a misleading 0 or Inf.
public struct TensorDifference: Codable, Equatable, Sendable {
    /// ||b - a|| / ||a||; see the type's rules for 0 and nil.
    public var relative: Double?
    /// max |b - a| over the finite positions; nil when any position is undefined.
    public var maxAbs: Double?
    /// ||a|| over the finite positions of `a` (nil if the sum of squares overflows).
    public var normA: Double?
    /// ||b - a|| over the finite positions (nil if the sum of squares overflows).
    public var normDifference: Double?
    /// Positions whose bits differ (NaNs with different payloads included).
    public var differingElements = 0
    /// Positions where a NaN or an infinity appeared, disappeared or changed sign.
    public var undefinedElements = 0

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
            total.maxAbs = Swift.max(total.maxAbs, part.maxAbs)
            total.differing += part.differing
            total.undefined += part.undefined
        }
        return finish(total)
    }

    /// The result from the summed parts (the rules of the type's documentation).
    static func finish(_ total: Part) -> TensorDifference {
        var result = TensorDifference()
        result.differingElements = total.differing
        result.undefinedElements = total.undefined
        let normA = total.squaredA.squareRoot(), normDifference = total.squaredDifference.squareRoot()
        result.normA = normA.isFinite ? normA : nil
        result.normDifference = normDifference.isFinite ? normDifference : nil
        guard total.undefined == 0 else { return result }
        result.maxAbs = total.maxAbs.isFinite ? total.maxAbs : nil // finite - finite can overflow
        guard let normA = result.normA, let normDifference = result.normDifference else { return result }
        if normA > 0 {
            let ratio = normDifference / normA
            result.relative = ratio.isFinite ? ratio : nil
        } else {
            result.relative = normDifference == 0 ? 0 : nil
        }
        return result
    }

    struct Part {
        var squaredA = 0.0
        var squaredDifference = 0.0
        var maxAbs = 0.0
        var differing = 0
        var undefined = 0
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
                let sameBits = memcmp(p + i &* E.width, q + i &* E.width, E.width) == 0
                if !sameBits { part.differing += 1 }
                if x.isFinite { squaredA += x * x }
                if sameBits || (x.isNaN && y.isNaN) || (x.isInfinite && x == y) { continue }
                guard x.isFinite, y.isFinite else {
                    part.undefined += 1
                    continue
                }
                let d = y - x
                squaredDifference += d * d
                maxAbs = Swift.max(maxAbs, abs(d))
            }
            part.squaredA = squaredA
            part.squaredDifference = squaredDifference
            part.maxAbs = maxAbs
            return part
        }
    }
}
