import Foundation

/// A torch file after its pickle has run: the object it holds and where each storage's
/// bytes lie. Storage bytes are slices of the (memory-mapped) file, read only when a
/// tensor is materialized.
final class TorchArchive {
    enum Kind: String {
        case zip
        case legacy
    }

    let kind: Kind
    /// Owns every pickle object; the graph is released without recursion when this goes.
    let arena: PickleArena
    let root: PickleValue
    let protocolVersion: Int
    /// The zip's folder name (torch writes the file's base name there), or nil for legacy files.
    let prefix: String?
    let bigEndian: Bool
    /// Every storage the pickle named, by key.
    private(set) var storages: [String: TorchStorage] = [:]
    private let records: [String: Data]

    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    /// The legacy format's magic number 0x1950a86a20f9469cfc6c, little-endian.
    static let legacyMagicNumber: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    private init(kind: Kind, arena: PickleArena, root: PickleValue, protocolVersion: Int, prefix: String?, bigEndian: Bool,
                 storages: [String: TorchStorage], records: [String: Data]) {
        self.kind = kind
        self.arena = arena
        self.root = root
        self.protocolVersion = protocolVersion
        self.prefix = prefix
        self.bigEndian = bigEndian
        self.storages = storages
        self.records = records
    }

    /// The bytes of root storage `key`, checked against the size its persistent id declared.
    func record(for storage: TorchStorage) throws -> Data {
        guard let data = records[storage.key] else {
            throw FormatError(.notFound(kind: "record for storage", name: storage.key))
        }
        guard data.count == storage.rootByteCount else {
            throw Fault.malformed("storage '\(storage.key)'", "declared as \(storage.rootByteCount) bytes, but its record holds \(data.count)")
        }
        return data
    }

    static func isZip(_ data: Data) -> Bool { data.starts(with: [0x50, 0x4B, 0x03, 0x04]) || data.starts(with: [0x50, 0x4B, 0x05, 0x06]) }
    static func isLegacy(_ data: Data) -> Bool { data.starts(with: legacyMagic) }

    /// True when `data` is a zip whose folder holds `data.pkl` (torch.save) or
    /// `constants.pkl` (TorchScript, which is then refused with a clear reason).
    static func isTorchZip(_ data: Data) -> Bool { torchZip(data) != nil }

    /// The parsed directory of `data` when it is a torch zip (see `isTorchZip`), else nil.
    static func torchZip(_ data: Data) -> TorchZip? {
        guard isZip(data) else { return nil }
        return data.withUnsafeBytes { bytes in
            guard let zip = try? TorchZip.parse(ByteView(bytes: bytes)) else { return nil }
            return zip.record("data.pkl") != nil || zip.record("constants.pkl") != nil ? zip : nil
        }
    }

    /// The archive in `data`; `zip` is its directory when the caller has parsed it already.
    static func load(_ data: Data, zip: TorchZip? = nil, budget: MemoryBudget = MemoryBudget()) throws -> TorchArchive {
        if isLegacy(data) { return try loadLegacy(data, budget: budget) }
        guard isZip(data) else { throw FormatError(.unrecognisedFile(detail: "not a torch.save file (neither a zip archive nor the legacy format)")) }
        return try loadZip(data, zip: zip, budget: budget)
    }

    // MARK: Zip format

