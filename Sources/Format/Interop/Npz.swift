import Foundation
import ZIPFoundation

/// numpy's `.npz`: a zip of `NAME.npy` members, stored (`savez`) or deflated
/// (`savez_compressed`). It has no aliasing and no metadata.
public enum Npz {
    /// deflate cannot expand data more than about 1032:1; a member claiming more is lying.
    static let maxDeflateRatio: UInt64 = 1032
    /// Member timestamps are fixed so that one checkpoint always gives the same bytes.
    static let memberDate = Date(timeIntervalSince1970: 946_771_200)

    public static func read(contentsOf url: URL) throws -> Checkpoint {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path)
        } catch {
            throw InteropFile.ioError("read", url, error)
        }
        // ZIPFoundation spins forever looking for the end record of a directory.
        guard attributes[.type] as? FileAttributeType == .typeRegular,
              let size = (attributes[.size] as? NSNumber)?.uint64Value else {
            throw Fault.refused("the file", "it is not a regular file")
        }
        // Only file-backed archives: ZIPFoundation's in-memory reader traps on offsets
        // past the end, which a malformed central directory easily produces.
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw Fault.malformed("not a readable zip archive", describe(error))
        }
        let checkpoint = try read(archive, archiveSize: size)
        if let declared = declaredMemberCount(of: url, size: size), declared != UInt64(checkpoint.tensors.count) {
            throw Fault.malformed("the zip directory", "it lists \(declared) members, but only \(checkpoint.tensors.count) could be read")
        }
        return checkpoint
    }

    /// Tensors in member order, named by member name minus `.npy`.
    private static func read(_ archive: Archive, archiveSize: UInt64) throws -> Checkpoint {
        var tensors: [NamedTensor] = []
        var seen: Set<String> = []
        for entry in archive {
            let path = entry.path
            guard entry.type == .file else {
                throw Fault.refused("member '\(path)'", "it is a \(entry.type == .directory ? "directory" : "symlink"); an npz holds only .npy files")
            }
            try checkMemberName(path)
            guard path.hasSuffix(".npy") else { throw Fault.refused("member '\(path)'", "it is not a .npy file") }
            let name = String(path.dropLast(4))
            guard seen.insert(name).inserted else { throw FormatError(.duplicateName(kind: "npz member", name: path)) }
            let bytes = try extract(entry, from: archive, archiveSize: archiveSize)
            do {
                tensors.append(NamedTensor(name: name, tensor: try Npy.read(data: bytes)))
            } catch {
                throw Fault.within("member '\(path)'", error)
            }
        }
        return Checkpoint(tensors: tensors)
    }

    /// How many members the end-of-central-directory record lists, or nil if it cannot
    /// be found. ZIPFoundation's iterator simply stops at a damaged directory entry, so
    /// comparing counts is what notices members that went missing.
    private static func declaredMemberCount(of url: URL, size: UInt64) -> UInt64? {
        let endRecord: [UInt8] = [0x50, 0x4B, 0x05, 0x06], zip64Locator: [UInt8] = [0x50, 0x4B, 0x06, 0x07]
        let zip64Record: [UInt8] = [0x50, 0x4B, 0x06, 0x06]
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch { return nil }
        defer { try? handle.close() }
        func bytes(at offset: UInt64, count: UInt64) -> Data? {
            guard offset <= size, count <= size - offset, (try? handle.seek(toOffset: offset)) != nil,
                  let data = try? handle.read(upToCount: Int(count)), data.count == Int(count) else { return nil }
            return data
        }
        // The record is 22 bytes plus a comment of up to 65,535 bytes, with a 20-byte zip64 locator before it.
        let tailLength = min(size, 22 + 65_535 + 20)
        guard let tail = bytes(at: size - tailLength, count: tailLength), tail.count >= 22 else { return nil }
        guard let record = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
            tail[$0 ..< $0 + 4].elementsEqual(endRecord)
        }) else { return nil }
        let count = tail.littleEndian(UInt16.self, at: record + 10)
        guard count == .max else { return UInt64(count) }
        guard record >= 20, tail[(record - 20) ..< (record - 16)].elementsEqual(zip64Locator),
              let zip64 = bytes(at: tail.littleEndian(UInt64.self, at: record - 12), count: 56),
              zip64.prefix(4).elementsEqual(zip64Record) else { return nil }
        return zip64.littleEndian(UInt64.self, at: 32)
    }

    /// The member's bytes, after checking its declared size against what the archive
    /// could plausibly hold, so no allocation is sized by an unchecked field.
    private static func extract(_ entry: Entry, from archive: Archive, archiveSize: UInt64) throws -> Data {
        let path = entry.path
        let size = entry.uncompressedSize
        guard entry.compressedSize <= archiveSize else {
            throw Fault.malformed("member '\(path)'", "it claims \(entry.compressedSize) compressed bytes, more than the \(archiveSize)-byte archive holds")
        }
        let limit = entry.isCompressed
            ? entry.compressedSize.multipliedReportingOverflow(by: maxDeflateRatio).partialValue + 1024
            : entry.compressedSize
        guard size <= limit, let capacity = Int(exactly: size) else {
            throw Fault.malformed("member '\(path)'", "it claims \(size) bytes, more than its \(entry.compressedSize) stored bytes can hold")
        }
        var bytes = Data()
        bytes.reserveCapacity(capacity)
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                guard chunk.count <= capacity - bytes.count else {
                    throw Fault.malformed("member '\(path)'", "it holds more than the \(size) bytes it declares")
                }
                bytes.append(chunk)
            }
        } catch let error as FormatError {
            throw error
        } catch {
            throw Fault.malformed("member '\(path)'", "it cannot be extracted (\(describe(error)))")
        }
        guard bytes.count == capacity else {
            throw FormatError(.truncated(what: "member '\(path)'", needed: size, available: UInt64(bytes.count)))
        }
        return bytes
    }

    /// ZIPFoundation's errors in words; it names them only by case.
    private static func describe(_ error: Error) -> String {
        switch error {
        case Archive.ArchiveError.missingEndOfCentralDirectoryRecord: return "no end-of-central-directory record"
        case Archive.ArchiveError.invalidCRC32: return "CRC-32 mismatch"
        default:
            let name = "\(error)"
            return name == "corruptedData" || name == "invalidStream" ? "corrupt deflate data" : InteropFile.oneLine(name)
        }
    }

    /// Refuses names that would escape a directory if someone unzipped the file.
    private static func checkMemberName(_ path: String) throws {
        let components = path.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "/" || $0 == "\\" })
        guard !path.isEmpty, !path.hasPrefix("/"), !path.hasPrefix("\\"), !components.contains("..") else {
            throw Fault.refused("member name '\(path)'", "it is absolute or climbs out with '..'")
        }
    }

    // MARK: Writing

    /// Every name, aliases included, becomes its own stored member.
    public static func encode(_ checkpoint: Checkpoint) throws -> Data {
        let archive: Archive
        do {
            archive = try Archive(accessMode: .create)
        } catch {
            throw Fault.within("cannot create a zip archive in memory", error)
        }
        var seen: Set<String> = []
        for named in checkpoint.tensors {
            let npy: Data
            do {
                npy = try Npy.encode(named.tensor)
            } catch {
                throw Fault.within("tensor '\(named.name)'", error)
            }
            for name in named.allNames {
                let path = name + ".npy"
                try checkMemberName(path)
                guard seen.insert(name).inserted else { throw FormatError(.duplicateName(kind: "tensor", name: name)) }
                do {
                    try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(npy.count),
                                         modificationDate: memberDate, compressionMethod: .none) { position, size in
                        let start = npy.startIndex + Int(position)
                        return npy.subdata(in: start ..< start + size)
                    }
                } catch {
                    throw Fault.within("cannot add member '\(path)'", error)
                }
            }
        }
        guard let data = archive.data else { throw Fault.malformed("the in-memory zip archive", "it is missing its data") }

        return data
    }

    public static func write(_ checkpoint: Checkpoint, to url: URL) throws {
        try AtomicFile.write(encode(checkpoint), to: url)
    }
}
