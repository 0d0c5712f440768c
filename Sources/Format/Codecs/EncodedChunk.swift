import Foundation

/// One chunk's stored bytes as an ordered list of spans, so that the writer sends each
/// span to the file from where it already lies: a raw plane of a shuffle codec from the
/// plane buffer `Shuffle.split` filled, compressed planes and the plane table from the
/// encoder's buffer. Copying the raw planes into one contiguous blob cost a memcpy of
/// most of each float chunk (the mantissa planes do not compress).
///
/// The buffers the spans point into belong to this value and are freed with it; a span
/// may also point into the caller's source bytes (a `raw` chunk), which must then stay
/// alive as long as the spans are used.
final class EncodedChunk: @unchecked Sendable {
    /// The stored bytes, in file order.
    let parts: [UnsafeRawBufferPointer]
    /// Their total length.
    let count: Int
    private let owned: [UnsafeMutableRawBufferPointer]

    init(parts: [UnsafeRawBufferPointer], owning owned: [UnsafeMutableRawBufferPointer]) {
        self.parts = parts.filter { $0.count > 0 }
        self.count = parts.reduce(0) { $0 + $1.count }
        self.owned = owned
    }

    deinit {
        for buffer in owned { buffer.deallocate() }
    }

    /// xxh3-64 of the stored bytes (the same value `Checksum.xxh3` gives for them contiguous).
    var xxh3: UInt64 { Checksum.xxh3(parts: parts) }

    /// The stored bytes as one contiguous `Data` (a copy).
    var data: Data {
        var data = Data(capacity: count)
        for part in parts { data.append(contentsOf: part) }
        return data
    }
}
