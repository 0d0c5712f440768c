import Foundation
import Format

/// Row-wise and indexing loops of graph programs: reductions, running sums, log-softmax,
/// group norm, index selection, gather, adaptive max pooling and resampling.
enum CPUGraphLoops {
    static func reduce(_ op: ReductionOp, x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, outer: Int, axis: Int, inner: Int) {
        for o in 0 ..< outer {
            for i in 0 ..< inner {
                let base = x + o * axis * inner + i
                var result: Float
                switch op {
                case .sum, .mean:
                    var total = 0.0
                    for a in 0 ..< axis { total += Double(base[a * inner]) }
                    result = Float(op == .mean ? total / Double(axis) : total)
                case .product:
                    var total: Float = 1
                    for a in 0 ..< axis { total *= base[a * inner] }
                    result = total
                case .maximum, .minimum, .argmax, .argmin:
                    let largest = op == .maximum || op == .argmax
                    var best = base[0], at = 0
                    for a in 1 ..< max(axis, 1) {
                        let v = base[a * inner]
                        if best.isNaN { break }
                        if v.isNaN || (largest ? v > best : v < best) { best = v; at = a }
                    }
                    result = op == .maximum || op == .minimum ? best : Float(at)
                case .norm(let order):
                    var total = 0.0
                    if order.isInfinite {
                        for a in 0 ..< axis { total = Swift.max(total, Double(Swift.abs(base[a * inner]))) }
                    } else if order == 2 {
                        for a in 0 ..< axis { let v = Double(base[a * inner]); total += v * v }
                        total = total.squareRoot()
                    } else {
                        for a in 0 ..< axis { total += Foundation.pow(Double(Swift.abs(base[a * inner])), order) }
                        total = Foundation.pow(total, 1 / order)
                    }
                    result = Float(total)
                case .variance(let correction):
                    var total = 0.0
                    for a in 0 ..< axis { total += Double(base[a * inner]) }
                    let mean = total / Double(axis)
                    var squares = 0.0
                    for a in 0 ..< axis { let d = Double(base[a * inner]) - mean; squares += d * d }
                    result = Float(squares / Double(max(axis - correction, 0)))
                }
                y[o * inner + i] = result
            }
        }
    }

    static func cumsum(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, outer: Int, axis: Int, inner: Int) {
        for o in 0 ..< outer {
            for i in 0 ..< inner {
                var total: Float = 0
                for a in 0 ..< axis {
                    let at = (o * axis + a) * inner + i
                    total += x[at]
                    y[at] = total
                }
            }
        }
    }

    static func logSoftmax(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, outer: Int, axis: Int, inner: Int) {
        for o in 0 ..< outer {
            for i in 0 ..< inner {
                let base = o * axis * inner + i
                var largest = -Float.infinity
                for a in 0 ..< axis { largest = max(largest, x[base + a * inner]) }
                var total = 0.0
                for a in 0 ..< axis { total += Double(exp(x[base + a * inner] - largest)) }
                let shift = largest + Float(Foundation.log(total))
                for a in 0 ..< axis { y[base + a * inner] = x[base + a * inner] - shift }
            }
        }
    }

    /// Statistics per (sample, group) in Double, as the LayerNorm loop does.
    static func groupNorm(x: UnsafeMutablePointer<Float>, weight: UnsafeMutablePointer<Float>?, bias: UnsafeMutablePointer<Float>?,
                          y: UnsafeMutablePointer<Float>, batch: Int, channels: Int, inner: Int, groups: Int, eps: Float) {
        let perGroup = channels / groups
        let span = perGroup * inner
        for n in 0 ..< batch {
            for g in 0 ..< groups {
                let start = (n * channels + g * perGroup) * inner
                var sum = 0.0
                for i in start ..< start + span { sum += Double(x[i]) }
                let mean = sum / Double(span)
                var squares = 0.0
                for i in start ..< start + span { let d = Double(x[i]) - mean; squares += d * d }
                let inverse = Float(1 / (squares / Double(span) + Double(eps)).squareRoot())
                let m = Float(mean)
                for c in 0 ..< perGroup {
                    let channel = g * perGroup + c
                    let a = (weight?[channel] ?? 1) * inverse, b = bias?[channel] ?? 0
                    let base = start + c * inner
                    for i in base ..< base + inner { y[i] = (x[i] - m) * a + b }
                }
            }
        }
    }

    /// An index value as a position along an axis of `size` (negative counts from the end).
    static func position(_ value: Float, size: Int) throws -> Int {
        guard value.isFinite, let raw = Int(exactly: value.rounded(.towardZero)) else {
            throw EngineError.indexOutOfRange(index: 0, size: size)
        }
        let at = raw < 0 ? raw + size : raw
        guard at >= 0, at < size else { throw EngineError.indexOutOfRange(index: raw, size: size) }
        return at
    }

