import Foundation

/// The nesting of a training checkpoint as `torch.save` holds it: dicts (ordered, with typed
/// keys), lists, tuples, and leaves: tensors (by the checkpoint's tensor name), integers,
/// floats (bit for bit), strings, bools, bytes and None. `{'model': sd, 'optimizer':
/// opt.state_dict(), 'epoch': 3}` is a dict of an ordered dict of tensors, a dict whose
/// `state` has integer keys, and an int.
///
/// A checkpoint without a structure is a flat state_dict: an ordered dict of its tensor
/// names. Tensors stay in `Checkpoint.tensors`; a `.tensor(name)` leaf refers to one by its
/// stored name or an alias, so two leaves naming one stored tensor are tied (stored once).
/// The canonical names of the leaves (`flattenedTensorNames`) are the names the importer
/// gives the tensors, so a plain state_dict keeps the names it has today.
///
/// Everything from a file is bounded (`CheckpointStructure.Limits`) and checked
/// (`validate(against:)`); the stored form is spec/FORMAT.md section 4.1.
public indirect enum CheckpointStructure: Sendable {
    /// A dict; `ordered` for `collections.OrderedDict` (what `state_dict()` returns).
    /// Keys are unique by Python's equality (`Key.pythonIdentity`).
    case dict([Entry], ordered: Bool)
    case list([CheckpointStructure])
    case tuple([CheckpointStructure])
    /// A tensor of the checkpoint, by its stored name or one of its aliases.
    case tensor(String)
    /// A Python int that fits in 64 bits.
    case int(Int64)
    /// A Python int beyond 64 bits, as its decimal text (`-123...`): kept exactly, never
    /// rounded; at most `Limits.maxIntegerDigits` digits.
    case bigInt(String)
    /// A Python float, bit for bit (NaN payloads, -0.0, infinities included).
    case float(Double)
    case string(String)
    case bool(Bool)
    case bytes(Data)
    case none
    /// A value outside this vocabulary (an instance of some class, a set, a cycle), kept as
    /// a JSON description for people; exporters write it as None and say so.
    case opaque(JSONValue)

    /// One dict item.
    public struct Entry: Sendable, Equatable {
        public var key: Key
        public var value: CheckpointStructure

        public init(_ key: Key, _ value: CheckpointStructure) {
            self.key = key
            self.value = value
        }
    }

    /// The keys real checkpoints use: strings (state_dicts), ints (optimizer state), and,
    /// rarely, bools, floats and None. Other keys (tuples, objects) make their dict opaque.
    public enum Key: Sendable, Hashable, CustomStringConvertible {
        case string(String)
        case int(Int64)
        case bool(Bool)
        case float(Double)
        case none

        /// How the key reads in a dotted name: strings as they are, ints in decimal, bools
        /// `True`/`False`, None `None`, floats as `CheckpointStructure.floatText`.
        public var pathLabel: String {
            switch self {
            case .string(let text): return text
            case .int(let n): return String(n)
            case .bool(let flag): return flag ? "True" : "False"
            case .float(let x): return CheckpointStructure.floatText(x)
            case .none: return "None"
            }
        }

        public var description: String {
            switch self {
            case .string(let text): return "'\(text)'"
            default: return pathLabel
            }
        }

        /// Python's dict equality: `True == 1 == 1.0`, `0.0 == -0.0`, NaN keys by identity
        /// (here: bit pattern). Two keys of a dict with equal identities are one key in Python.
        public var pythonIdentity: PythonKey {
            switch self {
            case .string(let text): return .string(text)
            case .int(let n): return .int(n)
            case .bool(let flag): return .int(flag ? 1 : 0)
            case .none: return .none
            case .float(let x):
                if x == 0 { return .int(0) }
                if x.isFinite, x.rounded() == x, let n = Int64(exactly: x) { return .int(n) }
                return .float(x.bitPattern)
            }
        }

        /// Hashable form of `pythonIdentity`.
        public enum PythonKey: Hashable, Sendable {
            case string(String), int(Int64), float(UInt64), none
        }

        public static func == (a: Key, b: Key) -> Bool {
            switch (a, b) {
            case let (.string(x), .string(y)): return x == y
            case let (.int(x), .int(y)): return x == y
            case let (.bool(x), .bool(y)): return x == y
            case let (.float(x), .float(y)): return x.bitPattern == y.bitPattern
            case (.none, .none): return true
            default: return false
            }
        }

        public func hash(into hasher: inout Hasher) {
            switch self {
            case .string(let text): hasher.combine(0); hasher.combine(text)
            case .int(let n): hasher.combine(1); hasher.combine(n)
            case .bool(let flag): hasher.combine(2); hasher.combine(flag)
            case .float(let x): hasher.combine(3); hasher.combine(x.bitPattern)
            case .none: hasher.combine(4)
            }
        }
    }

    /// What one structure may hold: it comes from files, so every walk over it is bounded.
    public struct Limits: Sendable {
        /// Containers inside containers (a real checkpoint nests fewer than ten).
        public var maxDepth = 128
        /// Nodes of every kind, leaves included (an optimizer's state has a few per parameter).
        public var maxNodes = 4_000_000
        /// Decimal digits of an integer beyond 64 bits (Python's own default limit is 4300).
        public var maxIntegerDigits = 4300
        public init() {}
    }

    /// The structure of a plain state_dict of `names`: an ordered dict of each name to its
    /// tensor. A checkpoint whose structure is this one need not store it.
    public static func stateDict(_ names: [String]) -> CheckpointStructure {
        .dict(names.map { Entry(.string($0), .tensor($0)) }, ordered: true)
    }

    /// True for a dict (ordered or not) of string keys, each naming a tensor by that very
    /// key: what a checkpoint without a structure means, so storing it adds nothing.
    public var isFlatStateDict: Bool {
        guard case .dict(let entries, _) = self else { return false }
        return entries.allSatisfy { entry in
            if case .string(let key) = entry.key, case .tensor(let name) = entry.value { return key == name }
            return false
        }
    }

    /// A float as the format writes it: the shortest decimal that reads back to exactly
    /// `x` (`0.001`, `1e-08`, `-0.0`, `inf`, `-inf`); NaN as `nan:` and its 16 hex bits, so
    /// that the payload survives.
    public static func floatText(_ x: Double) -> String {
        if x.isNaN { return "nan:" + String(x.bitPattern, radix: 16).leftPadded(to: 16) }
        return x.description
    }

    /// The inverse of `floatText`; nil for anything else.
    public static func float(fromText text: String) -> Double? {
        if text.hasPrefix("nan:") {
            let hex = text.dropFirst(4)
            guard hex.count == 16, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }), let bits = UInt64(hex, radix: 16) else { return nil }
            let value = Double(bitPattern: bits)
            return value.isNaN ? value : nil
        }
        switch text {
        case "inf": return .infinity
        case "-inf": return -.infinity
        default:
            // Decimal only: Swift's parser would also take hex floats, "nan" and "infinity".
            guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) || $0 == 46 || $0 == 101 || $0 == 43 || $0 == 45 }),
                  let value = Double(text), value.isFinite else { return nil }
            return value
        }
    }
}

extension CheckpointStructure: Equatable {
    /// Equality as the format means it: floats by bit pattern (NaN equals the same NaN).
    public static func == (a: CheckpointStructure, b: CheckpointStructure) -> Bool {
        switch (a, b) {
        case let (.dict(x, ox), .dict(y, oy)): return ox == oy && x == y
        case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)): return x == y
        case let (.tensor(x), .tensor(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.bigInt(x), .bigInt(y)): return x == y
        case let (.float(x), .float(y)): return x.bitPattern == y.bitPattern
        case let (.string(x), .string(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case let (.bytes(x), .bytes(y)): return x == y
        case (.none, .none): return true
        case let (.opaque(x), .opaque(y)): return x == y
        default: return false
        }
    }
}

extension String {
    func leftPadded(to count: Int) -> String {
        self.count >= count ? self : String(repeating: "0", count: count - self.count) + self
    }
}
