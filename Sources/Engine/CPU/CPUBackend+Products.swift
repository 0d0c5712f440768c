import COpenBLAS
import Dispatch
import Format

/// The kernels that are matrix products: Linear, Conv2d (im2col + sgemm), TensorReduction.
extension CPUBackend {
    func linear(x: UnsafeMutablePointer<Float>, weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?,
                y: UnsafeMutablePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int, activation: Activation?) {
        // The bias goes into y first and the product adds to it (beta = 1): one pass fewer than adding it after.
        if let bias {
            for row in 0 ..< rows { (y + row * outFeatures).update(from: bias, count: outFeatures) }
        }
        let beta: Float = bias == nil ? 0 : 1
        blas.prepare(multiplyAdds: rows * inFeatures * outFeatures)
        if rows == 1 {
            // One row is a matrix-vector product; sgemv skips sgemm's packing.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outFeatures), Int32(inFeatures), 1, weight, Int32(inFeatures),
                        x, 1, beta, y, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outFeatures), Int32(inFeatures), 1,
                        x, Int32(inFeatures), weight, Int32(inFeatures), beta, y, Int32(outFeatures))
        }
        if let activation { activate(activation, x: y, y: y, count: rows * outFeatures) }
    }

    /// y = z · W with z[n, i·I + j] = x[n, i] x[n, j] and W read as [I·I, K].
    func tensorReduction(x: UnsafeMutablePointer<Float>, weight: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                         rows: Int, inFeatures: Int, outFeatures: Int) {
        let square = inFeatures * inFeatures
        let z = scratch(0, count: rows * square)
        for n in 0 ..< rows {
            let xn = x + n * inFeatures
            let zn = z + n * square
            for i in 0 ..< inFeatures {
                let xi = xn[i]
                for j in 0 ..< inFeatures { zn[i * inFeatures + j] = xi * xn[j] }
            }
        }
        blas.prepare(multiplyAdds: rows * square * outFeatures)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(outFeatures), Int32(square), 1,
                    z, Int32(square), weight, Int32(outFeatures), 0, y, Int32(outFeatures))
    }

    /// Per sample and group: im2col into [C/g·kh·kw, OH·OW], then W_g · col straight into the
    /// NCHW output. Samples are spread over threads (each product single-threaded) when the
    /// batch is large enough; a single sample lets OpenBLAS use the threads itself.
    func conv2d(x: UnsafeMutablePointer<Float>, weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?,
                y: UnsafeMutablePointer<Float>, geometry g: ConvGeometry, activation: Activation?) {
        let groupChannels = g.inChannels / g.groups
        let groupOutputs = g.outChannels / g.groups
        let depth = groupChannels * g.kernel.h * g.kernel.w
        let outPlane = g.outHeight * g.outWidth
        let inPlane = g.inHeight * g.inWidth
        let pointwise = g.kernel == Pair(1) && g.stride == Pair(1) && g.padding == Pair(0)
        let workers = g.multiplyAdds >= BLASThreads.threshold ? min(g.batch, threads) : 1
        blas.use(workers > 1 ? 1 : (g.multiplyAdds >= BLASThreads.threshold ? threads : 1))
        let columns = (0 ..< workers).map { scratch($0, count: pointwise ? 1 : depth * outPlane) }

        func sample(_ n: Int, _ col: UnsafeMutablePointer<Float>) {
            for group in 0 ..< g.groups {
                let input = x + (n * g.inChannels + group * groupChannels) * inPlane
                let output = y + (n * g.outChannels + group * groupOutputs) * outPlane
                for channel in 0 ..< groupOutputs {
                    let value = bias?[group * groupOutputs + channel] ?? 0
                    (output + channel * outPlane).update(repeating: value, count: outPlane)
                }
                let source: UnsafeMutablePointer<Float>
                if pointwise { source = input } else { CPUBackend.im2col(input, channels: groupChannels, geometry: g, into: col); source = col }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(groupOutputs), Int32(outPlane), Int32(depth), 1,
                            weight + group * groupOutputs * depth, Int32(depth), source, Int32(outPlane), 1, output, Int32(outPlane))
            }
            // The activation while the sample's output is still in cache.
            if let activation { CPUElementwise.apply(activation, x: y + n * g.outChannels * outPlane, y: y + n * g.outChannels * outPlane, count: g.outChannels * outPlane) }
        }
        if workers == 1 {
            for n in 0 ..< g.batch { sample(n, columns[0]) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for n in stride(from: worker, to: g.batch, by: workers) { sample(n, columns[worker]) }
            }
        }
    }

    /// Unfolds one sample's channels into rows of kernel taps × output positions; taps that
    /// fall in the zero padding read 0.
    static func im2col(_ input: UnsafeMutablePointer<Float>, channels: Int, geometry g: ConvGeometry,
                       into col: UnsafeMutablePointer<Float>) {
        let outPlane = g.outHeight * g.outWidth
        let (width, stride) = (g.outWidth, g.stride.w)
        var row = 0
        for channel in 0 ..< channels {
            let plane = input + channel * g.inHeight * g.inWidth
            for ki in 0 ..< g.kernel.h {
                for kj in 0 ..< g.kernel.w {
                    let target = col + row * outPlane
                    // Output columns whose tap ix = ox·stride + offset lies inside the row: [low, high);
                    // the rest read the zero padding. The same for every output row of this tap.
                    let offset = kj * g.dilation.w - g.padding.w
                    let low = offset >= 0 ? 0 : min(width, (-offset + stride - 1) / stride)
                    let high = max(low, min(width, (g.inWidth - offset + stride - 1) / stride))
                    for oy in 0 ..< g.outHeight {
                        let iy = oy * g.stride.h - g.padding.h + ki * g.dilation.h
                        let line = target + oy * width
                        guard iy >= 0, iy < g.inHeight else {
                            for ox in 0 ..< width { line[ox] = 0 }
                            continue
                        }
                        let source = plane + iy * g.inWidth + offset
                        for ox in 0 ..< low { line[ox] = 0 }
                        if stride == 1 {
                            copyShort(source + low, to: line + low, count: high - low)
                        } else {
                            for ox in low ..< high { line[ox] = source[ox * stride] }
                        }
                        for ox in high ..< width { line[ox] = 0 }
                    }
                    row += 1
                }
            }
        }
    }
}

/// Copies a short run of floats (an im2col row is often 10 to 30 long) eight at a time: a
/// memmove call per row costs more than the copy itself.
@inline(__always)
func copyShort(_ source: UnsafeMutablePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        UnsafeMutableRawPointer(target + i).storeBytes(of: UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { target[i] = source[i]; i += 1 }
}
