import Foundation

/// The figures of one run of elements (a chunk, or a 2 MiB block of a tensor in memory),
/// made so that partials merge exactly (counts, min, max, sums) or soundly (moments, by
/// Chan's parallel formula), whatever the order chunks were finished in.
///
/// How a chunk is measured: two passes over the same bytes while they are in cache.
/// Pass 1 counts (finite, zeros, NaN, Inf), finds min and max and sums x and x² in
/// Double. Pass 2 sums (x - mean)² about the chunk's own mean, which is exact where the
/// textbook Σx² - n·mean² cancels, and bins each element into `fineBins` bins over the
/// chunk's own [min, max]. The tensor's histogram is then drawn from these fine bins once
/// its global min and max are known (see `StatsPartial.display`): each fine bin's count
/// goes to the display bin holding the fine bin's centre. A fine bin is at most 1/1024 of
/// the tensor's range wide, so an element is placed as if moved by at most 1/32 of a
/// display bin (of 64): it lands in numpy's bin or, within that sliver of an edge, in the
/// neighbouring one. In exchange the data is read once, and never held whole.
struct StatsPartial {
    static let fineBins = 1024

    var count = 0
    var finite = 0
    var nan = 0
    var inf = 0
    var zeros = 0
    var min = Double.infinity
    var max = -Double.infinity
    /// Mean of the finite elements and the sum of squared deviations from it.
    var mean = 0.0
    var m2 = 0.0
    var sumSquares = 0.0
    /// Fine bins over this partial's own [min, max] (empty when nothing is finite).
    var fine: [UInt32] = []

    /// Measures `bytes`, whole elements of type `E`.
    static func measure<E: StatsElement>(_ type: E.Type, _ bytes: UnsafeRawBufferPointer) -> StatsPartial {
        var partial = StatsPartial()
        let n = bytes.count / E.width
        partial.count = n
        guard n > 0, let base = bytes.baseAddress else { return partial }

        // Pass 1: counts, extremes, sums. Four lanes, so that the adds do not wait on one
        // another; a group of four holding a NaN or an Inf is taken one by one.
        var slow = Lane()
        var finite = 0, zeros = 0
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var q0 = 0.0, q1 = 0.0, q2 = 0.0, q3 = 0.0
        var lo0 = Double.infinity, lo1 = Double.infinity, hi0 = -Double.infinity, hi1 = -Double.infinity
        var i = 0
        while i &+ 4 <= n {
            let a = E.value(base, i), b = E.value(base, i &+ 1), c = E.value(base, i &+ 2), d = E.value(base, i &+ 3)
            // x - x is 0 for a finite x and NaN for NaN or an infinity.
            if (a - a) + (b - b) + (c - c) + (d - d) == 0 {
                finite &+= 4
                s0 += a; s1 += b; s2 += c; s3 += d
                q0 += a * a; q1 += b * b; q2 += c * c; q3 += d * d
                let lab = a < b ? a : b, lcd = c < d ? c : d
                let hab = a > b ? a : b, hcd = c > d ? c : d
                lo0 = lab < lo0 ? lab : lo0
                lo1 = lcd < lo1 ? lcd : lo1
                hi0 = hab > hi0 ? hab : hi0
                hi1 = hcd > hi1 ? hcd : hi1
                zeros &+= (a == 0 ? 1 : 0) &+ (b == 0 ? 1 : 0) &+ (c == 0 ? 1 : 0) &+ (d == 0 ? 1 : 0)
            } else {
                slow.add(a); slow.add(b); slow.add(c); slow.add(d)
            }
            i &+= 4
        }
        while i < n {
            slow.add(E.value(base, i))
            i &+= 1
        }
        finite &+= slow.finite
        zeros &+= slow.zeros
        let nan = slow.nan, inf = slow.inf
        let sum = ((s0 + s1) + (s2 + s3)) + slow.sum, sumSquares = ((q0 + q1) + (q2 + q3)) + slow.squares
        let lo = Swift.min(lo0 < lo1 ? lo0 : lo1, slow.lo), hi = Swift.max(hi0 > hi1 ? hi0 : hi1, slow.hi)
        partial.finite = finite
        partial.nan = nan
        partial.inf = inf
        partial.zeros = zeros
        guard finite > 0 else { return partial }
        partial.min = lo
        partial.max = hi
        partial.sumSquares = sumSquares
        let mean = sum / Double(finite)

        // Pass 2 (the chunk is still in cache): deviations and fine bins. Two sets of bins
        // and four lanes of sums, again so that neighbours in one bin do not queue.
        var fine = [UInt32](repeating: 0, count: 2 * fineBins)
        var m0 = 0.0, m1 = 0.0, m2 = 0.0, m3 = 0.0
        let last = fineBins - 1
        // Halves keep hi - lo finite even for f64 values near the largest double.
        let halfLo = lo * 0.5
        let halfSpan = hi * 0.5 - halfLo
        // A range too narrow to divide (subnormal) puts everything in the first bin.
        let scale = halfSpan > 0 && (Double(fineBins) / halfSpan).isFinite ? Double(fineBins) / halfSpan : 0
        fine.withUnsafeMutableBufferPointer { bins in
            let even = bins.baseAddress!, odd = even + fineBins
            var i = 0
            if finite == n {
                while i &+ 4 <= n {
                    let a = E.value(base, i), b = E.value(base, i &+ 1), c = E.value(base, i &+ 2), d = E.value(base, i &+ 3)
                    let da = a - mean, db = b - mean, dc = c - mean, dd = d - mean
                    m0 += da * da; m1 += db * db; m2 += dc * dc; m3 += dd * dd
                    let ka = Int((a * 0.5 - halfLo) * scale), kb = Int((b * 0.5 - halfLo) * scale)
                    let kc = Int((c * 0.5 - halfLo) * scale), kd = Int((d * 0.5 - halfLo) * scale)
                    even[ka < last ? ka : last] &+= 1
                    odd[kb < last ? kb : last] &+= 1
                    even[kc < last ? kc : last] &+= 1
                    odd[kd < last ? kd : last] &+= 1
                    i &+= 4
                }
            }
            while i < n {
                let x = E.value(base, i)
                i &+= 1
                guard x.isFinite else { continue }
                let d = x - mean
                m0 += d * d
                let k = Int((x * 0.5 - halfLo) * scale)
                even[k < last ? k : last] &+= 1
            }
            for k in 0..<fineBins { even[k] &+= odd[k] }
        }
        fine.removeLast(fineBins)
        let deviations = (m0 + m1) + (m2 + m3)
        partial.mean = mean
        partial.m2 = deviations
        partial.fine = fine
        return partial
    }

