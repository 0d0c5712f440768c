/// The rules of a valid graph document (`spec/ARCH.md`, "Graph documents"), checked in one
/// pass in document order, so "defined before use" is checked as the nodes are read.
enum GraphValidator {
    static func validate(_ document: GraphDocument) throws {
        var state = State()
        try state.count(document.nodes.count, limit: GraphLimits.maxNodes, what: "nodes")
        try state.count(document.symbols.count, limit: GraphLimits.maxSymbols, what: "symbols")
        try state.count(document.modules.count, limit: GraphLimits.maxModules, what: "modules")
        for symbol in document.symbols {
            try state.name(symbol.name, what: "symbol")
            guard state.symbols.insert(symbol.name).inserted else { throw FormatError(.duplicateName(kind: "graph symbol", name: symbol.name)) }
            guard symbol.min >= 0, symbol.max.map({ $0 >= symbol.min }) ?? true else {
                throw FormatError(.invalidValue(field: "the range of symbol '\(symbol.name)'", value: "\(symbol.min)...\(symbol.max.map(String.init) ?? "")",
                                                expected: "0 <= min <= max"))
            }
        }
        var modulePaths = Set<String>()
        for module in document.modules {
            if !module.path.isEmpty { try state.name(module.path, what: "module path") }
            try state.name(module.className, what: "module class")
            guard modulePaths.insert(module.path).inserted else { throw FormatError(.duplicateName(kind: "graph module", name: module.path)) }
        }
        var tensorNames = Set<String>()
        for binding in document.tensors {
            let context = "graph tensor '\(binding.tensor)'"
            try state.name(binding.tensor, what: "tensor name")
            guard tensorNames.insert(binding.tensor).inserted else { throw FormatError(.duplicateName(kind: "graph tensor", name: binding.tensor)) }
            guard let shape = binding.type.fixedShape else {
                throw FormatError(.context(context, .invalidValue(field: "shape", value: "symbolic", expected: "fixed sizes (a stored tensor has one shape)")))
            }
            do { _ = try ArchitectureLimits.checkedElements(shape, what: "the shape") } catch let error as FormatError { throw error.within(context) }
            try state.define(GraphValue(name: binding.value, type: .tensor(binding.type)), context: context)
        }
        for input in document.inputs { try state.define(input, context: "graph input '\(input.name)'") }
        var nodeNames = Set<String>()
        for node in document.nodes {
            let context = "graph node '\(node.name)' (\(node.op))"
            do {
                try state.name(node.name, what: "node name")
                try state.name(node.op, what: "op")
                guard nodeNames.insert(node.name).inserted else { throw FormatError(.duplicateName(kind: "graph node", name: node.name)) }
                try state.count(node.inputs.count, limit: GraphLimits.maxListLength, what: "inputs")
                try state.count(node.outputs.count, limit: GraphLimits.maxListLength, what: "outputs")
                guard node.moduleStack.count <= GraphLimits.maxModuleDepth else {
                    throw FormatError(.tooDeep(what: "the module stack", limit: GraphLimits.maxModuleDepth))
                }
                for path in node.moduleStack where !modulePaths.contains(path) {
                    throw FormatError(.notFound(kind: "module in the document's table", name: path))
                }
                for argument in node.inputs {
                    try state.name(argument.name, what: "argument name")
                    try state.check(argument.value, field: "argument '\(argument.name)'")
                }
                for slot in node.outputs {
                    if case .list(let values) = slot { try state.count(values.count, limit: GraphLimits.maxListLength, what: "items of an output list") }
                    for value in slot.values { try state.define(value, context: nil) }
                }
            } catch let error as FormatError {
                throw error.within(context)
            }
        }
        for (index, output) in document.outputs.enumerated() {
            do { try state.check(output, field: "the value") } catch let error as FormatError { throw error.within("graph output \(index)") }
        }
        for mutation in document.mutations {
            let context = "graph mutation of '\(mutation.tensor)'"
            guard let binding = document.binding(ofTensor: mutation.tensor), binding.role == .buffer || binding.role == .nonPersistentBuffer else {
                throw FormatError(.context(context, .notFound(kind: "buffer bound in the graph", name: mutation.tensor)))
            }
            do { try state.check(.tensor(mutation.value), field: "the value") } catch let error as FormatError { throw error.within(context) }
        }
    }

    private struct State {
        var symbols = Set<String>()
        var values: [String: GraphValueType] = [:]

        func count(_ count: Int, limit: Int, what: String) throws {
            guard count <= limit else { throw FormatError(.limitExceeded(what: "the \(what)", value: UInt64(count), limit: UInt64(limit))) }
        }

