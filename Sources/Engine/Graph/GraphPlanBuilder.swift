import Format

/// Compiles a graph document into a `Plan` for one set of input shapes: binds the
/// program's symbols from the inputs (checked against their ranges and every fixed size),
/// walks the nodes in order through `GraphOpTable`, and gives every output its own buffer.
struct GraphPlanBuilder {
    let document: GraphDocument
    /// The network's parameters by value name, uploaded once and shared by its plans.
    let parameters: [String: GraphParameter]
    let backend: Backend
    let budget: MemoryBudget

    /// The symbols' values for inputs of `shapes`, or the refusal naming both shapes.
    static func bindings(_ document: GraphDocument, shapes: [[Int]]) throws -> [String: Int] {
        guard shapes.count == document.inputs.count else {
            throw EngineError.graphInputCount(expected: document.inputs.count, given: shapes.count)
        }
        var bindings: [String: Int] = [:]
        func refuse(_ input: GraphValue, _ shape: [Int]) -> EngineError {
            let declared = input.type.tensor.map { "[" + $0.shape.map(\.description).joined(separator: ", ") + "]" } ?? "a tensor"
            return .inputShapeMismatch(input: input.name, declared: declared, given: shape)
        }
        for (input, shape) in zip(document.inputs, shapes) {
            guard let type = input.type.tensor, type.shape.count == shape.count else { throw refuse(input, shape) }
            for (size, given) in zip(type.shape, shape) {
                if case .symbol(let name) = size {
                    if let bound = bindings[name], bound != given { throw refuse(input, shape) }
                    bindings[name] = given
                }
            }
        }
        for (input, shape) in zip(document.inputs, shapes) {
            for (size, given) in zip(input.type.tensor!.shape, shape) {
                let value: Int
                do { value = try size.evaluate(bindings, what: "input '\(input.name)' shape") } catch { throw refuse(input, shape) }
                guard value == given else { throw refuse(input, shape) }
            }
        }
        for symbol in document.symbols {
            if let value = bindings[symbol.name], !symbol.admits(value) {
                throw EngineError.symbolOutOfRange(symbol: symbol.name, value: value, low: symbol.min, high: symbol.max)
            }
        }
        return bindings
    }

    func build(inputShapes: [[Int]]) throws -> (Plan, outputKinds: [ElementKind]) {
        _ = try GraphPlanBuilder.bindings(document, shapes: inputShapes)
        var compiler = GraphCompiler(backend: backend, budget: budget)
        do {
            return try compile(&compiler, inputShapes)
        } catch {
            compiler.abandon()
            throw error
        }
    }

    private func compile(_ compiler: inout GraphCompiler, _ inputShapes: [[Int]]) throws -> (Plan, outputKinds: [ElementKind]) {
        for node in document.nodes {
            compiler.countUses(node.inputs.flatMap { $0.value.references.map(\.name) })
        }
        compiler.countUses(document.outputs.flatMap { $0.references.map(\.name) })
        for binding in document.tensors {
            guard let parameter = parameters[binding.value] else { throw EngineError.missingTensor(name: binding.tensor) }
            compiler.bind(binding.value, .tensor(compiler.adopt(parameter.buffer, shape: parameter.shape, kind: parameter.kind, host: parameter.host)))
        }
        var inputs: [GraphTensor] = []
        for (input, shape) in zip(document.inputs, inputShapes) {
            let kind = ElementKind(input.type.tensor?.dtype ?? .f32)
            let tensor = try compiler.fresh(shape, kind, "input '\(input.name)'", pinned: true)
            inputs.append(tensor)
            compiler.bind(input.name, .tensor(tensor))
        }
        for node in document.nodes { try step(node, &compiler) }
        var outputs: [GraphTensor] = []
        var owned = Set<Int>()
        for (index, output) in document.outputs.enumerated() {
            guard case .tensor(let name) = output, case .tensor(let value)? = compiler.lookup(name) else {
                throw EngineError.invalidNode(node: "output \(index)", op: "output", why: "only tensor outputs are supported")
            }
            // An output owns a dense buffer of exactly its size, used by no other output.
            if compiler.isIntermediate(value), value.isDenseBuffer, value.buffer.count == Swift.max(value.count, 1), !owned.contains(value.bufferID) {
                compiler.pin(value)
                owned.insert(value.bufferID)
                outputs.append(value)
            } else {
                let copy = try compiler.copy(value, pinned: true, "output \(index)")
                owned.insert(copy.bufferID)
                outputs.append(copy)
            }
        }
        try compiler.reserveScratch()
        let plan = Plan(inputShapes: inputShapes, outputShapes: outputs.map(\.shape), backend: backend, inputs: inputs.map(\.buffer),
                        outputs: outputs.map(\.buffer), kernels: compiler.kernels, budget: budget, reserved: compiler.reserved)
        return (plan, outputs.map(\.kind))
    }

