/// Reads the symbolic sizes torch.export writes (`SymExpr.expr_str`): sympy's `srepr` of an
/// integer expression, such as `Symbol('s77', positive=True, integer=True)` or
/// `Mul(Integer(2), Symbol('s0', ...))`, into a `SymbolicSize`. Nothing is evaluated: the text
/// is parsed by a small recursive-descent reader with a depth bound, and a function outside
/// the integer arithmetic a size uses is refused by name.
enum SympyExpression {
    static func parse(_ text: String) throws -> SymbolicSize {
        var reader = Reader(bytes: Array(text.utf8), text: text)
        let size = try reader.expression(depth: 0)
        reader.skipSpaces()
        guard reader.at == reader.bytes.count else { throw reader.fail("text after the expression") }
        return size
    }

    private struct Reader {
        let bytes: [UInt8]
        let text: String
        var at = 0

        func fail(_ detail: String) -> FormatError {
            let shown = text.count > 120 ? String(text.prefix(120)) + "..." : text
            return FormatError(.malformed(what: "symbolic size '\(shown)'", detail: detail))
        }

        mutating func skipSpaces() { while at < bytes.count, bytes[at] == UInt8(ascii: " ") { at += 1 } }

        mutating func expect(_ byte: UInt8) throws {
            skipSpaces()
            guard at < bytes.count, bytes[at] == byte else { throw fail("expected '\(Character(Unicode.Scalar(byte)))' at \(at)") }
            at += 1
        }

        mutating func identifier() -> String {
            skipSpaces()
            let start = at
            while at < bytes.count, bytes[at] == UInt8(ascii: "_") || (bytes[at] | 0x20 >= UInt8(ascii: "a") && bytes[at] | 0x20 <= UInt8(ascii: "z"))
                || (at > start && bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9")) { at += 1 }
            return String(decoding: bytes[start ..< at], as: UTF8.self)
        }

        mutating func integer() throws -> Int {
            skipSpaces()
            let start = at
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") { at += 1 }
            guard let value = Int(String(decoding: bytes[start ..< at], as: UTF8.self)) else { throw fail("an integer that does not fit in 64 bits") }
            return value
        }

        mutating func quoted() throws -> String {
            skipSpaces()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "'") || bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a quoted name") }
            let quote = bytes[at]
            at += 1
            let start = at
            while at < bytes.count, bytes[at] != quote { at += 1 }
            guard at < bytes.count else { throw fail("an unterminated name") }
            defer { at += 1 }
            return String(decoding: bytes[start ..< at], as: UTF8.self)
        }

        /// Arguments up to `)`; keyword arguments (`positive=True`) are assumptions and skipped.
        mutating func arguments(depth: Int) throws -> [SymbolicSize] {
            var items: [SymbolicSize] = []
            try expect(UInt8(ascii: "("))
            skipSpaces()
            if at < bytes.count, bytes[at] == UInt8(ascii: ")") { at += 1; return items }
            while true {
                let mark = at
                let name = identifier()
                skipSpaces()
                if !name.isEmpty, at < bytes.count, bytes[at] == UInt8(ascii: "=") {
                    at += 1
                    _ = identifier() // True / False
                } else {
                    at = mark
                    items.append(try expression(depth: depth + 1))
                    guard items.count <= GraphLimits.maxExpressionTerms else {
                        throw FormatError(.walkBudgetExceeded(what: "a symbolic size", limit: GraphLimits.maxExpressionTerms))
                    }
                }
                skipSpaces()
                guard at < bytes.count else { throw fail("an unterminated argument list") }
                if bytes[at] == UInt8(ascii: ")") { at += 1; return items }
                try expect(UInt8(ascii: ","))
            }
        }

        mutating func expression(depth: Int) throws -> SymbolicSize {
            guard depth < GraphLimits.maxExpressionDepth else { throw FormatError(.tooDeep(what: "a symbolic size", limit: GraphLimits.maxExpressionDepth)) }
            skipSpaces()
            guard at < bytes.count else { throw fail("it ends early") }
            if bytes[at] == UInt8(ascii: "-") || (bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9")) {
                return .constant(try integer())
            }
            let function = identifier()
            guard !function.isEmpty else { throw fail("unexpected text at \(at)") }
            skipSpaces()
            // A bare name: an expression printed with str() rather than srepr (older writers).
            guard at < bytes.count, bytes[at] == UInt8(ascii: "(") else { return .symbol(function) }
            switch function {
            case "Symbol":
                try expect(UInt8(ascii: "("))
                let name = try quoted()
                skipSpaces()
                if at < bytes.count, bytes[at] == UInt8(ascii: ",") {
                    // The assumptions that follow the name.
                    at += 1
                    while true {
                        _ = identifier()
                        skipSpaces()
                        if at < bytes.count, bytes[at] == UInt8(ascii: "=") { at += 1; _ = identifier() }
                        skipSpaces()
                        guard at < bytes.count else { throw fail("an unterminated Symbol") }
                        if bytes[at] == UInt8(ascii: ")") { break }
                        try expect(UInt8(ascii: ","))
                    }
                }
                try expect(UInt8(ascii: ")"))
                return .symbol(name)
            case "Integer":
                try expect(UInt8(ascii: "("))
                let value = try integer()
                try expect(UInt8(ascii: ")"))
                return .constant(value)
            default:
                let items = try arguments(depth: depth)
                switch (function, items.count) {
                case ("Add", 1...): return .add(items)
                case ("Mul", 1...): return .mul(items)
                case ("Max", 1...): return .max(items)
                case ("Min", 1...): return .min(items)
                case ("FloorDiv", 2): return .floorDiv(items[0], items[1])
                case ("Mod", 2), ("PythonMod", 2): return .mod(items[0], items[1])
                case ("Pow", 2):
                    guard case .constant(let exponent) = items[1], (1 ... 8).contains(exponent) else {
                        throw FormatError(.refused(what: "symbolic size '\(text)'", why: "a power other than a small whole exponent"))
                    }
                    return .mul(Array(repeating: items[0], count: exponent))
                default:
                    throw FormatError(.refused(what: "symbolic size '\(text)'", why: "ckpt does not know the function \(function) with \(items.count) arguments"))
                }
            }
        }
    }
}