        func name(_ name: String, what: String) throws {
            guard !name.isEmpty else { throw FormatError(.invalidValue(field: what, value: "''", expected: "a non-empty name")) }
            guard name.utf8.count <= GraphLimits.maxNameBytes else {
                throw FormatError(.limitExceeded(what: "the length of a \(what)", value: UInt64(name.utf8.count), limit: UInt64(GraphLimits.maxNameBytes)))
            }
        }

        mutating func define(_ value: GraphValue, context: String?) throws {
            do {
                try name(value.name, what: "value name")
                guard values.count < GraphLimits.maxValues else {
                    throw FormatError(.limitExceeded(what: "the values", value: UInt64(values.count) + 1, limit: UInt64(GraphLimits.maxValues)))
                }
                switch value.type {
                case .tensor(let type): try check(type)
                case .symInt(let expression?): try check(expression)
                case .symInt(nil), .symFloat, .symBool: break
                }
                guard values.updateValue(value.type, forKey: value.name) == nil else {
                    throw FormatError(.duplicateName(kind: "graph value", name: value.name))
                }
            } catch let error as FormatError {
                throw context.map { error.within($0) } ?? error.within("value '\(value.name)'")
            }
        }

        func check(_ type: GraphTensorType) throws {
            guard type.shape.count <= ArchitectureLimits.maxRank else {
                throw FormatError(.limitExceeded(what: "the rank", value: UInt64(type.shape.count), limit: UInt64(ArchitectureLimits.maxRank)))
            }
            for size in type.shape {
                if let fixed = size.constantValue {
                    guard (0 ... ArchitectureLimits.maxSize).contains(fixed) else {
                        throw FormatError(.invalidValue(field: "a size", value: "\(fixed)", expected: "0 to \(ArchitectureLimits.maxSize)"))
                    }
                } else {
                    try check(size)
                }
            }
            if let shape = type.fixedShape { _ = try ArchitectureLimits.checkedElements(shape, what: "the shape") }
        }

        func check(_ expression: SymbolicSize) throws {
            var terms = 0
            func walk(_ size: SymbolicSize, depth: Int) throws {
                terms += 1
                guard terms <= GraphLimits.maxExpressionTerms else {
                    throw FormatError(.walkBudgetExceeded(what: "a symbolic size", limit: GraphLimits.maxExpressionTerms))
                }
                guard depth < GraphLimits.maxExpressionDepth else { throw FormatError(.tooDeep(what: "a symbolic size", limit: GraphLimits.maxExpressionDepth)) }
                switch size {
                case .constant: break
                case .symbol(let name):
                    guard symbols.contains(name) else { throw FormatError(.notFound(kind: "declared symbol", name: name)) }
                case .add(let items), .mul(let items), .max(let items), .min(let items):
                    guard !items.isEmpty else { throw FormatError(.invalidValue(field: "a symbolic size", value: "an empty list", expected: "at least one term")) }
                    for item in items { try walk(item, depth: depth + 1) }
                case let .floorDiv(a, b), let .mod(a, b):
                    try walk(a, depth: depth + 1)
                    try walk(b, depth: depth + 1)
                }
            }
            try walk(expression, depth: 0)
        }

        func check(_ argument: GraphArgument, field: String) throws {
            switch argument {
            case .tensors(let items): try count(items.count, limit: GraphLimits.maxListLength, what: "items of \(field)")
            case .optionalTensors(let items): try count(items.count, limit: GraphLimits.maxListLength, what: "items of \(field)")
            case .ints(let items): try count(items.count, limit: GraphLimits.maxListLength, what: "items of \(field)")
            case .floats(let items): try count(items.count, limit: GraphLimits.maxListLength, what: "items of \(field)")
            case .bools(let items): try count(items.count, limit: GraphLimits.maxListLength, what: "items of \(field)")
            case .strings(let items): try count(items.count, limit: GraphLimits.maxListLength, what: "items of \(field)")
            case .symInts(let items): try count(items.count, limit: GraphLimits.maxListLength, what: "items of \(field)")
            default: break
            }
            for (name, kind) in argument.references {
                guard let type = values[name] else {
                    throw FormatError(.notFound(kind: "value defined before \(field)", name: name))
                }
                guard kind.admits(type) else {
                    throw FormatError(.invalidValue(field: "\(field) ('\(name)')", value: "\(type.kindName)", expected: "a \(kind.rawValue)"))
                }
            }
        }
    }
}

extension GraphValueType {
    /// `tensor`, `symint`, `symfloat` or `symbool`, as the document spells the kinds.
    var kindName: String {
        switch self {
        case .tensor: return "tensor"
        case .symInt: return "symint"
        case .symFloat: return "symfloat"
        case .symBool: return "symbool"
        }
    }
}