    private static func loadZip(_ data: Data, zip parsed: TorchZip?, budget: MemoryBudget) throws -> TorchArchive {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            let view = ByteView(bytes: bytes)
            let zip = try parsed ?? TorchZip.parse(view)
            if zip.record("constants.pkl") != nil || zip.byName.keys.contains(where: { $0.hasPrefix("code/") }) {
                throw Fault.refused("a TorchScript archive (torch.jit.save)", "it holds code; ckpt reads torch.save files only, and nothing was executed")
            }
            guard let pickleRecord = zip.record("data.pkl") else {
                throw FormatError(.context("not a torch.save file", .notFound(kind: "zip entry", name: "\(zip.prefix)/data.pkl")))
            }
            var bigEndian = false
            if let order = zip.record("byteorder") {
                let range = try zip.dataRange(of: order, in: view)
                switch String(bytes: UnsafeRawBufferPointer(rebasing: bytes[range]), encoding: .utf8) {
                case "little"?: bigEndian = false
                case "big"?: bigEndian = true
                default: throw Fault.invalid("'\(zip.prefix)/byteorder'", "unreadable text", expected: "'little' or 'big'")
                }
            }
            let pickleRange = try zip.dataRange(of: pickleRecord, in: view)
            let arena = PickleArena(budget: budget)
            var storages: [String: TorchStorage] = [:]
            let machine = PickleMachine(arena: arena) { pid in
                let value = try TorchStorage.fromPersistentID(pid, legacy: false, arena: arena)
                if case .storage(let storage) = value { try note(storage, in: &storages) }
                return value
            }
            let pickle = UnsafeRawBufferPointer(rebasing: bytes[pickleRange])
            let root = try machine.run(pickle).value
            var records: [String: Data] = [:]
            for key in storages.keys {
                guard let record = zip.record("data/\(key)") else {
                    throw FormatError(.context("storage '\(key)'", .notFound(kind: "zip entry", name: "\(zip.prefix)/data/\(key)")))
                }
                let range = try zip.dataRange(of: record, in: view)
                records[key] = data[(data.startIndex + range.lowerBound) ..< (data.startIndex + range.upperBound)]
            }
            return TorchArchive(kind: .zip, arena: arena, root: root, protocolVersion: machine.protocolVersion, prefix: zip.prefix,
                                bigEndian: bigEndian, storages: storages, records: records)
        }
    }

    /// Records a storage by key; every mention of one key must agree on its type and size.
    private static func note(_ storage: TorchStorage, in storages: inout [String: TorchStorage]) throws {
        if let earlier = storages[storage.key] {
            guard earlier.rootByteCount == storage.rootByteCount, earlier.dtype == storage.dtype else {
                throw Fault.malformed("storage '\(storage.key)'", "declared twice with different types or sizes")
            }
        } else {
            storages[storage.key] = storage
        }
    }

    // MARK: Legacy format

    /// Five pickles (magic, protocol version, system info, the object, the storage keys),
    /// then for each key in that order an int64 element count and the raw elements.
    private static func loadLegacy(_ data: Data, budget: MemoryBudget) throws -> TorchArchive {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            let arena = PickleArena(budget: budget)
            var position = 0
            func next(_ machine: PickleMachine) throws -> PickleValue {
                let (value, end) = try machine.run(bytes, from: position)
                position = end
                return value
            }
            let plain = PickleMachine(arena: arena)
            guard case .bigInt(let magic) = try next(plain), magic == legacyMagicNumber else {
                throw Fault.malformed("legacy torch file", "wrong magic number")
            }
            guard case .int(let version) = try next(plain), version == 1001 else {
                throw FormatError(.unsupportedVersion(what: "legacy torch file protocol", found: "other than 1001", supported: "1001"))
            }
            guard case .dict(let info) = try next(plain) else { throw Fault.malformed("legacy torch file", "system info is not a dict") }
            let littleEndian = info["little_endian"]?.boolValue ?? true
            var storages: [String: TorchStorage] = [:]
            let machine = PickleMachine(arena: arena) { pid in
                let value = try TorchStorage.fromPersistentID(pid, legacy: true, arena: arena)
                if case .storage(let storage) = value { try note(storage, in: &storages) }
                return value
            }
            let root = try next(machine)
            guard let keyList = try next(plain).sequence else { throw Fault.malformed("legacy torch file", "the storage key list is not a list") }
            var records: [String: Data] = [:]
            let view = ByteView(bytes: bytes)
            for item in keyList {
                guard let key = item.stringValue ?? item.intValue.map(String.init) else {
                    throw Fault.invalid("legacy torch file storage key", item.kindName, expected: "a string or an int")
                }
                guard let storage = storages[key] else { throw Fault.malformed("legacy torch file", "storage '\(key)' is listed but never used") }
                guard records[key] == nil else { throw FormatError(.duplicateName(kind: "legacy storage", name: key)) }
                let rawCount = try view.u64(position, "storage '\(key)' size")
                let count = Int(truncatingIfNeeded: littleEndian ? rawCount : rawCount.byteSwapped)
                guard count == storage.numel else {
                    throw Fault.malformed("legacy torch file", "storage '\(key)' holds \(count) elements, its tensors say \(storage.numel)")

                }
                let start = position + 8
                try view.check(start, storage.rootByteCount, "storage '\(key)' (\(storage.rootByteCount) bytes)")
                records[key] = data[(data.startIndex + start) ..< (data.startIndex + start + storage.rootByteCount)]
                position = start + storage.rootByteCount
            }
            return TorchArchive(kind: .legacy, arena: arena, root: root, protocolVersion: machine.protocolVersion, prefix: nil,
                                bigEndian: !littleEndian, storages: storages, records: records)
        }
    }
}
