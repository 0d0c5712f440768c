import Foundation

/// The stored form of a `CheckpointStructure` (spec/FORMAT.md section 4.1): UTF-8 JSON
/// `{"version": 1, "root": NODE}` where every node says its kind, so that key types and
/// leaf types survive exactly: integers and floats are decimal text (no reader's double
/// rounds them), NaN keeps its bits.
///
/// ```
/// NODE = null                                   None
///      | {"tensor": NAME}                       a tensor of the checkpoint
///      | {"int": "-12"}                         any Python int, decimal
///      | {"float": "0.001" | "inf" | "nan:7ff8000000000000"}
///      | {"str": "text"} | {"bool": true} | {"bytes": BASE64}
///      | {"dict": [[KEY, NODE], ...]} | {"ordered_dict": [[KEY, NODE], ...]}
///      | {"list": [NODE, ...]} | {"tuple": [NODE, ...]}
///      | {"opaque": ANY_JSON}                   a described value outside this vocabulary
/// KEY  = null | {"str": ...} | {"int": ...} | {"bool": ...} | {"float": ...}
/// ```
extension CheckpointStructure {
    /// The structure format this reader and writer know.
    public static let encodingVersion = 1
    /// A structure section larger than this is refused before it is parsed.
    public static let maxEncodedBytes = 256 << 20

    /// The section's bytes: compact JSON, sorted members, so equal structures give equal bytes.
    public func encoded() throws -> Data {
        try JSONValue.object(["version": .number(Double(Self.encodingVersion)), "root": json]).serialized()
    }

    /// Parses and bounds a structure section (tensor references are checked by
    /// `validate(against:)`, which needs the checkpoint's names). Refuses text that is not
    /// JSON, an unknown `version`, unknown node kinds, wrong member types, nesting deeper or
    /// larger than `limits`: all as typed `FormatError`s in the context `structure`.
    public static func decode(_ data: Data, limits: Limits = Limits()) throws -> CheckpointStructure {
        do {
            guard data.count <= maxEncodedBytes else {
                throw FormatError(.limitExceeded(what: "the structure section's length", value: UInt64(data.count), limit: UInt64(maxEncodedBytes)))
            }
            let document: JSONValue
            do { document = try JSONValue.parse(data) } catch {
                throw FormatError(.malformed(what: "section", detail: "not valid JSON (or nested deeper than a JSON parser allows)"))
            }
            guard case .object(let members) = document else {
                throw FormatError(.invalidValue(field: "section", value: kindName(document), expected: "an object {\"version\", \"root\"}"))
            }
            guard case .number(let version)? = members["version"] else { throw FormatError(.missingField("version")) }
            guard version == Double(encodingVersion) else {
                throw FormatError(.unsupportedVersion(what: "structure", found: version.description, supported: "\(encodingVersion)"))
            }
            guard let root = members["root"] else { throw FormatError(.missingField("root")) }
            var nodes = 0
            let structure = try node(root, path: "", depth: 0, limits: limits, nodes: &nodes)
            return structure
        } catch let error as FormatError {
            throw error.within("structure")
        }
    }

    var json: JSONValue {
        switch self {
        case .none: return .null
        case .tensor(let name): return .object(["tensor": .string(name)])
        case .int(let n): return .object(["int": .string(String(n))])
        case .bigInt(let text): return .object(["int": .string(text)])
        case .float(let x): return .object(["float": .string(Self.floatText(x))])
        case .string(let text): return .object(["str": .string(text)])
        case .bool(let flag): return .object(["bool": .bool(flag)])
        case .bytes(let data): return .object(["bytes": .string(data.base64EncodedString())])
        case .opaque(let value): return .object(["opaque": value])
        case .list(let items): return .object(["list": .array(items.map(\.json))])
        case .tuple(let items): return .object(["tuple": .array(items.map(\.json))])
        case .dict(let entries, let ordered):
            return .object([ordered ? "ordered_dict" : "dict": .array(entries.map { .array([$0.key.json, $0.value.json]) })])
        }
    }

