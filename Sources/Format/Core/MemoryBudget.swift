import Foundation

/// A total on the memory that reading one input may allocate from sizes the input declares.
///
/// Every per-tensor cap can be met while the sum is absurd: twelve stride-0 views of one
/// 1 GiB storage, sixteen npz entries over one local header, zstd chunks that each declare
/// gigabytes. Each allocation sized from a file is reserved here first, so a small hostile
/// file is refused with a message (`FormatError.Reason.memoryBudgetExceeded`) before the
/// allocation is attempted, never with a trap or an abort.
///
/// The limit is `CKPT_MEMORY_LIMIT` (bytes, or with a K/M/G/T suffix) when set, else three
/// quarters of physical memory. One budget is shared by the threads decoding one input.
public final class MemoryBudget: @unchecked Sendable {
    /// The most bytes that may be reserved at once.
    public let limit: UInt64
    private var reserved: UInt64 = 0
    private let lock = NSLock()

    /// A budget of `limit` bytes.
    public init(limit: UInt64) { self.limit = limit }

    /// A budget with the process-wide default limit (see the type's documentation).
    public convenience init() { self.init(limit: MemoryBudget.defaultLimit) }

    /// A budget for reading `bytes` of a format that stores elements uncompressed (.pt):
    /// eight times the input plus 1 GiB, never above `defaultLimit`, so twelve stride-0 views
    /// of one storage in a 2 KB file cannot demand 12 GiB. An explicit `CKPT_MEMORY_LIMIT`
    /// is the limit as given.
    public static func forUncompressedInput(bytes: Int) -> MemoryBudget {
        if let text = ProcessInfo.processInfo.environment["CKPT_MEMORY_LIMIT"], let value = parse(text) {
            return MemoryBudget(limit: value)
        }
        let (scaled, overflow) = UInt64(max(bytes, 0)).multipliedReportingOverflow(by: 8)
        let derived = overflow ? UInt64.max : scaled.addingReportingOverflow(1 << 30).partialValue
        return MemoryBudget(limit: min(derived, defaultLimit))
    }

    /// `CKPT_MEMORY_LIMIT` if it parses, else 3/4 of physical memory.
    public static var defaultLimit: UInt64 {
        if let text = ProcessInfo.processInfo.environment["CKPT_MEMORY_LIMIT"], let value = parse(text) {
            return value
        }
        return ProcessInfo.processInfo.physicalMemory / 4 * 3
    }

    /// Bytes reserved now.
    public var inUse: UInt64 { lock.withLock { reserved } }

    /// Reserves `bytes` for `what`, or throws `memoryBudgetExceeded` naming it.
    public func reserve(_ bytes: UInt64, for what: @autoclosure () -> String) throws {
        let refused: UInt64? = lock.withLock {
            let (total, overflow) = reserved.addingReportingOverflow(bytes)
            guard !overflow, total <= limit else { return reserved }
            reserved = total
            return nil
        }
        if let inUse = refused {
            throw FormatError(.memoryBudgetExceeded(what: what(), requested: bytes, inUse: inUse, limit: limit))
        }
    }

    /// Reserves `bytes` given as a signed count (negative counts are refused as overflow).
    public func reserve(_ bytes: Int, for what: @autoclosure () -> String) throws {
        guard bytes >= 0 else { throw FormatError(.arithmeticOverflow(what: what())) }
        try reserve(UInt64(bytes), for: what())
    }

    /// Gives back bytes reserved earlier (never more than are reserved).
    public func release(_ bytes: UInt64) {
        lock.withLock { reserved -= min(bytes, reserved) }
    }

    static func parse(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(trimmed)
        var scale: UInt64 = 1
        if let last = digits.last, let unit = units[last] { scale = unit; digits = digits.dropLast() }
        guard let value = UInt64(digits) else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : product
    }
}
