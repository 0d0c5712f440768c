import Format

/// One node as an op handler sees it: its op, its arguments resolved to values (tensors
/// looked up, symbolic sizes evaluated), read by schema name with the position as fallback.
struct GraphCall {
    /// The node's name (its first output), for messages.
    let node: String
    /// The ATen op without the `torch.ops.` prefix: `aten.conv2d.default`.
    let op: String
    let arguments: [(name: String, value: CompiledValue)]

    /// A refusal naming this node.
    func fail(_ why: String) -> EngineError { .invalidNode(node: node, op: op, why: why) }

    /// The argument called `name`, else the one at `position`; nil when absent or None.
    func value(_ name: String, _ position: Int? = nil) -> CompiledValue? {
        let found = arguments.first(where: { $0.name == name })?.value
            ?? position.flatMap { $0 < arguments.count && arguments[$0].name.isEmpty ? arguments[$0].value : nil }
        if case .absent? = found { return nil }
        return found
    }

    func has(_ name: String, _ position: Int? = nil) -> Bool { value(name, position) != nil }

    func tensor(_ name: String, _ position: Int? = nil) throws -> GraphTensor {
        guard case .tensor(let t) = value(name, position) else { throw fail("argument '\(name)' must be a tensor") }
        return t
    }

    func optionalTensor(_ name: String, _ position: Int? = nil) throws -> GraphTensor? {
        guard let found = value(name, position) else { return nil }
        guard case .tensor(let t) = found else { throw fail("argument '\(name)' must be a tensor or None") }
        return t
    }

    func tensorList(_ name: String, _ position: Int? = nil) throws -> [GraphTensor?] {
        switch value(name, position) {
        case .tensors(let list): return list
        case .tensor(let t): return [t]
        default: throw fail("argument '\(name)' must be a list of tensors")
        }
    }

    func int(_ name: String, _ position: Int? = nil, default fallback: Int? = nil) throws -> Int {
        switch value(name, position) {
        case .int(let v): return v
        case .bool(let v): return v ? 1 : 0
        case .float(let v) where v == v.rounded() && Swift.abs(v) < 1e15: return Int(v)
        case nil: if let fallback { return fallback }
        default: break
        }
        throw fail("argument '\(name)' must be an integer")
    }

    func optionalInt(_ name: String, _ position: Int? = nil) throws -> Int? {
        has(name, position) ? try int(name, position) : nil
    }

    func ints(_ name: String, _ position: Int? = nil, default fallback: [Int]? = nil) throws -> [Int] {
        switch value(name, position) {
        case .ints(let v): return v
        case .int(let v): return [v]
        case nil: if let fallback { return fallback }
        default: break
        }
        throw fail("argument '\(name)' must be a list of integers")
    }

    func double(_ name: String, _ position: Int? = nil, default fallback: Double? = nil) throws -> Double {
        switch value(name, position) {
        case .float(let v): return v
        case .int(let v): return Double(v)
        case .bool(let v): return v ? 1 : 0
        case nil: if let fallback { return fallback }
        default: break
        }
        throw fail("argument '\(name)' must be a number")
    }

    func optionalDouble(_ name: String, _ position: Int? = nil) throws -> Double? {
        has(name, position) ? try double(name, position) : nil
    }

    func doubles(_ name: String, _ position: Int? = nil) throws -> [Double]? {
        switch value(name, position) {
        case .floats(let v): return v
        case .ints(let v): return v.map(Double.init)
        case .float(let v): return [v]
        case nil: return nil
        default: throw fail("argument '\(name)' must be a list of numbers")
        }
    }

    func bool(_ name: String, _ position: Int? = nil, default fallback: Bool) throws -> Bool {
        switch value(name, position) {
        case .bool(let v): return v
        case .int(let v): return v != 0
        case nil: return fallback
        default: throw fail("argument '\(name)' must be a boolean")
        }
    }

    func string(_ name: String, _ position: Int? = nil) -> String? {
        if case .string(let s) = value(name, position) { return s }
        return nil
    }

    /// An axis of a tensor of `rank` axes (negative counts from the end), checked.
    func axis(_ value: Int, rank: Int) throws -> Int {
        let axis = value < 0 ? value + Swift.max(rank, 1) : value
        guard axis >= 0, axis < Swift.max(rank, 1) else { throw fail("dim \(value) is out of range for a tensor of \(rank) axes") }
        return axis
    }
}
