import Foundation
import Catalog
import Format

/// The status every entry point returns (spec/ABI.md "Codes"): 0 for success, else one
/// code per family of `FormatError.Reason` (the innermost reason, past every context), so
/// that a caller can branch on the kind of failure without reading the message. The
/// numbers are part of the ABI: never renumber, only add.
enum ErrorCode: Int32 {
    case ok = 0
    /// The system refused an operation on a path (`io`): a missing file, no permission.
    case io = 1
    /// Nothing of that kind has that name (`notFound`): an unknown tensor.
    case notFound = 2
    /// Stored bytes do not match their checksum (`checksumMismatch`): a corrupt file.
    case checksum = 3
    /// The input ends early (`truncated`).
    case truncated = 4
    /// A structural rule of the format is broken (`malformed`, `arithmeticOverflow`).
    case malformed = 5
    /// A value is not what is allowed (`invalidValue`, `missingField`, `unknownKeys`,
    /// `duplicateName`, `shapeMismatch`, `incompatibleShape`).
    case invalid = 6
    /// A bound of the reader is exceeded (`limitExceeded`, `tooDeep`, `walkBudgetExceeded`).
    case limit = 7
    /// Memory: the budget or the system refused (`memoryBudgetExceeded`, `allocationFailed`).
    case memory = 8
    /// A version or dtype this library does not know (`unsupportedVersion`, `unsupportedDType`).
    case unsupported = 9
    /// Not a file this library knows (`unrecognisedFile`).
    case unrecognised = 10
    /// Understood and refused on purpose (`refused`, `refusedGlobal`).
    case refused = 11
    /// The caller broke the ABI's contract: a NULL where a value is required, text that is
    /// not UTF-8, argument JSON that does not parse, a closed handle (`ABIError`).
    case argument = 12
    /// Anything else (an unclassified error): a bug to report.
    case `internal` = 13
    /// The store refused or failed (`CatalogError`): no store there, a name rule, a tag
    /// taken, a damaged object, SQLite.
    case store = 14
    /// A store reference that names no version (`CatalogError.isUnresolvedReference`).
    case reference = 15

    /// The family of `reason`, looked up past every context.
    init(_ reason: FormatError.Reason) {
        switch reason.root {
        case .io: self = .io
        case .notFound: self = .notFound
        case .checksumMismatch: self = .checksum
        case .truncated: self = .truncated
        case .malformed, .arithmeticOverflow: self = .malformed
        case .invalidValue, .missingField, .unknownKeys, .duplicateName, .shapeMismatch, .incompatibleShape: self = .invalid
        case .limitExceeded, .tooDeep, .walkBudgetExceeded: self = .limit
        case .memoryBudgetExceeded, .allocationFailed: self = .memory
        case .unsupportedVersion, .unsupportedDType: self = .unsupported
        case .unrecognisedFile: self = .unrecognised
        case .refused, .refusedGlobal: self = .refused
        case .unclassified, .context: self = .internal
        }
    }
}

/// A breach of the ABI's contract by the caller (code `argument`); `detail` says which.
struct ABIError: Error, CustomStringConvertible {
    var detail: String
    var description: String { detail.escapedForDisplay }
}

/// Runs `body`, turning any error into its code and, when the caller gave `message`, a
/// one-line malloc'd message there (freed with `ckpt_free`). On success `*message` is
/// set to NULL, so the caller never frees a stale pointer.
func guarded(_ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ body: () throws -> Void) -> Int32 {
    message?.pointee = nil
    let code: ErrorCode
    let text: String
    do {
        try body()
        return ErrorCode.ok.rawValue
    } catch let error as FormatError {
        code = ErrorCode(error.reason)
        text = error.description
    } catch let error as CatalogError {
        if case .format(let inner) = error.root {
            code = ErrorCode(inner.reason)
        } else {
            code = error.isUnresolvedReference ? .reference : .store
        }
        text = error.description
    } catch let error as ABIError {
        code = .argument
        text = error.description
    } catch {
        code = .internal
        text = "\(error)".escapedForDisplay
    }
    message?.pointee = strdup(text)
    return code.rawValue
}
