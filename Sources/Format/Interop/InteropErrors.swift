import Foundation

/// Shorthands for the typed errors the importers throw most often, so that each site
/// states its facts in one line. The messages are derived by `FormatError.Reason`.
enum Fault {
    /// `what` breaks a structural rule of its format (`detail` says which).
    static func malformed(_ what: String, _ detail: String) -> FormatError {
        FormatError(.malformed(what: what, detail: detail))
    }

    /// A rule of the pickle stream is broken.
    static func pickle(_ detail: String) -> FormatError { malformed("pickle", detail) }

    /// `what` is understood and refused on purpose, because `why`.
    static func refused(_ what: String, _ why: String) -> FormatError {
        FormatError(.refused(what: what, why: why))
    }

    /// `what` would overflow 64-bit arithmetic.
    static func overflow(_ what: String) -> FormatError { FormatError(.arithmeticOverflow(what: what)) }

    /// `field` holds `value`, where `expected` is allowed.
    static func invalid(_ field: String, _ value: String, expected: String) -> FormatError {
        FormatError(.invalidValue(field: field, value: value, expected: expected))
    }

    /// `error` (typed or not) inside `context`, keeping its facts.
    static func within(_ context: String, _ error: Error) -> FormatError {
        if let error = error as? FormatError { return error.within(context) }
        return malformed(context, "\(error)") // escaped, like every message, by FormatError
    }
}
