import Format

/// Views and data movement: reshapes, permutes, slices, expands (strides only), and the
/// ops that copy (cat, stack, pad, flip, repeat), plus tensors made from sizes (arange, full).
extension GraphCompiler {
    /// `shape` with one -1 replaced so that it holds `count` elements, checked.
    func resolveShape(_ shape: [Int], count: Int, _ call: GraphCall) throws -> [Int] {
        var result = shape
        let unknown = shape.indices.filter { shape[$0] == -1 }
        guard unknown.count <= 1, shape.allSatisfy({ $0 >= -1 }) else { throw call.fail("shape \(Tensor.describe(shape)) is invalid") }
        var known = 1
        for (axis, size) in shape.enumerated() where axis != unknown.first {
            let (p, o) = known.multipliedReportingOverflow(by: size)
            guard !o else { throw EngineError.arithmeticOverflow(what: "node '\(call.node)' shape") }
            known = p
        }
        if let axis = unknown.first {
            guard known > 0, count % known == 0 else { throw call.fail("cannot view \(count) elements as \(Tensor.describe(shape))") }
            result[axis] = count / known
        } else if known != count {
            throw call.fail("cannot view \(count) elements as \(Tensor.describe(shape))")
        }
        return result
    }

    /// `x` with another shape of the same elements: a view when dense, else a dense copy first.
    mutating func reshaped(_ x: GraphTensor, _ shape: [Int], _ call: GraphCall) throws -> GraphTensor {
        let target = try resolveShape(shape, count: x.count, call)
        let source = x.isContiguous ? x : try dense(x, "node '\(call.node)' output")
        return source.viewed(target, GraphTensor.denseStrides(target))
    }

    mutating func reshape(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let shape = try call.value("size", 1) != nil ? call.ints("size", 1) : call.ints("shape", 1)
        return .tensor(try reshaped(x, shape, call))
    }

    mutating func flatten(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        guard x.rank > 0 else { return .tensor(try reshaped(x, [1], call)) }
        let start = try call.axis(try call.int("start_dim", 1, default: 0), rank: x.rank)
        let end = try call.axis(try call.int("end_dim", 2, default: -1), rank: x.rank)
        guard start <= end else { throw call.fail("start_dim \(start) is after end_dim \(end)") }
        let shape = Array(x.shape[..<start]) + [x.shape[start ... end].reduce(1, *)] + Array(x.shape[(end + 1)...])
        return .tensor(try reshaped(x, shape, call))
    }

    mutating func unflatten(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let axis = try call.axis(try call.int("dim", 1), rank: x.rank)
        let sizes = try resolveShape(try call.ints("sizes", 2), count: x.shape[axis], call)
        return .tensor(try reshaped(x, Array(x.shape[..<axis]) + sizes + Array(x.shape[(axis + 1)...]), call))
    }

    mutating func unsqueeze(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let raw = try call.int("dim", 1)
        let axis = raw < 0 ? raw + x.rank + 1 : raw
        guard axis >= 0, axis <= x.rank else { throw call.fail("dim \(raw) is out of range") }
        var shape = x.shape, strides = x.strides
        shape.insert(1, at: axis)
        strides.insert(axis < x.rank ? x.strides[axis] * x.shape[axis] : 1, at: axis)
        return .tensor(x.viewed(shape, strides))
    }

    mutating func squeeze(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        var axes: Set<Int>
        if call.has("dim", 1) || call.has("dims") {
            let raw = try call.value("dims") != nil ? call.ints("dims") : call.ints("dim", 1)
            axes = Set(try raw.map { try call.axis($0, rank: x.rank) })
        } else {
            axes = Set(x.shape.indices)
        }
        let keep = x.shape.indices.filter { !(axes.contains($0) && x.shape[$0] == 1) }
        return .tensor(x.viewed(keep.map { x.shape[$0] }, keep.map { x.strides[$0] }))
    }

    mutating func permute(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let order = try call.ints("dims", 1).map { try call.axis($0, rank: x.rank) }
        guard order.count == x.rank, Set(order).count == x.rank else { throw call.fail("dims \(order) are not a permutation") }
        return .tensor(x.viewed(order.map { x.shape[$0] }, order.map { x.strides[$0] }))
    }

