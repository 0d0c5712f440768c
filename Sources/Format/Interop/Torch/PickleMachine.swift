import Foundation

/// Limits on what one pickle may build; each one a hostile file would otherwise abuse.
struct PickleLimits {
    var maxStack = 1 << 22
    var maxMarkDepth = 1 << 14
    var maxMemo = 1 << 24
    /// How deeply symbolic calls may nest inside one REDUCE (`_rebuild_from_type_v2` of
    /// `_rebuild_from_type_v2` ...); torch nests them once.
    var maxCallDepth = 64
}

/// A restricted pickle interpreter (protocols 0-5, the opcodes torch.save emits and a few
/// more). It never imports, resolves or calls anything: globals are looked up in
/// `TorchGlobals`' allowlist and interpreted symbolically; REDUCE of anything else is
/// refused naming the global. SETITEM(S) only on dicts, APPEND(S) only on lists, persistent
/// ids only as storage tuples.
final class PickleMachine {
    let arena: PickleArena
    let limits: PickleLimits
    /// Turns a persistent id (BINPERSID) into a value; the only way storages come in.
    var persistentLoad: (PickleValue) throws -> PickleValue
    /// The highest protocol the PROTO opcode announced.
    private(set) var protocolVersion = 0

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(arena: PickleArena, limits: PickleLimits = PickleLimits(),
         persistentLoad: @escaping (PickleValue) throws -> PickleValue = { _ in
             throw Fault.refused("a persistent id", "this pickle may hold none")
         }) {
        self.arena = arena
        self.limits = limits
        self.persistentLoad = persistentLoad
    }

    /// Runs the pickle starting at `start` to its STOP; returns the value and where the pickle ended.
    func run(_ bytes: UnsafeRawBufferPointer, from start: Int = 0) throws -> (value: PickleValue, end: Int) {
        stack.removeAll(keepingCapacity: true)
        marks.removeAll()
        memo.removeAll()
        var reader = PickleReader(bytes: bytes, position: start)
        do {
            while true {
                let opcodeAt = reader.position
                let op = try reader.u8()
                do {
                    if let result = try step(op, &reader) {
                        stack.removeAll()
                        memo.removeAll()
                        return (result, reader.position)
                    }
                } catch let error as FormatError {
                    throw error.within("pickle opcode 0x\(String(op, radix: 16)) at byte \(opcodeAt - start)")
                }
            }
        } catch {
            stack.removeAll()
            memo.removeAll()
            throw error
        }
    }

    // MARK: Stack

    private func push(_ value: PickleValue) throws {
        guard stack.count < limits.maxStack else {
            throw FormatError(.limitExceeded(what: "the pickle stack", value: UInt64(stack.count + 1), limit: UInt64(limits.maxStack)))
        }
        stack.append(value)
    }