    /// One node: its arguments resolved, its handler run, its outputs bound, its inputs' uses counted down.
    private func step(_ node: GraphNode, _ compiler: inout GraphCompiler) throws {
        defer {
            for argument in node.inputs { for reference in argument.value.references { compiler.used(reference.name) } }
            compiler.settle()
        }
        if GraphOpTable.noOps.contains(node.op) { return }
        guard let (handler, inPlace) = GraphOpTable.handler(node.op) else {
            throw EngineError.unsupportedOps([UnsupportedOp(op: node.op, count: 1)])
        }
        let arguments = try node.inputs.map { ($0.name, try resolve($0.value, node, compiler)) }
        let call = GraphCall(node: node.name, op: inPlace ? functionalName(node.op) : node.op, arguments: arguments)
        let result = try handler(&compiler, call)
        try bindOutputs(node, result, &compiler)
        // An in-place op's first argument holds the result from now on.
        if inPlace, case .tensor(let target)? = node.inputs.first?.value, case .tensor = result {
            compiler.bind(target, result)
        }
    }

    private func functionalName(_ op: String) -> String {
        let parts = op.split(separator: ".", omittingEmptySubsequences: false)
        return "\(parts[0]).\(parts[1].dropLast()).\(parts[2])"
    }

    private func bindOutputs(_ node: GraphNode, _ result: CompiledValue, _ compiler: inout GraphCompiler) throws {
        func fail(_ why: String) -> EngineError { .invalidNode(node: node.name, op: node.op, why: why) }
        if node.outputs.count == 1, case .value(let value) = node.outputs[0] {
            if case .tensors(let list) = result {
                guard let first = list.first, let tensor = first else { throw fail("no result") }
                compiler.bind(value.name, .tensor(tensor))
            } else {
                compiler.bind(value.name, result)
            }
            return
        }
        if node.outputs.count == 1, case .list(let values) = node.outputs[0] {
            guard case .tensors(let list) = result, list.count == values.count else { throw fail("gives \(values.count) values, computed otherwise") }
            for (value, tensor) in zip(values, list) { if let tensor { compiler.bind(value.name, .tensor(tensor)) } }
            return
        }
        let list: [GraphTensor?]
        switch result {
        case .tensors(let items): list = items
        case .tensor(let t): list = [t]
        default: list = []
        }
        for (index, slot) in node.outputs.enumerated() {
            guard case .value(let value) = slot else { continue }
            guard index < list.count, let tensor = list[index] else { throw fail("output \(index) is not computed") }
            compiler.bind(value.name, .tensor(tensor))
        }
    }

    /// A document argument as the value a handler reads.
    private func resolve(_ argument: GraphArgument, _ node: GraphNode, _ compiler: GraphCompiler) throws -> CompiledValue {
        func value(_ name: String) throws -> CompiledValue {
            guard let found = compiler.lookup(name) else {
                throw EngineError.invalidNode(node: node.name, op: node.op, why: "value '\(name)' is not computed")
            }
            return found
        }
        func tensor(_ name: String) throws -> GraphTensor {
            guard case .tensor(let t) = try value(name) else {
                throw EngineError.invalidNode(node: node.name, op: node.op, why: "value '\(name)' is not a tensor")
            }
            return t
        }
        switch argument {
        case .none, .layout, .memoryFormat, .device: return .absent
        case .tensor(let name): return .tensor(try tensor(name))
        case .tensors(let names): return .tensors(try names.map { try tensor($0) })
        case .optionalTensors(let names): return .tensors(try names.map { try $0.map { try tensor($0) } })
        case .int(let v): return .int(v)
        case .ints(let v): return .ints(v)
        case .float(let v): return .float(v)
        case .floats(let v): return .floats(v)
        case .bool(let v): return .bool(v)
        case .bools(let v): return .bools(v)
        case .string(let s): return .string(s)
        case .strings: return .absent
        case .symInt(let name), .symFloat(let name), .symBool(let name): return try value(name)
        case .symInts(let items):
            return .ints(try items.map { item in
                switch item {
                case .constant(let v): return v
                case .value(let name):
                    guard case .int(let v) = try value(name) else {
                        throw EngineError.invalidNode(node: node.name, op: node.op, why: "value '\(name)' is not an integer")
                    }
                    return v
                }
            })
        case .dtype(let dtype): return .dtype(ElementKind(dtype))
        }
    }
}

/// A parameter, buffer or constant of a graph network, on the backend.
struct GraphParameter {
    let buffer: DeviceBuffer
    let shape: [Int]
    let kind: ElementKind
    /// The checkpoint's tensor, for values folded when a plan is built (BatchNorm statistics).
    let host: Tensor
}
