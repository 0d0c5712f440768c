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

        // Pass 1: counts, extremes, sums.
        var lane = Lane()
        for i in 0..<n { lane.add(E.value(base, i)) }
        partial.finite = lane.finite
        partial.nan = lane.nan
        partial.inf = lane.inf
        partial.zeros = lane.zeros
        guard lane.finite > 0 else { return partial }
        let lo = lane.lo, hi = lane.hi
        partial.min = lo
        partial.max = hi
        partial.sumSquares = lane.squares
        let mean = lane.sum / Double(lane.finite)

        // Pass 2 (the chunk is still in cache): deviations and fine bins.
        var fine = [UInt32](repeating: 0, count: fineBins)
        var deviations = 0.0
        let last = fineBins - 1
        // Halves keep hi - lo finite even for f64 values near the largest double.
        let halfLo = lo * 0.5
        let halfSpan = hi * 0.5 - halfLo
        // A range too narrow to divide (subnormal) puts everything in the first bin.
        let scale = halfSpan > 0 && (Double(fineBins) / halfSpan).isFinite ? Double(fineBins) / halfSpan : 0
        let allFinite = lane.finite == n
        fine.withUnsafeMutableBufferPointer { bins in
            let bins = bins.baseAddress!
            for i in 0..<n {
                let x = E.value(base, i)
                if !allFinite, !x.isFinite { continue }
                let d = x - mean
                deviations += d * d
                let k = Int((x * 0.5 - halfLo) * scale)
                bins[k < last ? k : last] &+= 1
            }
        }
        partial.mean = mean
        partial.m2 = deviations
        partial.fine = fine
        return partial
    }

    /// Pass 1's running figures.
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
