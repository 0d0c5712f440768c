import Format

/// Pooling loops, following PyTorch's CPU kernels window for window.
enum CPUPooling {
    /// Taps in the padding are skipped (PyTorch pads with -infinity); NaN wins, as in PyTorch.
    static func max(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, geometry g: PoolGeometry) {
        let inPlane = g.inHeight * g.inWidth
        let outPlane = g.outHeight * g.outWidth
        for plane in 0 ..< g.planes {
            let input = x + plane * inPlane
            let output = y + plane * outPlane
            for oy in 0 ..< g.outHeight {
                for ox in 0 ..< g.outWidth {
                    var best = -Float.infinity
                    for ki in 0 ..< g.kernel.h {
                        let iy = oy * g.stride.h - g.padding.h + ki * g.dilation.h
                        guard iy >= 0, iy < g.inHeight else { continue }
                        for kj in 0 ..< g.kernel.w {
                            let ix = ox * g.stride.w - g.padding.w + kj * g.dilation.w
                            guard ix >= 0, ix < g.inWidth else { continue }
                            let value = input[iy * g.inWidth + ix]
                            if value > best || value.isNaN { best = value }
                        }
                    }
                    output[oy * g.outWidth + ox] = best
                }
            }
        }
    }

    /// The window is first clipped to the padded input (its size is the divisor when padding
    /// counts), then to the input itself (the values summed, and the divisor otherwise).
    static func average(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, geometry g: PoolGeometry, countIncludePad: Bool) {
        if g.padding == Pair(0), (g.outHeight - 1) * g.stride.h + g.kernel.h <= g.inHeight,
           (g.outWidth - 1) * g.stride.w + g.kernel.w <= g.inWidth {
            return averageInside(x: x, y: y, geometry: g)
        }
        let inPlane = g.inHeight * g.inWidth
        let outPlane = g.outHeight * g.outWidth
        for plane in 0 ..< g.planes {
            let input = x + plane * inPlane
            let output = y + plane * outPlane
            for oy in 0 ..< g.outHeight {
                var top = oy * g.stride.h - g.padding.h
                var bottom = Swift.min(top + g.kernel.h, g.inHeight + g.padding.h)
                let padded = bottom - top
                top = Swift.max(top, 0)
                bottom = Swift.min(bottom, g.inHeight)
                for ox in 0 ..< g.outWidth {
                    var left = ox * g.stride.w - g.padding.w
                    var right = Swift.min(left + g.kernel.w, g.inWidth + g.padding.w)
                    let poolSize = padded * (right - left)
                    left = Swift.max(left, 0)
                    right = Swift.min(right, g.inWidth)
                    var sum: Float = 0
                    if top < bottom, left < right {
                        for iy in top ..< bottom {
                            for ix in left ..< right { sum += input[iy * g.inWidth + ix] }
                        }
                    }
                    let divisor = countIncludePad ? poolSize : (bottom - top) * (right - left)
                    output[oy * g.outWidth + ox] = divisor > 0 ? sum / Float(divisor) : 0
                }
            }
        }
    }

    /// Every window inside the input (no padding, no ceil overhang): a plain sum, one divisor.
    private static func averageInside(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, geometry g: PoolGeometry) {
        let divisor = Float(g.kernel.h * g.kernel.w)
        for plane in 0 ..< g.planes {
            let input = x + plane * g.inHeight * g.inWidth
            let output = y + plane * g.outHeight * g.outWidth
            for oy in 0 ..< g.outHeight {
                let out = output + oy * g.outWidth
                out.update(repeating: 0, count: g.outWidth)
                for ki in 0 ..< g.kernel.h {
                    let row = input + (oy * g.stride.h + ki) * g.inWidth
                    for kj in 0 ..< g.kernel.w {
                        for ox in 0 ..< g.outWidth { out[ox] += row[ox * g.stride.w + kj] }
                    }
                }
                for ox in 0 ..< g.outWidth { out[ox] /= divisor }
            }
        }
    }

    /// Window i spans [floor(i·H/OH), ceil((i+1)·H/OH)).
    static func adaptiveAverage(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, planes: Int,
                                inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int) {
        for plane in 0 ..< planes {
            let input = x + plane * inHeight * inWidth
            let output = y + plane * outHeight * outWidth
            for oy in 0 ..< outHeight {
                let top = oy * inHeight / outHeight
                let bottom = ((oy + 1) * inHeight + outHeight - 1) / outHeight
                for ox in 0 ..< outWidth {
                    let left = ox * inWidth / outWidth
                    let right = ((ox + 1) * inWidth + outWidth - 1) / outWidth
                    var sum: Float = 0
                    for iy in top ..< bottom {
                        for ix in left ..< right { sum += input[iy * inWidth + ix] }
                    }
                    output[oy * outWidth + ox] = sum / Float((bottom - top) * (right - left))
                }
            }
        }
    }
}
