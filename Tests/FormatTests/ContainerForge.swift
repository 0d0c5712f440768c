import Foundation
@testable import Format

/// Builds `.ckpt` files byte by byte for hostile-input tests: blobs at 64-byte boundaries,
/// any index JSON, a valid header and trailer (or a trailer given outright). Independent of
/// `ContainerWriter`, so a test can say anything a hostile writer could.
enum ContainerForge {
    /// Lays out `blobs` from offset 64, then the index `index(offsets)` returns, then the trailer.
    static func file(blobs: [Data], version: FormatVersion = .current, index: ([Int]) throws -> Any) throws -> Data {
        var out = FileHeader(version: version).encoded()
        var offsets: [Int] = []
        for blob in blobs {
            out.append(Data(count: ContainerLimits.aligned(out.count) - out.count))
            offsets.append(out.count)
            out.append(blob)
        }
        out.append(Data(count: ContainerLimits.aligned(out.count) - out.count))
        let json = try JSONSerialization.data(withJSONObject: try index(offsets), options: [.sortedKeys])
        let indexOffset = out.count
        out.append(json)
        out.append(Data(count: ContainerLimits.aligned(out.count) - out.count))
        out.append(FileTrailer(indexOffset: UInt64(indexOffset), indexLength: UInt64(json.count),
                               indexChecksum: json.withUnsafeBytes { Checksum.xxh3($0) }, version: version).encoded())
        return out
    }

    /// A chunk entry for `blob` stored at `offset`, decoding to `size` bytes.
    static func chunk(_ offset: Int, _ blob: Data, size: Int, xxh3: String? = nil) -> [String: Any] {
        ["offset": offset, "length": blob.count, "size": size, "xxh3": xxh3 ?? hex(blob)]
    }

    /// A tensor entry.
    static func tensor(_ name: String, dtype: String, shape: [Int], codec: String, chunks: [[String: Any]], aliases: [String]? = nil) -> [String: Any] {
        var entry: [String: Any] = ["name": name, "dtype": dtype, "shape": shape, "codec": codec, "chunks": chunks]
        if let aliases { entry["aliases"] = aliases }
        return entry
    }

    static func hex(_ bytes: Data) -> String { Checksum.hex(bytes.withUnsafeBytes { Checksum.xxh3($0) }) }

    /// One zstd frame of `bytes` (level 1).
    static func zstd(_ bytes: Data) throws -> Data {
        try bytes.withUnsafeBytes { try ChunkCodec.encode($0, dtype: .u8, codec: .zstd, level: 1) }
    }

    /// Replaces the last 64 bytes of `file` with `trailer`.
    static func replacingTrailer(of file: Data, with trailer: FileTrailer) -> Data {
        file.prefix(file.count - 64) + trailer.encoded()
    }
}
