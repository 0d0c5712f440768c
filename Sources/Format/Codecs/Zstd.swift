import CZstd

/// The two calls ckpt needs from libzstd, with its error codes turned into FormatErrors.
enum Zstd {
    static func compressBound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Compresses `source` into `destination` (at least `compressBound` bytes); returns the frame length.
    static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, level: Int32) throws -> Int {
        let result = ZSTD_compress(destination.baseAddress, destination.count, source.baseAddress, source.count, level)
        if ZSTD_isError(result) != 0 {
            throw FormatError(.refused(what: "zstd compression", why: String(cString: ZSTD_getErrorName(result))))
        }
        return result
    }

    /// Decompresses one frame that must fill `destination` exactly.
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws {
        // Exactly one frame (FORMAT.md section 6): ZSTD_decompress would go on to decode
        // further frames, and skippable frames after the first, as if they belonged.
        let frame = ZSTD_findFrameCompressedSize(source.baseAddress, source.count)
        if ZSTD_isError(frame) == 0, frame != source.count {
            throw FormatError(.malformed(what: "zstd frame", detail: "\(source.count - frame) bytes follow the frame"))
        }
        let declared = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        guard declared == UInt64(destination.count) else {
            throw FormatError(.invalidValue(field: "zstd frame content size", value: declared >= UInt64(Int64.max) ? "missing or invalid" : "\(declared)", expected: "\(destination.count)"))
        }
        let result = ZSTD_decompress(destination.baseAddress, destination.count, source.baseAddress, source.count)
        if ZSTD_isError(result) != 0 {
            throw FormatError(.malformed(what: "zstd frame", detail: String(cString: ZSTD_getErrorName(result))))
        }
        guard result == destination.count else {
            throw FormatError(.invalidValue(field: "zstd frame decoded size", value: "\(result)", expected: "\(destination.count)"))
        }
    }
}