    private static func node(_ value: JSONValue, path: String, depth: Int, limits: Limits, nodes: inout Int) throws -> CheckpointStructure {
        nodes += 1
        guard nodes <= limits.maxNodes else { throw FormatError(.walkBudgetExceeded(what: "the structure", limit: limits.maxNodes)) }
        guard depth <= limits.maxDepth else { throw FormatError(.tooDeep(what: "the structure", limit: limits.maxDepth)) }
        let (kind, payload) = try tagged(value, path: path)
        func fail(_ expected: String) -> FormatError {
            FormatError(.invalidValue(field: where_(path, kind), value: kindName(payload), expected: expected))
        }
        switch kind {
        case "null": return .none
        case "tensor":
            guard case .string(let name) = payload else { throw fail("a tensor name") }
            try CheckpointNames.check(name, kind: "tensor")
            return .tensor(name)
        case "int":
            guard case .string(let text) = payload else { throw fail("decimal text") }
            if let n = Int64(text), String(n) == text { return .int(n) }
            do { try checkBigInt(text, limits: limits) } catch let error as FormatError { throw error.within(where_(path, kind)) }
            return .bigInt(text)
        case "float":
            guard case .string(let text) = payload, let x = float(fromText: text) else { throw fail("a decimal float, inf, -inf or nan:<16 hex digits>") }
            return .float(x)
        case "str":
            guard case .string(let text) = payload else { throw fail("a string") }
            return .string(text)
        case "bool":
            guard case .bool(let flag) = payload else { throw fail("true or false") }
            return .bool(flag)
        case "bytes":
            guard case .string(let text) = payload, let data = Data(base64Encoded: text) else { throw fail("base64 text") }
            return .bytes(data)
        case "opaque":
            return .opaque(payload)
        case "list", "tuple":
            guard case .array(let items) = payload else { throw fail("an array of nodes") }
            var out: [CheckpointStructure] = []
            out.reserveCapacity(items.count)
            for (k, item) in items.enumerated() {
                out.append(try node(item, path: joinPath(path, String(k)), depth: depth + 1, limits: limits, nodes: &nodes))
            }
            return kind == "list" ? .list(out) : .tuple(out)
        case "dict", "ordered_dict":
            guard case .array(let pairs) = payload else { throw fail("an array of [key, node] pairs") }
            var entries: [Entry] = []
            entries.reserveCapacity(pairs.count)
            var seen = Set<Key.PythonKey>()
            for pair in pairs {
                guard case .array(let both) = pair, both.count == 2 else { throw fail("an array of [key, node] pairs") }
                let key = try self.key(both[0], path: path)
                guard seen.insert(key.pythonIdentity).inserted else {
                    throw FormatError(.duplicateName(kind: "dict key", name: key.pathLabel)).within(where_(path, kind))
                }
                entries.append(Entry(key, try node(both[1], path: joinPath(path, key.pathLabel), depth: depth + 1, limits: limits, nodes: &nodes)))
            }
            return .dict(entries, ordered: kind == "ordered_dict")
        default:
            throw FormatError(.invalidValue(field: where_(path, "node"), value: "'\(kind)'",
                                            expected: "null or one of tensor, int, float, str, bool, bytes, list, tuple, dict, ordered_dict, opaque"))
        }
    }

    private static func key(_ value: JSONValue, path: String) throws -> Key {
        var nodes = 0
        let keyPath = where_(path, "key")
        let (kind, _) = try tagged(value, path: path)
        guard ["null", "str", "int", "bool", "float"].contains(kind) else {
            throw FormatError(.invalidValue(field: keyPath, value: "'\(kind)'", expected: "a key: null, str, int, bool or float"))
        }
        switch try node(value, path: path, depth: 0, limits: Limits(), nodes: &nodes) {
        case .none: return .none
        case .string(let text): return .string(text)
        case .int(let n): return .int(n)
        case .bool(let flag): return .bool(flag)
        case .float(let x): return .float(x)
        default:
            // A big integer key: Python allows it; no real checkpoint has one.
            throw FormatError(.refused(what: keyPath, why: "integer keys beyond 64 bits are not supported"))
        }
    }

    /// A node's kind and payload: `null`, or an object of exactly one member.
    private static func tagged(_ value: JSONValue, path: String) throws -> (String, JSONValue) {
        if case .null = value { return ("null", .null) }
        guard case .object(let members) = value, members.count == 1, let (kind, payload) = members.first else {
            throw FormatError(.invalidValue(field: where_(path, "node"), value: kindName(value), expected: "null or an object of one member"))
        }
        return (kind, payload)
    }

    private static func where_(_ path: String, _ what: String) -> String {
        path.isEmpty ? what : "\(what) at '\(path)'"
    }

    static func kindName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a bool"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object(let members): return "an object of \(members.count) member\(members.count == 1 ? "" : "s")"
        }
    }
}

extension CheckpointStructure.Key {
    var json: JSONValue {
        switch self {
        case .string(let text): return .object(["str": .string(text)])
        case .int(let n): return .object(["int": .string(String(n))])
        case .bool(let flag): return .object(["bool": .bool(flag)])
        case .float(let x): return .object(["float": .string(CheckpointStructure.floatText(x))])
        case .none: return .null
        }
    }
}
