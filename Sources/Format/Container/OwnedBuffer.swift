import Foundation

/// Memory that is filled through a raw pointer (by parallel decoders) and then handed
/// over as `Data` without a copy.
final class OwnedBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        if count == 0 { emptied = true }
    }

    private var emptied = false

    /// The buffer as Data; the Data owns the memory from now on.
    func data() -> Data {
        if emptied { return Data() }
        let base = bytes.baseAddress!
        return Data(bytesNoCopy: base, count: bytes.count, deallocator: .custom { pointer, _ in pointer.deallocate() })
    }
}
