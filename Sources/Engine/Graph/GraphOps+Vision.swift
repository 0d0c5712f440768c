import Foundation
import Format

/// Convolutions, pooling, normalisations, softmax and resampling.
extension GraphCompiler {
    /// A pair argument (`[h, w]`, or one value for both), with the default when absent or empty.
    func pair(_ call: GraphCall, _ name: String, _ position: Int, default fallback: Pair) throws -> Pair {
        let values = try call.ints(name, position, default: [])
        switch values.count {
        case 0: return fallback
        case 1: return Pair(values[0])
        case 2: return Pair(values[0], values[1])
        default: throw call.fail("argument '\(name)' must have 1 or 2 values, not \(values.count)")
        }
    }

    /// A window's output size (PyTorch's `pooling_output_shape`), every setting checked.
    func windowOutput(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, ceil: Bool, _ call: GraphCall) throws -> Int {
        try PlanArithmetic.checkWindow(size: size, kernel: kernel, stride: stride, padding: padding, dilation: dilation, module: call.node, type: call.op)
        let span = size + 2 * padding - dilation * (kernel - 1) - 1
        var out = (ceil ? span + stride - 1 : span) / stride + 1
        if span < 0 { out = 0 }
        if ceil, (out - 1) * stride >= size + padding { out -= 1 }
        guard out > 0 else { throw EngineError.emptyOutput(what: "node '\(call.node)' output", shape: [out]) }
        return out
    }

