import Foundation

/// Bounds-checked little-endian reads from a byte buffer; every read past the end is a
/// `FormatError` naming what was being read.
struct ByteView {
    let bytes: UnsafeRawBufferPointer

    var count: Int { bytes.count }

    func check(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw FormatError(.truncated(what: what(), needed: UInt64(max(length, 0)),
                                         available: UInt64(offset >= 0 && offset <= bytes.count ? bytes.count - offset : 0)))
        }
    }

    func u8(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt8 {
        try check(offset, 1, what())
        return bytes[offset]
    }

    func u16(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt16 {
        try check(offset, 2, what())
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt32 {
        try check(offset, 4, what())
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        try check(offset, 8, what())
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A 64-bit size or offset field as an `Int`, refused when it cannot be one.
    func int64(_ offset: Int, _ what: @autoclosure () -> String) throws -> Int {
        let value = try u64(offset, what())
        guard let result = Int(exactly: value) else {
            throw FormatError(.limitExceeded(what: what(), value: value, limit: UInt64(Int.max)))
        }
        return result
    }

    func slice(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try check(offset, length, what())
        return UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + length])
    }
}

/// `a + b` for sizes read from a file, refusing overflow.
@inline(__always)
func checkedAdd(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
    let (sum, overflow) = a.addingReportingOverflow(b)
    guard !overflow else { throw FormatError(.arithmeticOverflow(what: what())) }
    return sum
}

@inline(__always)
func checkedMultiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow else { throw FormatError(.arithmeticOverflow(what: what())) }
    return product
}

/// The central directory of a zip archive as `torch.save` writes it: every record stored
/// (not deflated) under one `<prefix>/` folder. Sizes and offsets come from the central
/// directory only (torch leaves them 0 in the local headers); ZIP64 is read when present.
/// Names that escape the archive, repeat, or leave the prefix are refused.
struct TorchZip {
    struct Record {
        /// The full name, prefix included.
        var name: String
        var method: UInt16
        var flags: UInt16
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    /// In central-directory order.
    var records: [Record]
    /// Records by name with the `<prefix>/` removed.
    var byName: [String: Int]
    /// The archive's folder: the first record's name up to its first `/`.
    var prefix: String

    static let endSignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let localSignature: UInt32 = 0x0403_4B50
    /// More entries than this is no checkpoint.
    static let maxRecords = 10_000_000

    static func parse(_ view: ByteView) throws -> TorchZip {
        let records = try directory(view)
        guard let first = records.first else { throw Fault.malformed("the zip archive", "it is empty") }
        guard let slash = first.name.firstIndex(of: "/") else {
            throw Fault.malformed("zip entry '\(first.name)'", "not inside a folder: not a torch.save archive")
        }
        let prefix = String(first.name[..<slash])
        var byName: [String: Int] = [:]
        byName.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            try checkName(record.name, prefix: prefix)
            if record.name.hasSuffix("/") { continue } // a folder entry (torch writes none; other zip tools may)
            let local = String(record.name.dropFirst(prefix.count + 1))
            guard byName.updateValue(index, forKey: local) == nil else {
                throw FormatError(.duplicateName(kind: "zip entry", name: record.name))
            }
        }
        return TorchZip(records: records, byName: byName, prefix: prefix)
    }

    /// The entries of any zip's central directory (torch's or numpy's), in order, every size
    /// and offset checked against the file.
    static func directory(_ view: ByteView) throws -> [Record] {
        let n = view.count
        guard n >= 22 else { throw FormatError(.truncated(what: "a zip archive", needed: 22, available: UInt64(n))) }
        // The end record is the last 22 bytes unless a comment (at most 65535 bytes) follows it.
        var end = -1
        var at = n - 22
        let lowest = max(0, n - 22 - 0xFFFF)
        while at >= lowest {
            if view.bytes[at] == 0x50, try view.u32(at, "end record") == endSignature { end = at; break }
            at -= 1
        }
        guard end >= 0 else {
            throw FormatError(.context("not a zip archive, or truncated", .notFound(kind: "zip record", name: "end of central directory")))
        }
        var count = Int(try view.u16(end + 10, "zip end record"))
        var directorySize = Int(try view.u32(end + 12, "zip end record"))
        var directoryOffset = Int(try view.u32(end + 16, "zip end record"))
        if end >= 20, try view.u32(end - 20, "zip64 locator") == zip64LocatorSignature {
            let recordOffset = try view.int64(end - 20 + 8, "zip64 end record offset")
            guard try view.u32(recordOffset, "zip64 end record") == zip64EndSignature else {
                throw Fault.malformed("the zip64 locator", "it points at offset \(recordOffset), where there is no zip64 end record")
            }
            count = try view.int64(recordOffset + 32, "zip64 entry count")
            directorySize = try view.int64(recordOffset + 40, "zip64 central directory size")
            directoryOffset = try view.int64(recordOffset + 48, "zip64 central directory offset")
        } else if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            throw Fault.malformed("the zip end record", "it needs a zip64 record, and there is none")
        }
        let directoryEnd = try checkedAdd(directoryOffset, directorySize, "central directory end")
        guard directoryEnd <= n else {
            throw FormatError(.truncated(what: "the zip central directory at \(directoryOffset)", needed: UInt64(directorySize),
                                         available: UInt64(max(n - directoryOffset, 0))))
        }
        guard count <= maxRecords, count <= directorySize / 46 else {
            throw Fault.malformed("the zip directory", "it claims \(count) entries, more than its \(directorySize) bytes can hold")
        }

