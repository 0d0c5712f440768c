import Format

/// Every op the graph compiler implements, by ATen name (without `torch.ops.`). In-place
/// variants (`relu_`, `add_`) run as their functional op and rebind the mutated input.
enum GraphOpTable {
    typealias Handler = @Sendable (inout GraphCompiler, GraphCall) throws -> CompiledValue

    /// Ops that compute nothing at inference: checks torch.export leaves in, and identities.
    static let noOps: Set<String> = [
        "aten._assert_tensor_metadata.default", "aten._assert_scalar.default", "aten.sym_constrain_range_for_size.default",
        "aten.sym_constrain_range.default", "aten._assert_async.msg", "aten._assert_async.default",
    ]

    /// Ops whose result is their first argument unchanged.
    static let identities: Set<String> = [
        "aten.dropout.default", "aten.feature_dropout.default", "aten.alpha_dropout.default", "aten.native_dropout.default",
        "aten.clone.default", "aten.contiguous.default", "aten.detach.default", "aten.alias.default", "aten.lift_fresh_copy.default",
        "aten.lift_fresh.default", "aten._native_dropout.default", "aten.detach_.default",
        "aten.dropout2d.default", "aten.feature_alpha_dropout.default",
    ]

    static let unaryOps: [String: ElementOp] = [
        "aten.neg.default": .negate, "aten.abs.default": .abs, "aten.exp.default": .exp, "aten.log.default": .log,
        "aten.sqrt.default": .sqrt, "aten.rsqrt.default": .rsqrt, "aten.reciprocal.default": .reciprocal, "aten.sin.default": .sin,
        "aten.cos.default": .cos, "aten.floor.default": .floor, "aten.ceil.default": .ceil, "aten.round.default": .round,
        "aten.trunc.default": .truncate, "aten.sign.default": .sign, "aten.relu.default": .relu, "aten.sigmoid.default": .sigmoid,
        "aten.tanh.default": .tanh, "aten.erf.default": .erf, "aten.silu.default": .silu, "aten.hardswish.default": .hardswish,
        "aten.hardsigmoid.default": .hardsigmoid, "aten.mish.default": .mish, "aten.relu6.default": .clamp(low: 0, high: 6),
        "aten.square.default": .powScalar(2), "aten.positive.default": .identity,
    ]

    static let arithmetic: [String: ElementOp] = [
        "aten.mul.Tensor": .multiply, "aten.mul.Scalar": .multiply, "aten.maximum.default": .maximum, "aten.minimum.default": .minimum,
        "aten.floor_divide.default": .floorDivide, "aten.floor_divide.Scalar": .floorDivide, "aten.remainder.Tensor": .remainder,
        "aten.remainder.Scalar": .remainder, "aten.fmod.Tensor": .remainder,
    ]

    static let comparisons: [String: ElementOp] = [
        "eq": .equal, "ne": .notEqual, "lt": .less, "le": .lessEqual, "gt": .greater, "ge": .greaterEqual,
    ]

    static let logic: [String: ElementOp] = [
        "aten.logical_and.default": .logicalAnd, "aten.logical_or.default": .logicalOr, "aten.logical_xor.default": .logicalXor,
        "aten.__and__.Tensor": .logicalAnd, "aten.__or__.Tensor": .logicalOr, "aten.__xor__.Tensor": .logicalXor,
        "aten.bitwise_and.Tensor": .logicalAnd, "aten.bitwise_or.Tensor": .logicalOr, "aten.bitwise_xor.Tensor": .logicalXor,
        "aten.__and__.Scalar": .logicalAnd, "aten.bitwise_and.Scalar": .logicalAnd,
    ]

