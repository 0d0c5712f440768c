/// A size that may depend on symbols: a fixed integer, a named symbol (a dynamic dimension
/// such as the batch), or an integer expression of them, as torch.export records sizes of a
/// program exported with `torch.export.Dim`.
public indirect enum SymbolicSize: Sendable, Equatable, Hashable, CustomStringConvertible {
    case constant(Int)
    case symbol(String)
    /// The sum of every term.
    case add([SymbolicSize])
    /// The product of every factor.
    case mul([SymbolicSize])
    /// Floor division (Python `//`); the divisor must not be zero when evaluated.
    case floorDiv(SymbolicSize, SymbolicSize)
    /// Python's modulo (the sign follows the divisor).
    case mod(SymbolicSize, SymbolicSize)
    case max([SymbolicSize])
    case min([SymbolicSize])

    /// The value when every symbol is bound, with checked arithmetic: a symbol without a
    /// binding, an overflow or a division by zero throws (`what` names the size).
    public func evaluate(_ bindings: [String: Int], what: @autoclosure () -> String) throws -> Int {
        func fold(_ terms: [SymbolicSize], _ combine: (Int, Int) -> (Int, Bool)) throws -> Int {
            var values = try terms.map { try $0.evaluate(bindings, what: what()) }.makeIterator()
            guard var result = values.next() else {
                throw FormatError(.invalidValue(field: what(), value: "an empty expression", expected: "at least one term"))
            }
            while let next = values.next() {
                let (value, overflow) = combine(result, next)
                guard !overflow else { throw FormatError(.arithmeticOverflow(what: what())) }
                result = value
            }
            return result
        }
        switch self {
        case .constant(let value): return value
        case .symbol(let name):
            guard let value = bindings[name] else { throw FormatError(.notFound(kind: "binding of symbol", name: name)) }
            return value
        case .add(let terms): return try fold(terms) { $0.addingReportingOverflow($1) }
        case .mul(let factors): return try fold(factors) { $0.multipliedReportingOverflow(by: $1) }
        case .max(let terms): return try fold(terms) { (Swift.max($0, $1), false) }
        case .min(let terms): return try fold(terms) { (Swift.min($0, $1), false) }
        case let .floorDiv(a, b), let .mod(a, b):
            let x = try a.evaluate(bindings, what: what()), y = try b.evaluate(bindings, what: what())
            guard y != 0 else { throw FormatError(.invalidValue(field: what(), value: "a division by zero", expected: "a non-zero divisor")) }
            guard !(x == .min && y == -1) else { throw FormatError(.arithmeticOverflow(what: what())) }
            var quotient = x / y
            if (x % y != 0) && ((x < 0) != (y < 0)) { quotient -= 1 }
            if case .floorDiv = self { return quotient }
            return x - quotient * y // cannot overflow: |x - q*y| < |y|
        }
    }

    /// The fixed value, when the size holds no symbol.
    public var constantValue: Int? {
        if case .constant(let value) = self { return value }
        return nil
    }

    /// Every symbol the size mentions.
    public var symbols: Set<String> {
        switch self {
        case .constant: return []
        case .symbol(let name): return [name]
        case .add(let terms), .mul(let terms), .max(let terms), .min(let terms):
            return terms.reduce(into: Set<String>()) { $0.formUnion($1.symbols) }
        case let .floorDiv(a, b), let .mod(a, b): return a.symbols.union(b.symbols)
        }
    }

    /// Python-like text: `s0`, `2*s0 + 1`, `s0//2`, `max(s0, 1)`.
    public var description: String {
        switch self {
        case .constant(let value): return "\(value)"
        case .symbol(let name): return name
        case .add(let terms): return "(" + terms.map(\.description).joined(separator: " + ") + ")"
        case .mul(let factors): return factors.map(\.description).joined(separator: "*")
        case let .floorDiv(a, b): return "(\(a)//\(b))"
        case let .mod(a, b): return "(\(a) % \(b))"
        case .max(let terms): return "max(" + terms.map(\.description).joined(separator: ", ") + ")"
        case .min(let terms): return "min(" + terms.map(\.description).joined(separator: ", ") + ")"
        }
    }
}
