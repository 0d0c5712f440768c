/// An `ExportedProgram` as torch.export serializes it (`models/NAME.json`) turned into a
/// graph document: placeholders bound to the state_dict names of the graph signature, user
/// inputs and outputs, every node with typed arguments and its module stack, the dynamic
/// dimensions from `range_constraints`. The document is validated before it is returned.
struct ExportProgram {
    var document: GraphDocument
    /// `major.minor` of the schema the file was written with.
    var schemaVersion: String
    var torchVersion: String?

    init(json root: ExactJSON) throws {
        let program = ExportJSON(root, path: "")
        let version = program["schema_version"]
        guard !version.isNull else { throw FormatError(.missingField("schema_version")) }
        let major = try version["major"].int(), minor = try version["minor"].int()
        guard ExportSchema.knownMajors.contains(major) else {
            throw FormatError(.unsupportedVersion(what: "torch.export schema", found: "\(major).\(minor)",
                                                  supported: ExportSchema.knownMajors.sorted().map { "\($0).x" }.joined(separator: ", ")))
        }
        schemaVersion = "\(major).\(minor)"
        torchVersion = try? program["torch_version"].string()
        let module = program["graph_module"]
        var builder = Builder(graph: module["graph"])
        try builder.readSymbols(program["range_constraints"])
        try builder.readSignature(module["signature"])
        try builder.readNodes()
        document = try builder.document().validated()
    }

    private struct Builder {
        let graph: ExportJSON
        var symbols: [GraphSymbol] = []
        var modules: [GraphModule] = []
        var modulePaths: [String: Int] = [:]
        var tensors: [GraphTensorBinding] = []
        var inputs: [GraphValue] = []
        var nodes: [GraphNode] = []
        var outputs: [GraphArgument] = []
        var mutations: [GraphMutation] = []
        /// Parsed `SymExpr` strings: a program repeats the same few symbols thousands of times.
        var expressions: [String: SymbolicSize] = [:]

        init(graph: ExportJSON) { self.graph = graph }

        func document() -> GraphDocument {
            GraphDocument(symbols: symbols, modules: modules, tensors: tensors, inputs: inputs, nodes: nodes, outputs: outputs, mutations: mutations)
        }

        mutating func readSymbols(_ constraints: ExportJSON) throws {
            guard !constraints.isNull else { return }
            for (name, range) in try constraints.object() {
                func bound(_ value: ExportJSON) throws -> Int? {
                    switch value.value {
                    case .null, .string("Infinity"): return nil
                    case .int(let number): return number
                    default: throw value.fail("an integer, null or \"Infinity\"")
                    }
                }
                // A size's lower bound is at least 0; torch writes -Infinity for symbols with none
                // (unbacked values), which are then sizes only if the graph uses them as such.
                let low: Int
                switch range["min_val"].value {
                case .string("-Infinity"), .null: low = 0
                default: low = max(0, try bound(range["min_val"]) ?? 0)
                }
                symbols.append(GraphSymbol(name: name, min: low, max: try bound(range["max_val"])))
            }
        }

        // MARK: Signature: placeholders and outputs

        mutating func readSignature(_ signature: ExportJSON) throws {
            let placeholders = try graph["inputs"].array(limit: GraphLimits.maxValues)
            let specs = try signature["input_specs"].array(limit: GraphLimits.maxValues)
            guard placeholders.count == specs.count else {
                throw Fault.malformed("the graph signature", "\(specs.count) input specs for \(placeholders.count) graph inputs")
            }
            for spec in specs {
                let (kind, body) = try spec.union()
                switch kind {
                case "parameter":
                    try bind(body["arg"]["name"].string(), to: body["parameter_name"].string(), role: .parameter)
                case "buffer":
                    let persistent = body["persistent"].isNull ? true : try body["persistent"].bool()
                    try bind(body["arg"]["name"].string(), to: body["buffer_name"].string(), role: persistent ? .buffer : .nonPersistentBuffer)
                case "tensor_constant":
                    try bind(body["arg"]["name"].string(), to: body["tensor_constant_name"].string(), role: .constant)
                case "user_input":
                    let (argumentKind, argument) = try body["arg"].union()
                    switch argumentKind {
                    case "as_tensor": inputs.append(try tensorValue(argument["name"].string()))
                    case "as_sym_int": inputs.append(try symIntValue(argument["as_name"].string()))
                    default: throw Fault.refused("a user input of kind '\(argumentKind)'", "ckpt imports tensor and integer inputs")
                    }
                default:
                    throw Fault.refused("a graph input of kind '\(kind)' (\(spec.path))", "ckpt imports parameters, buffers, tensor constants and user inputs")
                }
            }
            let results = try graph["outputs"].array(limit: GraphLimits.maxListLength)
            let outputSpecs = try signature["output_specs"].array(limit: GraphLimits.maxListLength)
            guard results.count == outputSpecs.count else {
                throw Fault.malformed("the graph signature", "\(outputSpecs.count) output specs for \(results.count) graph outputs")
            }
            for spec in outputSpecs {
                let (kind, body) = try spec.union()
                switch kind {
                case "user_output": outputs.append(try argument(body["arg"]))
                case "buffer_mutation":
                    mutations.append(GraphMutation(tensor: try body["buffer_name"].string(), value: try body["arg"]["name"].string()))
                default:
                    throw Fault.refused("a graph output of kind '\(kind)' (\(spec.path))", "ckpt imports user outputs and buffer updates (an inference program)")
                }
            }
        }

