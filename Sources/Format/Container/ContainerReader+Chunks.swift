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
            throw FormatError(.notFound(kind: "chunk of tensor '\(record.name)'", name: "\(index)"), file: path)
        }
        let chunk = record.chunks[index]
        // A record of another file would name spans this map does not have.
        guard chunk.length <= file.count, chunk.offset <= file.count - chunk.length else {
            throw FormatError(.malformed(what: Self.label(record, chunk: index), detail: "lies outside this file"), file: path)
        }
        if record.codec == .raw, chunk.length == chunk.size {
            return try body(try verifiedBytes(of: chunk, in: record, index: index))
        }
        guard scratch.count >= chunk.size else {
            throw FormatError(.limitExceeded(what: "the decoded size of \(Self.label(record, chunk: index))",
                                             value: UInt64(chunk.size), limit: UInt64(scratch.count)), file: path)
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<chunk.size])
        try decode(chunk: index, of: record, into: target)
        return try body(UnsafeRawBufferPointer(target))
    }

    /// The decoded bytes of one chunk, checked and copied out; the scratch is reserved
    /// against the reader's budget.
    public func decodeChunk(_ record: TensorRecord, index: Int) throws -> Data {
        let size = record.chunks.indices.contains(index) ? record.chunks[index].size : 0
        let scratch = try allocate(size, for: "tensor '\(record.name)' chunk \(index)")
        return try withDecodedChunk(record, index: index, scratch: scratch.bytes) { Data($0) }
    }
}