    private func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.popLast() else { throw Fault.pickle("stack underflow") }
        return value
    }

    private func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.last else { throw Fault.pickle("stack underflow") }
        return value
    }

    private func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw Fault.pickle("MARK missing") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        .tuple(try arena.adopt(PickleTuple(items)))
    }

    private func memoize(_ index: Int) throws {
        guard index >= 0 else { throw Fault.invalid("memo index", String(index), expected: "a non-negative index") }
        guard memo.count < limits.maxMemo || memo[index] != nil else {
            throw FormatError(.limitExceeded(what: "the pickle memo", value: UInt64(memo.count + 1), limit: UInt64(limits.maxMemo)))
        }
        memo[index] = try top()
    }

    private func recall(_ index: Int) throws {
        guard let value = memo[index] else { throw Fault.pickle("memo entry \(index) is read before it is written") }
        try push(value)
    }

    // MARK: Opcodes

    /// Executes one opcode; returns the result at STOP.
    private func step(_ op: UInt8, _ reader: inout PickleReader) throws -> PickleValue? {
        switch op {
        case 0x80: // PROTO
            let version = Int(try reader.u8())
            guard version <= 5 else {
                throw FormatError(.unsupportedVersion(what: "pickle protocol", found: String(version), supported: "0 to 5"))
            }
            protocolVersion = max(protocolVersion, version)
        case 0x95: // FRAME: a length hint only
            let length = try reader.u64()
            guard length <= UInt64(reader.remaining) else {
                throw FormatError(.truncated(what: "a pickle frame", needed: length, available: UInt64(reader.remaining)))
            }
        case 0x2E: // STOP
            return try pop()
        case 0x28: // MARK
            guard marks.count < limits.maxMarkDepth else { throw FormatError(.tooDeep(what: "pickle MARKs", limit: limits.maxMarkDepth)) }
            marks.append(stack.count)
        case 0x30: // POP
            if stack.count > (marks.last ?? 0) { _ = try pop() } else { _ = try popToMark() }
        case 0x31: // POP_MARK
            _ = try popToMark()
        case 0x32: // DUP
            try push(try top())

        case 0x4E: try push(.none)
        case 0x88: try push(.bool(true))
        case 0x89: try push(.bool(false))
        case 0x4B: try push(.int(Int(try reader.u8()))) // BININT1
        case 0x4D: try push(.int(Int(try reader.u16()))) // BININT2
        case 0x4A: try push(.int(Int(Int32(bitPattern: try reader.u32())))) // BININT
        case 0x8A: // LONG1
            let n = Int(try reader.u8())
            try push(PickleMachine.long(try reader.bytes(n)))
        case 0x8B: // LONG4
            let n = Int(Int32(bitPattern: try reader.u32()))
            guard n >= 0 else { throw Fault.invalid("LONG4 length", String(n), expected: "a non-negative length") }
            try push(PickleMachine.long(try reader.bytes(n)))
        case 0x49: // INT (text); protocol 0 spells True/False as 01/00
            let line = try reader.line()
            if line == "01" { try push(.bool(true)) } else if line == "00" { try push(.bool(false)) } else {
                guard let value = Int(line) else { throw Fault.invalid("INT operand", String(line.prefix(40)), expected: "a 64-bit integer") }
                try push(.int(value))
            }
        case 0x4C: // LONG (text)
            var line = try reader.line()
            if line.hasSuffix("L") { line.removeLast() }
            guard let value = Int(line) else { throw Fault.invalid("LONG operand", String(line.prefix(40)), expected: "a 64-bit integer") }
            try push(.int(value))
        case 0x47: // BINFLOAT, big-endian
            try push(.float(Double(bitPattern: UInt64(bigEndian: try reader.rawU64()))))
        case 0x46: // FLOAT (text)
            let line = try reader.line()
            guard let value = Double(line) else { throw Fault.invalid("FLOAT operand", String(line.prefix(40)), expected: "a number") }
            try push(.float(value))

        case 0x58: try push(.string(try reader.utf8(Int(try reader.u32())))) // BINUNICODE
        case 0x8C: try push(.string(try reader.utf8(Int(try reader.u8())))) // SHORT_BINUNICODE
        case 0x8D: try push(.string(try reader.utf8(try reader.length64()))) // BINUNICODE8
        case 0x55: try push(.string(try reader.byteString(Int(try reader.u8())))) // SHORT_BINSTRING
        case 0x54: // BINSTRING
            let n = Int(Int32(bitPattern: try reader.u32()))
            guard n >= 0 else { throw Fault.invalid("BINSTRING length", String(n), expected: "a non-negative length") }
            try push(.string(try reader.byteString(n)))
        case 0x42: try push(.bytes(Data(try reader.bytes(Int(try reader.u32()))))) // BINBYTES
        case 0x43: try push(.bytes(Data(try reader.bytes(Int(try reader.u8()))))) // SHORT_BINBYTES
        case 0x8E, 0x96: try push(.bytes(Data(try reader.bytes(try reader.length64())))) // BINBYTES8, BYTEARRAY8

        case 0x29: try push(try tuple([])) // EMPTY_TUPLE
        case 0x85: let a = try pop(); try push(try tuple([a])) // TUPLE1
        case 0x86: let b = try pop(), a = try pop(); try push(try tuple([a, b])) // TUPLE2
        case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(try tuple([a, b, c])) // TUPLE3
        case 0x74: try push(try tuple(try popToMark())) // TUPLE
        case 0x5D: try push(.list(try arena.adopt(PickleList()))) // EMPTY_LIST
        case 0x6C: try push(.list(try arena.adopt(PickleList(try popToMark())))) // LIST
        case 0x7D: try push(.dict(try arena.adopt(PickleDict()))) // EMPTY_DICT
        case 0x64: // DICT
            let items = try popToMark()
            guard items.count % 2 == 0 else { throw Fault.pickle("DICT with an odd number of items") }
            let dict = try arena.adopt(PickleDict())
            for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i], items[i + 1]) }
            try push(.dict(dict))
        case 0x8F: try push(.list(try arena.adopt(PickleList(isSet: true)))) // EMPTY_SET
        case 0x91: try push(.list(try arena.adopt(PickleList(try popToMark(), isSet: true)))) // FROZENSET

        case 0x71: try memoize(Int(try reader.u8())) // BINPUT
        case 0x72: try memoize(Int(try reader.u32())) // LONG_BINPUT
        case 0x94: try memoize(memo.count) // MEMOIZE
        case 0x70: // PUT (text)
            let line = try reader.line()
            guard let index = Int(line) else { throw Fault.invalid("PUT index", String(line.prefix(40)), expected: "an integer") }
            try memoize(index)
        case 0x68: try recall(Int(try reader.u8())) // BINGET
        case 0x6A: try recall(Int(try reader.u32())) // LONG_BINGET
        case 0x67: // GET (text)
            let line = try reader.line()
            guard let index = Int(line) else { throw Fault.invalid("GET index", String(line.prefix(40)), expected: "an integer") }
            try recall(index)

        case 0x63: // GLOBAL
            let module = try reader.line()
            let name = try reader.line()
            try push(.global(try TorchGlobals.resolve(module: module, name: name)))
        case 0x93: // STACK_GLOBAL
            let name = try pop(), module = try pop()
            guard let moduleName = module.stringValue, let globalName = name.stringValue else {
                throw Fault.refused("STACK_GLOBAL of \(module.kindName), \(name.kindName)", "a global is named by two strings")
            }
            try push(.global(try TorchGlobals.resolve(module: moduleName, name: globalName)))

        case 0x51: // BINPERSID
            try push(try persistentLoad(try pop()))
        case 0x50:
            throw Fault.refused("a text persistent id (PERSID)", "torch.save never writes one")

        case 0x52: // REDUCE
            let args = try pop(), callable = try pop()
            try push(try reduce(callable, args))
        case 0x81: // NEWOBJ
            let args = try pop(), cls = try pop()
            try push(try instantiate(cls, args))
        case 0x92: // NEWOBJ_EX
            let kwargs = try pop(), args = try pop(), cls = try pop()
            if case .dict(let dict) = kwargs, dict.count == 0 {} else {
                throw Fault.refused("NEWOBJ_EX with keyword arguments", "torch.save never writes one")
            }
            try push(try instantiate(cls, args))
        case 0x62: // BUILD
            let state = try pop()
            try build(try top(), state)

        case 0x73: // SETITEM
            let value = try pop(), key = try pop()
            try dictionary(try top(), "SETITEM").set(key, value)
        case 0x75: // SETITEMS
            let items = try popToMark()
            guard items.count % 2 == 0 else { throw Fault.pickle("SETITEMS with an odd number of items") }
            let dict = try dictionary(try top(), "SETITEMS")
            for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i], items[i + 1]) }
        case 0x61: // APPEND
            let value = try pop()
            try list(try top(), "APPEND", set: false).items.append(value)
        case 0x65: // APPENDS
            let items = try popToMark()
            try list(try top(), "APPENDS", set: false).items.append(contentsOf: items)
        case 0x90: // ADDITEMS
            let items = try popToMark()
            try list(try top(), "ADDITEMS", set: true).items.append(contentsOf: items)

        case 0x82, 0x83, 0x84:
            throw Fault.refused("the copyreg extension registry (EXT opcodes)", "torch.save never uses it")
        case 0x69, 0x6F:
            throw Fault.refused("a class instantiated with INST/OBJ", "torch.save never writes one")
        case 0x97, 0x98:
            throw Fault.refused("out-of-band pickle buffers", "they are not supported")
        default:
            throw Fault.refused("unknown pickle opcode 0x\(String(op, radix: 16))", "it is not part of pickle protocols 0 to 5")
        }
        return nil
    }

    /// The dict SETITEM(S) fills: a dict, or the items of a described instance of a dict
    /// subclass (Lightning's `AttributeDict`), which pickle fills the same way.
    private func dictionary(_ target: PickleValue, _ op: String) throws -> PickleDict {
        if case .object(let object) = target {
            if let items = object.items { return items }
            let items = try arena.adopt(PickleDict())
            object.items = items
            return items
        }
        guard case .dict(let dict) = target else { throw Fault.refused("\(op) on a \(target.kindName)", "only a dict takes items") }
        return dict
    }

    /// The list APPEND(S) fills: a list (a set for ADDITEMS), or the items of a described
    /// instance of a list subclass.
    private func list(_ target: PickleValue, _ op: String, set: Bool) throws -> PickleList {
        if !set, case .object(let object) = target {
            if let items = object.listItems { return items }
            let items = try arena.adopt(PickleList())
            object.listItems = items
            return items
        }
        guard case .list(let list) = target, list.isSet == set else {
            throw Fault.refused("\(op) on a \(target.kindName)", "only a \(set ? "set" : "list") takes it")
        }
        return list
    }

    static func long(_ bytes: UnsafeRawBufferPointer) -> PickleValue {
        if bytes.isEmpty { return .int(0) }
        if bytes.count <= 8 {
            var value: UInt64 = 0
            for (i, byte) in bytes.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
            if bytes.count < 8, bytes[bytes.count - 1] & 0x80 != 0 {
                value |= ~UInt64(0) << (8 * UInt64(bytes.count)) // sign-extend
            }
            return .int(Int(Int64(bitPattern: value)))
        }
        return .bigInt(Array(bytes))
    }

    // MARK: Symbolic calls

    private func global(_ value: PickleValue, _ op: String) throws -> PickleGlobal {
        guard case .global(let global) = value else { throw Fault.refused("\(op) of a \(value.kindName)", "only a global may be called") }
        return global
    }

    /// REDUCE: the allowlisted callables, interpreted; anything else refused by name.
    /// `depth` counts the calls this one is nested in: the pickle builds the arguments of a
    /// nested call without recursion, but interpreting them recurses, so it is bounded.
    func reduce(_ callable: PickleValue, _ args: PickleValue, depth: Int = 0) throws -> PickleValue {
        guard depth < limits.maxCallDepth else {
            throw FormatError(.tooDeep(what: "nested symbolic calls in one REDUCE", limit: limits.maxCallDepth))
        }
        let function = try global(callable, "REDUCE")
        guard case .tuple(let argumentTuple) = args else {
            throw Fault.refused("REDUCE of \(function.qualifiedName) with \(args.kindName) arguments", "arguments are a tuple")
        }
        let items = argumentTuple.items
        switch function.symbol {
        case .orderedDict:
            let dict = try arena.adopt(PickleDict(className: "collections.OrderedDict"))
            if let source = items.first {
                guard let pairs = source.sequence else { throw Fault.invalid("OrderedDict argument", source.kindName, expected: "a sequence of pairs") }
                for pair in pairs {
                    guard let kv = pair.sequence, kv.count == 2 else { throw Fault.invalid("OrderedDict item", pair.kindName, expected: "a pair") }
                    dict.set(kv[0], kv[1])
                }
            }
            return .dict(dict)
        case .rebuildTensor(let version):
            return try TorchTensor.rebuild(version: version, items, arena: arena)
        case .rebuildParameter:
            guard let first = items.first, case .tensor(let tensor) = first else {
                throw Fault.invalid("\(function.name) argument", items.first?.kindName ?? "nothing", expected: "a tensor")
            }
            tensor.isParameter = true
            return first
        case .rebuildFromType:
            // (func, type, args, state): func(*args) is the tensor; type and state are ignored.
            guard items.count == 4 else { throw Fault.invalid("_rebuild_from_type_v2 argument count", String(items.count), expected: "4") }
            if case .global(let type) = items[1] {
                switch type.symbol {
                case .tensorType, .nnClass, .reference: break
                default: throw Fault.refused("_rebuild_from_type_v2 to \(type.qualifiedName)", "only tensor types are rebuilt")
                }
            }
            let inner = try reduce(items[0], items[2], depth: depth + 1)
            guard case .tensor = inner else { throw Fault.invalid("_rebuild_from_type_v2 result", inner.kindName, expected: "a tensor") }
            return inner
        case .set, .frozenset:
            let list = try arena.adopt(PickleList(isSet: true))
            if let source = items.first {
                guard let members = source.sequence else { throw Fault.invalid("\(function.name) argument", source.kindName, expected: "a sequence") }
                list.items = members
            }
            return .list(list)
        case .codecsEncode:
            guard items.count == 2, let text = items[0].stringValue, let encoding = items[1].stringValue,
                  ["latin1", "latin-1", "iso-8859-1"].contains(encoding.lowercased()) else {
                throw Fault.refused("_codecs.encode other than (str, 'latin1')", "only bytes are spelled that way")
            }
            var bytes = [UInt8]()
            bytes.reserveCapacity(text.unicodeScalars.count)
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw Fault.invalid("_codecs.encode text", "U+\(String(scalar.value, radix: 16))", expected: "latin-1") }
                bytes.append(UInt8(scalar.value))
            }
            return .bytes(Data(bytes))
        case .reconstructor:
            guard items.count == 3 else { throw Fault.invalid("copyreg._reconstructor argument count", String(items.count), expected: "3") }
            let cls = try global(items[0], "copyreg._reconstructor")
            return try instantiate(.global(cls), try tuple([]))
        case .torchSize:
            guard let dims = items.first?.sequence else { throw Fault.invalid("torch.Size argument", items.first?.kindName ?? "nothing", expected: "a sequence") }
            return try tuple(dims)
        case .torchDevice:
            guard let kind = items.first?.stringValue else { throw Fault.invalid("torch.device argument", items.first?.kindName ?? "nothing", expected: "a string") }
            if items.count > 1, let index = items[1].intValue { return .string("\(kind):\(index)") }
            return .string(kind)
        case .legacyBackend:
            return .none
        case .dictClass:
            // defaultdict(factory) or Counter(mapping): the items follow (SETITEMS), or come
            // as a mapping argument; the factory is only a name.
            let dict = try arena.adopt(PickleDict(className: function.qualifiedName))
            if function.name == "Counter", case .dict(let source)? = items.first {
                for (key, value) in source.entries { dict.set(key, value) }
            }
            return .dict(dict)
        case .nnClass, .reference, .builtinType:
            return try inertCall(function, items)
        case .storageType, .dtype, .unsupportedDType, .tensorType, .object:
            throw FormatError(.refusedGlobal(module: function.module, name: function.name))
        }
    }

    /// A call of a class or function ckpt does not interpret, with data for arguments: kept
    /// as an inert description (class name and arguments), as NEWOBJ is. This is how an Enum
    /// member (`Color(2)`), a numpy scalar or `builtins.complex(1, 2)` arrive, and nothing
    /// is called. A call that could build a tensor ckpt cannot interpret (an unknown
    /// `_rebuild...` function, or raw storages as arguments) is refused, so no tensor is
    /// silently left behind as an inert object.
    private func inertCall(_ function: PickleGlobal, _ items: [PickleValue]) throws -> PickleValue {
        let buildsTensors = function.name.hasPrefix("_rebuild") || items.contains {
            if case .storage = $0 { return true }
            return false
        }
        guard !buildsTensors else { throw FormatError(.refusedGlobal(module: function.module, name: function.name)) }
        return .object(try arena.adopt(PickleObject(className: function.qualifiedName, arguments: items)))
    }

    /// NEWOBJ: a description of an instance of a class, never created.
    private func instantiate(_ cls: PickleValue, _ args: PickleValue) throws -> PickleValue {
        let type = try global(cls, "NEWOBJ")
        guard case .tuple(let argumentTuple) = args else {
            throw Fault.refused("NEWOBJ of \(type.qualifiedName) with \(args.kindName) arguments", "arguments are a tuple")
        }
        switch type.symbol {
        case .nnClass, .reference, .object, .builtinType:
            return .object(try arena.adopt(PickleObject(className: type.qualifiedName, arguments: argumentTuple.items)))
        case .dictClass:
            return .dict(try arena.adopt(PickleDict(className: type.qualifiedName)))
        case .orderedDict:
            return .dict(try arena.adopt(PickleDict(className: "collections.OrderedDict")))
        case .set, .frozenset:
            return .list(try arena.adopt(PickleList(isSet: true)))
        default:
            throw FormatError(.refusedGlobal(module: type.module, name: type.name))
        }
    }

    /// BUILD: the state of a described instance, the attributes of a dict (a state_dict's
    /// `_metadata`), or the extra state of a tensor (ignored).
    private func build(_ target: PickleValue, _ state: PickleValue) throws {
        switch target {
        case .object(let object):
            if let current = object.stateDict, case .dict(let update) = state {
                for (key, value) in update.entries { current.set(key, value) }
            } else {
                object.state = state
            }
        case .dict(let dict):
            dict.attributes = state
        case .tensor:
            break
        default:
            throw Fault.refused("BUILD on a \(target.kindName)", "only objects and dicts take state")
        }
    }
}

