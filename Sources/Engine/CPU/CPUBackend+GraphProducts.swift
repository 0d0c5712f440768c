import COpenBLAS
import Foundation
import Format

/// The graph kernels that are matrix products: batched matmul, transposed convolution,
/// attention and the recurrent layers, all on OpenBLAS.
extension CPUBackend {
    /// A matrix read through (row, column) strides as BLAS takes it: transposed or not, and its leading dimension.
    private func layout(_ rowStride: Int, _ columnStride: Int, rows: Int, columns: Int) -> (CBLAS_TRANSPOSE, Int32) {
        if columnStride == 1 || columns == 1 { return (CblasNoTrans, Int32(max(rowStride, columns, 1))) }
        return (CblasTrans, Int32(max(columnStride, rows, 1)))
    }

    func matmul(a: StridedOperand, b: StridedOperand, y: UnsafeMutablePointer<Float>, batchShape: [Int], m: Int, n: Int, k: Int,
                alpha: Float, accumulate: Bool) {
        let pa = p(a.buffer) + a.offset, pb = p(b.buffer) + b.offset
        let rank = batchShape.count
        let (ta, lda) = layout(a.strides[rank], a.strides[rank + 1], rows: m, columns: k)
        let (tb, ldb) = layout(b.strides[rank], b.strides[rank + 1], rows: k, columns: n)
        let batches = batchShape.reduce(1, *)
        blas.prepare(multiplyAdds: batches * m * n * k)
        for index in 0 ..< batches {
            var rest = index, ao = 0, bo = 0
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                let i = rest % batchShape[axis]
                rest /= batchShape[axis]
                ao += i * a.strides[axis]
                bo += i * b.strides[axis]
            }
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, pa + ao, lda, pb + bo, ldb,
                        accumulate ? 1 : 0, y + index * m * n, Int32(n))
        }
    }

    /// Per sample and group: columns = Wᵀ · x ([out/g·kh·kw, H·W]), then each column entry
    /// added at the output position its tap reaches (col2im), over an output holding the bias.
    func convTranspose2d(x: UnsafeMutablePointer<Float>, weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?,
                         y: UnsafeMutablePointer<Float>, geometry g: ConvGeometry) {
        let inGroup = g.inChannels / g.groups, outGroup = g.outChannels / g.groups
        let taps = g.kernel.h * g.kernel.w
        let rows = outGroup * taps
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let col = scratch(0, count: rows * inPlane)
        blas.prepare(multiplyAdds: g.batch * g.inChannels * rows * inPlane)
        for n in 0 ..< g.batch {
            for channel in 0 ..< g.outChannels {
                (y + (n * g.outChannels + channel) * outPlane).update(repeating: bias?[channel] ?? 0, count: outPlane)
            }
            for group in 0 ..< g.groups {
                let input = x + (n * g.inChannels + group * inGroup) * inPlane
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(inPlane), Int32(inGroup), 1,
                            weight + group * inGroup * rows, Int32(rows), input, Int32(inPlane), 0, col, Int32(inPlane))
                for row in 0 ..< rows {
                    let channel = row / taps, ki = (row % taps) / g.kernel.w, kj = row % g.kernel.w
                    let output = y + (n * g.outChannels + group * outGroup + channel) * outPlane
                    let source = col + row * inPlane
                    for iy in 0 ..< g.inHeight {
                        let oy = iy * g.stride.h - g.padding.h + ki * g.dilation.h
                        guard oy >= 0, oy < g.outHeight else { continue }
                        for ix in 0 ..< g.inWidth {
                            let ox = ix * g.stride.w - g.padding.w + kj * g.dilation.w
                            guard ox >= 0, ox < g.outWidth else { continue }
                            output[oy * g.outWidth + ox] += source[iy * g.inWidth + ix]
                        }
                    }
                }
            }
        }
    }

    /// Per head: scores = q·kᵀ·scale (one sgemm), the mask and causal limit applied, a
    /// softmax per row, then scores·v (one sgemm).
    func attention(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                   mask: StridedOperand?, y: UnsafeMutablePointer<Float>, geometry g: AttentionGeometry) {
        let scores = scratch(0, count: g.queries * g.keys)
        let maskBase = mask.map { p($0.buffer) + $0.offset }
        blas.prepare(multiplyAdds: g.batch * g.queries * g.keys * (g.depth + g.valueDepth))
        for b in 0 ..< g.batch {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(g.queries), Int32(g.keys), Int32(g.depth), g.scale,
                        q + b * g.queries * g.depth, Int32(g.depth), k + b * g.keys * g.depth, Int32(g.depth), 0, scores, Int32(g.keys))
            for i in 0 ..< g.queries {
                let row = scores + i * g.keys
                if let maskBase, let mask {
                    let line = maskBase + (b / g.heads) * mask.strides[0] + (b % g.heads) * mask.strides[1] + i * mask.strides[2]
                    let step = mask.strides[3]
                    for j in 0 ..< g.keys {
                        let m = line[j * step]
                        if g.booleanMask { if m == 0 { row[j] = -.infinity } } else { row[j] += m }
                    }
                }
                if g.causal { for j in min(i + 1, g.keys) ..< g.keys { row[j] = -.infinity } }
                var largest = -Float.infinity
                for j in 0 ..< g.keys { largest = max(largest, row[j]) }
                var total: Float = 0
                for j in 0 ..< g.keys { let e = exp(row[j] - largest); row[j] = e; total += e }
                let inverse = 1 / total
                for j in 0 ..< g.keys { row[j] *= inverse }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(g.queries), Int32(g.valueDepth), Int32(g.keys), 1,
                        scores, Int32(g.keys), v + b * g.keys * g.valueDepth, Int32(g.valueDepth), 0,
                        y + b * g.queries * g.valueDepth, Int32(g.valueDepth))
        }
    }

    /// Layer by layer, direction by direction: the input projections of every step in one
    /// sgemm, then per step one sgemm of the hidden state and the gate arithmetic.
    func recurrent(x: UnsafeMutablePointer<Float>, weights: [RecurrentWeights], h0: UnsafeMutablePointer<Float>,
                   c0: UnsafeMutablePointer<Float>?, output: UnsafeMutablePointer<Float>, hn: UnsafeMutablePointer<Float>,
                   cn: UnsafeMutablePointer<Float>?, geometry g: RecurrentGeometry) {
        let (T, B, H, D) = (g.steps, g.batch, g.hiddenSize, g.directions)
        let width = g.gates * H
        let projected = scratch(0, count: T * B * width)
        let hidden = scratch(1, count: B * width)
        let layerOut = [scratch(2, count: T * B * D * H), scratch(3, count: T * B * D * H)]
        let state = H * B
        hn.update(from: h0, count: g.layers * D * state)
        if let cn, let c0 { cn.update(from: c0, count: g.layers * D * state) }
        var source = x
        var inputSize = g.inputSize
        for layer in 0 ..< g.layers {
            let target = layer == g.layers - 1 ? output : layerOut[layer % 2]
            for direction in 0 ..< D {
                let w = weights[layer * D + direction]
                let h = hn + (layer * D + direction) * state
                let c = cn.map { $0 + (layer * D + direction) * state }
                let rows = T * B
                if let bias = w.inputBias.map(p) {
                    for r in 0 ..< rows { (projected + r * width).update(from: bias, count: width) }
                }
                blas.prepare(multiplyAdds: rows * inputSize * width)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(width), Int32(inputSize), 1, source,
                            Int32(inputSize), p(w.inputWeights), Int32(inputSize), w.inputBias == nil ? 0 : 1, projected, Int32(width))
                blas.prepare(multiplyAdds: B * H * width)
                for s in 0 ..< T {
                    let t = direction == 0 ? s : T - 1 - s
                    if let bias = w.hiddenBias.map(p) {
                        for r in 0 ..< B { (hidden + r * width).update(from: bias, count: width) }
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(B), Int32(width), Int32(H), 1, h, Int32(H),
                                p(w.hiddenWeights), Int32(H), w.hiddenBias == nil ? 0 : 1, hidden, Int32(width))
                    for r in 0 ..< B {
                        let gx = projected + (t * B + r) * width, gh = hidden + r * width
                        let hr = h + r * H
                        if let c {
                            let cr = c + r * H
                            for j in 0 ..< H {
                                let i = CPUElementwise.sigmoid(gx[j] + gh[j])
                                let f = CPUElementwise.sigmoid(gx[H + j] + gh[H + j])
                                let cell = tanh(gx[2 * H + j] + gh[2 * H + j])
                                let o = CPUElementwise.sigmoid(gx[3 * H + j] + gh[3 * H + j])
                                cr[j] = f * cr[j] + i * cell
                                hr[j] = o * tanh(cr[j])
                            }
                        } else {
                            for j in 0 ..< H {
                                let reset = CPUElementwise.sigmoid(gx[j] + gh[j])
                                let update = CPUElementwise.sigmoid(gx[H + j] + gh[H + j])
                                let candidate = tanh(gx[2 * H + j] + reset * gh[2 * H + j])
                                hr[j] = (1 - update) * candidate + update * hr[j]
                            }
                        }
                        (target + (t * B + r) * D * H + direction * H).update(from: hr, count: H)
                    }
                }
            }
            source = target
            inputSize = D * H
        }
    }
}
