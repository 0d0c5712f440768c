import Foundation
import ZIPFoundation

/// numpy's `.npz`: a zip of `NAME.npy` members, stored (`savez`) or deflated
/// (`savez_compressed`). It has no aliasing and no metadata.
public enum Npz {
    /// deflate cannot expand data more than about 1032:1; a member claiming more is lying.
    static let maxDeflateRatio: UInt64 = 1032
    /// The most bytes `compressed` deflated bytes can inflate to (saturating, never trapping).
    static func deflateBound(_ compressed: UInt64) -> UInt64 {
        let (product, overflow) = compressed.multipliedReportingOverflow(by: maxDeflateRatio)
        let (bound, overflow2) = product.addingReportingOverflow(1024)
        return overflow || overflow2 ? .max : bound
    }

    /// Member timestamps are fixed so that one checkpoint always gives the same bytes.
    static let memberDate = Date(timeIntervalSince1970: 946_771_200)

    /// Every member's bytes are reserved in `budget` before they are extracted: one total for
    /// the archive, so many directory entries over the same data cannot add up past it.
    public static func read(contentsOf url: URL, budget: MemoryBudget = MemoryBudget()) throws -> Checkpoint {
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
        // The directory, parsed by ckpt's own checked reader: members that overlap are refused
        // before any is extracted, and ZIPFoundation's iterator, which simply stops at a damaged
        // entry, must yield every member the directory lists.
        let mapped = try InteropFile.mapped(url)
        let declared = try mapped.withUnsafeBytes { try TorchZip.directory(ByteView(bytes: $0)).count }
        let checkpoint = try read(archive, archiveSize: size, budget: budget)
        if declared != checkpoint.tensors.count {
            throw Fault.malformed("the zip directory", "it lists \(declared) members, but only \(checkpoint.tensors.count) could be read")
        }
        return checkpoint
    }

    /// Tensors in member order, named by member name minus `.npy`.
    private static func read(_ archive: Archive, archiveSize: UInt64, budget: MemoryBudget) throws -> Checkpoint {
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
            let bytes = try extract(entry, from: archive, archiveSize: archiveSize, budget: budget)
            do {
                tensors.append(NamedTensor(name: name, tensor: try Npy.read(data: bytes, budget: budget)))
            } catch {
                throw Fault.within("member '\(path)'", error)
            }
        }
        return Checkpoint(tensors: tensors)
    }

    /// The member's bytes, after checking its declared size against what the archive
    /// could plausibly hold, so no allocation is sized by an unchecked field.
    private static func extract(_ entry: Entry, from archive: Archive, archiveSize: UInt64, budget: MemoryBudget) throws -> Data {
        let path = entry.path
        let size = entry.uncompressedSize
        guard entry.compressedSize <= archiveSize else {
            throw Fault.malformed("member '\(path)'", "it claims \(entry.compressedSize) compressed bytes, more than the \(archiveSize)-byte archive holds")
        }
        let limit = entry.isCompressed
            ? Self.deflateBound(entry.compressedSize)
            : entry.compressedSize
        guard size <= limit, let capacity = Int(exactly: size) else {
            throw Fault.malformed("member '\(path)'", "it claims \(size) bytes, more than its \(entry.compressedSize) stored bytes can hold")
        }
        var bytes = try ElementBytes.allocate(capacity, budget: budget, for: "member '\(path)'")
        var filled = 0
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                guard chunk.count <= capacity - filled else {
                    throw Fault.malformed("member '\(path)'", "it holds more than the \(size) bytes it declares")
                }
                bytes.replaceSubrange(filled ..< filled + chunk.count, with: chunk)
                filled += chunk.count
            }
        } catch let error as FormatError {
            throw error
        } catch {
            throw Fault.malformed("member '\(path)'", "it cannot be extracted (\(describe(error)))")
        }
        guard filled == capacity else {
            throw FormatError(.truncated(what: "member '\(path)'", needed: size, available: UInt64(filled)))
        }
        // ZIPFoundation does not compare a stored member's CRC-32; numpy (zipfile) refuses a mismatch.
        guard CRC32.checksum(bytes) == entry.checksum else { throw FormatError(.checksumMismatch(what: "member '\(path)'")) }
        return bytes
    }

    /// ZIPFoundation's errors in words; it names them only by case.
    private static func describe(_ error: Error) -> String {
        switch error {
        case Archive.ArchiveError.missingEndOfCentralDirectoryRecord: return "no end-of-central-directory record"
        case Archive.ArchiveError.invalidCRC32: return "CRC-32 mismatch"
        default:
            let name = "\(error)"
            return name == "corruptedData" || name == "invalidStream" ? "corrupt deflate data" : name
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
