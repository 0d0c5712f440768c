import Foundation

/// The part of Python's literal syntax that `.npy` headers use. numpy writes the
/// header with `repr()` and reads it with `ast.literal_eval`, so other writers vary
/// spacing, quoting and trailing commas; this accepts what `literal_eval` would.
indirect enum PythonLiteral {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(key: PythonLiteral, value: PythonLiteral)])

    /// Parses one literal filling `bytes` (surrounding whitespace allowed).
    /// `latin1` decodes strings as ISO-8859-1 (npy 1.0 and 2.0) rather than UTF-8 (3.0).
    static func parse(_ bytes: [UInt8], latin1: Bool) throws -> PythonLiteral {
        var parser = Parser(bytes: bytes, latin1: latin1)
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.atEnd else { throw parser.error("unexpected text after the header dictionary") }
        return value
    }

    var kindName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .bool: return "a boolean"
        case .none: return "None"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        let latin1: Bool
        var position = 0
        /// Headers are flat; the limit only stops hostile nesting from exhausting the stack.
        static let maxDepth = 32

        var atEnd: Bool { position >= bytes.count }

        func error(_ message: String) -> FormatError {
            Fault.malformed("the .npy header literal at byte \(position)", message)
        }


        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D, 0x0C].contains(bytes[position]) { position += 1 }
        }

        mutating func value(depth: Int) throws -> PythonLiteral {
            guard depth < Self.maxDepth else { throw FormatError(.tooDeep(what: "the .npy header literal", limit: Self.maxDepth)) }
            skipWhitespace()
            guard position < bytes.count else { throw error("unexpected end") }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                return .dict(try dictItems(depth: depth))
            case UInt8(ascii: "("):
                position += 1
                let (items, sawComma) = try sequence(until: UInt8(ascii: ")"), depth: depth)
                // `(3)` is just a parenthesised 3 in Python; only a comma makes a tuple.
                if items.count == 1, !sawComma { return items[0] }
                return .tuple(items)
            case UInt8(ascii: "["):
                position += 1
                return .list(try sequence(until: UInt8(ascii: "]"), depth: depth).items)
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0") ... UInt8(ascii: "9"):
                return .integer(try integer())
            default:
                return try keyword()
            }
        }

        mutating func sequence(until close: UInt8, depth: Int) throws -> (items: [PythonLiteral], sawComma: Bool) {
            var items: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipWhitespace()
                if position < bytes.count, bytes[position] == close { position += 1; return (items, sawComma) }
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard position < bytes.count else { throw error("unclosed bracket") }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                    sawComma = true
                } else if bytes[position] != close {
                    throw error("expected ',' or '\(Character(Unicode.Scalar(close)))'")
                }
            }
        }

        mutating func dictItems(depth: Int) throws -> [(key: PythonLiteral, value: PythonLiteral)] {
            var items: [(key: PythonLiteral, value: PythonLiteral)] = []
            while true {
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return items }
                let key = try value(depth: depth + 1)
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
                position += 1
                items.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                guard position < bytes.count else { throw error("unclosed '{'") }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                } else if bytes[position] != UInt8(ascii: "}") {
                    throw error("expected ',' or '}'")
                }
            }
        }

        mutating func string() throws -> String {
            let quote = bytes[position]
            position += 1
            var content: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if byte == quote { return try decode(content) }
                if byte == 0x0A { break }
                if byte == UInt8(ascii: "\\") {
                    guard position < bytes.count else { break }
                    let escaped = bytes[position]
                    position += 1
                    switch escaped {
                    case UInt8(ascii: "n"): content.append(0x0A)
                    case UInt8(ascii: "t"): content.append(0x09)
                    case UInt8(ascii: "r"): content.append(0x0D)
                    case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): content.append(escaped)
                    default: throw error("unsupported escape '\\\(Character(Unicode.Scalar(escaped)))' in a string")
                    }
                } else {
                    content.append(byte)
                }
            }
            throw error("unterminated string")
        }

        func decode(_ content: [UInt8]) throws -> String {
            if latin1 { return String(content.map { Character(Unicode.Scalar($0)) }) }
            guard let text = String(bytes: content, encoding: .utf8) else { throw error("a string is not valid UTF-8") }
            return text
        }

        mutating func integer() throws -> Int {
            var negative = false
            if bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+") {
                negative = bytes[position] == UInt8(ascii: "-")
                position += 1
                skipWhitespace()
            }
            var magnitude = 0
            var digits = 0
            while position < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[position]) {
                let (shifted, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (next, overflow2) = shifted.addingReportingOverflow(Int(bytes[position] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { throw error("integer does not fit in 64 bits") }
                magnitude = next
                digits += 1
                position += 1
            }
            guard digits > 0 else { throw error("expected digits") }
            // Python 2 wrote long integers as `3L`; numpy still reads such headers.
            if position < bytes.count, bytes[position] == UInt8(ascii: "L") { position += 1 }
            return negative ? -magnitude : magnitude
        }

        mutating func keyword() throws -> PythonLiteral {
            for (word, value) in [("True", PythonLiteral.bool(true)), ("False", .bool(false)), ("None", .none)] {
                let spelled = Array(word.utf8)
                if bytes.count - position >= spelled.count, Array(bytes[position ..< position + spelled.count]) == spelled {
                    position += spelled.count
                    return value
                }
            }
            throw error("unexpected character")
        }
    }
}
