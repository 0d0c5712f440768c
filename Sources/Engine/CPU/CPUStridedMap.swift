import Foundation
import Format

/// The element-wise map of graph programs over strided operands (broadcasting is a stride
/// of 0), row by row along the last axis, split over threads when large.
enum CPUStridedMap {
    typealias Operand = (pointer: UnsafeMutablePointer<Float>, strides: [Int])

    static func run(_ op: ElementOp, operands: [Operand], y: Operand, shape: [Int], threads: Int) {
        let shape = shape.isEmpty ? [1] : shape
        let rank = shape.count
        func strides(_ s: [Int]) -> [Int] { s.isEmpty ? [0] : s }
        let xs = operands.map { ($0.pointer, strides($0.strides)) }
        let ys = strides(y.strides)
        let width = shape[rank - 1]
        let rows = shape.dropLast().reduce(1, *)
        let unary = op.arity == 1 ? unaryFunction(op) : nil
        let binary = op.arity == 2 ? binaryFunction(op) : nil
        CPUParallel.split(rows, work: rows * width, threads: threads) { range in
            var bases = [Int](repeating: 0, count: xs.count)
            for row in range {
                // The row's start in every operand: its index decomposed over the leading axes.
                var rest = row
                var yBase = 0
                for b in bases.indices { bases[b] = 0 }
                var axis = rank - 2
                while axis >= 0 {
                    let index = rest % shape[axis]
                    rest /= shape[axis]
                    yBase += index * ys[axis]
                    for b in xs.indices { bases[b] += index * xs[b].1[axis] }
                    axis -= 1
                }
                let out = y.pointer + yBase
                let ystep = ys[rank - 1]
                if let unary {
                    let a = xs[0].0 + bases[0], step = xs[0].1[rank - 1]
                    if step == 1, ystep == 1 {
                        for j in 0 ..< width { out[j] = unary(a[j]) }
                    } else {
                        for j in 0 ..< width { out[j * ystep] = unary(a[j * step]) }
                    }
                } else if let binary {
                    let a = xs[0].0 + bases[0], astep = xs[0].1[rank - 1]
                    let b = xs[1].0 + bases[1], bstep = xs[1].1[rank - 1]
                    for j in 0 ..< width { out[j * ystep] = binary(a[j * astep], b[j * bstep]) }
                } else {
                    let c = xs[0].0 + bases[0], cstep = xs[0].1[rank - 1]
                    let a = xs[1].0 + bases[1], astep = xs[1].1[rank - 1]
                    let b = xs[2].0 + bases[2], bstep = xs[2].1[rank - 1]
                    for j in 0 ..< width { out[j * ystep] = c[j * cstep] != 0 ? a[j * astep] : b[j * bstep] }
                }
            }
        }
    }

    /// The scalar function of a one-operand op, following PyTorch's definitions.
    static func unaryFunction(_ op: ElementOp) -> (Float) -> Float {
        switch op {
        case .identity: return { $0 }
        case .negate: return { -$0 }
        case .abs: return { Swift.abs($0) }
        case .exp: return { Foundation.exp($0) }
        case .log: return { Foundation.log($0) }
        case .sqrt: return { $0.squareRoot() }
        case .rsqrt: return { 1 / $0.squareRoot() }
        case .reciprocal: return { 1 / $0 }
        case .sin: return { Foundation.sin($0) }
        case .cos: return { Foundation.cos($0) }
        case .floor: return { $0.rounded(.down) }
        case .ceil: return { $0.rounded(.up) }
        case .round: return { $0.rounded(.toNearestOrEven) }
        case .truncate: return { $0.rounded(.towardZero) }
        case .sign: return { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }
        case .relu: return { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) }
        case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
        case .tanh: return { Foundation.tanh($0) }
        case .erf: return { Foundation.erf($0) }
        case .gelu: return { 0.5 * $0 * (1 + Foundation.erf($0 * 0.70710678118654752440)) }
        case .geluTanh: return { v in 0.5 * v * (1 + Foundation.tanh(0.79788456080286535588 * (v + 0.044715 * v * v * v))) }
        case .silu: return { $0 / (1 + Foundation.exp(-$0)) }
        case .hardswish: return { $0 * Swift.min(Swift.max($0 + 3, 0), 6) / 6 }
        case .hardsigmoid: return { Swift.min(Swift.max($0 + 3, 0), 6) / 6 }
        case .mish: return { v in v * Foundation.tanh(softplus(v, beta: 1, threshold: 20)) }
        case let .softplus(beta, threshold): return { softplus($0, beta: beta, threshold: threshold) }
        case .leakyReLU(let slope): return { $0 > 0 ? $0 : $0 * slope }
        case .elu(let alpha): return { $0 > 0 ? $0 : alpha * (Foundation.exp($0) - 1) }
        case let .clamp(low, high): return { $0.isNaN ? $0 : Swift.min(Swift.max($0, low), high) }
        case .logicalNot: return { $0 == 0 ? 1 : 0 }
        case .isNonZero: return { $0 != 0 ? 1 : 0 }
        case .powScalar(let e): return e == 2 ? { $0 * $0 } : (e == 0.5 ? { $0.squareRoot() } : { Foundation.pow($0, e) })
        case .scaled(let s): return { $0 * s }
        default: return { $0 }
        }
    }

    /// The scalar function of a two-operand op; comparisons and logic give 1 or 0.
    static func binaryFunction(_ op: ElementOp) -> (Float, Float) -> Float {
        switch op {
        case .add(let alpha): return alpha == 1 ? { $0 + $1 } : { $0 + alpha * $1 }
        case .subtract(let alpha): return alpha == 1 ? { $0 - $1 } : { $0 - alpha * $1 }
        case .multiply: return { $0 * $1 }
        case .divide: return { $0 / $1 }
        case .floorDivide: return { ($0 / $1).rounded(.down) }
        case .remainder: return { a, b in let r = a.truncatingRemainder(dividingBy: b); return r != 0 && (r < 0) != (b < 0) ? r + b : r }
        case .power: return { Foundation.pow($0, $1) }
        case .maximum: return { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
        case .minimum: return { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
        case .equal: return { $0 == $1 ? 1 : 0 }
        case .notEqual: return { $0 != $1 ? 1 : 0 }
        case .less: return { $0 < $1 ? 1 : 0 }
        case .lessEqual: return { $0 <= $1 ? 1 : 0 }
        case .greater: return { $0 > $1 ? 1 : 0 }
        case .greaterEqual: return { $0 >= $1 ? 1 : 0 }
        case .logicalAnd: return { $0 != 0 && $1 != 0 ? 1 : 0 }
        case .logicalOr: return { $0 != 0 || $1 != 0 ? 1 : 0 }
        case .logicalXor: return { ($0 != 0) != ($1 != 0) ? 1 : 0 }
        default: return { a, _ in a }
        }
    }

    /// PyTorch's softplus: linear above the threshold.
    static func softplus(_ v: Float, beta: Float, threshold: Float) -> Float {
        v * beta > threshold ? v : Foundation.log1p(Foundation.exp(v * beta)) / beta
    }
}