    /// The table: op name -> handler.
    static let handlers: [String: Handler] = {
        var table: [String: Handler] = [:]
        for op in identities { table[op] = { _, call in .tensor(try call.tensor(call.arguments.first?.name ?? "input", 0)) } }
        for (op, element) in unaryOps { table[op] = { try $0.unary(element, $1) } }
        for (op, element) in arithmetic { table[op] = { try $0.binary(element, $1) } }
        for (name, element) in comparisons {
            for overload in ["Tensor", "Scalar"] { table["aten.\(name).\(overload)"] = { try $0.compare(element, $1) } }
        }
        for (op, element) in logic {
            table[op] = { try $0.binary(element, $1, kind: { a, b in a == .boolean && b == .boolean ? .boolean : a.promoted(with: b) }) }
        }
        let logicalNot: Handler = { try $0.unary(.logicalNot, $1, kind: .boolean) }
        table["aten.logical_not.default"] = logicalNot
        table["aten.bitwise_not.default"] = logicalNot
        for overload in ["Tensor", "Scalar"] {
            table["aten.add.\(overload)"] = { try $0.addLike($1, subtract: false) }
            table["aten.sub.\(overload)"] = { try $0.addLike($1, subtract: true) }
            table["aten.rsub.\(overload)"] = { try $0.addLike($1, subtract: true, reversed: true) }
            table["aten.div.\(overload)"] = { try $0.divide($1) }
            table["aten.div.\(overload)_mode"] = { try $0.divide($1) }
        }
        for op in ["aten.pow.Tensor_Scalar", "aten.pow.Tensor_Tensor", "aten.pow.Scalar"] { table[op] = { try $0.power($1) } }
        table["aten.where.self"] = { try $0.select($1) }
        table["aten.where.ScalarSelf"] = { try $0.select($1) }
        table["aten.where.ScalarOther"] = { try $0.select($1) }
        table["aten.where.Scalar"] = { try $0.select($1) }
        table["aten.masked_fill.Scalar"] = { try $0.maskedFill($1) }
        table["aten.masked_fill.Tensor"] = { try $0.maskedFill($1) }
        table["aten.clamp.default"] = { try $0.clamp($1) }
        table["aten.clip.default"] = { try $0.clamp($1) }
        table["aten.clamp_min.default"] = { try $0.clamp($1, low: "min", high: "-") }
        table["aten.clamp_max.default"] = { try $0.clamp($1, low: "-", high: "max") }
        table["aten.hardtanh.default"] = { try $0.hardtanh($1) }
        table["aten.gelu.default"] = { try $0.gelu($1) }
        table["aten.leaky_relu.default"] = { c, call in
            try c.unary(.leakyReLU(slope: Float(try call.double("negative_slope", 1, default: 0.01))), call)
        }
        table["aten.elu.default"] = { c, call in try c.unary(.elu(alpha: Float(try call.double("alpha", 1, default: 1))), call) }
        table["aten.softplus.default"] = { c, call in
            try c.unary(.softplus(beta: Float(try call.double("beta", 1, default: 1)), threshold: Float(try call.double("threshold", 2, default: 20))), call)
        }
        for op in ["aten.to.dtype", "aten.to.dtype_layout", "aten._to_copy.default", "aten.type_as.default", "aten.to.device",
                   "aten._to_dtype.default"] {
            table[op] = { try $0.cast($1) }
        }

        // Views and movement.
        for op in ["aten.view.default", "aten.reshape.default", "aten._unsafe_view.default"] { table[op] = { try $0.reshape($1) } }
        table["aten.flatten.using_ints"] = { try $0.flatten($1) }
        table["aten.unflatten.int"] = { try $0.unflatten($1) }
        table["aten.unsqueeze.default"] = { try $0.unsqueeze($1) }
        for op in ["aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze.default"] { table[op] = { try $0.squeeze($1) } }
        table["aten.permute.default"] = { try $0.permute($1) }
        table["aten.transpose.int"] = { try $0.transpose($1) }
        table["aten.t.default"] = { try $0.transpose($1) }
        table["aten.expand.default"] = { try $0.expand($1) }
        table["aten.expand_as.default"] = { try $0.expand($1) }
        table["aten.slice.Tensor"] = { try $0.slice($1) }
        table["aten.narrow.default"] = { try $0.narrow($1) }
        table["aten.select.int"] = { try $0.selectIndex($1) }
        for op in ["aten.split.Tensor", "aten.split_with_sizes.default", "aten.chunk.default", "aten.unbind.int"] { table[op] = { try $0.split($1) } }
        table["aten.cat.default"] = { try $0.concatenate($1) }
        table["aten.concat.default"] = { try $0.concatenate($1) }
        table["aten.stack.default"] = { try $0.concatenate($1) }
        table["aten.constant_pad_nd.default"] = { try $0.pad($1) }
        table["aten.pad.default"] = { try $0.pad($1) }
        table["aten.flip.default"] = { try $0.flip($1) }
        table["aten.repeat.default"] = { try $0.repeatTensor($1) }
        for op in ["aten.full.default", "aten.ones.default", "aten.zeros.default", "aten.empty.memory_format", "aten.new_ones.default",
                   "aten.new_zeros.default", "aten.new_full.default", "aten.new_empty.default", "aten.ones_like.default",
                   "aten.zeros_like.default", "aten.full_like.default", "aten.empty_like.default"] {
            table[op] = { try $0.full($1) }
        }
        for op in ["aten.arange.default", "aten.arange.start", "aten.arange.start_step"] { table[op] = { try $0.arange($1) } }

        // Products, vision, normalisation.
        for op in ["aten.matmul.default", "aten.mm.default", "aten.bmm.default"] { table[op] = { try $0.matmul($1) } }
        table["aten.addmm.default"] = { try $0.addmm($1) }
        table["aten.baddbmm.default"] = { try $0.addmm($1) }
        table["aten.linear.default"] = { try $0.linear($1) }
        for op in ["aten.conv2d.default", "aten.conv1d.default", "aten.conv2d.padding", "aten.conv1d.padding"] {
            table[op] = { try $0.convolution($1) }
        }
        for op in ["aten.conv_transpose2d.input", "aten.conv_transpose1d.default"] { table[op] = { try $0.transposedConvolution($1) } }
        for op in ["aten.max_pool2d.default", "aten.max_pool2d_with_indices.default", "aten.avg_pool2d.default"] {
            table[op] = { try $0.pool($1) }
        }
        table["aten.adaptive_avg_pool2d.default"] = { try $0.adaptivePool($1) }
        table["aten.adaptive_max_pool2d.default"] = { try $0.adaptivePool($1) }
        table["aten.batch_norm.default"] = { try $0.batchNorm($1) }
        table["aten._native_batch_norm_legit_no_training.default"] = { try $0.batchNorm($1) }
        table["aten.layer_norm.default"] = { try $0.layerNorm($1) }
        table["aten.native_layer_norm.default"] = { try $0.layerNorm($1) }
        table["aten.group_norm.default"] = { try $0.groupNorm($1) }
        table["aten.softmax.int"] = { try $0.softmax($1, log: false) }
        table["aten._softmax.default"] = { try $0.softmax($1, log: false) }
        table["aten.log_softmax.int"] = { try $0.softmax($1, log: true) }
        table["aten._log_softmax.default"] = { try $0.softmax($1, log: true) }
        for op in ["aten.upsample_nearest2d.vec", "aten.upsample_nearest2d.default", "aten.upsample_bilinear2d.vec",
                   "aten.upsample_bilinear2d.default"] {
            table[op] = { try $0.upsample($1) }
        }

        // Sequences, indices, reductions.
        table["aten.embedding.default"] = { try $0.embedding($1) }
        table["aten.index_select.default"] = { try $0.indexSelect($1) }
        table["aten.index.Tensor"] = { try $0.index($1) }
        table["aten.gather.default"] = { try $0.gather($1) }
        table["aten.cumsum.default"] = { try $0.cumsum($1) }
        table["aten.scaled_dot_product_attention.default"] = { try $0.attention($1) }
        table["aten.lstm.input"] = { try $0.recurrent($1, cell: .lstm) }
        table["aten.gru.input"] = { try $0.recurrent($1, cell: .gru) }
        let reductions: [String: ReductionOp] = [
            "aten.sum.dim_IntList": .sum, "aten.sum.default": .sum, "aten.mean.dim": .mean, "aten.mean.default": .mean,
            "aten.amax.default": .maximum, "aten.amin.default": .minimum, "aten.max.dim": .maximum, "aten.min.dim": .minimum,
            "aten.max.default": .maximum, "aten.min.default": .minimum, "aten.argmax.default": .argmax, "aten.argmin.default": .argmin,
            "aten.prod.dim_int": .product, "aten.prod.default": .product, "aten.any.dim": .maximum, "aten.any.default": .maximum,
            "aten.all.dim": .minimum, "aten.all.default": .minimum, "aten.any.dims": .maximum,
        ]
        for (op, reduction) in reductions { table[op] = { try $0.reduction(reduction, $1) } }
        for op in ["aten.var.correction", "aten.var.dim"] { table[op] = { try $0.variance($1) } }
        table["aten.linalg_vector_norm.default"] = { try $0.vectorNorm($1) }

        // Sizes: integers known when the plan is built.
        table["aten.sym_size.int"] = { _, call in
            let x = try call.tensor("self", 0)
            return .int(x.shape[try call.axis(try call.int("dim", 1), rank: x.rank)])
        }
        table["aten.sym_numel.default"] = { _, call in .int(try call.tensor("self", 0).count) }
        for prefix in ["_operator.", "operator."] {
            table[prefix + "add"] = { try $0.integers($1) { $0.addingReportingOverflow($1) } }
            table[prefix + "sub"] = { try $0.integers($1) { $0.subtractingReportingOverflow($1) } }
            table[prefix + "mul"] = { try $0.integers($1) { $0.multipliedReportingOverflow(by: $1) } }
            table[prefix + "floordiv"] = { try $0.integers($1) { a, b in
                guard b != 0, !(a == .min && b == -1) else { return (0, true) }
                let q = a / b
                return (q * b != a && (a < 0) != (b < 0) ? q - 1 : q, false)
            } }
            table[prefix + "mod"] = { try $0.integers($1) { a, b in
                guard b != 0, !(a == .min && b == -1) else { return (0, true) }
                let r = a % b
                return (r != 0 && (r < 0) != (b < 0) ? r + b : r, false)
            } }
        }
        return table
    }()

