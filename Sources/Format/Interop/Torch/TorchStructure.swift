import Foundation

/// The `CheckpointStructure` of a pickle's value: what `torch.save` of a training
/// checkpoint nested around its tensors, with Python's key and leaf types.
///
/// Tensor leaves are named by their dotted paths (`TorchPaths`), which are the names
/// `TensorCollector` gives the same tensors, so every leaf names a tensor of the
/// checkpoint (a second path to one tensor names its alias). A module met inside the value
/// becomes the ordered dict of its state_dict (what `weights_only` loading can carry);
/// values outside the structure's vocabulary (instances of other classes, sets, globals,
/// cycles) become `opaque` leaves described as `TorchMetadata` describes them.
final class TorchStructureBuilder {
    let walk: PickleWalk
    let collector: TensorCollector
    let limits = CheckpointStructure.Limits()
    private var nodes = 0
    private var onPath = Set<ObjectIdentifier>()

    init(walk: PickleWalk, collector: TensorCollector) {
        self.walk = walk
        self.collector = collector
    }

    func structure(of value: PickleValue) throws -> CheckpointStructure {
        try node(value, path: "", depth: 0)
    }

    private func node(_ value: PickleValue, path: String, depth: Int) throws -> CheckpointStructure {
        try walk.count()
        nodes += 1
        guard nodes <= limits.maxNodes else { throw FormatError(.walkBudgetExceeded(what: "the checkpoint's structure", limit: limits.maxNodes)) }
        guard depth <= limits.maxDepth else { throw FormatError(.tooDeep(what: "the checkpoint's structure", limit: limits.maxDepth)) }
        switch value {
        case .none: return .none
        case .bool(let flag): return .bool(flag)
        case .int(let n): return .int(Int64(n))
        case .bigInt(let bytes):
            guard let text = Self.decimal(twosComplement: bytes, maxDigits: limits.maxIntegerDigits) else {
                return .opaque(.string("int of \(bytes.count) bytes"))
            }
            return Int64(text).map(CheckpointStructure.int) ?? .bigInt(text)
        case .float(let x): return .float(x)
        case .string(let text): return .string(text)
        case .bytes(let data): return .bytes(data)
        case .tensor: return .tensor(path)
        case .global, .storage: return try opaque(value)
        case .tuple, .list, .dict, .object: break
        }
        guard let id = value.identity else { return .none }
        guard onPath.insert(id).inserted else { return .opaque(.string("cycle")) }
        defer { onPath.remove(id) }
        switch value {
        case .tuple(let tuple):
            return .tuple(try items(tuple.items, path: path, depth: depth))
        case .list(let list):
            if list.isSet { return try opaque(value) }
            return .list(try items(list.items, path: path, depth: depth))
        case .dict(let dict):
            var entries: [CheckpointStructure.Entry] = []
            var seen = Set<CheckpointStructure.Key.PythonKey>()
            for (key, child) in dict.entries {
                // A key of another kind (a tuple, an object) has no dotted name: the dict is described instead.
                guard let key = Self.key(key), seen.insert(key.pythonIdentity).inserted else { return try opaque(value) }
                entries.append(.init(key, try node(child, path: joinPath(path, key.pathLabel), depth: depth + 1)))
            }
            return .dict(entries, ordered: dict.className != nil)
        default:
            guard TorchModuleParts.of(value) != nil else { return try opaque(value) }
            let tensors = try collector.tensors(in: value, depth: depth)
            return .dict(tensors.map { .init(.string($0.0), .tensor(joinPath(path, $0.0))) }, ordered: true)
        }
    }

    private func items(_ values: [PickleValue], path: String, depth: Int) throws -> [CheckpointStructure] {
        try values.enumerated().map { try node($0.element, path: joinPath(path, String($0.offset)), depth: depth + 1) }
    }