    /// conv1d/conv2d(input, weight, bias, stride, padding, dilation, groups); 1-d runs as 2-d with a height of 1.
    mutating func convolution(_ call: GraphCall) throws -> CompiledValue {
        var x = try call.tensor("input", 0)
        var weight = try call.tensor("weight", 1)
        let oneD = call.op.hasPrefix("aten.conv1d")
        if oneD {
            guard x.rank == 3 || x.rank == 2, weight.rank == 3 else { throw call.fail("conv1d needs [N, C, L] input and [O, C, k] weight") }
            x = try reshaped(x, Array(x.shape.dropLast()) + [1, x.shape.last!], call)
            weight = try reshaped(weight, [weight.shape[0], weight.shape[1], 1, weight.shape[2]], call)
        }
        let unbatched = x.rank == 3
        if unbatched { x = try reshaped(x, [1] + x.shape, call) }
        guard x.rank == 4, weight.rank == 4 else {
            throw call.fail("input \(Tensor.describe(x.shape)) and weight \(Tensor.describe(weight.shape)) are not a 2-d convolution")
        }
        let groups = try call.int("groups", 6, default: 1)
        func lift(_ p: Pair) -> Pair { oneD ? Pair(1, p.w) : p }
        let stride = lift(try pair(call, "stride", 3, default: Pair(1)))
        let dilation = lift(try pair(call, "dilation", 5, default: Pair(1)))
        var padding: Pair
        if let mode = call.string("padding") {
            guard mode == "valid" || (mode == "same" && stride == Pair(1)) else { throw call.fail("padding '\(mode)' is not supported") }
            padding = Pair(0)
            if mode == "same" {
                let total = (dilation.h * (weight.shape[2] - 1), dilation.w * (weight.shape[3] - 1))
                guard total.0 % 2 == 0, total.1 % 2 == 0 else { throw call.fail("padding 'same' with an even kernel is not supported") }
                padding = Pair(total.0 / 2, total.1 / 2)
            }
        } else {
            padding = oneD ? Pair(0, try pair(call, "padding", 4, default: Pair(0)).w) : try pair(call, "padding", 4, default: Pair(0))
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, perGroup, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        guard groups > 0, c % groups == 0, o % groups == 0, perGroup == c / groups else {
            throw call.fail("weight \(Tensor.describe(weight.shape)) does not fit \(c) channels in \(groups) groups")
        }
        let oh = try windowOutput(h, kernel: kh, stride: stride.h, padding: padding.h, dilation: dilation.h, ceil: false, call)
        let ow = try windowOutput(w, kernel: kw, stride: stride.w, padding: padding.w, dilation: dilation.w, ceil: false, call)
        x = try dense(x, "node '\(call.node)' input")
        weight = try dense(weight, "node '\(call.node)' weight")
        let bias = try call.optionalTensor("bias", 2).map { try dense($0, "node '\(call.node)' bias") }
        let depth = try PlanArithmetic.elementCount([perGroup, kh, kw, oh, ow], of: "node '\(call.node)' columns")
        needScratch(depth)
        let y = try fresh([n, o, oh, ow], .float, "node '\(call.node)' output")
        let geometry = ConvGeometry(batch: n, inChannels: c, inHeight: h, inWidth: w, outChannels: o, outHeight: oh, outWidth: ow,
                                    kernel: Pair(kh, kw), stride: stride, padding: padding, dilation: dilation, groups: groups)
        emit(.conv2d(x: x.buffer, weight: weight.buffer, bias: bias?.buffer, y: y.buffer, geometry: geometry, activation: nil))
        var shape = y.shape
        if oneD { shape.remove(at: 2) }
        if unbatched { shape.removeFirst() }
        return .tensor(y.viewed(shape, GraphTensor.denseStrides(shape)))
    }

    /// conv_transpose1d/2d(input, weight [in, out/groups, kh, kw], bias, stride, padding, output_padding, groups, dilation)
    mutating func transposedConvolution(_ call: GraphCall) throws -> CompiledValue {
        var x = try call.tensor("input", 0)
        var weight = try call.tensor("weight", 1)
        let oneD = call.op.hasPrefix("aten.conv_transpose1d")
        if oneD {
            x = try reshaped(x, Array(x.shape.dropLast()) + [1, x.shape.last!], call)
            weight = try reshaped(weight, [weight.shape[0], weight.shape[1], 1, weight.shape[2]], call)
        }
        let unbatched = x.rank == 3
        if unbatched { x = try reshaped(x, [1] + x.shape, call) }
        guard x.rank == 4, weight.rank == 4 else { throw call.fail("not a 2-d transposed convolution") }
        func lift(_ p: Pair, _ fill: Int) -> Pair { oneD ? Pair(fill, p.w) : p }
        let stride = lift(try pair(call, "stride", 3, default: Pair(1)), 1)
        let padding = lift(try pair(call, "padding", 4, default: Pair(0)), 0)
        let extra = lift(try pair(call, "output_padding", 5, default: Pair(0)), 0)
        let groups = try call.int("groups", 6, default: 1)
        let dilation = lift(try pair(call, "dilation", 7, default: Pair(1)), 1)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        guard groups > 0, weight.shape[0] == c, c % groups == 0 else { throw call.fail("weight \(Tensor.describe(weight.shape)) does not fit \(c) channels") }
        let o = try PlanArithmetic.multiply(weight.shape[1], groups, "node '\(call.node)' channels")
        for (size, k, s, p, d, e) in [(h, kh, stride.h, padding.h, dilation.h, extra.h), (w, kw, stride.w, padding.w, dilation.w, extra.w)] {
            try PlanArithmetic.checkWindow(size: size, kernel: k, stride: s, padding: p, dilation: d, module: call.node, type: call.op)
            guard e >= 0, e < Swift.max(s, d) else { throw call.fail("output_padding \(e) must be below the stride or dilation") }
        }
        func output(_ size: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int, _ e: Int) throws -> Int {
            let what = "node '\(call.node)' output"
            let grown = try PlanArithmetic.multiply(size - 1, s, what)
            let reach = try PlanArithmetic.multiply(d, k - 1, what)
            return try PlanArithmetic.add(try PlanArithmetic.add(grown - 2 * p, reach, what), e + 1, what)
        }
        let oh = try output(h, kh, stride.h, padding.h, dilation.h, extra.h), ow = try output(w, kw, stride.w, padding.w, dilation.w, extra.w)
        x = try dense(x, "node '\(call.node)' input")
        weight = try dense(weight, "node '\(call.node)' weight")
        let bias = try call.optionalTensor("bias", 2).map { try dense($0, "node '\(call.node)' bias") }
        needScratch(try PlanArithmetic.elementCount([weight.shape[1], kh, kw, h, w], of: "node '\(call.node)' columns"))
        let y = try fresh([n, o, oh, ow], .float, "node '\(call.node)' output")
        let geometry = ConvGeometry(batch: n, inChannels: c, inHeight: h, inWidth: w, outChannels: o, outHeight: oh, outWidth: ow,
                                    kernel: Pair(kh, kw), stride: stride, padding: padding, dilation: dilation, groups: groups)
        try emit(.convTranspose2d(x: x.buffer, weight: weight.buffer, bias: bias?.buffer, y: y.buffer, geometry: geometry))
        var shape = y.shape
        if oneD { shape.remove(at: 2) }
        if unbatched { shape.removeFirst() }
        return .tensor(y.viewed(shape, GraphTensor.denseStrides(shape)))
    }

    /// The input as dense planes [..., H, W] and the plane count.
    private mutating func planes(_ call: GraphCall, _ name: String = "self") throws -> (GraphTensor, Int) {
        let x = try dense(try call.tensor(name, 0), "node '\(call.node)' input")
        guard x.rank >= 3 else { throw call.fail("input \(Tensor.describe(x.shape)) has no planes") }
        return (x, x.shape.dropLast(2).reduce(1, *))
    }

    /// max_pool2d(self, kernel_size, stride, padding, dilation, ceil_mode) and avg_pool2d(self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    mutating func pool(_ call: GraphCall) throws -> CompiledValue {
        let (x, count) = try planes(call)
        let isMax = call.op.hasPrefix("aten.max_pool2d")
        let kernel = try pair(call, "kernel_size", 1, default: Pair(1))
        let stride = try pair(call, "stride", 2, default: kernel)
        let padding = try pair(call, "padding", 3, default: Pair(0))
        let dilation = isMax ? try pair(call, "dilation", 4, default: Pair(1)) : Pair(1)
        let ceil = try call.bool("ceil_mode", isMax ? 5 : 4, default: false)
        if !isMax, call.has("divisor_override", 6) { throw call.fail("divisor_override is not supported") }
        guard padding.h * 2 <= kernel.h, padding.w * 2 <= kernel.w else { throw call.fail("padding must be at most half the kernel") }
        let (h, w) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        let oh = try windowOutput(h, kernel: kernel.h, stride: stride.h, padding: padding.h, dilation: dilation.h, ceil: ceil, call)
        let ow = try windowOutput(w, kernel: kernel.w, stride: stride.w, padding: padding.w, dilation: dilation.w, ceil: ceil, call)
        let y = try fresh(Array(x.shape.dropLast(2)) + [oh, ow], x.kind, "node '\(call.node)' output")
        let geometry = PoolGeometry(planes: count, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, kernel: kernel, stride: stride,
                                    padding: padding, dilation: dilation)
        if isMax {
            emit(.maxPool2d(x: x.buffer, y: y.buffer, geometry: geometry))
        } else {
            emit(.avgPool2d(x: x.buffer, y: y.buffer, geometry: geometry, countIncludePad: try call.bool("count_include_pad", 5, default: true)))
        }
        return isMax && call.op.contains("with_indices") ? .tensors([y, nil]) : .tensor(y)
    }