        private mutating func bind(_ value: String, to tensor: String, role: GraphTensorRole) throws {
            guard case .tensor(let type) = try tensorValue(value).type else { return }
            tensors.append(GraphTensorBinding(value: value, tensor: tensor, role: role, type: type))
        }

        /// A tensor value named `name` with its type from `tensor_values`.
        private mutating func tensorValue(_ name: String) throws -> GraphValue {
            let meta = graph["tensor_values"][name]
            guard !meta.isNull else { throw FormatError(.notFound(kind: "entry of graph.tensor_values", name: name)) }
            return GraphValue(name: name, type: .tensor(try tensorType(meta)))
        }

        private mutating func symIntValue(_ name: String) throws -> GraphValue {
            let symbolic = graph["sym_int_values"][name]
            var expression: SymbolicSize?
            if !symbolic.isNull {
                let (kind, body) = try symbolic.union()
                expression = kind == "as_int" ? .constant(try body.int()) : try self.expression(body["expr_str"].string())
            }
            return GraphValue(name: name, type: .symInt(expression))
        }

        mutating func tensorType(_ meta: ExportJSON) throws -> GraphTensorType {
            let code = try meta["dtype"].int()
            guard let dtype = ExportSchema.dtype(code) else { throw FormatError(.unsupportedDType(ExportSchema.scalarTypeName(code))).within(meta.path) }
            let shape = try meta["sizes"].array(limit: ArchitectureLimits.maxRank).map { try size($0) }
            return GraphTensorType(dtype: dtype, shape: shape)
        }

        private mutating func size(_ json: ExportJSON) throws -> SymbolicSize {
            let (kind, body) = try json.union()
            switch kind {
            case "as_int": return .constant(try body.int())
            case "as_expr": return try expression(body["expr_str"].string())
            default: throw json.fail("as_int or as_expr")
            }
        }

        private mutating func expression(_ text: String) throws -> SymbolicSize {
            if let known = expressions[text] { return known }
            let parsed = try SympyExpression.parse(text)
            expressions[text] = parsed
            return parsed
        }

        // MARK: Nodes

        mutating func readNodes() throws {
            for (index, node) in try graph["nodes"].array(limit: GraphLimits.maxNodes).enumerated() {
                let target = try node["target"].string()
                let name = node["name"].isNull ? "node_\(index)" : try node["name"].string()
                do {
                    nodes.append(try self.node(node, name: name, target: target))
                } catch let error as FormatError {
                    throw error.within("node '\(name)' (\(target))")
                }
            }
        }

        private mutating func node(_ node: ExportJSON, name: String, target: String) throws -> GraphNode {
            let op = target.hasPrefix("torch.ops.") ? String(target.dropFirst("torch.ops.".count)) : target
            let inputs = try node["inputs"].array(limit: GraphLimits.maxListLength).map { input -> GraphNamedArgument in
                let keyword = input["kind"].isNull ? false : try input["kind"].int() == 2 // ArgumentKind.KEYWORD
                return GraphNamedArgument(name: try input["name"].string(), value: try argument(input["arg"]), keyword: keyword)
            }
            let outputs = try node["outputs"].array(limit: GraphLimits.maxListLength).map { try outputSlot($0) }
            var stack: [String] = []
            if case .string(let text) = node["metadata"]["nn_module_stack"].value { stack = try moduleStack(text) }
            return GraphNode(name: name, op: op, inputs: inputs, outputs: outputs, moduleStack: stack)
        }

        private mutating func outputSlot(_ json: ExportJSON) throws -> GraphOutputSlot {
            let (kind, body) = try json.union()
            switch kind {
            case "as_tensor": return .value(try tensorValue(body["name"].string()))
            case "as_tensors": return .list(try body.array(limit: GraphLimits.maxListLength).map { try tensorValue($0["name"].string()) })
            case "as_sym_int": return .value(try symIntValue(body["as_name"].string()))
            case "as_sym_float": return .value(GraphValue(name: try body["as_name"].string(), type: .symFloat))
            case "as_sym_bool": return .value(GraphValue(name: try body["as_name"].string(), type: .symBool))
            case "as_none": return .none
            default: throw Fault.refused("an output of kind '\(kind)'", "ckpt imports tensor, tensor-list and symbolic-scalar outputs")
            }
        }

