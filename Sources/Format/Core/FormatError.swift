import Foundation

/// Why a file or an operation of the Format module was refused: the facts in `reason`, the
/// one-line message derived from them.
///
/// `file` is filled in by whoever knows the path, so that messages read
/// `model.ckpt: tensor '0.weight' chunk 2: checksum mismatch`. Code and tests match on
/// `reason`, never on the text. Every message is escaped for display
/// (`String.escapedForDisplay`): names from a file cannot break the line or paint the screen.
public struct FormatError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The path of the file at fault, when known.
    public var file: String?
    /// What was wrong, with the facts.
    public var reason: Reason

    /// An error for `reason`, attributed to `file` if given.
    public init(_ reason: Reason, file: String? = nil) {
        self.reason = reason
        self.file = file
    }

    /// Transitional: an error from a message alone. Every call site moves to a typed
    /// `Reason`; this initialiser and `Reason.unclassified` go when the last one has.
    @available(*, deprecated, message: "throw a typed FormatError.Reason")
    public init(_ message: String, file: String? = nil) {
        self.init(.unclassified(message), file: file)
    }

    /// The message without the file name.
    public var message: String { reason.description.escapedForDisplay }

    /// `file: message`, one line.
    public var description: String {
        if let file { return "\(file.escapedForDisplay): \(message)" }
        return message
    }

    /// The same error, attributed to `file` unless it already names one.
    public func naming(_ file: String) -> FormatError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }

    /// The same error inside `context` (`tensor 'w' chunk 3`), which prefixes its message.
    public func within(_ context: String) -> FormatError {
        FormatError(.context(context, reason), file: file)
    }
}

extension FormatError {
    /// The facts of a refusal. Strings in cases are raw (as read); the message escapes them.
    public indirect enum Reason: Sendable, Equatable, CustomStringConvertible {
        /// The input ends before `what` is complete.
        case truncated(what: String, needed: UInt64, available: UInt64)
        /// A stored checksum does not match the bytes of `what`.
        case checksumMismatch(what: String)
        /// A size, offset or count computed from values in the input does not fit in 64 bits.
        case arithmeticOverflow(what: String)
        /// A value read is larger than the limit this reader accepts.
        case limitExceeded(what: String, value: UInt64, limit: UInt64)
        /// Reading would reserve more memory than the input's budget allows (`MemoryBudget`).
        case memoryBudgetExceeded(what: String, requested: UInt64, inUse: UInt64, limit: UInt64)
        /// The system refused an allocation of `bytes`.
        case allocationFailed(what: String, bytes: UInt64)
        /// A recursion deeper than `limit` (nested containers, pickle reductions, modules).
        case tooDeep(what: String, limit: Int)
        /// A walk visited more than `limit` items.
        case walkBudgetExceeded(what: String, limit: Int)
        /// `field` holds `value`, where `expected` says what is allowed.
        case invalidValue(field: String, value: String, expected: String)
        /// A version of `what` this reader does not know.
        case unsupportedVersion(what: String, found: String, supported: String)
        /// An element type this reader or writer cannot handle.
        case unsupportedDType(String)
        /// Nothing of `kind` is named `name` (a tensor, a module, a member).
        case notFound(kind: String, name: String)
        /// Two things of `kind` share `name`.
        case duplicateName(kind: String, name: String)
        /// `name` has shape `found` where `expected` was required.
        case shapeMismatch(name: String, expected: [Int], found: [Int])
        /// The bytes are not any format this reader knows.
        case unrecognisedFile(detail: String)
        /// The system refused `operation` on `path`.
        case io(operation: String, path: String, errno: Int32)
        /// A structural rule of the format is broken: `what` is the part, `detail` the rule.
        case malformed(what: String, detail: String)
        /// A pickle refers to a global outside the allowlist.
        case refusedGlobal(module: String, name: String)
        /// A file or construct that is understood and refused on purpose.
        case refused(what: String, why: String)
        /// `inner`, found inside `context` (`tensor 'w' chunk 3`).
        case context(String, Reason)
        /// Transitional: a message not yet given its facts.
        case unclassified(String)
        /// A required member `name` of a JSON object (an option, a field) is absent.
        case missingField(String)
        /// A strict JSON object has members no reader of this version knows (a misspelt option).
        case unknownKeys([String])
        /// A layer cannot take an input of shape `input`; `detail` says what it expects.
        case incompatibleShape(input: [Int], detail: String)

        /// The innermost reason, past every `context`.
        public var root: Reason {
            if case .context(_, let inner) = self { return inner.root }
            return self
        }

        public var description: String {
            switch self {
            case let .truncated(what, needed, available):
                return "truncated: \(what) needs \(needed) bytes, \(available) remain"
            case let .checksumMismatch(what):
                return "\(what): checksum mismatch"
            case let .arithmeticOverflow(what):
                return "\(what): the size does not fit in 64 bits"
            case let .limitExceeded(what, value, limit):
                return "\(what) is \(value), above the limit of \(limit)"
            case let .memoryBudgetExceeded(what, requested, inUse, limit):
                return "\(what) needs \(requested) bytes, beyond the memory budget (\(inUse) of \(limit) in use; set CKPT_MEMORY_LIMIT to change it)"
            case let .allocationFailed(what, bytes):
                return "\(what): the system refused \(bytes) bytes of memory"
            case let .tooDeep(what, limit):
                return "\(what) nests deeper than \(limit) levels"
            case let .walkBudgetExceeded(what, limit):
                return "\(what) has more than \(limit) items"
            case let .invalidValue(field, value, expected):
                return "\(field) is \(value), expected \(expected)"
            case let .unsupportedVersion(what, found, supported):
                return "\(what) version \(found) is not supported (this reader knows \(supported))"
            case let .unsupportedDType(dtype):
                return "unsupported dtype '\(dtype)'"
            case let .notFound(kind, name):
                return "no \(kind) named '\(name)'"
            case let .duplicateName(kind, name):
                return "two \(kind)s are named '\(name)'"
            case let .shapeMismatch(name, expected, found):
                return "'\(name)' has shape \(found), expected \(expected)"
            case let .unrecognisedFile(detail):
                return "unrecognised file: \(detail)"
            case let .io(operation, path, errno):
                return "cannot \(operation) \(path): \(String(cString: strerror(errno)))"
            case let .malformed(what, detail):
                return "\(what): \(detail)"
            case let .refusedGlobal(module, name):
                return "refused: the pickle calls \(module).\(name), which is not on the allowlist"
            case let .refused(what, why):
                return "refused: \(what): \(why)"
            case let .context(context, inner):
                return "\(context): \(inner)"
            case let .unclassified(message):
                return message
            case let .missingField(name):
                return "needs \(name)"
            case let .unknownKeys(keys):
                return "unknown key\(keys.count == 1 ? "" : "s") " + keys.map { "'\($0)'" }.joined(separator: ", ")
            case let .incompatibleShape(input, detail):
                return "\(detail) (input shape [\(input.map(String.init).joined(separator: ", "))])"
            }
        }
    }
}

extension Error {
    /// Attributes any error to `file` for a one-line report.
    public func attributed(to file: String) -> FormatError {
        if let error = self as? FormatError { return error.naming(file) }
        return FormatError(.unclassified("\(self)"), file: file)
    }
}