    mutating func adaptivePool(_ call: GraphCall) throws -> CompiledValue {
        let (x, count) = try planes(call)
        let (h, w) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        let size = try call.ints("output_size", 1)
        guard size.count == 1 || size.count == 2, size.allSatisfy({ $0 > 0 }) else { throw call.fail("output_size \(size) is invalid") }
        let (oh, ow) = (size[0], size.count == 2 ? size[1] : size[0])
        let y = try fresh(Array(x.shape.dropLast(2)) + [oh, ow], x.kind, "node '\(call.node)' output")
        if call.op.hasPrefix("aten.adaptive_max_pool2d") {
            try emit(.adaptiveMaxPool2d(x: x.buffer, y: y.buffer, planes: count, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow))
            return .tensors([y, nil])
        }
        emit(.adaptiveAvgPool2d(x: x.buffer, y: y.buffer, planes: count, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow))
        return .tensor(y)
    }

    /// Inference batch norm: the statistics and affine folded into one scale and shift per channel.
    mutating func batchNorm(_ call: GraphCall) throws -> CompiledValue {
        let legit = call.op.hasPrefix("aten._native_batch_norm_legit")
        let x = try dense(try call.tensor("input", 0), "node '\(call.node)' input")
        guard x.rank >= 2 else { throw call.fail("input \(Tensor.describe(x.shape)) has no channel axis") }
        let channels = x.shape[1]
        let meanName = legit ? "running_mean" : "running_mean", varName = "running_var"
        guard !(try call.bool("training", legit ? 5 : 5, default: false)) || call.op.contains("no_training") else {
            throw call.fail("batch norm in training mode (batch statistics) is not supported; export the model in eval mode")
        }
        guard let mean = try call.optionalTensor(meanName, 3).flatMap({ try hostValues($0) }),
              let variance = try call.optionalTensor(varName, 4).flatMap({ try hostValues($0) }),
              mean.count == channels, variance.count == channels else {
            throw call.fail("running statistics must be buffers of \(channels) values")
        }
        let weight = try call.optionalTensor("weight", 1).map { t -> [Float] in
            guard let values = try hostValues(t), values.count == channels else { throw call.fail("weight must be a parameter of \(channels) values") }
            return values
        }
        let bias = try call.optionalTensor("bias", 2).map { t -> [Float] in
            guard let values = try hostValues(t), values.count == channels else { throw call.fail("bias must be a parameter of \(channels) values") }
            return values
        }
        let eps = try call.double("eps", legit ? 6 : 7, default: 1e-5)
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for c in 0 ..< channels {
            let inverse = 1 / (Double(variance[c]) + eps).squareRoot()
            let s = Double(weight?[c] ?? 1) * inverse
            scale[c] = Float(s)
            shift[c] = Float(Double(bias?[c] ?? 0) - Double(mean[c]) * s)
        }
        let scaleBuffer = try constant(scale, shape: [channels], kind: .float, "node '\(call.node)' scale")
        let shiftBuffer = try constant(shift, shape: [channels], kind: .float, "node '\(call.node)' shift")
        let y = try fresh(x.shape, .float, "node '\(call.node)' output")
        emit(.channelAffine(x: x.buffer, scale: scaleBuffer.buffer, shift: shiftBuffer.buffer, y: y.buffer, outer: x.shape[0],
                            channels: channels, inner: x.shape.dropFirst(2).reduce(1, *)))
        return legit ? .tensors([y, nil, nil]) : .tensor(y)
    }

