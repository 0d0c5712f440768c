import Foundation

/// The version a file declares. A file carries the lowest version whose features it
/// uses; readers refuse another major and read any minor of their own major.
public struct FormatVersion: Comparable, CustomStringConvertible, Sendable {
    public var major: UInt16
    public var minor: UInt16

    /// The highest version this ckpt writes (and the newest minor it knows).
    public static let current = FormatVersion(major: 1, minor: 1)
    /// The version of a file that uses no feature added after 1.0.
    public static let base = FormatVersion(major: 1, minor: 0)
    /// 1.1 added the codec `shuffle-ans`.
    static func needed(by codecs: Set<Codec>) -> FormatVersion {
        codecs.contains(.shuffleAns) ? FormatVersion(major: 1, minor: 1) : base
    }

    public init(major: UInt16, minor: UInt16) {
        self.major = major
        self.minor = minor
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (a: FormatVersion, b: FormatVersion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }
}

/// Fixed sizes and limits of the container; FORMAT.md gives the same numbers.
public enum ContainerLimits {
    public static let alignment = 64
    public static let headerSize = 64
    public static let trailerSize = 64
    /// An index larger than this is refused before it is read (safetensors uses the same cap).
    public static let maxIndexSize = 100_000_000
    /// No chunk decodes to more than this, so one chunk never needs more memory than this.
    public static let maxChunkSize = 16 << 20

    static let headerMagic: [UInt8] = [0x89, 0x43, 0x4B, 0x50, 0x54, 0x0D, 0x0A, 0x1A]   // \x89 C K P T \r \n \x1a
    static let trailerMagic: [UInt8] = Array("CKPT-END".utf8)

    /// The first multiple of 64 at or after `offset`, for offsets the writer produced.
    static func aligned(_ offset: Int) -> Int { (offset + alignment - 1) / alignment * alignment }

    /// `aligned` for an offset read from a file: nil when it is negative or the next
    /// boundary does not fit in `Int`.
    static func checkedAligned(_ offset: Int) -> Int? {
        guard offset >= 0 else { return nil }
        let (sum, overflow) = offset.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum / alignment * alignment
    }
}

/// The fixed 64-byte header at offset 0.
struct FileHeader {
    var version: FormatVersion

    func encoded() -> Data {
        var bytes = Data(ContainerLimits.headerMagic)
        bytes.appendLittleEndian(version.major)
        bytes.appendLittleEndian(version.minor)
        bytes.append(Data(count: 56 - bytes.count))
        bytes.appendLittleEndian(bytes.withUnsafeBytes { Checksum.xxh3($0) })
        return bytes
    }

    /// Checks magic, checksum and major version, in the order that gives the clearest message.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> FileHeader {
        guard bytes.count >= ContainerLimits.headerSize, Array(bytes[0..<8]) == ContainerLimits.headerMagic else {
            throw FormatError(.unrecognisedFile(detail: "not a ckpt container (bad magic bytes)"))
        }
        let stored = bytes.loadLittleEndian(UInt64.self, at: 56)
        guard Checksum.xxh3(UnsafeRawBufferPointer(rebasing: bytes[0..<56])) == stored else {
            throw FormatError(.checksumMismatch(what: "header"))
        }
        let version = FormatVersion(major: bytes.loadLittleEndian(UInt16.self, at: 8), minor: bytes.loadLittleEndian(UInt16.self, at: 10))
        guard version.major == FormatVersion.current.major else {
            throw FormatError(.unsupportedVersion(what: "format", found: "\(version)", supported: "\(FormatVersion.current.major).x"))
        }
        return FileHeader(version: version)
    }
}

/// The fixed 64-byte trailer at the end of the file: where the index is.
struct FileTrailer {
    var indexOffset: UInt64
    var indexLength: UInt64
    var indexChecksum: UInt64
    var version: FormatVersion

    func encoded() -> Data {
        var bytes = Data()
        bytes.appendLittleEndian(indexOffset)
        bytes.appendLittleEndian(indexLength)
        bytes.appendLittleEndian(indexChecksum)
        bytes.appendLittleEndian(version.major)
        bytes.appendLittleEndian(version.minor)
        bytes.append(Data(count: 48 - bytes.count))
        bytes.appendLittleEndian(bytes.withUnsafeBytes { Checksum.xxh3($0) })
        bytes.append(contentsOf: ContainerLimits.trailerMagic)
        return bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> FileTrailer {
        guard bytes.count == ContainerLimits.trailerSize, Array(bytes[56..<64]) == ContainerLimits.trailerMagic else {
            throw FormatError(.malformed(what: "trailer", detail: "no end magic CKPT-END: the file is truncated or not a ckpt container"))
        }
        guard Checksum.xxh3(UnsafeRawBufferPointer(rebasing: bytes[0..<48])) == bytes.loadLittleEndian(UInt64.self, at: 48) else {
            throw FormatError(.checksumMismatch(what: "trailer"))
        }
        return FileTrailer(
            indexOffset: bytes.loadLittleEndian(UInt64.self, at: 0),
            indexLength: bytes.loadLittleEndian(UInt64.self, at: 8),
            indexChecksum: bytes.loadLittleEndian(UInt64.self, at: 16),
            version: FormatVersion(major: bytes.loadLittleEndian(UInt16.self, at: 24), minor: bytes.loadLittleEndian(UInt16.self, at: 26)))
    }
}

extension Data {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    func loadLittleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
