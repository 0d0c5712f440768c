import Format

/// Element-wise ops: broadcasting arithmetic, comparisons, logic, activations and casts.
extension GraphCompiler {
    /// The broadcast shape of several operands (NumPy rules), or a refusal naming both shapes.
    func broadcastShape(_ shapes: [[Int]], _ call: GraphCall) throws -> [Int] {
        var result: [Int] = []
        for shape in shapes {
            let rank = Swift.max(result.count, shape.count)
            let a = [Int](repeating: 1, count: rank - result.count) + result
            let b = [Int](repeating: 1, count: rank - shape.count) + shape
            result = try zip(a, b).map { x, y in
                if x == y || y == 1 { return x }
                if x == 1 { return y }
                throw call.fail("shapes \(Tensor.describe(a)) and \(Tensor.describe(b)) do not broadcast")
            }
        }
        return result
    }

    /// A tensor operand from a tensor or a scalar argument.
    mutating func operand(_ value: CompiledValue?, _ call: GraphCall, _ name: String) throws -> GraphTensor {
        switch value {
        case .tensor(let t): return t
        case .int(let v): return try scalar(try exactFloat(v, call), kind: .integer)
        case .float(let v): return try scalar(Float(v), kind: .float)
        case .bool(let v): return try scalar(v ? 1 : 0, kind: .boolean)
        default: throw call.fail("argument '\(name)' must be a tensor or a number")
        }
    }

    /// An integer scalar as a float32 operand. Beyond ±2^24 it rounds: programs use such
    /// numbers only as "no limit" fill values, never as exact indices.
    func exactFloat(_ v: Int, _ call: GraphCall) throws -> Float { Float(v) }

    /// `op` over broadcast operands into a new dense tensor of `kind`.
    mutating func elementwise(_ op: ElementOp, _ inputs: [GraphTensor], kind: ElementKind, _ call: GraphCall) throws -> GraphTensor {
        let shape = try broadcastShape(inputs.map(\.shape), call)
        let y = try fresh(shape, kind, "node '\(call.node)' output")
        let operands = inputs.map { StridedOperand(buffer: $0.buffer, offset: $0.offset, strides: $0.broadcastStrides(to: shape)!) }
        if !shape.contains(0) { try emit(.map(op, operands: operands, y: y.operand, shape: shape)) }
        return y
    }

    /// A one-operand op on argument `self`; the kind is kept unless given.
    mutating func unary(_ op: ElementOp, _ call: GraphCall, kind: ElementKind? = nil) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        return .tensor(try elementwise(op, [x], kind: kind ?? x.kind, call))
    }

    /// A two-operand op on `self` and `other` (tensor or number).
    mutating func binary(_ op: ElementOp, _ call: GraphCall, first: String = "self", second: String = "other",
                         kind: ((ElementKind, ElementKind) -> ElementKind)? = nil, reversed: Bool = false) throws -> CompiledValue {
        let a = try operand(call.value(first, 0), call, first)
        let b = try operand(call.value(second, 1), call, second)
        let (x, y) = reversed ? (b, a) : (a, b)
        let resultKind = kind?(x.kind, y.kind) ?? x.kind.promoted(with: y.kind)
        return .tensor(try elementwise(op, [x, y], kind: resultKind, call))
    }

    mutating func addLike(_ call: GraphCall, subtract: Bool, reversed: Bool = false) throws -> CompiledValue {
        let alpha = Float(try call.double("alpha", 2, default: 1))
        let op: ElementOp = subtract ? .subtract(alpha: alpha) : .add(alpha: alpha)
        if reversed {
            // rsub(self, other, alpha) = other - alpha · self
            let a = try operand(call.value("self", 0), call, "self")
            let b = try operand(call.value("other", 1), call, "other")
            return .tensor(try elementwise(op, [b, a], kind: a.kind.promoted(with: b.kind), call))
        }
        return try binary(op, call)
    }

    mutating func divide(_ call: GraphCall) throws -> CompiledValue {
        switch call.string("rounding_mode") {
        case "floor": return try binary(.floorDivide, call)
        case "trunc":
            guard case .tensor(let q) = try binary(.divide, call) else { throw call.fail("no quotient") }
            return .tensor(try elementwise(.truncate, [q], kind: q.kind, call))
        default: return try binary(.divide, call, kind: { _, _ in .float })
        }
    }

    mutating func compare(_ op: ElementOp, _ call: GraphCall) throws -> CompiledValue {
        try binary(op, call, kind: { _, _ in .boolean })
    }

    /// where(condition, self, other)
    mutating func select(_ call: GraphCall) throws -> CompiledValue {
        let condition = try call.tensor("condition", 0)
        let a = try operand(call.value("self", 1), call, "self")
        let b = try operand(call.value("other", 2), call, "other")
        return .tensor(try elementwise(.select, [condition, a, b], kind: a.kind.promoted(with: b.kind), call))
    }

    /// masked_fill(self, mask, value) = where(mask, value, self)
    mutating func maskedFill(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let mask = try call.tensor("mask", 1)
        let value = try operand(call.value("value", 2), call, "value")
        return .tensor(try elementwise(.select, [mask, value, x], kind: x.kind, call))
    }

    mutating func clamp(_ call: GraphCall, low lowName: String = "min", high highName: String = "max") throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        if case .tensor = call.value(lowName) { throw call.fail("a tensor bound is not supported") }
        if case .tensor = call.value(highName) { throw call.fail("a tensor bound is not supported") }
        let low = Float(try call.optionalDouble(lowName) ?? -Double.infinity)
        let high = Float(try call.optionalDouble(highName) ?? Double.infinity)
        return .tensor(try elementwise(.clamp(low: low, high: high), [x], kind: x.kind, call))
    }

    mutating func hardtanh(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        let low = Float(try call.double("min_val", 1, default: -1)), high = Float(try call.double("max_val", 2, default: 1))
        return .tensor(try elementwise(.clamp(low: low, high: high), [x], kind: x.kind, call))
    }

    mutating func gelu(_ call: GraphCall) throws -> CompiledValue {
        try unary(call.string("approximate") == "tanh" ? .geluTanh : .gelu, call)
    }

    mutating func power(_ call: GraphCall) throws -> CompiledValue {
        if case .tensor = call.value("exponent", 1) {
            if case .tensor = call.value("self", 0) { return try binary(.power, call, second: "exponent") }
        }
        if case .tensor(let x) = call.value("self", 0) {
            let e = try call.double("exponent", 1)
            return .tensor(try elementwise(.powScalar(Float(e)), [x], kind: x.kind == .float || e != e.rounded() ? .float : x.kind, call))
        }
        // pow.Scalar(self: number, exponent: tensor)
        return try binary(.power, call, second: "exponent", kind: { _, _ in .float })
    }

    /// to / _to_copy / type_as: a change of kind (float widths all compute as float32).
    mutating func cast(_ call: GraphCall) throws -> CompiledValue {
        let x = try call.tensor("self", 0)
        var target: ElementKind? = nil
        if case .dtype(let kind) = call.value("dtype") { target = kind }
        if case .dtype(let kind) = call.value("dtype", 1) { target = kind }
        if call.op == "aten.type_as.default", case .tensor(let other) = call.value("other", 1) { target = other.kind }
        guard let target, target != x.kind else { return .tensor(x) }
        switch target {
        case .float: var y = x; y.kind = .float; return .tensor(y)
        case .integer: return .tensor(try elementwise(x.kind == .float ? .truncate : .identity, [x], kind: .integer, call))
        case .boolean: return .tensor(try elementwise(.isNonZero, [x], kind: .boolean, call))
        }
    }
}