    mutating func layerNorm(_ call: GraphCall) throws -> CompiledValue {
        let x = try dense(try call.tensor("input", 0), "node '\(call.node)' input")
        let normalized = try call.ints("normalized_shape", 1)
        guard normalized.count <= x.rank, Array(x.shape.suffix(normalized.count)) == normalized else {
            throw call.fail("normalized_shape \(normalized) does not end \(Tensor.describe(x.shape))")
        }
        let columns = normalized.reduce(1, *)
        let weight = try call.optionalTensor("weight", 2).map { try dense($0, "node '\(call.node)' weight") }
        let bias = try call.optionalTensor("bias", 3).map { try dense($0, "node '\(call.node)' bias") }
        for t in [weight, bias].compactMap({ $0 }) where t.count != columns { throw call.fail("affine of \(t.count) values for \(columns) columns") }
        let y = try fresh(x.shape, .float, "node '\(call.node)' output")
        if columns > 0 {
            emit(.layerNorm(x: x.buffer, weight: weight?.buffer, bias: bias?.buffer, y: y.buffer, rows: x.count / columns, columns: columns,
                            eps: Float(try call.double("eps", 4, default: 1e-5))))
        }
        return call.op.hasPrefix("aten.native_layer_norm") ? .tensors([y, nil, nil]) : .tensor(y)
    }

