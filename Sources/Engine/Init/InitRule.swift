import Foundation

/// `PATTERN=INITIALIZER`, e.g. `*.weight=xavier_uniform` or `0.bias=normal(0, 0.01)`.
/// The pattern is a glob over full tensor names (`*` any run of characters, dots included;
/// `?` one character); a tensor takes the last rule that matches any of its names.
public struct InitRule: Equatable, Sendable, CustomStringConvertible {
    public var pattern: String
    public var initializer: Initializer
    /// The text as given, for metadata and messages.
    public var description: String

    public init(parsing text: String) throws {
        // The initializer's own arguments may hold '=' (normal(std=0.1)): split at the first '=' outside parentheses.
        var depth = 0
        var split: String.Index?
        for index in text.indices {
            switch text[index] {
            case "(": depth += 1
            case ")": depth -= 1
            case "=" where depth == 0 && split == nil: split = index
            default: break
            }
        }
        guard let split, !text[..<split].trimmingCharacters(in: .whitespaces).isEmpty else {
            throw EngineError.invalidInitRule(text: text, problem: .notPatternEqualsInitializer)
        }
        pattern = text[..<split].trimmingCharacters(in: .whitespaces)
        initializer = try Initializer(parsing: String(text[text.index(after: split)...]))
        description = text
    }

    public func matches(_ name: String) -> Bool { InitRule.glob(Array(pattern.unicodeScalars), Array(name.unicodeScalars)) }

    /// Iterative glob matching with backtracking to the last `*`.
    static func glob(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        var p = 0, t = 0
        var star: Int?, resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1; t += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p; resume = t; p += 1
            } else if let s = star {
                p = s + 1; resume += 1; t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}

extension Initializer {
    /// Parses `name` or `name(arguments)`; arguments are positional or `key=value`, named as
    /// in torch.nn.init: `normal(mean=0, std=0.02)`, `uniform(-0.1, 0.1)`, `constant(0.5)`,
    /// `xavier_uniform(gain=1)`, `kaiming_normal(a=0, mode=fan_out, nonlinearity=relu)`, `default`.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var name = trimmed
        var arguments = ArgumentList(positional: [], named: [:], text: trimmed)
        if let open = trimmed.firstIndex(of: "(") {
            guard trimmed.hasSuffix(")") else { throw EngineError.invalidInitRule(text: text, problem: .missingClosingParenthesis) }
            name = String(trimmed[..<open]).trimmingCharacters(in: .whitespaces)
            let inside = trimmed[trimmed.index(after: open) ..< trimmed.index(before: trimmed.endIndex)]
            for part in inside.split(separator: ",", omittingEmptySubsequences: true) {
                let item = part.trimmingCharacters(in: .whitespaces)
                if let eq = item.firstIndex(of: "=") {
                    arguments.named[item[..<eq].trimmingCharacters(in: .whitespaces)] = item[item.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                } else {
                    arguments.positional.append(item)
                }
            }
        }
        switch name {
        case "default": self = .pytorchDefault
        case "zeros": self = .zeros
        case "ones": self = .ones
        case "constant": self = .constant(try arguments.number(0, "val", nil))
        case "normal": self = .normal(mean: try arguments.number(0, "mean", 0), std: try arguments.number(1, "std", 1))
        case "uniform": self = .uniform(low: try arguments.number(0, "a", 0), high: try arguments.number(1, "b", 1))
        case "xavier_uniform": self = .xavierUniform(gain: try arguments.number(0, "gain", 1))
        case "xavier_normal": self = .xavierNormal(gain: try arguments.number(0, "gain", 1))
        case "kaiming_uniform", "kaiming_normal":
            let a = try arguments.number(0, "a", 0)
            let modeText = try arguments.word(1, "mode", "fan_in")
            let nonlinearityText = try arguments.word(2, "nonlinearity", "leaky_relu")
            guard let mode = FanMode(rawValue: modeText) else { throw EngineError.invalidInitRule(text: text, problem: .badMode) }
            guard let nonlinearity = Nonlinearity(rawValue: nonlinearityText) else {
                throw EngineError.invalidInitRule(text: text, problem: .badNonlinearity(known: Nonlinearity.allCases.map(\.rawValue)))
            }
            self = name == "kaiming_uniform" ? .kaimingUniform(a: a, mode: mode, nonlinearity: nonlinearity)
                                             : .kaimingNormal(a: a, mode: mode, nonlinearity: nonlinearity)
        default:
            throw EngineError.invalidInitRule(text: text, problem: .unknownInitializer(name: name, known: [
                "default", "zeros", "ones", "constant", "normal", "uniform", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
            ]))
        }
        try arguments.checkAllUsed()
    }
}

/// The arguments of one initializer, consumed as they are read so that leftovers are reported.
private struct ArgumentList {
    var positional: [String]
    var named: [String: String]
    let text: String
    private var usedPositions = Set<Int>()

    init(positional: [String], named: [String: String], text: String) {
        self.positional = positional
        self.named = named
        self.text = text
    }

    private mutating func raw(_ position: Int, _ key: String) -> String? {
        if let value = named.removeValue(forKey: key) { return value }
        if position < positional.count { usedPositions.insert(position); return positional[position] }
        return nil
    }

    mutating func number(_ position: Int, _ key: String, _ fallback: Double?) throws -> Double {
        guard let value = raw(position, key) else {
            if let fallback { return fallback }
            throw EngineError.invalidInitRule(text: text, problem: .missingArgument(key: key))
        }
        guard let number = Double(value), number.isFinite else { throw EngineError.invalidInitRule(text: text, problem: .notANumber(key: key, value: value)) }
        return number
    }

    mutating func word(_ position: Int, _ key: String, _ fallback: String) throws -> String {
        raw(position, key) ?? fallback
    }

    func checkAllUsed() throws {
        if let key = named.keys.sorted().first { throw EngineError.invalidInitRule(text: text, problem: .unknownArgument(key: key)) }
        if positional.count > usedPositions.count { throw EngineError.invalidInitRule(text: text, problem: .tooManyArguments) }
    }
}
