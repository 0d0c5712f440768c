import Foundation
import Format

/// Element-wise and row-wise loops: activations, normalisations, softmax, concatenation.
enum CPUElementwise {
    static func apply(_ activation: Activation, x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        switch activation {
        case .relu:
            for i in 0 ..< count { let v = x[i]; y[i] = v > 0 ? v : (v.isNaN ? v : 0) }
        case .leakyReLU(let slope):
            let a = Float(slope)
            for i in 0 ..< count { let v = x[i]; y[i] = v > 0 ? v : v * a }
        case .sigmoid:
            mapEight(x, y, count, { 1 / (1 + fastExp(-$0)) }, sigmoid)
        case .tanh:
            for i in 0 ..< count { y[i] = Foundation.tanh(x[i]) }
        case .gelu:
            let invSqrt2: Float = 0.70710678118654752440
            for i in 0 ..< count { let v = x[i]; y[i] = 0.5 * v * (1 + erf(v * invSqrt2)) }
        case .geluTanh:
            let k: Float = 0.79788456080286535588 // sqrt(2/pi)
            for i in 0 ..< count { let v = x[i]; y[i] = 0.5 * v * (1 + Foundation.tanh(k * (v + 0.044715 * v * v * v))) }
        case .silu:
            mapEight(x, y, count, { $0 / (1 + fastExp(-$0)) }, { $0 * sigmoid($0) })
        }
    }

    @inline(__always)
    static func sigmoid(_ v: Float) -> Float { 1 / (1 + fastExp(-v)) }

    static func channelAffine(x: UnsafeMutablePointer<Float>, scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>,
                              y: UnsafeMutablePointer<Float>, outer: Int, channels: Int, inner: Int) {
        for o in 0 ..< outer {
            for c in 0 ..< channels {
                let base = (o * channels + c) * inner
                let a = scale[c], b = shift[c]
                for i in base ..< base + inner { y[i] = x[i] * a + b }
            }
        }
    }

    /// Mean and biased variance accumulated in Double, so long rows lose nothing to float sums.
    static func layerNorm(x: UnsafeMutablePointer<Float>, weight: UnsafeMutablePointer<Float>?, bias: UnsafeMutablePointer<Float>?,
                          y: UnsafeMutablePointer<Float>, rows: Int, columns: Int, eps: Float) {
        for r in 0 ..< rows {
            let row = x + r * columns
            let out = y + r * columns
            var sum = 0.0
            for c in 0 ..< columns { sum += Double(row[c]) }
            let mean = sum / Double(columns)
            var squares = 0.0
            for c in 0 ..< columns { let d = Double(row[c]) - mean; squares += d * d }
            let inverse = Float(1 / (squares / Double(columns) + Double(eps)).squareRoot())
            let m = Float(mean)
            for c in 0 ..< columns {
                var v = (row[c] - m) * inverse
                if let weight { v *= weight[c] }
                if let bias { v += bias[c] }
                out[c] = v
            }
        }
    }

    static func softmax(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, outer: Int, axis: Int, inner: Int) {
        for o in 0 ..< outer {
            for i in 0 ..< inner {
                let base = o * axis * inner + i
                var largest = -Float.infinity
                for a in 0 ..< axis { largest = max(largest, x[base + a * inner]) }
                var total: Float = 0
                for a in 0 ..< axis {
                    let e = exp(x[base + a * inner] - largest)
                    y[base + a * inner] = e
                    total += e
                }
                let scale = 1 / total
                for a in 0 ..< axis { y[base + a * inner] *= scale }
            }
        }
    }

    static func concat(parts: [(UnsafeMutablePointer<Float>, Int)], y: UnsafeMutablePointer<Float>, outer: Int) {
        let block = parts.reduce(0) { $0 + $1.1 }
        for o in 0 ..< outer {
            var target = y + o * block
            for (source, inner) in parts {
                target.update(from: source + o * inner, count: inner)
                target += inner
            }
        }
    }
}
