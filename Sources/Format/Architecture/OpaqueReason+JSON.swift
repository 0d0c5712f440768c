import Foundation

/// The `reason` object of an Opaque module (spec/ARCH.md "Opaque"): `kind` and its facts.
extension OpaqueReason {
    /// Names a reason may list (tensors, attributes, children). A real module has a few; the
    /// bound keeps a crafted document from making a message of millions of names.
    static let maxNames = 1024

    /// The first `maxNames` of `names`: what a reader of a file may put in a reason, so that
    /// the document it writes parses again.
    static func capped(_ names: [String]) -> [String] { Array(names.prefix(maxNames)) }

    /// The reason as an ordered JSON object.
    var writerValue: ArchitectureWriter.Value {
        typealias V = ArchitectureWriter.Value
        func text(_ value: String) -> V { .plain(.string(value)) }
        func list(_ names: [String]) -> V { .array(names.map(text)) }
        var fields: [(String, V)] = [("kind", text(kind))]
        switch self {
        case .unknownClass(let name): fields.append(("class", text(name)))
        case .unsupportedSetting(let name, let value): fields += [("name", text(name)), ("value", text(value))]
        case .parametrization(let method, let tensors): fields += [("method", text(method)), ("tensors", list(tensors))]
        case .hooks(let hooks):
            fields.append(("hooks", .array(hooks.map { hook in
                .object([("kind", text(hook.kind.rawValue)), ("count", .plain(.number(Double(hook.count))))])
            })))
        case .unreadableAttributes(let names), .unexpectedTensors(let names), .unexpectedChildren(let names):
            fields.append(("names", list(names)))
        case .notAModule: break
        }
        return .object(fields)
    }

    /// Parses the `reason` object; unknown kinds and keys are errors, as everywhere in a document.
    static func parse(_ value: JSONValue, context: String) throws -> OpaqueReason {
        guard case .object(let object) = value else {
            throw FormatError(.context(context, .invalidValue(field: "reason", value: value.jsonText, expected: "an object with a kind")))
        }
        var keys = KeyReader(object: object, context: context + " reason")
        let kind = try keys.string("kind")
        func names(_ key: String) throws -> [String] {
            guard let list = keys.take(key) else { throw keys.error(.missingField(key)) }
            guard case .array(let items) = list, items.count <= maxNames else {
                throw keys.error(.invalidValue(field: key, value: "not a list of at most \(maxNames) strings", expected: "a list of names"))
            }
            return try items.map { item in
                guard let name = item.stringValue else { throw keys.error(.invalidValue(field: key, value: item.jsonText, expected: "a string")) }
                return name
            }
        }
        let reason: OpaqueReason
        switch kind {
        case "unknown_class": reason = .unknownClass(name: try keys.string("class"))
        case "unsupported_setting": reason = .unsupportedSetting(name: try keys.string("name"), value: try keys.string("value"))
        case "parametrization": reason = .parametrization(method: try keys.string("method"), tensors: try names("tensors"))
        case "hooks":
            guard case .array(let items)? = keys.take("hooks"), !items.isEmpty, items.count <= HookKind.allCases.count else {
                throw keys.error(.invalidValue(field: "hooks", value: "missing, empty or too long", expected: "a list of {kind, count}, one per kind"))
            }
            var hooks: [HookCount] = []
            for item in items {
                guard case .object(let fields) = item else { throw keys.error(.invalidValue(field: "hooks", value: item.jsonText, expected: "an object")) }
                var hookKeys = KeyReader(object: fields, context: keys.context + " hook")
                let name = try hookKeys.string("kind")
                guard let hookKind = HookKind(rawValue: name), !hooks.contains(where: { $0.kind == hookKind }) else {
                    throw hookKeys.error(.invalidValue(field: "kind", value: "'\(name)'", expected: "one of \(HookKind.allCases.map(\.rawValue).joined(separator: ", ")), each once"))
                }
                let count = try hookKeys.positive("count")
                try hookKeys.finish()
                hooks.append(HookCount(kind: hookKind, count: count))
            }
            reason = .hooks(hooks)
        case "unreadable_attributes": reason = .unreadableAttributes(names: try names("names"))
        case "unexpected_tensors": reason = .unexpectedTensors(names: try names("names"))
        case "unexpected_children": reason = .unexpectedChildren(names: try names("names"))
        case "not_a_module": reason = .notAModule
        default:
            throw keys.error(.invalidValue(field: "kind", value: "'\(kind)'", expected: "one of \(kinds.joined(separator: ", "))"))
        }
        try keys.finish()
        return reason
    }
}
