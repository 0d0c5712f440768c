import Foundation

extension ContainerReader {
    /// Calls `body` with the decoded bytes of chunk `index` of `record` (a record of this
    /// file), after checking the chunk's checksum. A raw chunk is handed over as a view of
    /// the map, so nothing is copied; any other is decoded into `scratch`, which must hold
    /// at least the chunk's decoded size. The bytes are valid only inside `body`.
    ///
    /// This is the streaming entry point: a caller that visits every chunk of a tensor
    /// (in parallel, one scratch buffer per worker) never holds more than a chunk per worker.
    public func withDecodedChunk<R>(_ record: TensorRecord, index: Int, scratch: UnsafeMutableRawBufferPointer,
                                    _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard record.chunks.indices.contains(index) else {
            throw FormatError("tensor '\(record.name)' has no chunk \(index) (it has \(record.chunks.count))", file: path)
        }
        let chunk = record.chunks[index]
        guard chunk.offset >= 0, chunk.length >= 0, chunk.offset + chunk.length <= file.count else {
            throw FormatError("tensor '\(record.name)' chunk \(index) lies outside this file", file: path)
        }
        if record.codec == .raw, chunk.length == chunk.size {
            return try body(try verifiedBytes(of: chunk, in: record, index: index))
        }
        guard scratch.count >= chunk.size else {
            throw FormatError("tensor '\(record.name)' chunk \(index): scratch of \(scratch.count) bytes cannot hold \(chunk.size)", file: path)
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<chunk.size])
        try decode(chunk: index, of: record, into: target)
        return try body(UnsafeRawBufferPointer(target))
    }

    /// The decoded bytes of one chunk, checked and copied out.
    public func decodeChunk(_ record: TensorRecord, index: Int) throws -> Data {
        let size = record.chunks.indices.contains(index) ? record.chunks[index].size : 0
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
        defer { scratch.deallocate() }
        return try withDecodedChunk(record, index: index, scratch: scratch) { Data($0) }
    }
}
