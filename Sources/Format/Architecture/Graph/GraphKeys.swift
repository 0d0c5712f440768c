/// Reads typed members out of one JSON object of a graph document and refuses any it did
/// not use, so a misspelt key cannot pass silently. Errors carry the object's context.
struct GraphKeys {
    private var object: [String: ExactJSON]
    let context: String

    init(_ value: ExactJSON, context: String) throws {
        guard case .object(let object) = value else {
            throw FormatError(.context(context, .invalidValue(field: "the item", value: value.summary, expected: "a JSON object")))
        }
        self.object = object
        self.context = context
    }

    func error(_ reason: FormatError.Reason) -> FormatError { FormatError(.context(context, reason)) }

    mutating func take(_ key: String) -> ExactJSON? { object.removeValue(forKey: key) }

    mutating func required(_ key: String) throws -> ExactJSON {
        guard let value = take(key) else { throw error(.missingField(key)) }
        return value
    }

    func finish() throws {
        guard object.isEmpty else { throw error(.unknownKeys(object.keys.sorted())) }
    }

    mutating func string(_ key: String) throws -> String {
        let value = try required(key)
        guard case .string(let text) = value else { throw error(.invalidValue(field: key, value: value.summary, expected: "a string")) }
        return text
    }

    mutating func optionalString(_ key: String) throws -> String? {
        guard let value = take(key), value != .null else { return nil }
        guard case .string(let text) = value else { throw error(.invalidValue(field: key, value: value.summary, expected: "a string")) }
        return text
    }

    mutating func int(_ key: String) throws -> Int {
        let value = try required(key)
        guard case .int(let number) = value else { throw error(.invalidValue(field: key, value: value.summary, expected: "an integer")) }
        return number
    }

    mutating func optionalInt(_ key: String) throws -> Int? {
        guard let value = take(key), value != .null else { return nil }
        guard case .int(let number) = value else { throw error(.invalidValue(field: key, value: value.summary, expected: "an integer")) }
        return number
    }

    mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = take(key), value != .null else { return fallback }
        guard case .bool(let flag) = value else { throw error(.invalidValue(field: key, value: value.summary, expected: "true or false")) }
        return flag
    }

    /// The items of an array member (empty when absent and `required` is false), at most `limit`.
    mutating func array(_ key: String, required isRequired: Bool = true, limit: Int) throws -> [ExactJSON] {
        guard let value = take(key) else {
            if isRequired { throw error(.missingField(key)) }
            return []
        }
        return try Self.items(value, field: key, limit: limit, context: context)
    }

    static func items(_ value: ExactJSON, field: String, limit: Int, context: String) throws -> [ExactJSON] {
        guard case .array(let items) = value else {
            throw FormatError(.context(context, .invalidValue(field: field, value: value.summary, expected: "a list")))
        }
        guard items.count <= limit else {
            throw FormatError(.context(context, .limitExceeded(what: "the items of \(field)", value: UInt64(items.count), limit: UInt64(limit))))
        }
        return items
    }
}
