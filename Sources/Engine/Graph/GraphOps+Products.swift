import Format

/// Matrix products: matmul, mm, bmm, addmm, baddbmm, linear, all on the one batched-product kernel.
extension GraphCompiler {
    /// Whether BLAS can read the last two axes of `t` as they are (one of their strides is 1).
    private func readable(_ t: GraphTensor) -> Bool {
        let rows = t.shape[t.rank - 2], columns = t.shape[t.rank - 1]
        let rs = t.strides[t.rank - 2], cs = t.strides[t.rank - 1]
        if (cs == 1 || columns == 1) && (rs >= columns || rows == 1) && (rows == 1 || rs >= 1) { return true }
        return (rs == 1 || rows == 1) && (cs >= rows || columns == 1) && (columns == 1 || cs >= 1)
    }

    /// beta · bias + alpha · (a · b) with PyTorch's matmul rules: a 1-d operand gains an axis
    /// that the result loses, leading axes broadcast.
    mutating func product(_ a: GraphTensor, _ b: GraphTensor, bias: GraphTensor? = nil, alpha: Float = 1, beta: Float = 1,
                          _ call: GraphCall) throws -> GraphTensor {
        guard a.rank >= 1, b.rank >= 1 else { throw call.fail("matmul needs tensors of one or more axes") }
        // [..., m, k] · [k, n] with the leading axes laid out as rows: one product of all the rows.
        if a.rank > 2, b.rank == 2, (0 ..< a.rank - 2).allSatisfy({ axis in
            a.shape[axis] == 1 || a.strides[axis] == a.strides[a.rank - 2] * a.shape[(axis + 1) ..< (a.rank - 1)].reduce(1, *)
        }) {
            let rows = a.shape.dropLast().reduce(1, *)
            let flat = a.viewed([rows, a.shape[a.rank - 1]], [a.strides[a.rank - 2], a.strides[a.rank - 1]])
            let y = try product(flat, b, bias: bias, alpha: alpha, beta: beta, call)
            let shape = Array(a.shape.dropLast()) + [b.shape[1]]
            return y.viewed(shape, GraphTensor.denseStrides(shape))
        }
        var x = a.rank == 1 ? a.viewed([1] + a.shape, [0] + a.strides) : a
        var w = b.rank == 1 ? b.viewed(b.shape + [1], b.strides + [0]) : b
        let m = x.shape[x.rank - 2], k = x.shape[x.rank - 1], n = w.shape[w.rank - 1]
        guard w.shape[w.rank - 2] == k else {
            throw call.fail("shapes \(Tensor.describe(a.shape)) and \(Tensor.describe(b.shape)) cannot be multiplied")
        }
        let batch = try broadcastShape([Array(x.shape.dropLast(2)), Array(w.shape.dropLast(2))], call)
        if !readable(x) { x = try dense(x, "node '\(call.node)' operand") }
        if !readable(w) { w = try dense(w, "node '\(call.node)' operand") }
        func operand(_ t: GraphTensor, _ rows: Int, _ columns: Int) -> StridedOperand {
            let lead = t.viewed(Array(t.shape.dropLast(2)), Array(t.strides.dropLast(2))).broadcastStrides(to: batch)!
            return StridedOperand(buffer: t.buffer, offset: t.offset, strides: lead + Array(t.strides.suffix(2)))
        }
        let shape = batch + [m, n]
        let y = try fresh(shape, x.kind.promoted(with: w.kind), "node '\(call.node)' output")
        if let bias {
            guard let strides = bias.broadcastStrides(to: shape) else {
                throw call.fail("bias \(Tensor.describe(bias.shape)) does not broadcast to \(Tensor.describe(shape))")
            }
            try emit(.map(beta == 1 ? .identity : .scaled(beta), operands: [StridedOperand(buffer: bias.buffer, offset: bias.offset, strides: strides)],
                          y: y.operand, shape: shape))
        }
        if y.count > 0 {
            if k == 0 {
                if bias == nil { try emit(.fill(y: y.buffer, value: 0, count: y.count)) }
            } else {
                try emit(.matmul(a: operand(x, m, k), b: operand(w, k, n), y: y.buffer, batchShape: batch, m: m, n: n, k: k,
                                 alpha: alpha, accumulate: bias != nil))
            }
        }
        var resultShape = batch
        if a.rank > 1 { resultShape.append(m) }
        if b.rank > 1 { resultShape.append(n) }
        return y.viewed(resultShape, GraphTensor.denseStrides(resultShape))
    }

    mutating func matmul(_ call: GraphCall) throws -> CompiledValue {
        .tensor(try product(try call.tensor("self", 0), try call.tensor(call.has("mat2") ? "mat2" : "other", 1), call))
    }

    /// addmm / baddbmm(self, a, b, beta, alpha) = beta · self + alpha · a · b
    mutating func addmm(_ call: GraphCall) throws -> CompiledValue {
        let first = call.has("mat1") ? "mat1" : "batch1", second = call.has("mat2") ? "mat2" : "batch2"
        return .tensor(try product(try call.tensor(first, 1), try call.tensor(second, 2), bias: try call.tensor("self", 0),
                                   alpha: Float(try call.double("alpha", 4, default: 1)), beta: Float(try call.double("beta", 3, default: 1)), call))
    }

    /// linear(input, weight [out, in], bias): the weight read transposed through its strides, no copy.
    mutating func linear(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("input", 0)
        let weight = try call.tensor("weight", 1)
        guard weight.rank == 2 else { throw call.fail("weight must be 2-d, not \(Tensor.describe(weight.shape))") }
        let transposed = weight.viewed([weight.shape[1], weight.shape[0]], [weight.strides[1], weight.strides[0]])
        return .tensor(try product(x, transposed, bias: try call.optionalTensor("bias", 2), call))
    }
}