/// Reads a pickle's operands, never past the end of the buffer.
struct PickleReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int

    var remaining: Int { bytes.count - position }

    mutating func u8() throws -> UInt8 {
        guard position < bytes.count else { throw Fault.pickle("ends without STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func raw<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw FormatError(.truncated(what: "a pickle operand", needed: UInt64(size), available: UInt64(max(remaining, 0))))
        }
        defer { position += size }
        return bytes.loadUnaligned(fromByteOffset: position, as: T.self)
    }

    mutating func u16() throws -> UInt16 { UInt16(littleEndian: try raw(UInt16.self)) }
    mutating func u32() throws -> UInt32 { UInt32(littleEndian: try raw(UInt32.self)) }
    mutating func u64() throws -> UInt64 { UInt64(littleEndian: try raw(UInt64.self)) }
    /// Eight bytes as they lie (BINFLOAT is big-endian).
    mutating func rawU64() throws -> UInt64 { try raw(UInt64.self) }

    mutating func length64() throws -> Int {
        let n = try u64()
        guard n <= UInt64(remaining) else { throw FormatError(.truncated(what: "a pickle operand", needed: n, available: UInt64(remaining))) }
        return Int(n)
    }

    /// `n` bytes, refused when fewer remain (so no length field can size an allocation).
    mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else {
            throw FormatError(.truncated(what: "a pickle operand", needed: UInt64(max(n, 0)), available: UInt64(remaining)))
        }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position ..< position + n])
    }

    mutating func utf8(_ n: Int) throws -> String {
        let raw = try bytes(n)
        guard let text = String(bytes: raw, encoding: .utf8) else { throw Fault.pickle("a string is not valid UTF-8") }
        return text
    }

    /// A Python 2 byte string: UTF-8 when it is, else latin-1.
    mutating func byteString(_ n: Int) throws -> String {
        let raw = try bytes(n)
        return String(bytes: raw, encoding: .utf8) ?? String(raw.map { Character(Unicode.Scalar($0)) })
    }

    /// A newline-terminated ASCII operand (GLOBAL, INT, PUT...), at most 1024 bytes.
    mutating func line() throws -> String {
        var end = position
        while end < bytes.count, bytes[end] != 0x0A {
            end += 1
            if end - position > 1024 { throw FormatError(.limitExceeded(what: "a pickle text operand", value: UInt64(end - position), limit: 1024)) }
        }
        guard end < bytes.count else { throw Fault.pickle("ends inside a text operand") }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[position ..< end])
        position = end + 1
        guard let text = String(bytes: raw, encoding: .utf8) else { throw Fault.pickle("a text operand is not valid UTF-8") }

        return text.hasSuffix("\r") ? String(text.dropLast()) : text
    }
}
