import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Memory sized from a file, filled through a raw pointer (by parallel decoders) and then
/// handed over as `Data` without a copy.
///
/// Ownership is single and checked: until `take()` the buffer owns the memory and frees
/// it in `deinit` (so a decode that throws half way leaks nothing); `take()` hands it to
/// the returned `Data` exactly once, and the `Data`'s deallocator frees it and gives the
/// bytes back to the budget. A second `take()` is a programming error and stops the
/// process rather than creating a second owner (which would free the memory twice).
///
/// Allocation can fail without aborting: the bytes are first reserved against the read's
/// `MemoryBudget` (`memoryBudgetExceeded`), then requested with `posix_memalign`, whose
/// refusal becomes `allocationFailed` (Swift's own allocator aborts the process instead).
final class OwnedBuffer: @unchecked Sendable {
    /// The memory, `count` bytes (a zero-byte buffer has a valid one-byte allocation).
    let bytes: UnsafeMutableRawBufferPointer
    private let budget: MemoryBudget?
    private let reserved: UInt64
    private var handedOver = false

    /// `count` bytes for `what`, reserved against `budget` (when given) and 64-byte aligned.
    init(count: Int, budget: MemoryBudget?, for what: @autoclosure () -> String) throws {
        guard count >= 0 else { throw FormatError(.arithmeticOverflow(what: what())) }
        try budget?.reserve(count, for: what())
        var pointer: UnsafeMutableRawPointer?
        // One byte at least: a valid pointer for empty tensors, and malloc(0) may return nil.
        guard posix_memalign(&pointer, ContainerLimits.alignment, max(count, 1)) == 0, let pointer else {
            budget?.release(UInt64(count))
            throw FormatError(.allocationFailed(what: what(), bytes: UInt64(count)))
        }
        self.bytes = UnsafeMutableRawBufferPointer(start: pointer, count: count)
        self.budget = budget
        self.reserved = UInt64(count)
    }

    deinit {
        guard !handedOver else { return }
        free(bytes.baseAddress)
        budget?.release(reserved)
    }

    /// The buffer as `Data`, which owns the memory from now on. Call at most once.
    func take() -> Data {
        precondition(!handedOver, "OwnedBuffer handed over twice")
        handedOver = true
        guard let base = bytes.baseAddress else { return Data() }
        if bytes.count == 0 {
            free(base)
            budget?.release(reserved)
            return Data()
        }
        let budget = self.budget, reserved = self.reserved
        return Data(bytesNoCopy: base, count: bytes.count, deallocator: .custom { pointer, _ in
            free(pointer)
            budget?.release(reserved)
        })
    }
}
