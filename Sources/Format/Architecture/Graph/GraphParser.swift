/// JSON → `GraphDocument`, every member typed as `spec/ARCH.md` "Graph documents" says.
/// Only the shape of the JSON is checked here; `GraphValidator` checks the rules across it.
enum GraphParser {
    static func document(from json: ExactJSON) throws -> GraphDocument {
        var top = try GraphKeys(json, context: "graph document")
        let version = try top.int("version")
        guard version == GraphDocument.version else {
            throw FormatError(.unsupportedVersion(what: "graph document", found: "\(version)", supported: "\(GraphDocument.version)"))
        }
        let description = try top.optionalString("description")
        let symbols = try top.array("symbols", required: false, limit: GraphLimits.maxSymbols).map { item -> GraphSymbol in
            var keys = try GraphKeys(item, context: "graph symbol")
            let symbol = GraphSymbol(name: try keys.string("name"), min: try keys.int("min"), max: try keys.optionalInt("max"))
            try keys.finish()
            return symbol
        }
        let modules = try top.array("modules", required: false, limit: GraphLimits.maxModules).map { item -> GraphModule in
            var keys = try GraphKeys(item, context: "graph module")
            let module = GraphModule(path: try keys.string("path"), className: try keys.string("class"))
            try keys.finish()
            return module
        }
        let tensors = try top.array("tensors", required: false, limit: GraphLimits.maxValues).map { item -> GraphTensorBinding in
            var keys = try GraphKeys(item, context: "graph tensor")
            let value = try keys.string("value")
            let tensor = try keys.string("tensor")
            let roleName = try keys.string("role")
            guard let role = GraphTensorRole(rawValue: roleName) else {
                throw keys.error(.invalidValue(field: "role", value: "'\(roleName)'", expected: GraphTensorRole.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")))
            }
            let type = try tensorType(&keys)
            try keys.finish()
            return GraphTensorBinding(value: value, tensor: tensor, role: role, type: type)
        }
        let inputs = try top.array("inputs", limit: GraphLimits.maxValues).map { try value(from: $0, context: "graph input") }
        let nodes = try top.array("nodes", limit: GraphLimits.maxNodes).enumerated().map { try node(from: $0.element, index: $0.offset) }
        let outputs = try top.array("outputs", limit: GraphLimits.maxListLength).map { try argument(from: $0, context: "graph output") }
        let mutations = try top.array("mutations", required: false, limit: GraphLimits.maxValues).map { item -> GraphMutation in
            var keys = try GraphKeys(item, context: "graph mutation")
            let mutation = GraphMutation(tensor: try keys.string("tensor"), value: try keys.string("value"))
            try keys.finish()
            return mutation
        }
        try top.finish()
        return GraphDocument(description: description, symbols: symbols, modules: modules, tensors: tensors, inputs: inputs,
                             nodes: nodes, outputs: outputs, mutations: mutations)
    }

    static func node(from json: ExactJSON, index: Int) throws -> GraphNode {
        var keys = try GraphKeys(json, context: "graph node \(index)")
        let name = try keys.string("name")
        keys = try GraphKeys(json, context: "graph node '\(name)'")
        _ = keys.take("name")
        let op = try keys.string("op")
        let context = "graph node '\(name)' (\(op))"
        let inputs = try keys.array("inputs", limit: GraphLimits.maxListLength).map { item -> GraphNamedArgument in
            var argumentKeys = try GraphKeys(item, context: context + " argument")
            let argumentName = try argumentKeys.string("name")
            let value = try argument(from: try argumentKeys.required("value"), context: context + " argument '\(argumentName)'")
            let keyword = try argumentKeys.bool("keyword", default: false)
            try argumentKeys.finish()
            return GraphNamedArgument(name: argumentName, value: value, keyword: keyword)
        }
        let outputs = try keys.array("outputs", limit: GraphLimits.maxListLength).map { item -> GraphOutputSlot in
            if item == .null { return .none }
            if case .object(let members) = item, members.count == 1, let list = members["list"] {
                return .list(try GraphKeys.items(list, field: "list", limit: GraphLimits.maxListLength, context: context)
                    .map { try value(from: $0, context: context + " output") })
            }
            return .value(try value(from: item, context: context + " output"))
        }
        let stack = try keys.array("module", required: false, limit: GraphLimits.maxModuleDepth).map { item -> String in
            guard case .string(let path) = item else { throw keys.error(.invalidValue(field: "module", value: item.summary, expected: "a list of module paths")) }
            return path
        }
        try keys.finish()
        return GraphNode(name: name, op: op, inputs: inputs, outputs: outputs, moduleStack: stack)
    }

    static func value(from json: ExactJSON, context: String) throws -> GraphValue {
        var keys = try GraphKeys(json, context: context)
        let name = try keys.string("name")
        keys = try GraphKeys(json, context: context + " '\(name)'")
        _ = keys.take("name")
        let kind = try keys.string("type")
        let type: GraphValueType
        switch kind {
        case "tensor": type = .tensor(try tensorType(&keys))
        case "symint": type = .symInt(try keys.take("expr").flatMap { $0 == .null ? nil : try size(from: $0, context: keys.context, depth: 0) })
        case "symfloat": type = .symFloat
        case "symbool": type = .symBool
        default: throw keys.error(.invalidValue(field: "type", value: "'\(kind)'", expected: "'tensor', 'symint', 'symfloat' or 'symbool'"))
        }
        try keys.finish()
        return GraphValue(name: name, type: type)
    }

    static func tensorType(_ keys: inout GraphKeys) throws -> GraphTensorType {
        let dtypeName = try keys.string("dtype")
        guard let dtype = DType(rawValue: dtypeName) else { throw keys.error(.unsupportedDType(dtypeName)) }
        let shape = try keys.array("shape", limit: ArchitectureLimits.maxRank).map { try size(from: $0, context: keys.context, depth: 0) }
        return GraphTensorType(dtype: dtype, shape: shape)
    }

    /// A size: an integer, a symbol's name, or a one-member object naming the operation.
    static func size(from json: ExactJSON, context: String, depth: Int) throws -> SymbolicSize {
        guard depth < GraphLimits.maxExpressionDepth else {
            throw FormatError(.context(context, .tooDeep(what: "a symbolic size", limit: GraphLimits.maxExpressionDepth)))
        }
        switch json {
        case .int(let value): return .constant(value)
        case .string(let name): return .symbol(name)
        case .object(let members) where members.count == 1:
            let (operation, operands) = members.first!
            let items = try GraphKeys.items(operands, field: operation, limit: GraphLimits.maxExpressionTerms, context: context)
                .map { try size(from: $0, context: context, depth: depth + 1) }
            switch (operation, items.count) {
            case ("add", 1...): return .add(items)
            case ("mul", 1...): return .mul(items)
            case ("max", 1...): return .max(items)
            case ("min", 1...): return .min(items)
            case ("floordiv", 2): return .floorDiv(items[0], items[1])
            case ("mod", 2): return .mod(items[0], items[1])
            default: break
            }
        default: break
        }
        throw FormatError(.context(context, .invalidValue(field: "a size", value: json.summary,
                                                          expected: "an integer, a symbol, or {\"add\"|\"mul\"|\"max\"|\"min\": [...]} or {\"floordiv\"|\"mod\": [a, b]}")))
    }

    /// An argument: null, or a one-member object whose key is the kind.
    static func argument(from json: ExactJSON, context: String) throws -> GraphArgument {
        if json == .null { return .none }
        guard case .object(let members) = json, members.count == 1, let (kind, value) = members.first else {
            throw FormatError(.context(context, .invalidValue(field: "an argument", value: json.summary, expected: "null or an object with one member naming its kind")))
        }
        func fail(_ expected: String) -> FormatError {
            FormatError(.context(context, .invalidValue(field: kind, value: value.summary, expected: expected)))
        }
        func list() throws -> [ExactJSON] { try GraphKeys.items(value, field: kind, limit: GraphLimits.maxListLength, context: context) }
        func string(_ item: ExactJSON) throws -> String {
            guard case .string(let text) = item else { throw fail("a string") }
            return text
        }
        func int(_ item: ExactJSON) throws -> Int {
            guard case .int(let number) = item else { throw fail("an integer") }
            return number
        }
        func bool(_ item: ExactJSON) throws -> Bool {
            guard case .bool(let flag) = item else { throw fail("true or false") }
            return flag
        }
        func float(_ item: ExactJSON) throws -> Double {
            switch item {
            case .int(let number): return Double(number)
            case .double(let number): return number
            case .string("inf"): return .infinity
            case .string("-inf"): return -.infinity
            case .string("nan"): return .nan
            default: throw fail("a number, 'inf', '-inf' or 'nan'")
            }
        }
        switch kind {
        case "tensor": return .tensor(try string(value))
        case "tensors": return .tensors(try list().map(string))
        case "optional_tensors": return .optionalTensors(try list().map { $0 == .null ? nil : try string($0) })
        case "int": return .int(try int(value))
        case "ints": return .ints(try list().map(int))
        case "float": return .float(try float(value))
        case "floats": return .floats(try list().map(float))
        case "bool": return .bool(try bool(value))
        case "bools": return .bools(try list().map(bool))
        case "string": return .string(try string(value))
        case "strings": return .strings(try list().map(string))
        case "symint": return .symInt(try string(value))
        case "symints":
            return .symInts(try list().map { item in
                switch item {
                case .int(let number): return .constant(number)
                case .string(let name): return .value(name)
                default: throw fail("a list of integers and symint value names")
                }
            })
        case "symfloat": return .symFloat(try string(value))
        case "symbool": return .symBool(try string(value))
        case "dtype":
            let name = try string(value)
            guard let dtype = DType(rawValue: name) else { throw FormatError(.context(context, .unsupportedDType(name))) }
            return .dtype(dtype)
        case "layout": return .layout(try string(value))
        case "memory_format": return .memoryFormat(try string(value))
        case "device": return .device(try string(value))
        default:
            throw FormatError(.context(context, .invalidValue(field: "the kind of an argument", value: "'\(kind)'", expected: "one of \(GraphArgument.kindNames.joined(separator: ", "))")))
        }
    }
}

extension GraphArgument {
    /// The member name of every kind, as documents spell them.
    static let kindNames = ["tensor", "tensors", "optional_tensors", "int", "ints", "float", "floats", "bool", "bools", "string", "strings",
                            "symint", "symints", "symfloat", "symbool", "dtype", "layout", "memory_format", "device"]
}