    private func opaque(_ value: PickleValue) throws -> CheckpointStructure {
        .opaque(try TorchMetadata(walk: walk).json(value) ?? .null)
    }

    /// A dict key the structure can hold.
    static func key(_ value: PickleValue) -> CheckpointStructure.Key? {
        switch value {
        case .string(let text): return .string(text)
        case .int(let n): return .int(Int64(n))
        case .bool(let flag): return .bool(flag)
        case .float(let x): return .float(x)
        case .none: return CheckpointStructure.Key.none
        default: return nil
        }
    }

    /// The decimal text of a little-endian two's-complement integer (pickle's LONG1/LONG4),
    /// or nil when it has more than `maxDigits` digits.
    static func decimal(twosComplement bytes: [UInt8], maxDigits: Int) -> String? {
        guard !bytes.isEmpty else { return "0" }
        // Roughly 2.41 digits per byte: refuse before working on a huge number.
        guard bytes.count <= maxDigits / 2 else { return nil }
        let negative = bytes.last! & 0x80 != 0
        var magnitude = bytes
        if negative {
            // Negate: invert every byte and add one.
            var carry: UInt16 = 1
            for i in magnitude.indices {
                let sum = UInt16(~magnitude[i]) + carry
                magnitude[i] = UInt8(sum & 0xFF)
                carry = sum >> 8
            }
        }
        // Base-2^32 limbs, cut from the least significant byte up, then most significant
        // first for the long division by 10^9.
        var limbs: [UInt32] = []
        for start in stride(from: 0, to: magnitude.count, by: 4) {
            var limb: UInt32 = 0
            for i in stride(from: min(start + 4, magnitude.count) - 1, through: start, by: -1) { limb = limb << 8 | UInt32(magnitude[i]) }
            limbs.append(limb)
        }
        limbs.reverse()
        while limbs.first == 0 { limbs.removeFirst() }
        var chunks: [UInt32] = []
        while !limbs.isEmpty {
            var remainder: UInt64 = 0
            for i in limbs.indices {
                let current = remainder << 32 | UInt64(limbs[i])
                limbs[i] = UInt32(current / 1_000_000_000)
                remainder = current % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
            while limbs.first == 0 { limbs.removeFirst() }
        }
        guard let top = chunks.last else { return "0" }
        var text = String(top)
        for chunk in chunks.dropLast().reversed() { text += String(chunk).leftPadded(to: 9) }
        guard text.count <= maxDigits else { return nil }
        return negative ? "-" + text : text
    }
}

extension CheckpointStructure {
    /// The minimal little-endian two's-complement bytes of a decimal integer (`bigInt`
    /// text), as pickle's LONG1/LONG4 hold them; nil for text that is not a decimal integer.
    static func twosComplement(decimal text: String) -> [UInt8]? {
        let negative = text.hasPrefix("-")
        let digits = negative ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        // Little-endian magnitude bytes: multiply by 10 and add each digit.
        var magnitude: [UInt8] = [0]
        for digit in digits.utf8 {
            var carry = UInt16(digit - 48)
            for i in magnitude.indices {
                let value = UInt16(magnitude[i]) * 10 + carry
                magnitude[i] = UInt8(value & 0xFF)
                carry = value >> 8
            }
            while carry > 0 { magnitude.append(UInt8(carry & 0xFF)); carry >>= 8 }
        }
        var bytes = magnitude + [0] // room for the sign bit
        if negative {
            var carry: UInt16 = 1
            for i in bytes.indices {
                let sum = UInt16(~bytes[i]) + carry
                bytes[i] = UInt8(sum & 0xFF)
                carry = sum >> 8
            }
        }
        while bytes.count > 1, (bytes[bytes.count - 1] == 0 && bytes[bytes.count - 2] & 0x80 == 0)
            || (bytes[bytes.count - 1] == 0xFF && bytes[bytes.count - 2] & 0x80 != 0) { bytes.removeLast() }
        return bytes
    }
}
