/// How the bytes of one chunk are stored. The raw value is the index spelling.
public enum Codec: String, CaseIterable, Codable, Sendable {
    /// The element bytes as they are; raw tensors can be memory-mapped.
    case raw
    /// One zstd frame per chunk.
    case zstd
    /// Byte planes (with the float sign bit rotated to the bottom) each stored as a
    /// zstd frame or raw, whichever is smaller: see FORMAT.md, "shuffle-zstd".
    case shuffleZstd = "shuffle-zstd"
    /// The same byte planes, each stored as an order-0 rANS stream or raw (integer planes
    /// may also be zstd): see FORMAT.md, "shuffle-ans". The exponent plane of trained
    /// weights is a memoryless source, where an entropy coder alone reaches the bound.
    case shuffleAns = "shuffle-ans"

    /// The codec `ckpt import` uses unless told otherwise: on trained weights it stores
    /// within 0.2% of the planes' order-0 entropy (MiniLM-L6: fp32 0.819, bf16 0.663 of
    /// raw, against 0.829 and 0.684 with shuffle-zstd) and encodes without an LZ stage.
    public static let `default`: Codec = .shuffleAns
}

/// What the writer does with each chunk.
public struct WriteOptions: Sendable {
    public var codec: Codec
    /// zstd level; 1 beats 3 on weights for both ratio and speed once planes are split.
    public var level: Int32
    /// Raw bytes per chunk (a multiple of 64, at most `ContainerLimits.maxChunkSize`).
    public var chunkSize: Int

    /// Whether `finish()` fsyncs the file and its directory before returning (the default:
    /// a saved checkpoint survives a power cut). Off only to measure the page-cache path.
    public var sync: Bool

    /// Whether the tensors' bytes are pages of a file mapped for reading (an import): the
    /// writer then asks the kernel to drop each chunk's source pages once the chunk is
    /// written (`MADV_PAGEOUT`), so a model larger than memory streams through with a
    /// resident set of the chunks in flight, not of the whole mapped file. The advice
    /// never changes the bytes (pages fault back in from the file, or from swap for
    /// anonymous memory); it only costs time if the sources are not mapped files.
    public var releasesSourcePages: Bool

    public init(codec: Codec = .default, level: Int32 = 1, chunkSize: Int = 2 << 20, sync: Bool = true,
                releasesSourcePages: Bool = false) {
        self.sync = sync
        self.releasesSourcePages = releasesSourcePages
        self.codec = codec
        self.level = level
        self.chunkSize = chunkSize
    }
}