    mutating func transpose(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        guard x.rank >= 2 || call.op != "aten.t.default" else { return .tensor(x) }
        let a = call.op == "aten.t.default" ? 0 : try call.axis(try call.int("dim0", 1), rank: x.rank)
        let b = call.op == "aten.t.default" ? 1 : try call.axis(try call.int("dim1", 2), rank: x.rank)
        var shape = x.shape, strides = x.strides
        shape.swapAt(a, b)
        strides.swapAt(a, b)
        return .tensor(x.viewed(shape, strides))
    }

    mutating func expand(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        var sizes = call.op == "aten.expand_as.default" ? try call.tensor("other", 1).shape : try call.ints("size", 1)
        guard sizes.count >= x.rank else { throw call.fail("cannot expand \(Tensor.describe(x.shape)) to \(sizes.count) axes") }
        let lead = sizes.count - x.rank
        for axis in 0 ..< x.rank where sizes[lead + axis] == -1 { sizes[lead + axis] = x.shape[axis] }
        guard sizes.allSatisfy({ $0 >= 0 }), let strides = x.broadcastStrides(to: sizes) else {
            throw call.fail("cannot expand \(Tensor.describe(x.shape)) to \(Tensor.describe(sizes))")
        }
        return .tensor(x.viewed(sizes, strides))
    }