    /// Pass 1 for elements taken one at a time (a group holding NaN or Inf, the tail).
    struct Lane {
        var finite = 0, nan = 0, inf = 0, zeros = 0
        var sum = 0.0, squares = 0.0
        var lo = Double.infinity, hi = -Double.infinity

        @inline(__always) mutating func add(_ x: Double) {
            if x.isFinite {
                finite &+= 1
                sum += x
                squares += x * x
                if x < lo { lo = x }
                if x > hi { hi = x }
                if x == 0 { zeros &+= 1 }
            } else if x.isNaN {
                nan &+= 1
            } else {
                inf &+= 1
            }
        }
    }

    /// Adds `other` (Chan et al.'s pairwise update for the moments). Fine bins are not
    /// merged here: they stay with their partial until the global range is known.
    mutating func absorb(_ other: StatsPartial) {
        count += other.count
        nan += other.nan
        inf += other.inf
        zeros += other.zeros
        sumSquares += other.sumSquares
        if other.finite > 0 {
            if other.min < min { min = other.min }
            if other.max > max { max = other.max }
            let n = finite + other.finite
            let delta = other.mean - mean
            let weight = Double(other.finite) / Double(n)
            mean += delta * weight
            m2 += other.m2 + delta * delta * Double(finite) * weight
            finite = n
        }
    }

    /// The display histogram of `bins` bins over [lo, hi] drawn from the fine bins of
    /// `parts`: each fine bin's count goes to the display bin holding its centre.
    static func display(_ parts: [StatsPartial], lo: Double, hi: Double, bins: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: bins)
        guard bins > 0 else { return counts }
        let halfLo = lo * 0.5
        let halfSpan = hi * 0.5 - halfLo
        /// The display bin of a value given as its half (halves keep every step finite).
        func index(half: Double) -> Int {
            guard halfSpan > 0 else { return bins / 2 }
            let t = (half - halfLo) / halfSpan * Double(bins)
            guard t.isFinite else { return t > 0 ? bins - 1 : 0 }
            return Int(Swift.min(Swift.max(t, 0), Double(bins - 1)))
        }
        for part in parts where part.finite > 0 {
            let partHalfLo = part.min * 0.5
            let partHalfSpan = part.max * 0.5 - partHalfLo
            if partHalfSpan <= 0 || part.fine.isEmpty {
                counts[index(half: partHalfLo)] += part.finite
                continue
            }
            let width = partHalfSpan / Double(part.fine.count)
            for (k, count) in part.fine.enumerated() where count > 0 {
                counts[index(half: partHalfLo + (Double(k) + 0.5) * width)] += Int(count)
            }
        }
        return counts
    }
}
