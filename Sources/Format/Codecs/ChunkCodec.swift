import Foundation

/// Encodes and decodes one chunk: a run of whole elements of one tensor.
enum ChunkCodec {
    /// A plane is kept compressed only if zstd saves more than 1/64 of it; below that
    /// a raw copy costs almost nothing in size and decodes at memory speed.
    static func worthCompressing(_ compressed: Int, of raw: Int) -> Bool {
        compressed < raw - raw / 64
    }

    /// Plane table of a shuffle-zstd chunk: count byte, then per plane a mode byte and a u32 length.
    static func planeHeaderSize(width: Int) -> Int { 1 + 5 * width }

    static func encode(_ source: UnsafeRawBufferPointer, dtype: DType, codec: Codec, level: Int32) throws -> Data {
        switch codec {
        case .raw:
            return Data(source)
        case .zstd:
            var out = Data(count: Zstd.compressBound(source.count))
            let length = try out.withUnsafeMutableBytes { try Zstd.compress(source, into: $0, level: level) }
            out.count = length
            return out
        case .shuffleZstd:
            return try encodeShuffled(source, dtype: dtype, level: level)
        }
    }

    private static func encodeShuffled(_ source: UnsafeRawBufferPointer, dtype: DType, level: Int32) throws -> Data {
        let width = dtype.size
        let planeLength = source.count / width
        let planes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
        defer { planes.deallocate() }
        Shuffle.split(source, into: planes, width: width, rotateSign: dtype.isSignedFloat)

        let headerSize = planeHeaderSize(width: width)
        var out = Data(count: headerSize + width * Zstd.compressBound(planeLength))
        let total = try out.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) -> Int in
            buffer[0] = UInt8(width)
            var cursor = headerSize
            for plane in 0..<width {
                let raw = UnsafeRawBufferPointer(rebasing: planes[(plane * planeLength)..<((plane + 1) * planeLength)])
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[cursor...])
                var mode: UInt8 = 0
                var length = planeLength
                if planeLength > 0, try samplePromisesSaving(raw, scratch: target, level: level) {
                    let compressed = try Zstd.compress(raw, into: target, level: level)
                    if worthCompressing(compressed, of: planeLength) {
                        mode = 1
                        length = compressed
                    }
                }
                if mode == 0 { target.copyMemory(from: raw) }
                buffer[1 + 5 * plane] = mode
                withUnsafeBytes(of: UInt32(length).littleEndian) {
                    UnsafeMutableRawBufferPointer(rebasing: buffer[(2 + 5 * plane)..<(6 + 5 * plane)]).copyMemory(from: $0)
                }
                cursor += length
            }
            return cursor
        }
        out.count = total
        return out
    }

    /// Mantissa planes of trained weights are close to random: compressing them only to
    /// throw the result away cost most of the save time. A 64 KiB sample from the middle
    /// of a large plane decides; small planes are simply tried whole.
    private static let sampleSize = 64 << 10

    private static func samplePromisesSaving(_ plane: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer, level: Int32) throws -> Bool {
        guard plane.count >= 4 * sampleSize else { return true }
        let start = (plane.count / 2) & ~63
        let sample = UnsafeRawBufferPointer(rebasing: plane[start..<(start + sampleSize)])
        let compressed = try Zstd.compress(sample, into: scratch, level: level)
        return worthCompressing(compressed, of: sampleSize)
    }

    /// Decodes `stored` into `destination`, which must be exactly the chunk's raw size.
    static func decode(_ stored: UnsafeRawBufferPointer, dtype: DType, codec: Codec, into destination: UnsafeMutableRawBufferPointer) throws {
        switch codec {
        case .raw:
            guard stored.count == destination.count else {
                throw FormatError("raw chunk holds \(stored.count) bytes, expected \(destination.count)")
            }
            destination.copyMemory(from: stored)
        case .zstd:
            try Zstd.decompress(stored, into: destination)
        case .shuffleZstd:
            try decodeShuffled(stored, dtype: dtype, into: destination)
        }
    }

    private static func decodeShuffled(_ stored: UnsafeRawBufferPointer, dtype: DType, into destination: UnsafeMutableRawBufferPointer) throws {
        let width = dtype.size
        let headerSize = planeHeaderSize(width: width)
        guard stored.count >= headerSize, Int(stored[0]) == width else {
            throw FormatError("shuffle-zstd chunk has a damaged plane table")
        }
        let planeLength = destination.count / width
        // Validate the whole table before touching any payload.
        var spans: [(mode: UInt8, start: Int, length: Int)] = []
        var cursor = headerSize
        for plane in 0..<width {
            let mode = stored[1 + 5 * plane]
            var length = 0
            for k in 0..<4 { length |= Int(stored[2 + 5 * plane + k]) << (8 * k) }
            guard mode <= 1, mode == 1 || length == planeLength, length <= stored.count - cursor else {
                throw FormatError("shuffle-zstd chunk has a damaged plane table (plane \(plane))")
            }
            spans.append((mode, cursor, length))
            cursor += length
        }
        guard cursor == stored.count else {
            throw FormatError("shuffle-zstd chunk has \(stored.count - cursor) bytes past its planes")
        }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(destination.count, 1), alignment: 64)
        defer { scratch.deallocate() }
        var pointers: [UnsafePointer<UInt8>] = []
        for (plane, span) in spans.enumerated() {
            let payload = UnsafeRawBufferPointer(rebasing: stored[span.start..<(span.start + span.length)])
            if span.mode == 0 {
                pointers.append(payload.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)))
            } else {
                let target = UnsafeMutableRawBufferPointer(rebasing: scratch[(plane * planeLength)..<((plane + 1) * planeLength)])
                try Zstd.decompress(payload, into: target)
                pointers.append(UnsafePointer(scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + plane * planeLength))
            }
        }
        Shuffle.join(planes: { pointers[$0] }, into: destination, width: width, rotateSign: dtype.isSignedFloat)
    }
}
