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

    /// The stored form of one chunk as contiguous bytes (a copy of `encodeParts`).
    static func encode(_ source: UnsafeRawBufferPointer, dtype: DType, codec: Codec, level: Int32) throws -> Data {
        try encodeParts(source, dtype: dtype, codec: codec, level: level).data
    }

    /// The stored form of one chunk as spans (see `EncodedChunk`); a `raw` chunk's one
    /// span is `source` itself, so `source` must outlive the result.
    static func encodeParts(_ source: UnsafeRawBufferPointer, dtype: DType, codec: Codec, level: Int32) throws -> EncodedChunk {
        switch codec {
        case .raw:
            return EncodedChunk(parts: [source], owning: [])
        case .zstd:
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(Zstd.compressBound(source.count), 1), alignment: 64)
            do {
                let length = try Zstd.compress(source, into: buffer, level: level)
                return EncodedChunk(parts: [UnsafeRawBufferPointer(rebasing: buffer[0..<length])], owning: [buffer])
            } catch {
                buffer.deallocate()
                throw error
            }
        case .shuffleZstd:
            return try encodeShuffled(source, dtype: dtype, level: level)
        case .shuffleAns:
            return try encodeAns(source, dtype: dtype, level: level)
        }
    }

    private static func encodeShuffled(_ source: UnsafeRawBufferPointer, dtype: DType, level: Int32) throws -> EncodedChunk {
        try encodePlanes(source, dtype: dtype) { raw, target in
            guard try samplePromisesSaving(raw, scratch: target, level: level) else { return nil }
            let compressed = try Zstd.compress(raw, into: target, level: level)
            return worthCompressing(compressed, of: raw.count) ? (1, compressed) : nil
        }
    }

    /// The plane table and payloads shared by shuffle-zstd and shuffle-ans. `store`
    /// writes one plane's compressed form into `target` and returns (mode, length), or
    /// nil to keep the plane raw. `target` has room for `planeBound(n)` bytes. The table
    /// and compressed planes go into one buffer; raw planes stay in the split buffer.
    private static func encodePlanes(_ source: UnsafeRawBufferPointer, dtype: DType,
                                     store: (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) throws -> (UInt8, Int)?) throws -> EncodedChunk {
        let width = dtype.size
        let planeLength = source.count / width
        let planes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
        let headerSize = planeHeaderSize(width: width)
        // Room for the table and every plane compressed (each kept only when smaller than raw).
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: headerSize + width * planeBound(planeLength), alignment: 64)
        do {
            Shuffle.split(source, into: planes, width: width, rotateSign: dtype.isSignedFloat)
            buffer[0] = UInt8(width)
            var parts = [UnsafeRawBufferPointer(rebasing: buffer[0..<headerSize])]
            var cursor = headerSize
            for plane in 0..<width {
                let raw = UnsafeRawBufferPointer(rebasing: planes[(plane * planeLength)..<((plane + 1) * planeLength)])
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[cursor..<(cursor + planeBound(planeLength))])
                var mode: UInt8 = 0
                var length = planeLength
                if planeLength > 0, let (chosen, stored) = try store(raw, target) {
                    mode = chosen
                    length = stored
                }
                buffer[1 + 5 * plane] = mode
                withUnsafeBytes(of: UInt32(length).littleEndian) {
                    UnsafeMutableRawBufferPointer(rebasing: buffer[(2 + 5 * plane)..<(6 + 5 * plane)]).copyMemory(from: $0)
                }
                if mode == 0 {
                    parts.append(raw)
                } else {
                    parts.append(UnsafeRawBufferPointer(rebasing: buffer[cursor..<(cursor + length)]))
                    cursor += length
                }
            }
            return EncodedChunk(parts: parts, owning: [planes, buffer])
        } catch {
            planes.deallocate()
            buffer.deallocate()
            throw error
        }
    }

    /// Room one plane of `n` bytes may take while its encoder works: enough for a zstd
    /// frame or a rANS table and stream (the result is kept only when smaller than `n`).
    static func planeBound(_ n: Int) -> Int { max(Zstd.compressBound(n), RansPlane.bound(n)) }

    /// shuffle-ans: each plane as an order-0 rANS stream when its histogram says that
    /// saves more than 1/64, otherwise raw. Integer planes (counters, ids) can hold runs
    /// and repeats that only an LZ stage finds, so there zstd is tried too and the smaller kept.
    private static func encodeAns(_ source: UnsafeRawBufferPointer, dtype: DType, level: Int32) throws -> EncodedChunk {
        try encodePlanes(source, dtype: dtype) { raw, target in
            var best: (UInt8, Int)? = nil
            if let length = RansPlane.encode(raw, into: target), worthCompressing(length, of: raw.count) {
                best = (2, length)
            }
            if !dtype.isFloatingPoint {
                let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Zstd.compressBound(raw.count), alignment: 64)
                defer { scratch.deallocate() }
                let compressed = try Zstd.compress(raw, into: scratch, level: level)
                if worthCompressing(compressed, of: raw.count), compressed < best?.1 ?? Int.max {
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<compressed]))
                    best = (1, compressed)
                }
            }
            return best
        }
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
                throw FormatError(.invalidValue(field: "raw chunk length", value: "\(stored.count)", expected: "\(destination.count), the chunk's size"))
            }
            destination.copyMemory(from: stored)
        case .zstd:
            try Zstd.decompress(stored, into: destination)
        case .shuffleZstd:
            try decodeShuffled(stored, dtype: dtype, maxMode: 1, into: destination)
        case .shuffleAns:
            try decodeShuffled(stored, dtype: dtype, maxMode: 2, into: destination)
        }
    }

    /// Decodes a plane table chunk; `maxMode` is the highest plane mode the codec allows
    /// (shuffle-zstd: 1, zstd; shuffle-ans: 2, rANS).
    private static func decodeShuffled(_ stored: UnsafeRawBufferPointer, dtype: DType, maxMode: UInt8,
                                       into destination: UnsafeMutableRawBufferPointer) throws {
        let width = dtype.size
        let headerSize = planeHeaderSize(width: width)
        guard stored.count >= headerSize, Int(stored[0]) == width else {
            throw FormatError(.malformed(what: "plane table", detail: "it does not start with the plane count \(width)"))
        }
        let planeLength = destination.count / width
        // Validate the whole table before touching any payload.
        var spans: [(mode: UInt8, start: Int, length: Int)] = []
        var cursor = headerSize
        for plane in 0..<width {
            let mode = stored[1 + 5 * plane]
            var length = 0
            for k in 0..<4 { length |= Int(stored[2 + 5 * plane + k]) << (8 * k) }
            guard mode <= maxMode, mode != 0 || length == planeLength, length <= stored.count - cursor else {
                throw FormatError(.malformed(what: "plane table", detail: "plane \(plane) has mode \(mode) and \(length) bytes (modes 0 to \(maxMode); raw is \(planeLength) bytes; \(stored.count - cursor) remain)"))
            }
            spans.append((mode, cursor, length))
            cursor += length
        }
        guard cursor == stored.count else {
            throw FormatError(.malformed(what: "plane table", detail: "\(stored.count - cursor) bytes follow the last plane"))
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
                if span.mode == 1 {
                    try Zstd.decompress(payload, into: target)
                } else {
                    try RansPlane.decode(payload, into: target)
                }
                pointers.append(UnsafePointer(scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + plane * planeLength))
            }
        }
        Shuffle.join(planes: { pointers[$0] }, into: destination, width: width, rotateSign: dtype.isSignedFloat)
    }
}
