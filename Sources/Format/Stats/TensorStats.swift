import Foundation

/// What `ckpt stats` says about one tensor.
///
/// Conventions (numpy's where it has one):
/// - mean, std, min, max and the L2 norm are taken over the *finite* elements; NaN and
///   infinities are counted apart (`nan`, `inf`) and flag the tensor. With no finite
///   element they are nil.
/// - std is the population standard deviation (numpy's default, `ddof=0`).
/// - Integers and bool are read as their values (bool as 0 and 1); 8-bit floats are
///   widened; complex tensors (`c64`) get counts only (`computed` is false).
/// - `zeros` counts elements equal to zero (`-0.0` included).
public struct TensorStats: Codable, Equatable, Sendable {
    /// What a tensor is flagged for.
    public enum Flag: String, Codable, Sendable {
        case nan
        case inf
        case allZeros = "all-zeros"
    }

    public var name: String
    public var aliases: [String]
    public var dtype: DType
    public var shape: [Int]
    public var elements: Int
    /// Whether figures were computed (false for dtypes without arithmetic).
    public var computed: Bool
    /// Elements neither NaN nor infinite.
    public var finite: Int
    public var mean: Double?
    public var std: Double?
    public var min: Double?
    public var max: Double?
    public var l2Norm: Double?
    public var zeros: Int
    /// zeros / elements (nil for an empty tensor).
    public var zeroShare: Double?
    public var nan: Int
    public var inf: Int
    public var flags: [Flag]
    public var histogram: Histogram

    public init(name: String, aliases: [String], dtype: DType, shape: [Int], elements: Int, computed: Bool, finite: Int,
                mean: Double?, std: Double?, min: Double?, max: Double?, l2Norm: Double?, zeros: Int, nan: Int, inf: Int,
                histogram: Histogram) {
        self.name = name
        self.aliases = aliases
        self.dtype = dtype
        self.shape = shape
        self.elements = elements
        self.computed = computed
        self.finite = finite
        // A figure that overflowed Double (sums of f64 values near its limit) is left unknown.
        func known(_ value: Double?) -> Double? { value.flatMap { $0.isFinite ? $0 : nil } }
        self.mean = known(mean)
        self.std = known(std)
        self.min = known(min)
        self.max = known(max)
        self.l2Norm = known(l2Norm)
        self.zeros = zeros
        self.zeroShare = elements > 0 && computed ? Double(zeros) / Double(elements) : nil
        self.nan = nan
        self.inf = inf
        var flags: [Flag] = []
        if nan > 0 { flags.append(.nan) }
        if inf > 0 { flags.append(.inf) }
        if computed, elements > 0, zeros == elements { flags.append(.allZeros) }
        self.flags = flags
        self.histogram = histogram
    }

    public var allNames: [String] { [name] + aliases }
    public var isFlagged: Bool { !flags.isEmpty }
}

/// Counts of the finite elements in equal-width bins over [lo, hi]. When `lo == hi` (a
/// constant tensor) every count sits in the middle bin. Counts add up to `finite`.
public struct Histogram: Codable, Equatable, Sendable {
    public var lo: Double
    public var hi: Double
    public var counts: [Int]

    public init(lo: Double, hi: Double, counts: [Int]) {
        self.lo = lo
        self.hi = hi
        self.counts = counts
    }

    public var total: Int { counts.reduce(0, +) }

    /// The counts summed into `bins` groups of neighbouring bins (for a narrower picture).
    public func resampled(to bins: Int) -> [Int] {
        guard bins > 0, !counts.isEmpty else { return [] }
        guard bins < counts.count else { return counts }
        var out = [Int](repeating: 0, count: bins)
        for (k, count) in counts.enumerated() { out[k * bins / counts.count] += count }
        return out
    }

    /// These counts moved onto `bins` bins over [lo, hi] ⊇ [self.lo, self.hi], each bin's
    /// count shared among the new bins it overlaps (so that two histograms put on one
    /// range can be drawn together without comb artefacts). A constant tensor's count
    /// goes whole to the bin holding its value.
    public func rebinned(lo newLo: Double, hi newHi: Double, bins: Int) -> [Double] {
        var out = [Double](repeating: 0, count: Swift.max(bins, 0))
        guard bins > 0, !counts.isEmpty else { return out }
        let span = newHi - newLo
        let scale = span > 0 && span.isFinite ? Double(bins) / span : 0
        func position(_ value: Double) -> Double { Swift.min(Swift.max((value - newLo) * scale, 0), Double(bins)) }
        let width = (hi - lo) / Double(counts.count)
        for (k, count) in counts.enumerated() where count > 0 {
            guard width > 0, width.isFinite, scale > 0 else {
                out[scale > 0 ? Swift.min(Int(position(lo)), bins - 1) : bins / 2] += Double(count)
                continue
            }
            let from = position(lo + Double(k) * width), to = position(lo + Double(k + 1) * width)
            guard to > from else {
                out[Swift.min(Int(from), bins - 1)] += Double(count)
                continue
            }
            var cursor = from
            while cursor < to {
                let bin = Swift.min(Int(cursor), bins - 1)
                let edge = Swift.min(Double(bin + 1), to)
                out[bin] += Double(count) * (edge - cursor) / (to - from)
                if edge <= cursor { break }
                cursor = edge
            }
        }
        return out
    }

    /// One line of Unicode blocks (`▁▂▃▄▅▆▇█`), one per group of bins, height by count; a
    /// group holding anything shows at least `▁`, an empty one a space.
    public func sparkline(width: Int = 16) -> String {
        Histogram.sparkline(resampled(to: width).map(Double.init))
    }

    /// Blocks for counts, as `sparkline(width:)` draws them.
    public static func sparkline(_ counts: [Double]) -> String {
        let top = counts.max() ?? 0
        guard top > 0 else { return String(repeating: " ", count: counts.count) }
        let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        return String(counts.map { count -> Character in
            guard count > 0 else { return " " }
            let level = Int((count / top * Double(blocks.count)).rounded(.up)) - 1
            return blocks[Swift.min(Swift.max(level, 0), blocks.count - 1)]
        })
    }
}
