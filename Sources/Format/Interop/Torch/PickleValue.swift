import Foundation

/// A value built by the restricted pickle machine. Nothing here was ever resolved or run:
/// a `global` is only a name (with what ckpt knows it to mean), a `call` never happens,
/// and objects are a class name with the state the pickle gave them.
///
/// Containers are reference types shared between the memo and the stack, as in Python,
/// so that `BINGET` of a dict that is filled later sees the items. Every one of them
/// belongs to a `PickleArena`, which tears the graph down without recursion (a hostile
/// pickle can nest a million levels deep, or build cycles).
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too wide for 64 bits: its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(TorchStorage)
    case tensor(TorchTensor)
    case object(PickleObject)

    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list(let list): return list.isSet ? "set" : "list"
        case .dict(let dict): return dict.className.map { String($0.split(separator: ".").last ?? "dict") } ?? "dict"
        case .global(let global): return "global \(global.qualifiedName)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        case .object(let object): return "object \(object.className)"
        }
    }

    var intValue: Int? {
        switch self {
        case .int(let value): return value
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var boolValue: Bool? {
        switch self {
        case .bool(let flag): return flag
        case .int(let value): return value != 0
        default: return nil
        }
    }

    var doubleValue: Double? {
        switch self {
        case .float(let value): return value
        case .int(let value): return Double(value)
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    /// The items of a tuple or list.
    var sequence: [PickleValue]? {
        switch self {
        case .tuple(let tuple): return tuple.items
        case .list(let list): return list.items
        default: return nil
        }
    }

    /// A reference-typed value's identity (for ties, cycles and shared modules).
    var identity: ObjectIdentifier? {
        switch self {
        case .tuple(let x): return ObjectIdentifier(x)
        case .list(let x): return ObjectIdentifier(x)
        case .dict(let x): return ObjectIdentifier(x)
        case .tensor(let x): return ObjectIdentifier(x)
        case .object(let x): return ObjectIdentifier(x)
        case .storage(let x): return ObjectIdentifier(x)
        default: return nil
        }
    }
}

/// Owns every container a pickle builds and empties them all when it goes, so that
/// releasing a deep or cyclic graph never recurses.
final class PickleArena {
    private var nodes: [PickleNode] = []
    /// Refuses pickles that build more objects than this.
    let maxNodes: Int
    /// The input's memory budget: objects are paid for in blocks, as one byte of pickle can
    /// build an object of a hundred (`EMPTY_DICT POP`, fifty million times).
    let budget: MemoryBudget
    private var reserved: UInt64 = 0
    /// What one object is charged: the object, its arrays and the arena's reference, roughly.
    static let bytesPerNode: UInt64 = 128
    static let block = 1024
    /// What one block of objects reserves.
    static var blockBytes: UInt64 { UInt64(block) * bytesPerNode }

    init(maxNodes: Int = 50_000_000, budget: MemoryBudget = MemoryBudget()) {
        self.maxNodes = maxNodes
        self.budget = budget
    }

    func adopt<T: PickleNode>(_ node: T) throws -> T {
        guard nodes.count < maxNodes else {
            throw FormatError(.limitExceeded(what: "objects the pickle builds", value: UInt64(nodes.count + 1), limit: UInt64(maxNodes)))
        }
        if nodes.count % PickleArena.block == 0 {
            try budget.reserve(PickleArena.blockBytes, for: "the pickle's objects")
            reserved += PickleArena.blockBytes
        }
        nodes.append(node)
        return node
    }

    deinit {
        for node in nodes { node.dropContents() }
        budget.release(reserved)
    }
}

class PickleNode {
    func dropContents() {}
}

final class PickleTuple: PickleNode {
    var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    override func dropContents() { items = [] }
}

final class PickleList: PickleNode {
    var items: [PickleValue]
    /// A `set` or `frozenset` (kept as a list: ckpt only reads them).
    let isSet: Bool
    init(_ items: [PickleValue] = [], isSet: Bool = false) {
        self.items = items
        self.isSet = isSet
    }
    override func dropContents() { items = [] }
}

/// A dict in insertion order. Keys are hashed when they are str, int or bool (Python's
/// equality across int and bool included), so repeated keys replace their value in place.
final class PickleDict: PickleNode {
    enum Key: Hashable {
        case string(String)
        case int(Int)
    }

    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [Key: Int] = [:]
    /// `collections.OrderedDict` for one made by that class; nil for a plain dict.
    let className: String?
    /// What BUILD gave it (a state_dict's `_metadata`): attributes, not items.
    var attributes: PickleValue?

    init(className: String? = nil) { self.className = className }

    var count: Int { keys.count }

    static func hashKey(_ key: PickleValue) -> Key? {
        switch key {
        case .string(let text): return .string(text)
        case .int(let value): return .int(value)
        case .bool(let flag): return .int(flag ? 1 : 0)
        default: return nil
        }
    }

    func set(_ key: PickleValue, _ value: PickleValue) {
        if let hashed = PickleDict.hashKey(key) {
            if let at = index[hashed] {
                values[at] = value
                return
            }
            index[hashed] = keys.count
        }
        keys.append(key)
        values.append(value)
    }

    subscript(_ key: String) -> PickleValue? {
        index[.string(key)].map { values[$0] }
    }

    var entries: Zip2Sequence<[PickleValue], [PickleValue]> { zip(keys, values) }

    override func dropContents() {
        keys = []
        values = []
        index = [:]
        attributes = nil
    }
}

/// An instance the pickle asked for (NEWOBJ, `copyreg._reconstructor`): never created,
/// only described by its class name, constructor arguments and BUILD state.
final class PickleObject: PickleNode {
    let className: String
    var arguments: [PickleValue]
    var state: PickleValue?
    /// What SETITEM(S) gave an instance of a dict subclass.
    var items: PickleDict?
    /// What APPEND(S) gave an instance of a list subclass.
    var listItems: PickleList?

    init(className: String, arguments: [PickleValue]) {
        self.className = className
        self.arguments = arguments
    }

    /// The state as a dict: `__dict__`, or the first half of a `(dict, slots)` pair.
    var stateDict: PickleDict? {
        switch state {
        case .dict(let dict)?: return dict
        case .tuple(let pair)? where pair.items.count == 2:
            if case .dict(let dict) = pair.items[0] { return dict }
            return nil
        default: return nil
        }
    }

    override func dropContents() {
        arguments = []
        state = nil
        items = nil
        listItems = nil
    }
}

/// A reference to a global, never resolved. `symbol` says what ckpt knows it to be.
struct PickleGlobal {
    var module: String
    var name: String
    var symbol: TorchSymbol

    var qualifiedName: String { "\(module).\(name)" }
}