        var records: [Record] = []
        records.reserveCapacity(count)
        var p = directoryOffset
        for index in 0 ..< count {
            let what = "zip central directory entry \(index)"
            guard p + 46 <= directoryEnd, try view.u32(p, what) == centralSignature else {
                throw Fault.malformed(what, "missing or damaged")
            }
            let flags = try view.u16(p + 8, what)
            let method = try view.u16(p + 10, what)
            var compressed = Int(try view.u32(p + 20, what))
            var uncompressed = Int(try view.u32(p + 24, what))
            let nameLength = Int(try view.u16(p + 28, what))
            let extraLength = Int(try view.u16(p + 30, what))
            let commentLength = Int(try view.u16(p + 32, what))
            var localOffset = Int(try view.u32(p + 42, what))
            let nameBytes = try view.slice(p + 46, nameLength, what)
            guard p + 46 + nameLength + extraLength + commentLength <= directoryEnd else {
                throw Fault.malformed(what, "it runs past the end of the central directory")
            }
            guard let name = String(bytes: nameBytes, encoding: .utf8) else {
                throw Fault.malformed(what, "the name is not valid UTF-8")
            }
            // ZIP64 extended information: the fields that are 0xFFFFFFFF, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = try view.u16(e, what)
                let size = Int(try view.u16(e + 2, what))
                guard e + 4 + size <= extraEnd else { throw Fault.malformed("\(what) '\(name)'", "an extra field runs past its end") }
                if id == 0x0001 {
                    var f = e + 4
                    func next() throws -> Int {
                        guard f + 8 <= e + 4 + size else { throw Fault.malformed("\(what) '\(name)'", "the zip64 extra field is too short") }
                        defer { f += 8 }
                        return try view.int64(f, "\(what) zip64 field")
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                e += 4 + size
            }
            records.append(Record(name: name, method: method, flags: flags, compressedSize: compressed,
                                  uncompressedSize: uncompressed, localHeaderOffset: localOffset))
            p += 46 + nameLength + extraLength + commentLength
        }
        try checkDisjoint(records, in: view)
        return records
    }

    /// Refuses members whose bytes overlap (as Python's zipfile does): several directory
    /// entries over one local header would make a small file read as many large members.
    static func checkDisjoint(_ records: [Record], in view: ByteView) throws {
        var previous: (name: String, end: Int)?
        for record in records.sorted(by: { $0.localHeaderOffset < $1.localHeaderOffset }) {
            let what = "zip entry '\(record.name)'"
            let header = record.localHeaderOffset
            if let previous, header < previous.end {
                throw Fault.malformed(what, "its bytes overlap those of '\(previous.name)'")
            }
            let nameLength = Int(try view.u16(header + 26, "\(what) local header"))
            let extraLength = Int(try view.u16(header + 28, "\(what) local header"))
            let end = try checkedAdd(header + 30 + nameLength + extraLength, record.compressedSize, "\(what) end")
            previous = (record.name, end)
        }
    }

    /// Refuses names that could escape an extraction folder or leave the archive's prefix.
    static func checkName(_ name: String, prefix: String) throws {
        let bad: String?
        if name.hasPrefix("/") || name.hasPrefix("\\") { bad = "is an absolute path" }
        else if name.contains("\\") { bad = "holds a backslash" }
        else if name.utf8.contains(0) { bad = "holds a NUL byte" }
        else if (name.hasSuffix("/") ? String(name.dropLast()) : name).split(separator: "/", omittingEmptySubsequences: false)
            .contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) {
            bad = "holds an empty, '.' or '..' path component"
        } else if !name.hasPrefix(prefix + "/") {
            bad = "is outside the archive's folder '\(prefix)/'"
        } else {
            bad = nil
        }
        if let bad { throw Fault.refused("zip entry '\(name)'", "it \(bad)") }
    }

    /// The record named `local` (without the prefix), if any.
    func record(_ local: String) -> Record? { byName[local].map { records[$0] } }

    /// Where the record's bytes lie in the file: after the local header, whose name and
    /// extra field (torch pads with an "FB" field to align data to 64) have their own lengths.
    func dataRange(of record: Record, in view: ByteView) throws -> Range<Int> {
        let what = "zip entry '\(record.name)'"
        guard record.flags & 0x0001 == 0 else { throw Fault.refused(what, "it is encrypted") }
        guard record.method == 0 else {
            throw Fault.refused(what, "it is compressed (method \(record.method)); torch.save stores records uncompressed")
        }
        guard record.compressedSize == record.uncompressedSize else {
            throw Fault.malformed(what, "stored, but its sizes differ (\(record.compressedSize) and \(record.uncompressedSize))")
        }
        let header = record.localHeaderOffset
        guard try view.u32(header, "\(what) local header") == TorchZip.localSignature else {
            throw Fault.malformed(what, "no local header at offset \(header)")
        }
        let nameLength = Int(try view.u16(header + 26, "\(what) local header"))
        let extraLength = Int(try view.u16(header + 28, "\(what) local header"))
        let localName = try view.slice(header + 30, nameLength, "\(what) local name")
        guard localName.elementsEqual(record.name.utf8) else {
            throw Fault.malformed(what, "the local header names a different file")
        }
        let start = header + 30 + nameLength + extraLength
        let end = try checkedAdd(start, record.compressedSize, "\(what) end")
        guard end <= view.count else {
            throw FormatError(.truncated(what: "\(what) at \(start)", needed: UInt64(record.compressedSize), available: UInt64(max(view.count - start, 0))))

        }
        return start ..< end
    }
}
