/// Lenient access to torch.export's JSON (the dataclasses of `torch/_export/serde/schema.py`
/// written by `serialize.py`): members a newer minor version adds are ignored, as torch's
/// own reader ignores them; a member of the wrong type is an error naming where it is.
struct ExportJSON {
    let value: ExactJSON
    /// Where the value is, for messages: `graph_module.graph.nodes[3].inputs[0]`.
    let path: String

    init(_ value: ExactJSON, path: String) {
        self.value = value
        self.path = path
    }

    func fail(_ expected: String) -> FormatError {
        FormatError(.invalidValue(field: path, value: value.summary, expected: expected))
    }

    /// The member `key` of an object; absent members read as `null`.
    subscript(key: String) -> ExportJSON {
        if case .object(let members) = value { return ExportJSON(members[key] ?? .null, path: path.isEmpty ? key : path + "." + key) }
        return ExportJSON(.null, path: path + "." + key)
    }

    var isNull: Bool { value == .null }

    func object() throws -> [(key: String, value: ExportJSON)] {
        guard case .object(let members) = value else { throw fail("an object") }
        // Sorted: Foundation's decoder keeps no member order, and the graph needs a fixed one.
        return members.keys.sorted().map { ($0, ExportJSON(members[$0]!, path: path + "." + $0)) }
    }

    /// The items of a list, at most `limit` of them.
    func array(limit: Int) throws -> [ExportJSON] {
        guard case .array(let items) = value else { throw fail("a list") }
        guard items.count <= limit else {
            throw FormatError(.limitExceeded(what: "the items of \(path)", value: UInt64(items.count), limit: UInt64(limit)))
        }
        return items.enumerated().map { ExportJSON($0.element, path: "\(path)[\($0.offset)]") }
    }

    func string() throws -> String {
        guard case .string(let text) = value else { throw fail("a string") }
        return text
    }

    func int() throws -> Int {
        guard case .int(let number) = value else { throw fail("an integer") }
        return number
    }

    func bool() throws -> Bool {
        guard case .bool(let flag) = value else { throw fail("true or false") }
        return flag
    }

    /// A float as torch writes it: a number, or "Infinity", "-Infinity", "NaN".
    func float() throws -> Double {
        switch value {
        case .int(let number): return Double(number)
        case .double(let number): return number
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        case .string("NaN"): return .nan
        default: throw fail("a number")
        }
    }

    /// A `_Union` dataclass: an object with exactly one member, whose key names the variant.
    func union() throws -> (kind: String, value: ExportJSON) {
        guard case .object(let members) = value, members.count == 1, let (kind, inner) = members.first else {
            throw fail("an object with one member naming its kind")
        }
        return (kind, ExportJSON(inner, path: path + "." + kind))
    }
}