    /// The handler of `op`, and whether it is an in-place variant (`relu_`).
    static func handler(_ op: String) -> (Handler, inPlace: Bool)? {
        if let handler = handlers[op] { return (handler, false) }
        let parts = op.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].hasSuffix("_") else { return nil }
        let functional = "\(parts[0]).\(parts[1].dropLast()).\(parts[2])"
        return handlers[functional].map { ($0, true) }
    }

    /// Whether the compiler can run `op`.
    static func supports(_ op: String) -> Bool { noOps.contains(op) || handler(op) != nil }

    /// The ops of `counts` the compiler cannot run, the most used first.
    static func unsupported(_ counts: [String: Int]) -> [UnsupportedOp] {
        counts.filter { !supports($0.key) }.map { UnsupportedOp(op: $0.key, count: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.op < $1.op }
    }
}

extension GraphCompiler {
    /// A Python int operation on two size values (both known when the plan is built).
    mutating func integers(_ call: GraphCall, _ combine: (Int, Int) -> (Int, Bool)) throws -> CompiledValue {
        let values = call.arguments.map(\.value)
        guard values.count == 2, case .int(let a) = values[0], case .int(let b) = values[1] else {
            throw call.fail("needs two integers")
        }
        let (result, overflow) = combine(a, b)
        guard !overflow else { throw EngineError.arithmeticOverflow(what: "node '\(call.node)'") }
        return .int(result)
    }
}