    mutating func groupNorm(_ call: GraphCall) throws -> CompiledValue {
        let x = try dense(try call.tensor("input", 0), "node '\(call.node)' input")
        guard x.rank >= 2 else { throw call.fail("input \(Tensor.describe(x.shape)) has no channel axis") }
        let groups = try call.int("num_groups", 1)
        let channels = x.shape[1]
        guard groups > 0, channels % groups == 0 else { throw call.fail("\(channels) channels do not split into \(groups) groups") }
        let weight = try call.optionalTensor("weight", 2).map { try dense($0, "node '\(call.node)' weight") }
        let bias = try call.optionalTensor("bias", 3).map { try dense($0, "node '\(call.node)' bias") }
        for t in [weight, bias].compactMap({ $0 }) where t.count != channels { throw call.fail("affine of \(t.count) values for \(channels) channels") }
        let y = try fresh(x.shape, .float, "node '\(call.node)' output")
        try emit(.groupNorm(x: x.buffer, weight: weight?.buffer, bias: bias?.buffer, y: y.buffer, batch: x.shape[0], channels: channels,
                            inner: x.shape.dropFirst(2).reduce(1, *), groups: groups, eps: Float(try call.double("eps", 4, default: 1e-5))))
        return .tensor(y)
    }

    /// softmax / log_softmax along `dim`.
    mutating func softmax(_ call: GraphCall, log: Bool) throws -> CompiledValue {
        let x = try dense(try call.tensor("self", 0), "node '\(call.node)' input")
        let axis = try call.axis(try call.int("dim", 1), rank: x.rank)
        let shape = x.shape.isEmpty ? [1] : x.shape
        let (outer, size, inner) = (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
        let y = try fresh(x.shape, .float, "node '\(call.node)' output")
        if y.count > 0 {
            if log { try emit(.logSoftmax(x: x.buffer, y: y.buffer, outer: outer, axis: size, inner: inner)) }
            else { emit(.softmax(x: x.buffer, y: y.buffer, outer: outer, axis: size, inner: inner)) }
        }
        return .tensor(y)
    }

    /// upsample_nearest2d / upsample_bilinear2d, `.vec` (output_size or scale_factors) and `.default` (output_size, scales).
    mutating func upsample(_ call: GraphCall) throws -> CompiledValue {
        let bilinear = call.op.hasPrefix("aten.upsample_bilinear2d")
        let vec = call.op.hasSuffix(".vec")
        let name = vec ? "input" : "self"
        let (x, count) = try planes(call, name)
        let (h, w) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        let alignCorners = bilinear ? try call.bool("align_corners", 2, default: false) : false
        var scales: (Double?, Double?) = (nil, nil)
        var size = try call.ints("output_size", 1, default: [])
        if vec, size.isEmpty {
            guard let factors = try call.doubles("scale_factors", bilinear ? 3 : 2), factors.count == 2 else {
                throw call.fail("needs output_size or two scale_factors")
            }
            size = try factors.enumerated().map { axis, factor in
                let out = (Double(axis == 0 ? h : w) * factor).rounded(.down)
                guard out >= 1, out < Double(1 << 40) else { throw call.fail("scale factor \(factor) gives an empty or huge output") }
                return Int(out)
            }
            scales = (factors[0], factors[1])
        } else if !vec {
            scales = (try call.optionalDouble("scales_h", bilinear ? 3 : 2), try call.optionalDouble("scales_w", bilinear ? 4 : 3))
        }
        guard size.count == 2, size.allSatisfy({ $0 > 0 }) else { throw call.fail("output_size \(size) is invalid") }
        let y = try fresh(Array(x.shape.dropLast(2)) + size, x.kind, "node '\(call.node)' output")
        try emit(.upsample(x: x.buffer, y: y.buffer, planes: count, inHeight: h, inWidth: w, outHeight: size[0], outWidth: size[1],
                           bilinear: bilinear, alignCorners: alignCorners, scaleHeight: scales.0, scaleWidth: scales.1))
        return .tensor(y)
    }
}
