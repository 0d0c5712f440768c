import Foundation

/// `ArchitectureDocument` → JSON text with keys in a fixed, readable order (name, type,
/// configuration, children) and every configuration value written out, defaults included,
/// so a stored document says everything without knowledge of the defaults.
enum ArchitectureWriter {
    /// A JSON value whose object keys keep their order.
    indirect enum Value {
        case plain(JSONValue)
        case object([(String, Value)])
        case array([Value])
    }

    static func text(of document: ArchitectureDocument) -> String {
        var fields: [(String, Value)] = [("version", .plain(.number(Double(ArchitectureDocument.currentVersion))))]
        if let description = document.description { fields.append(("description", .plain(.string(description)))) }
        if let shape = document.inputShape { fields.append(("input_shape", ints(shape))) }
        fields.append(("module", node(document.root, isRoot: true)))
        var out = ""
        write(.object(fields), indent: "", into: &out)
        return out + "\n"
    }

    static func node(_ node: ModuleNode, isRoot: Bool = false) -> Value {
        var fields: [(String, Value)] = []
        if !isRoot || !node.name.isEmpty { fields.append(("name", .plain(.string(node.name)))) }
        fields.append(("type", .plain(.string(node.layer.type.rawValue))))
        fields += config(node.layer)
        if node.layer.type.holdsChildren, !(node.layer.type == .opaque && node.children.isEmpty) {
            fields.append(("children", .array(node.children.map { self.node($0) })))
        }
        return .object(fields)
    }

    static func config(_ layer: Layer) -> [(String, Value)] {
        switch layer {
        case .sequential, .identity, .fourierHalf:
            return []
        case .activation(let activation):
            switch activation {
            case .leakyReLU(let slope): return [("negative_slope", number(slope))]
            case .gelu: return [("approximate", string("none"))]
            case .geluTanh: return [("approximate", string("tanh"))]
            case .relu, .sigmoid, .tanh, .silu: return []
            }
        case .parallel(let axis):
            return [("dim", int(axis))]
        case .repeated(let count, let pattern):
            return [("count", int(count)), ("pattern", string(pattern))]
        case .shared(let target):
            return [("target", string(target))]
        case .linear(let c):
            return optionalInt("in_features", c.inFeatures) + [("out_features", int(c.outFeatures)), ("bias", bool(c.bias))]
        case .conv2d(let c):
            return optionalInt("in_channels", c.inChannels) + [
                ("out_channels", int(c.outChannels)), ("kernel_size", pair(c.kernelSize)), ("stride", pair(c.stride)),
                ("padding", pair(c.padding)), ("dilation", pair(c.dilation)), ("groups", int(c.groups)), ("bias", bool(c.bias)),
            ]
        case .maxPool2d(let c):
            return [("kernel_size", pair(c.kernelSize)), ("stride", pair(c.stride)), ("padding", pair(c.padding)),
                    ("dilation", pair(c.dilation)), ("ceil_mode", bool(c.ceilMode))]
        case .avgPool2d(let c):
            return [("kernel_size", pair(c.kernelSize)), ("stride", pair(c.stride)), ("padding", pair(c.padding)),
                    ("ceil_mode", bool(c.ceilMode)), ("count_include_pad", bool(c.countIncludePad))]
        case .adaptiveAvgPool2d(let size):
            return [("output_size", .array(size.map { $0.map { int($0) } ?? .plain(.null) }))]
        case .batchNorm1d(let c), .batchNorm2d(let c):
            return optionalInt("num_features", c.numFeatures) + [
                ("eps", number(c.eps)), ("momentum", number(c.momentum)), ("affine", bool(c.affine)),
                ("track_running_stats", bool(c.trackRunningStats)),
            ]
        case .layerNorm(let c):
            return [("normalized_shape", ints(c.normalizedShape)), ("eps", number(c.eps)),
                    ("elementwise_affine", bool(c.elementwiseAffine)), ("bias", bool(c.bias))]
        case .dropout(let p):
            return [("p", number(p))]
        case .flatten(let start, let end):
            return [("start_dim", int(start)), ("end_dim", int(end))]
        case .softmax(let dim):
            return [("dim", int(dim))]
        case .tensorReduction(let inFeatures, let outFeatures):
            return optionalInt("in_features", inFeatures) + [("out_features", int(outFeatures))]
        case .opaque(let c):
            var fields: [(String, Value)] = [("class", string(c.className))]
            if !c.tensors.isEmpty {
                fields.append(("tensors", .array(c.tensors.map { tensor in
                    .object([("name", string(tensor.name)), ("shape", ints(tensor.shape)),
                             ("dtype", string(tensor.dtype.rawValue)), ("buffer", bool(tensor.isBuffer))])
                })))
            }
            if let config = c.config { fields.append(("config", .plain(config))) }
            if let reason = c.reason { fields.append(("reason", reason.writerValue)) }
            return fields
        }
    }

