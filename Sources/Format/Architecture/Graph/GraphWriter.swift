/// `GraphDocument` → JSON text, members in a fixed order and one node per line, so equal
/// documents give equal bytes and a diff of two documents reads node by node.
enum GraphWriter {
    static func text(of document: GraphDocument) -> String {
        var members: [String] = ["\"version\": \(GraphDocument.version)"]
        if let description = document.description { members.append("\"description\": \(quote(description))") }
        members.append(section("symbols", document.symbols.map { symbol in
            "{\"name\": \(quote(symbol.name)), \"min\": \(symbol.min)" + (symbol.max.map { ", \"max\": \($0)" } ?? "") + "}"
        }))
        members.append(section("modules", document.modules.map { "{\"path\": \(quote($0.path)), \"class\": \(quote($0.className))}" }))
        members.append(section("tensors", document.tensors.map { binding in
            "{\"value\": \(quote(binding.value)), \"tensor\": \(quote(binding.tensor)), \"role\": \(quote(binding.role.rawValue)), \(tensorType(binding.type))}"
        }))
        members.append(section("inputs", document.inputs.map(value)))
        members.append(section("nodes", document.nodes.map(node)))
        members.append(section("outputs", document.outputs.map(argument)))
        if !document.mutations.isEmpty {
            members.append(section("mutations", document.mutations.map { "{\"tensor\": \(quote($0.tensor)), \"value\": \(quote($0.value))}" }))
        }
        return "{\n  " + members.joined(separator: ",\n  ") + "\n}\n"
    }

    private static func section(_ key: String, _ items: [String]) -> String {
        if items.isEmpty { return "\"\(key)\": []" }
        return "\"\(key)\": [\n    " + items.joined(separator: ",\n    ") + "\n  ]"
    }

    private static func quote(_ text: String) -> String { JSONText.quote(text) }

    static func node(_ node: GraphNode) -> String {
        var text = "{\"name\": \(quote(node.name)), \"op\": \(quote(node.op)), \"inputs\": ["
        text += node.inputs.map { argument in
            "{\"name\": \(quote(argument.name)), \"value\": \(self.argument(argument.value))" + (argument.keyword ? ", \"keyword\": true" : "") + "}"
        }.joined(separator: ", ")
        text += "], \"outputs\": ["
        text += node.outputs.map { slot in
            switch slot {
            case .value(let value): return self.value(value)
            case .list(let values): return "{\"list\": [" + values.map(self.value).joined(separator: ", ") + "]}"
            case .none: return "null"
            }
        }.joined(separator: ", ")
        text += "]"
        if !node.moduleStack.isEmpty { text += ", \"module\": [" + node.moduleStack.map(quote).joined(separator: ", ") + "]" }
        return text + "}"
    }

    static func value(_ value: GraphValue) -> String {
        let head = "{\"name\": \(quote(value.name)), "
        switch value.type {
        case .tensor(let type): return head + "\"type\": \"tensor\", " + tensorType(type) + "}"
        case .symInt(let expression?): return head + "\"type\": \"symint\", \"expr\": \(size(expression))}"
        case .symInt(nil): return head + "\"type\": \"symint\"}"
        case .symFloat: return head + "\"type\": \"symfloat\"}"
        case .symBool: return head + "\"type\": \"symbool\"}"
        }
    }

    /// `"dtype": ..., "shape": [...]`, members of a tensor value or a binding.
    private static func tensorType(_ type: GraphTensorType) -> String {
        "\"dtype\": \(quote(type.dtype.rawValue)), \"shape\": [" + type.shape.map(size).joined(separator: ", ") + "]"
    }

    static func size(_ size: SymbolicSize) -> String {
        func operation(_ name: String, _ items: [SymbolicSize]) -> String {
            "{\"\(name)\": [" + items.map(self.size).joined(separator: ", ") + "]}"
        }
        switch size {
        case .constant(let value): return "\(value)"
        case .symbol(let name): return quote(name)
        case .add(let items): return operation("add", items)
        case .mul(let items): return operation("mul", items)
        case .max(let items): return operation("max", items)
        case .min(let items): return operation("min", items)
        case let .floorDiv(a, b): return operation("floordiv", [a, b])
        case let .mod(a, b): return operation("mod", [a, b])
        }
    }

    static func float(_ value: Double) -> String {
        if value.isNaN { return "\"nan\"" }
        if value.isInfinite { return value < 0 ? "\"-inf\"" : "\"inf\"" }
        return "\(value)"
    }

    static func argument(_ argument: GraphArgument) -> String {
        func member(_ kind: String, _ text: String) -> String { "{\"\(kind)\": \(text)}" }
        func list<T>(_ items: [T], _ render: (T) -> String) -> String { "[" + items.map(render).joined(separator: ", ") + "]" }
        switch argument {
        case .none: return "null"
        case .tensor(let name): return member("tensor", quote(name))
        case .tensors(let names): return member("tensors", list(names, quote))
        case .optionalTensors(let names): return member("optional_tensors", list(names) { $0.map(quote) ?? "null" })
        case .int(let value): return member("int", "\(value)")
        case .ints(let values): return member("ints", list(values) { "\($0)" })
        case .float(let value): return member("float", float(value))
        case .floats(let values): return member("floats", list(values, float))
        case .bool(let value): return member("bool", "\(value)")
        case .bools(let values): return member("bools", list(values) { "\($0)" })
        case .string(let value): return member("string", quote(value))
        case .strings(let values): return member("strings", list(values, quote))
        case .symInt(let name): return member("symint", quote(name))
        case .symInts(let items):
            return member("symints", list(items) { item in
                switch item {
                case .constant(let value): return "\(value)"
                case .value(let name): return quote(name)
                }
            })
        case .symFloat(let name): return member("symfloat", quote(name))
        case .symBool(let name): return member("symbool", quote(name))
        case .dtype(let dtype): return member("dtype", quote(dtype.rawValue))
        case .layout(let name): return member("layout", quote(name))
        case .memoryFormat(let name): return member("memory_format", quote(name))
        case .device(let name): return member("device", quote(name))
        }
    }
}