    /// Python slice bounds clamped to an axis of `size`.
    func sliceBounds(_ start: Int?, _ end: Int?, size: Int) -> (Int, Int) {
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + size : v, 0), size) }
        let low = clamp(start ?? 0)
        return (low, Swift.max(low, clamp(end ?? size)))
    }

    mutating func slice(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let axis = try call.axis(try call.int("dim", 1, default: 0), rank: x.rank)
        let step = try call.int("step", 4, default: 1)
        guard step > 0 else { throw call.fail("step \(step) is not positive") }
        let (low, high) = sliceBounds(try call.optionalInt("start", 2), try call.optionalInt("end", 3), size: x.shape[axis])
        var shape = x.shape, strides = x.strides
        shape[axis] = (high - low + step - 1) / step
        strides[axis] = x.strides[axis] * step
        return .tensor(x.viewed(shape, strides, offset: x.offset + low * x.strides[axis]))
    }

    mutating func narrow(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let axis = try call.axis(try call.int("dim", 1), rank: x.rank)
        let start = try call.int("start", 2), length = try call.int("length", 3)
        let low = start < 0 ? start + x.shape[axis] : start
        guard low >= 0, length >= 0, low + length <= x.shape[axis] else { throw call.fail("narrow out of range") }
        var shape = x.shape
        shape[axis] = length
        return .tensor(x.viewed(shape, x.strides, offset: x.offset + low * x.strides[axis]))
    }

    mutating func selectIndex(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let axis = try call.axis(try call.int("dim", 1), rank: x.rank)
        let raw = try call.int("index", 2)
        let index = raw < 0 ? raw + x.shape[axis] : raw
        guard index >= 0, index < x.shape[axis] else { throw call.fail("index \(raw) is out of range for size \(x.shape[axis])") }
        var shape = x.shape, strides = x.strides
        shape.remove(at: axis)
        strides.remove(at: axis)
        return .tensor(x.viewed(shape, strides, offset: x.offset + index * x.strides[axis]))
    }

    /// Views of consecutive pieces along an axis.
    func pieces(_ x: GraphTensor, axis: Int, sizes: [Int]) -> [GraphTensor?] {
        var start = 0
        return sizes.map { size in
            var shape = x.shape
            shape[axis] = size
            defer { start += size }
            return x.viewed(shape, x.strides, offset: x.offset + start * x.strides[axis])
        }
    }

    mutating func split(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let axis = try call.axis(try call.int("dim", 2, default: 0), rank: x.rank)
        let size = x.shape[axis]
        var sizes: [Int]
        switch call.op {
        case "aten.split_with_sizes.default":
            sizes = try call.ints("split_sizes", 1)
        case "aten.chunk.default":
            let chunks = try call.int("chunks", 1)
            guard chunks > 0 else { throw call.fail("chunks must be positive") }
            let each = (size + chunks - 1) / chunks
            sizes = each == 0 ? [0] : stride(from: 0, to: size, by: each).map { Swift.min(each, size - $0) }
        case "aten.unbind.int":
            let unbindAxis = try call.axis(try call.int("dim", 1, default: 0), rank: x.rank)
            return .tensors(pieces(x, axis: unbindAxis, sizes: [Int](repeating: 1, count: x.shape[unbindAxis])).map { piece in
                piece.map { p in p.viewed(p.shape.enumerated().filter { $0.offset != unbindAxis }.map(\.element),
                                          p.strides.enumerated().filter { $0.offset != unbindAxis }.map(\.element)) }
            })
        default:
            let each = try call.int("split_size", 1)
            guard each > 0 else { throw call.fail("split_size must be positive") }
            sizes = stride(from: 0, to: Swift.max(size, 1), by: each).map { Swift.min(each, size - $0) }
        }
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == size else { throw call.fail("split sizes \(sizes) do not add up to \(size)") }
        return .tensors(pieces(x, axis: axis, sizes: sizes))
    }

    /// cat: each part copied into its slice of the result (one strided map per part).
    mutating func concatenate(_ call: GraphCall) throws -> CompiledValue {
        var parts = try call.tensorList("tensors", 0).compactMap { $0 }
        if call.op == "aten.stack.default" {
            let raw = try call.int("dim", 1, default: 0)
            parts = try parts.map { part in
                let axis = raw < 0 ? raw + part.rank + 1 : raw
                guard axis >= 0, axis <= part.rank else { throw call.fail("dim \(raw) is out of range") }
                var shape = part.shape, strides = part.strides
                shape.insert(1, at: axis)
                strides.insert(0, at: axis)
                return part.viewed(shape, strides)
            }
        }
        // PyTorch skips 1-d empty tensors in cat.
        parts = parts.filter { !($0.shape == [0]) }
        guard let first = parts.first else { throw call.fail("no tensors to concatenate") }
        let axis = try call.axis(try call.int("dim", 1, default: 0), rank: first.rank)
        var shape = first.shape
        shape[axis] = 0
        for part in parts {
            guard part.rank == first.rank, part.shape.indices.allSatisfy({ $0 == axis || part.shape[$0] == first.shape[$0] }) else {
                throw call.fail("cannot concatenate \(Tensor.describe(first.shape)) and \(Tensor.describe(part.shape)) along dim \(axis)")
            }
            shape[axis] = try PlanArithmetic.add(shape[axis], part.shape[axis], "node '\(call.node)' output")
        }
        let kind = parts.dropFirst().reduce(first.kind) { $0.promoted(with: $1.kind) }
        let y = try fresh(shape, kind, "node '\(call.node)' output")
        var start = 0
        for part in parts where part.count > 0 {
            var target = y.viewed(part.shape, y.strides, offset: start * y.strides[axis])
            target.shape = part.shape
            try emit(.map(.identity, operands: [part.operand], y: target.operand, shape: part.shape))
            start += part.shape[axis]
        }
        return .tensor(y)
    }

    /// constant_pad_nd / pad(mode='constant'): a filled result with the input copied into its
    /// interior; negative padding crops.
    mutating func pad(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let padding = try call.ints("pad", 1)
        if let mode = call.string("mode"), mode != "constant" { throw call.fail("padding mode '\(mode)' is not supported") }
        let value = Float(try call.double("value", call.op == "aten.pad.default" ? 3 : 2, default: 0))
        guard padding.count % 2 == 0, padding.count / 2 <= x.rank else { throw call.fail("pad \(padding) does not fit \(x.rank) axes") }
        var shape = x.shape
        var source = x
        var targetOffset = 0
        var interior = x.shape
        let strides = GraphTensor.denseStrides(try padded(x.shape, padding, call))
        for pair in 0 ..< padding.count / 2 {
            let axis = x.rank - 1 - pair
            let before = padding[2 * pair], after = padding[2 * pair + 1]
            shape[axis] = x.shape[axis] + before + after
            // A negative amount crops the source; a positive one moves the target.
            let cropLow = Swift.max(-before, 0), cropHigh = Swift.max(-after, 0)
            interior[axis] = x.shape[axis] - cropLow - cropHigh
            guard interior[axis] >= 0 else { throw call.fail("pad \(padding) crops more than the input") }
            source.offset += cropLow * x.strides[axis]
            targetOffset += Swift.max(before, 0) * strides[axis]
        }
        source.shape = interior
        let y = try fresh(shape, x.kind, "node '\(call.node)' output")
        try emit(.fill(y: y.buffer, value: value, count: y.count))
        if !interior.contains(0) {
            try emit(.map(.identity, operands: [source.operand], y: StridedOperand(buffer: y.buffer, offset: targetOffset, strides: strides),
                          shape: interior))
        }
        return .tensor(y)
    }

    private func padded(_ shape: [Int], _ padding: [Int], _ call: GraphCall) throws -> [Int] {
        var result = shape
        for pair in 0 ..< padding.count / 2 {
            let axis = shape.count - 1 - pair
            result[axis] = shape[axis] + padding[2 * pair] + padding[2 * pair + 1]
            guard result[axis] >= 0 else { throw call.fail("pad \(padding) leaves a negative size") }
        }
        return result
    }

    /// flip: a view with negative strides is not expressible as an offset of the buffer
    /// start for every kernel, so the flip is copied.
    mutating func flip(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        var view = x
        for raw in try call.ints("dims", 1) {
            let axis = try call.axis(raw, rank: x.rank)
            view.offset += (x.shape[axis] - 1) * view.strides[axis]
            view.strides[axis] = -view.strides[axis]
        }
        return .tensor(try copy(view, pinned: false, "node '\(call.node)' output"))
    }

    /// repeat: the input expanded over new leading size-1 axes, copied once.
    mutating func repeatTensor(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let repeats = try call.ints("repeats", 1)
        guard repeats.count >= x.rank, repeats.allSatisfy({ $0 >= 0 }) else { throw call.fail("repeats \(repeats) do not fit the input") }
        let lead = repeats.count - x.rank
        let shape = [Int](repeating: 1, count: lead) + x.shape
        let strides = [Int](repeating: 0, count: lead) + x.strides
        // [r0, s0, r1, s1, ...] with stride 0 on every repeat axis, then reshaped.
        var viewShape: [Int] = [], viewStrides: [Int] = []
        for axis in 0 ..< repeats.count {
            viewShape += [repeats[axis], shape[axis]]
            viewStrides += [0, strides[axis]]
        }
        let copied = try copy(x.viewed(viewShape, viewStrides), pinned: false, "node '\(call.node)' output")
        return .tensor(copied.viewed(zip(repeats, shape).map(*), GraphTensor.denseStrides(zip(repeats, shape).map(*))))
    }

    // MARK: Tensors made from sizes

    mutating func filled(_ shape: [Int], value: Float, kind: ElementKind, _ call: GraphCall) throws -> GraphTensor {
        let y = try fresh(shape, kind, "node '\(call.node)' output")
        try emit(.fill(y: y.buffer, value: value, count: y.count))
        return y
    }

    func creationKind(_ call: GraphCall, default fallback: ElementKind) -> ElementKind {
        if case .dtype(let kind) = call.value("dtype") { return kind }
        return fallback
    }

    mutating func full(_ call: GraphCall) throws -> CompiledValue {
        let like = call.op.contains("_like") || call.op.contains("new_")
        let source = like ? try call.tensor("self", 0) : nil
        var shape: [Int]
        if call.op.contains("_like") { shape = source!.shape } else { shape = try call.ints("size", like ? 1 : 0) }
        let value: Float
        switch call.op {
        case let op where op.contains("ones"): value = 1
        case let op where op.contains("zeros") || op.contains("empty"): value = 0
        default: value = Float(try call.double("fill_value", call.op.contains("_like") || call.op.contains("new_") ? 2 : 1))
        }
        if shape.isEmpty { shape = [] }
        var fallback = source?.kind ?? .float
        if !like, case .int = call.value("fill_value", 1) { fallback = .integer }
        if !like, case .bool = call.value("fill_value", 1) { fallback = .boolean }
        return .tensor(try filled(shape, value: value, kind: creationKind(call, default: fallback), call))
    }

    /// arange(start, end, step), computed when the plan is built (its sizes are known then).
    mutating func arange(_ call: GraphCall) throws -> CompiledValue {
        let start: Double, end: Double, step: Double
        switch call.op {
        case "aten.arange.default": (start, end, step) = (0, try call.double("end", 0), 1)
        case "aten.arange.start": (start, end, step) = (try call.double("start", 0), try call.double("end", 1), 1)
        default: (start, end, step) = (try call.double("start", 0), try call.double("end", 1), try call.double("step", 2, default: 1))
        }
        guard step != 0 else { throw call.fail("step is zero") }
        let length = Swift.max(0, ((end - start) / step).rounded(.up))
        guard length <= Double(1 << 24) else { throw EngineError.arithmeticOverflow(what: "node '\(call.node)' output") }
        var integral = true
        for key in ["start", "end", "step"] { if case .float = call.value(key) { integral = false } }
        let values = (0 ..< Int(length)).map { Float(start + Double($0) * step) }
        return .tensor(try constant(values, shape: [Int(length)], kind: creationKind(call, default: integral ? .integer : .float),
                                    "node '\(call.node)' output"))
    }
}