        /// `key,path,class` entries joined by `;` (serialize.py's `export_nn_module_stack`).
        /// Commas inside brackets belong to the part, as in torch's own `metadata_split`.
        private mutating func moduleStack(_ text: String) throws -> [String] {
            var stack: [String] = []
            for entry in text.split(separator: ";") {
                var parts: [String] = [], depth = 0, current = ""
                for character in entry {
                    if "[(".contains(character) { depth += 1 } else if ")]".contains(character) { depth -= 1 }
                    if character == ",", depth == 0 { parts.append(current); current = "" } else { current.append(character) }
                }
                parts.append(current)
                guard parts.count == 3 else { throw Fault.malformed("nn_module_stack entry '\(entry)'", "not key,path,class") }
                if parts[0].hasPrefix("_empty_nn_module_stack") { continue } // torch's placeholder for none
                let (path, className) = (parts[1], parts[2])
                if modulePaths[path] == nil {
                    guard modules.count < GraphLimits.maxModules else {
                        throw FormatError(.limitExceeded(what: "the modules of the program", value: UInt64(modules.count) + 1, limit: UInt64(GraphLimits.maxModules)))
                    }
                    modulePaths[path] = modules.count
                    modules.append(GraphModule(path: path, className: className.isEmpty ? "?" : className))
                }
                stack.append(path)
            }
            // The root entry comes first; a stack that misses it still names its modules.
            return stack
        }

        // MARK: Arguments

        mutating func argument(_ json: ExportJSON) throws -> GraphArgument {
            let (kind, body) = try json.union()
            func names(_ list: ExportJSON) throws -> [String] { try list.array(limit: GraphLimits.maxListLength).map { try $0["name"].string() } }
            switch kind {
            case "as_none": return .none
            case "as_tensor": return .tensor(try body["name"].string())
            case "as_tensors": return .tensors(try names(body))
            case "as_optional_tensor":
                let (inner, value) = try body.union()
                return inner == "as_tensor" ? .tensor(try value["name"].string()) : .none
            case "as_optional_tensors":
                return .optionalTensors(try body.array(limit: GraphLimits.maxListLength).map { item in
                    let (inner, value) = try item.union()
                    return inner == "as_tensor" ? try value["name"].string() : nil
                })
            case "as_int": return .int(try body.int())
            case "as_ints": return .ints(try body.array(limit: GraphLimits.maxListLength).map { try $0.int() })
            case "as_float": return .float(try body.float())
            case "as_floats": return .floats(try body.array(limit: GraphLimits.maxListLength).map { try $0.float() })
            case "as_bool": return .bool(try body.bool())
            case "as_bools": return .bools(try body.array(limit: GraphLimits.maxListLength).map { try $0.bool() })
            case "as_string": return .string(try body.string())
            case "as_strings": return .strings(try body.array(limit: GraphLimits.maxListLength).map { try $0.string() })
            case "as_sym_int":
                let (inner, value) = try body.union()
                return inner == "as_name" ? .symInt(try value.string()) : .int(try value.int())
            case "as_sym_ints":
                return .symInts(try body.array(limit: GraphLimits.maxListLength).map { item in
                    let (inner, value) = try item.union()
                    return inner == "as_name" ? .value(try value.string()) : .constant(try value.int())
                })
            case "as_sym_float":
                let (inner, value) = try body.union()
                return inner == "as_name" ? .symFloat(try value.string()) : .float(try value.float())
            case "as_sym_bool":
                let (inner, value) = try body.union()
                return inner == "as_name" ? .symBool(try value.string()) : .bool(try value.bool())
            case "as_scalar_type":
                let code = try body.int()
                guard let dtype = ExportSchema.dtype(code) else { throw FormatError(.unsupportedDType(ExportSchema.scalarTypeName(code))) }
                return .dtype(dtype)
            case "as_layout":
                guard let layout = ExportSchema.layout(try body.int()) else { throw body.fail("a torch layout") }
                return .layout(layout)
            case "as_memory_format":
                guard let format = ExportSchema.memoryFormat(try body.int()) else { throw body.fail("a torch memory format") }
                return .memoryFormat(format)
            case "as_device":
                let type = try body["type"].string()
                return .device(body["index"].isNull ? type : "\(type):\(try body["index"].int())")
            default:
                throw Fault.refused("an argument of kind '\(kind)' (\(json.path))",
                                    "ckpt imports tensors, scalars, lists of them, dtypes and devices (no control flow, custom objects or operators as values)")
            }
        }
    }
}
