/// How the bytes of one chunk are stored. The raw value is the index spelling.
public enum Codec: String, CaseIterable, Codable, Sendable {
    /// The element bytes as they are; raw tensors can be memory-mapped.
    case raw
    /// One zstd frame per chunk.
    case zstd
    /// Byte planes (with the float sign bit rotated to the bottom) each stored as a
    /// zstd frame or raw, whichever is smaller: see FORMAT.md, "shuffle-zstd".
    case shuffleZstd = "shuffle-zstd"

    /// The codec `ckpt import` uses unless told otherwise: on trained fp32 weights it
    /// stores about 0.83 of raw while loading faster than safetensors reads raw bytes.
    public static let `default`: Codec = .shuffleZstd
}

/// What the writer does with each chunk.
public struct WriteOptions: Sendable {
    public var codec: Codec
    /// zstd level; 1 beats 3 on weights for both ratio and speed once planes are split.
    public var level: Int32
    /// Raw bytes per chunk (a multiple of 64, at most `ContainerLimits.maxChunkSize`).
    public var chunkSize: Int

    public init(codec: Codec = .default, level: Int32 = 1, chunkSize: Int = 2 << 20) {
        self.codec = codec
        self.level = level
        self.chunkSize = chunkSize
    }
}
