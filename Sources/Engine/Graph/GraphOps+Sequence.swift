import Format

/// Ops over sequences and indices: embedding, index selection, gather, running sums,
/// reductions, attention and the recurrent layers.
extension GraphCompiler {
    /// `x` dense and read as [outer, axis, inner] around `axis`.
    private func around(_ x: GraphTensor, _ axis: Int) -> (Int, Int, Int) {
        let shape = x.shape.isEmpty ? [1] : x.shape
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    mutating func embedding(_ call: GraphCall) throws -> CompiledValue {
        let table = try dense(try call.tensor("weight", 0), "node '\(call.node)' table")
        let ids = try dense(try call.tensor("indices", 1), "node '\(call.node)' indices")
        guard table.rank == 2 else { throw call.fail("weight must be 2-d, not \(Tensor.describe(table.shape))") }
        let y = try fresh(ids.shape + [table.shape[1]], table.kind, "node '\(call.node)' output")
        if y.count > 0 {
            try emit(.indexSelect(x: table.buffer, index: ids.buffer, y: y.buffer, outer: 1, axis: table.shape[0], inner: table.shape[1], count: ids.count))
        }
        return .tensor(y)
    }

    /// Rows of `x` along `axis` picked by `index` (any shape, replacing that axis).
    mutating func indexed(_ x: GraphTensor, axis: Int, index: GraphTensor, _ call: GraphCall) throws -> GraphTensor {
        let source = try dense(x, "node '\(call.node)' input")
        let ids = try dense(index, "node '\(call.node)' index")
        guard ids.kind != .boolean else { throw call.fail("boolean-mask indexing (a data-dependent shape) is not supported") }
        let (outer, size, inner) = around(source, axis)
        let shape = Array(x.shape[..<axis]) + ids.shape + Array(x.shape[(axis + 1)...])
        let y = try fresh(shape, x.kind, "node '\(call.node)' output")
        if y.count > 0 {
            try emit(.indexSelect(x: source.buffer, index: ids.buffer, y: y.buffer, outer: outer, axis: size, inner: inner, count: ids.count))
        }
        return y
    }

    mutating func indexSelect(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        return .tensor(try indexed(x, axis: try call.axis(try call.int("dim", 1), rank: x.rank), index: try call.tensor("index", 2), call))
    }

    /// index.Tensor(self, indices): one index tensor (the others None) selects along its axis.
    mutating func index(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        var list: [GraphTensor?]
        switch call.value("indices", 1) {
        case .tensors(let items): list = items
        case .tensor(let t): list = [t]
        default: throw call.fail("indices must be a list")
        }
        let given = list.enumerated().filter { $0.element != nil }
        if given.count == 1, let index = given[0].element {
            return .tensor(try indexed(x, axis: given[0].offset, index: index, call))
        }
        // Index tensors for the leading axes 0..<k: they broadcast together, and the position
        // in those axes read as one is Σ index_i · (size of the axes after i), then one selection.
        let k = given.count
        guard k > 1, k <= x.rank, given.map(\.offset) == Array(0 ..< k) else {
            throw call.fail("indexing with index tensors on axes \(given.map(\.offset)) is not supported (one axis, or the leading axes)")
        }
        let indices = given.compactMap(\.element)
        guard indices.allSatisfy({ $0.kind != .boolean }) else { throw call.fail("boolean-mask indexing (a data-dependent shape) is not supported") }
        var flat = indices[k - 1]
        var step = x.shape[k - 1]
        for i in stride(from: k - 2, through: 0, by: -1) {
            let scaled = try elementwise(.multiply, [indices[i], try scalar(Float(step), kind: .integer)], kind: .integer, call)
            flat = try elementwise(.add(alpha: 1), [scaled, flat], kind: .integer, call)
            step = try PlanArithmetic.multiply(step, x.shape[i], "node '\(call.node)' index")
        }
        let merged = try reshaped(x, [step] + Array(x.shape[k...]), call)
        return .tensor(try indexed(merged, axis: 0, index: flat, call))
    }

    /// gather(self, dim, index): y[..., j, ...] = x[..., index[..., j, ...], ...]
    mutating func gather(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let index = try dense(try call.tensor("index", 2), "node '\(call.node)' index")
        let axis = try call.axis(try call.int("dim", 1), rank: x.rank)
        guard index.rank == x.rank, (0 ..< x.rank).allSatisfy({ $0 == axis || index.shape[$0] <= x.shape[$0] }) else {
            throw call.fail("index \(Tensor.describe(index.shape)) does not fit input \(Tensor.describe(x.shape))")
        }
        // The input cut to the index's extent on every other axis, then made dense.
        var shape = index.shape
        shape[axis] = x.shape[axis]
        let source = try dense(x.viewed(shape, x.strides), "node '\(call.node)' input")
        let (outer, size, inner) = around(source, axis)
        let y = try fresh(index.shape, x.kind, "node '\(call.node)' output")
        if y.count > 0 {
            try emit(.gather(x: source.buffer, index: index.buffer, y: y.buffer, outer: outer, axis: size, inner: inner, count: index.shape[axis]))
        }
        return .tensor(y)
    }

    mutating func cumsum(_ call: GraphCall) throws -> CompiledValue {
        let x = try dense(try call.tensor("self", 0), "node '\(call.node)' input")
        let axis = try call.axis(try call.int("dim", 1), rank: x.rank)
        let (outer, size, inner) = around(x, axis)
        let y = try fresh(x.shape, x.kind == .boolean ? .integer : x.kind, "node '\(call.node)' output")
        if y.count > 0 { try emit(.cumsum(x: x.buffer, y: y.buffer, outer: outer, axis: size, inner: inner)) }
        return .tensor(y)
    }

    /// sum / mean / amax / amin / max.dim / argmax / var / prod / any / all over some axes.
    mutating func reduction(_ op: ReductionOp, _ call: GraphCall, keepAxisAt keepPosition: Int? = nil, input: GraphTensor? = nil) throws -> CompiledValue {
        var x = try input ?? call.tensor("self", 0)
        if call.op.hasPrefix("aten.any") || call.op.hasPrefix("aten.all") {
            x = try elementwise(.isNonZero, [x], kind: .boolean, call)
        }
        let rank = x.rank
        var axes: [Int]
        switch call.value("dim", 1) {
        case .ints(let list): axes = try list.map { try call.axis($0, rank: rank) }
        case .int(let one): axes = [try call.axis(one, rank: rank)]
        default: axes = []
        }
        if axes.isEmpty { axes = Array(0 ..< rank) }
        axes = Array(Set(axes)).sorted()
        let keep = try call.bool("keepdim", keepPosition ?? (call.op.hasPrefix("aten.var") ? 3 : 2), default: false)
        let kept = (0 ..< rank).filter { !axes.contains($0) }
        // The reduced axes last and dense: [kept..., reduced...] read as [outer, reduced, 1].
        let order = kept + axes
        var source = x.viewed(order.map { x.shape[$0] }, order.map { x.strides[$0] })
        source = try dense(source, "node '\(call.node)' input")
        let outer = kept.map { x.shape[$0] }.reduce(1, *)
        let size = axes.map { x.shape[$0] }.reduce(1, *)
        let kind: ElementKind
        switch op {
        case .argmax, .argmin: kind = .integer
        case .mean, .variance, .norm: kind = .float
        case .sum, .product: kind = x.kind == .boolean ? .integer : x.kind
        default: kind = x.kind
        }
        let shape = keep ? (0 ..< rank).map { axes.contains($0) ? 1 : x.shape[$0] } : kept.map { x.shape[$0] }
        let y = try fresh(shape, kind, "node '\(call.node)' output")
        if size == 0 {
            guard op == .sum || op == .product else { throw call.fail("reducing an empty axis") }
            try emit(.fill(y: y.buffer, value: op == .sum ? 0 : 1, count: y.count))
        } else if y.count > 0 {
            try emit(.reduce(op, x: source.buffer, y: y.buffer, outer: outer, axis: size, inner: 1))
        }
        if call.op == "aten.max.dim" || call.op == "aten.min.dim" {
            let indices = try fresh(shape, .integer, "node '\(call.node)' indices")
            try emit(.reduce(op == .maximum ? .argmax : .argmin, x: source.buffer, y: indices.buffer, outer: outer, axis: size, inner: 1))
            return .tensors([y, indices])
        }
        return .tensor(y)
    }

    /// linalg_vector_norm(self, ord=2, dim=None, keepdim=False, dtype=None)
    mutating func vectorNorm(_ call: GraphCall) throws -> CompiledValue {
        let order = try call.double("ord", 1, default: 2)
        guard order > 0 else { throw call.fail("norm order \(order) is not supported (positive orders and inf are)") }
        let x = try call.tensor("self", 0)
        var arguments = call.arguments.filter { $0.name != "ord" }
        if !arguments.contains(where: { $0.name == "dim" }) { arguments.append(("dim", .absent)) }
        return try reduction(.norm(order: order), GraphCall(node: call.node, op: call.op, arguments: arguments), keepAxisAt: 3, input: x)
    }

    mutating func variance(_ call: GraphCall) throws -> CompiledValue {
        let correction: Int
        if call.op == "aten.var.correction" {
            correction = Int(try call.double("correction", 2, default: 1))
        } else {
            correction = try call.bool("unbiased", 2, default: true) ? 1 : 0
        }
        return try reduction(.variance(correction: correction), call)
    }

    /// scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa): one kernel.
    mutating func attention(_ call: GraphCall) throws -> CompiledValue {
        let q = try dense(try call.tensor("query", 0), "node '\(call.node)' query")
        let k = try dense(try call.tensor("key", 1), "node '\(call.node)' key")
        let v = try dense(try call.tensor("value", 2), "node '\(call.node)' value")
        guard q.rank >= 2, k.rank == q.rank, v.rank == q.rank else { throw call.fail("query, key and value must have the same rank (2 or more)") }
        let lead = Array(q.shape.dropLast(2))
        guard Array(k.shape.dropLast(2)) == lead, Array(v.shape.dropLast(2)) == lead else {
            throw call.fail("query \(Tensor.describe(q.shape)), key \(Tensor.describe(k.shape)) and value \(Tensor.describe(v.shape)) must share leading axes")
        }
        let (queries, depth) = (q.shape[q.rank - 2], q.shape[q.rank - 1])
        let (keys, valueDepth) = (k.shape[k.rank - 2], v.shape[v.rank - 1])
        guard k.shape[k.rank - 1] == depth, v.shape[v.rank - 2] == keys else { throw call.fail("key and value do not fit the query") }
        let heads = lead.last ?? 1
        let samples = lead.dropLast().reduce(1, *)
        var mask: StridedOperand? = nil
        var booleanMask = false
        if let m = try call.optionalTensor("attn_mask", 3) {
            let full = lead + [queries, keys]
            guard var strides = m.broadcastStrides(to: full) else {
                throw call.fail("mask \(Tensor.describe(m.shape)) does not broadcast to \(Tensor.describe(full))")
            }
            var view = m.viewed(full, strides)
            // (sample, head, query, key): the sample axes must merge into one, else the mask is copied dense.
            let sampleAxes = Swift.max(lead.count - 1, 0)
            let merges = (0 ..< Swift.max(sampleAxes - 1, 0)).allSatisfy { a in view.shape[a] == 1 || view.strides[a] == view.strides[a + 1] * view.shape[a + 1] }
            if !merges { view = try dense(view, "node '\(call.node)' mask"); strides = view.strides }
            let sampleStride = sampleAxes == 0 ? 0 : view.strides[sampleAxes - 1]
            let headStride = lead.isEmpty ? 0 : view.strides[lead.count - 1]
            mask = StridedOperand(buffer: view.buffer, offset: view.offset,
                                  strides: [sampleStride, headStride, view.strides[full.count - 2], view.strides[full.count - 1]])
            booleanMask = m.kind == .boolean
        }
        if try call.double("dropout_p", 4, default: 0) != 0 { /* inference: dropout is identity */ }
        guard !(try call.bool("enable_gqa", 7, default: false)) else { throw call.fail("grouped-query attention is not supported") }
        let scale = try call.optionalDouble("scale", 6) ?? 1 / Double(depth).squareRoot()
        let geometry = AttentionGeometry(batch: samples * heads, heads: heads, queries: queries, keys: keys, depth: depth, valueDepth: valueDepth,
                                         scale: Float(scale), causal: try call.bool("is_causal", 5, default: false), booleanMask: booleanMask)
        needScratch(try PlanArithmetic.multiply(queries, keys, "node '\(call.node)' scores"))
        let y = try fresh(lead + [queries, valueDepth], .float, "node '\(call.node)' output")
        if y.count > 0 { try emit(.attention(q: q.buffer, k: k.buffer, v: v.buffer, mask: mask, y: y.buffer, geometry: geometry)) }
        return .tensor(y)
    }

    /// lstm.input(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    /// and gru.input(...) with `hx` one tensor: one kernel for the whole stack.
    mutating func recurrent(_ call: GraphCall, cell: RecurrentGeometry.Cell) throws -> CompiledValue {
        var x = try call.tensor("input", 0)
        let hx: [GraphTensor] = cell == .lstm ? try call.tensorList("hx", 1).compactMap { $0 } : [try call.tensor("hx", 1)]
        let params = try call.tensorList("params", 2).compactMap { $0 }
        let biases = try call.bool("has_biases", 3, default: true)
        let layers = try call.int("num_layers", 4)
        let bidirectional = try call.bool("bidirectional", 7, default: false)
        let batchFirst = try call.bool("batch_first", 8, default: false)
        let directions = bidirectional ? 2 : 1
        guard hx.count == (cell == .lstm ? 2 : 1) else { throw call.fail("hx must hold \(cell == .lstm ? 2 : 1) tensors") }
        guard layers > 0, params.count == layers * directions * (biases ? 4 : 2) else {
            throw call.fail("\(params.count) weights for \(layers) layers of \(directions) directions (projections are not supported)")
        }
        let unbatched = x.rank == 2
        if unbatched { x = x.viewed([x.shape[0], 1, x.shape[1]], [x.strides[0], 0, x.strides[1]]) }
        guard x.rank == 3 else { throw call.fail("input must be 2-d or 3-d, not \(Tensor.describe(x.shape))") }
        if batchFirst && !unbatched { x = x.viewed([x.shape[1], x.shape[0], x.shape[2]], [x.strides[1], x.strides[0], x.strides[2]]) }
        x = try dense(x, "node '\(call.node)' input")
        let (steps, batch, inputSize) = (x.shape[0], x.shape[1], x.shape[2])
        let gates = cell == .lstm ? 4 : 3
        let hidden = params[1].shape.last ?? 0
        var weights: [RecurrentWeights] = []
        let per = biases ? 4 : 2
        for index in 0 ..< layers * directions {
            let group = Array(params[(index * per) ..< ((index + 1) * per)])
            let layerInput = index < directions ? inputSize : directions * hidden
            guard group[0].shape == [gates * hidden, layerInput], group[1].shape == [gates * hidden, hidden],
                  !biases || (group[2].shape == [gates * hidden] && group[3].shape == [gates * hidden]) else {
                throw call.fail("weights of layer \(index / directions) do not fit input \(layerInput) and hidden \(hidden)")
            }
            let dense = try group.map { try self.dense($0, "node '\(call.node)' weights") }
            weights.append(RecurrentWeights(inputWeights: dense[0].buffer, hiddenWeights: dense[1].buffer,
                                            inputBias: biases ? dense[2].buffer : nil, hiddenBias: biases ? dense[3].buffer : nil))
        }
        let stateShape = [layers * directions, batch, hidden]
        let states = try hx.map { h -> GraphTensor in
            guard h.count == stateShape.reduce(1, *) else { throw call.fail("state \(Tensor.describe(h.shape)) does not fit \(Tensor.describe(stateShape))") }
            return try dense(h, "node '\(call.node)' state")
        }
        let output = try fresh([steps, batch, directions * hidden], .float, "node '\(call.node)' output")
        let hn = try fresh(stateShape, .float, "node '\(call.node)' hidden state")
        let cn = cell == .lstm ? try fresh(stateShape, .float, "node '\(call.node)' cell state") : nil
        let geometry = RecurrentGeometry(cell: cell, steps: steps, batch: batch, inputSize: inputSize, hiddenSize: hidden, layers: layers,
                                         bidirectional: bidirectional)
        let what = "node '\(call.node)' scratch"
        needScratch(try PlanArithmetic.elementCount([steps, batch, gates * hidden], of: what), area: 0)
        needScratch(try PlanArithmetic.elementCount([batch, gates * hidden], of: what), area: 1)
        needScratch(try PlanArithmetic.elementCount([steps, batch, directions * hidden], of: what), area: 2)
        needScratch(try PlanArithmetic.elementCount([steps, batch, directions * hidden], of: what), area: 3)
        if output.count > 0 {
            try emit(.recurrent(x: x.buffer, weights: weights, h0: states[0].buffer, c0: states.count > 1 ? states[1].buffer : nil,
                                output: output.buffer, hn: hn.buffer, cn: cn?.buffer, geometry: geometry))
        }
        var result = output
        if unbatched {
            result = output.viewed([steps, directions * hidden], [directions * hidden, 1])
        } else if batchFirst {
            result = output.viewed([batch, steps, directions * hidden], [directions * hidden, batch * directions * hidden, 1])
        }
        let states2 = unbatched ? [hn, cn].map { $0.map { $0.viewed([layers * directions, hidden], [hidden, 1]) } } : [hn, cn]
        return .tensors([result] + states2.prefix(cell == .lstm ? 2 : 1).map { $0 })
    }
}
