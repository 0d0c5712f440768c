import Format

/// Runs the graph kernels on the CPU.
extension CPUBackend {
    func run(_ kernel: GraphKernel) throws {
        switch kernel {
        case let .map(op, operands, y, shape):
            CPUStridedMap.run(op, operands: operands.map { (p($0.buffer) + $0.offset, $0.strides) }, y: (p(y.buffer) + y.offset, y.strides),
                              shape: shape, threads: threads)
        case let .fill(y, value, count):
            p(y).update(repeating: value, count: count)
        case let .matmul(a, b, y, batchShape, m, n, k, alpha, accumulate):
            matmul(a: a, b: b, y: p(y), batchShape: batchShape, m: m, n: n, k: k, alpha: alpha, accumulate: accumulate)
        case let .convTranspose2d(x, weight, bias, y, geometry):
            convTranspose2d(x: p(x), weight: p(weight), bias: bias.map(p), y: p(y), geometry: geometry)
        case let .groupNorm(x, weight, bias, y, batch, channels, inner, groups, eps):
            CPUGraphLoops.groupNorm(x: p(x), weight: weight.map(p), bias: bias.map(p), y: p(y), batch: batch, channels: channels,
                                    inner: inner, groups: groups, eps: eps)
        case let .logSoftmax(x, y, outer, axis, inner):
            CPUGraphLoops.logSoftmax(x: p(x), y: p(y), outer: outer, axis: axis, inner: inner)
        case let .reduce(op, x, y, outer, axis, inner):
            CPUGraphLoops.reduce(op, x: p(x), y: p(y), outer: outer, axis: axis, inner: inner)
        case let .cumsum(x, y, outer, axis, inner):
            CPUGraphLoops.cumsum(x: p(x), y: p(y), outer: outer, axis: axis, inner: inner)
        case let .indexSelect(x, index, y, outer, axis, inner, count):
            try CPUGraphLoops.indexSelect(x: p(x), index: p(index), y: p(y), outer: outer, axis: axis, inner: inner, count: count)
        case let .gather(x, index, y, outer, axis, inner, count):
            try CPUGraphLoops.gather(x: p(x), index: p(index), y: p(y), outer: outer, axis: axis, inner: inner, count: count)
        case let .adaptiveMaxPool2d(x, y, planes, inHeight, inWidth, outHeight, outWidth):
            CPUGraphLoops.adaptiveMax(x: p(x), y: p(y), planes: planes, inHeight: inHeight, inWidth: inWidth,
                                      outHeight: outHeight, outWidth: outWidth)
        case let .upsample(x, y, planes, inHeight, inWidth, outHeight, outWidth, bilinear, alignCorners, scaleHeight, scaleWidth):
            CPUGraphLoops.upsample(x: p(x), y: p(y), planes: planes, inHeight: inHeight, inWidth: inWidth, outHeight: outHeight,
                                   outWidth: outWidth, bilinear: bilinear, alignCorners: alignCorners, scaleHeight: scaleHeight,
                                   scaleWidth: scaleWidth)
        case let .attention(q, k, v, mask, y, geometry):
            attention(q: p(q), k: p(k), v: p(v), mask: mask, y: p(y), geometry: geometry)
        case let .recurrent(x, weights, h0, c0, output, hn, cn, geometry):
            recurrent(x: p(x), weights: weights, h0: p(h0), c0: c0.map(p), output: p(output), hn: p(hn), cn: cn.map(p), geometry: geometry)
        }
    }
}