    static func indexSelect(x: UnsafeMutablePointer<Float>, index: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                            outer: Int, axis: Int, inner: Int, count: Int) throws {
        let positions = try (0 ..< count).map { try position(index[$0], size: axis) }
        for o in 0 ..< outer {
            for (j, at) in positions.enumerated() {
                (y + (o * count + j) * inner).update(from: x + (o * axis + at) * inner, count: inner)
            }
        }
    }

    static func gather(x: UnsafeMutablePointer<Float>, index: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                       outer: Int, axis: Int, inner: Int, count: Int) throws {
        for o in 0 ..< outer {
            for j in 0 ..< count {
                for i in 0 ..< inner {
                    let at = (o * count + j) * inner + i
                    y[at] = x[(o * axis + (try position(index[at], size: axis))) * inner + i]
                }
            }
        }
    }

    static func adaptiveMax(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, planes: Int, inHeight: Int, inWidth: Int,
                            outHeight: Int, outWidth: Int) {
        for p in 0 ..< planes {
            let input = x + p * inHeight * inWidth
            for oy in 0 ..< outHeight {
                let y0 = oy * inHeight / outHeight, y1 = ((oy + 1) * inHeight + outHeight - 1) / outHeight
                for ox in 0 ..< outWidth {
                    let x0 = ox * inWidth / outWidth, x1 = ((ox + 1) * inWidth + outWidth - 1) / outWidth
                    var best = -Float.infinity
                    for iy in y0 ..< y1 { for ix in x0 ..< x1 { let v = input[iy * inWidth + ix]; if v > best || v.isNaN { best = v } } }
                    y[(p * outHeight + oy) * outWidth + ox] = best
                }
            }
        }
    }

    /// PyTorch's `area_pixel_compute_scale`: the source step per output pixel.
    static func sourceScale(input: Int, output: Int, alignCorners: Bool, scale: Double?) -> Float {
        if alignCorners { return output > 1 ? Float(input - 1) / Float(output - 1) : 0 }
        if let scale, scale > 0 { return Float(1 / scale) }
        return Float(input) / Float(output)
    }

    static func upsample(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, planes: Int, inHeight: Int, inWidth: Int,
                         outHeight: Int, outWidth: Int, bilinear: Bool, alignCorners: Bool, scaleHeight: Double?, scaleWidth: Double?) {
        let sh = sourceScale(input: inHeight, output: outHeight, alignCorners: bilinear && alignCorners, scale: scaleHeight)
        let sw = sourceScale(input: inWidth, output: outWidth, alignCorners: bilinear && alignCorners, scale: scaleWidth)
        if !bilinear {
            let rows = (0 ..< outHeight).map { min(Int((Float($0) * sh).rounded(.down)), inHeight - 1) }
            let columns = (0 ..< outWidth).map { min(Int((Float($0) * sw).rounded(.down)), inWidth - 1) }
            for p in 0 ..< planes {
                let input = x + p * inHeight * inWidth, output = y + p * outHeight * outWidth
                for oy in 0 ..< outHeight {
                    let line = input + rows[oy] * inWidth
                    for ox in 0 ..< outWidth { output[oy * outWidth + ox] = line[columns[ox]] }
                }
            }
            return
        }
        // Source coordinate, lower index, step to the upper one (0 at the edge) and weight of the upper one.
        func taps(_ count: Int, _ size: Int, _ scale: Float) -> [(Int, Int, Float)] {
            (0 ..< count).map { d in
                let source = alignCorners ? scale * Float(d) : max(scale * (Float(d) + 0.5) - 0.5, 0)
                let low = min(Int(source), size - 1)
                return (low, low < size - 1 ? 1 : 0, source - Float(low))
            }
        }
        let rows = taps(outHeight, inHeight, sh), columns = taps(outWidth, inWidth, sw)
        for p in 0 ..< planes {
            let input = x + p * inHeight * inWidth, output = y + p * outHeight * outWidth
            for oy in 0 ..< outHeight {
                let (r, rs, rl) = rows[oy]
                let top = input + r * inWidth, bottom = input + (r + rs) * inWidth
                for ox in 0 ..< outWidth {
                    let (c, cs, cl) = columns[ox]
                    let upper = (1 - cl) * top[c] + cl * top[c + cs]
                    let lower = (1 - cl) * bottom[c] + cl * bottom[c + cs]
                    output[oy * outWidth + ox] = (1 - rl) * upper + rl * lower
                }
            }
        }
    }
}
