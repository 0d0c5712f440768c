import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Dropping the resident pages of bytes already consumed, so that streaming a mapped file
/// larger than memory keeps a bounded resident set (`WriteOptions.releasesSourcePages`).
enum SourcePages {
    /// Linux's `MADV_PAGEOUT` (5.4): reclaim the pages now. Not in every libc's headers.
    static let pageOut: Int32 = 21
    static let pageSize = max(4096, sysconf(Int32(_SC_PAGESIZE)))

    /// Advises the kernel to reclaim the whole pages inside `range` of `data` (pages shared
    /// with bytes outside the range are left alone). Failure (an old kernel) changes nothing.
    static func release(_ data: Data, _ range: Range<Int>) {
        data.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress, range.lowerBound >= 0, range.upperBound <= bytes.count else { return }
            let start = UInt(bitPattern: base) &+ UInt(range.lowerBound)
            let end = UInt(bitPattern: base) &+ UInt(range.upperBound)
            let page = UInt(pageSize)
            let first = (start &+ page &- 1) / page * page
            let last = end / page * page
            guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
            _ = madvise(pointer, Int(last - first), pageOut)
        }
    }
}
