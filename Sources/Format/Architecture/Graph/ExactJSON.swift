import Foundation

/// A JSON value whose integers stay exact 64-bit integers.
///
/// `JSONValue` keeps every number as a `Double`, which is right for free-form metadata but
/// loses integers above 2^53: torch.export writes `9223372036854775807` as the end of an
/// open slice, and a graph document must keep it. Integral literals that fit in `Int` are
/// `.int`; every other number is `.double` (a reader that wants a float accepts either).
public enum ExactJSON: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ExactJSON])
    case object([String: ExactJSON])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([ExactJSON].self) { self = .array(value) }
        else { self = .object(try container.decode([String: ExactJSON].self)) }
    }

    /// Parses UTF-8 JSON text whose arrays and objects nest at most `maxDepth` levels.
    ///
    /// The depth is measured on the bytes before decoding, so a crafted file of a million
    /// brackets is refused without recursing; `what` names the text in errors.
    public static func parse(_ data: Data, maxDepth: Int, what: String) throws -> ExactJSON {
        try checkDepth(data, maxDepth: maxDepth, what: what)
        do {
            return try JSONDecoder().decode(ExactJSON.self, from: data)
        } catch {
            let detail: String
            if case DecodingError.dataCorrupted(let context) = error {
                detail = context.underlyingError.map { "\($0.localizedDescription)" } ?? context.debugDescription
            } else {
                detail = "\(error)"
            }
            throw FormatError(.malformed(what: what, detail: "not valid JSON: \(detail)"))
        }
    }

    /// Counts bracket nesting outside string literals.
    static func checkDepth(_ data: Data, maxDepth: Int, what: String) throws {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in data {
            if inString {
                if escaped { escaped = false }
                else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                guard depth <= maxDepth else { throw FormatError(.tooDeep(what: what, limit: maxDepth)) }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
    }

    /// A short rendering for messages: the kind of value, or a scalar's text.
    public var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return "\(value)"
        case .int(let value): return "\(value)"
        case .double(let value): return "\(value)"
        case .string(let value): return "'\(value.count > 64 ? String(value.prefix(64)) + "..." : value)'"
        case .array(let items): return "a list of \(items.count)"
        case .object: return "an object"
        }
    }
}