    private static func int(_ value: Int) -> Value { .plain(.number(Double(value))) }
    private static func number(_ value: Double) -> Value { .plain(.number(value)) }
    private static func bool(_ value: Bool) -> Value { .plain(.bool(value)) }
    private static func string(_ value: String) -> Value { .plain(.string(value)) }
    private static func ints(_ values: [Int]) -> Value { .array(values.map { int($0) }) }
    private static func pair(_ value: Pair) -> Value { ints([value.h, value.w]) }
    private static func optionalInt(_ key: String, _ value: Int?) -> [(String, Value)] {
        value.map { [(key, int($0))] } ?? []
    }

    // MARK: text

    /// Objects and arrays go on one line when short and free of `children`, else one item a line.
    private static func write(_ value: Value, indent: String, into out: inout String) {
        let inline = oneLine(value)
        if inline.count + indent.count <= 110, !inline.contains("\"children\"") || !isContainer(value) {
            out += inline
            return
        }
        let inner = indent + "  "
        switch value {
        case .plain:
            out += inline
        case .array(let items):
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += inner
                write(item, indent: inner, into: &out)
                out += index + 1 < items.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let fields):
            // Leaf fields stay on the first line; only `children` opens a block below.
            let head = fields.filter { $0.0 != "children" }
            let children = fields.first { $0.0 == "children" }?.1
            if let children, oneLine(.object(head)).count + indent.count <= 100 {
                let headText = head.map { "\(quote($0.0)): \(oneLine($0.1))" }.joined(separator: ", ")
                out += "{" + headText + (headText.isEmpty ? "" : ", ") + "\"children\": "
                write(children, indent: indent, into: &out)
                out += "}"
                return
            }
            out += "{\n"
            for (index, field) in fields.enumerated() {
                out += inner + quote(field.0) + ": "
                write(field.1, indent: inner, into: &out)
                out += index + 1 < fields.count ? ",\n" : "\n"
            }
            out += indent + "}"
        }
    }

    private static func isContainer(_ value: Value) -> Bool {
        if case .plain = value { return false }
        return true
    }

    private static func oneLine(_ value: Value) -> String {
        switch value {
        case .plain(let json): return scalar(json)
        case .array(let items): return "[" + items.map(oneLine).joined(separator: ", ") + "]"
        case .object(let fields): return "{" + fields.map { "\(quote($0.0)): \(oneLine($0.1))" }.joined(separator: ", ") + "}"
        }
    }

    private static func scalar(_ json: JSONValue) -> String {
        switch json {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number):
            if number.rounded() == number, abs(number) < 9.0e15 { return String(Int(number)) }
            return "\(number)"
        case .string(let text): return quote(text)
        case .array(let items): return "[" + items.map(scalar).joined(separator: ", ") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { "\(quote($0)): \(scalar(fields[$0]!))" }.joined(separator: ", ") + "}"
        }
    }

    static func quote(_ text: String) -> String { JSONText.quote(text) }
}
