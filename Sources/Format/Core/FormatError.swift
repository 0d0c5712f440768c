/// A one-line, human-readable reason why a file or an operation was refused.
///
/// `file` is filled in by whoever knows the path, so that messages read
/// `model.ckpt: tensor '0.weight' chunk 2: checksum mismatch`.
public struct FormatError: Error, CustomStringConvertible, Sendable {
    public var file: String?
    public var message: String

    public init(_ message: String, file: String? = nil) {
        self.message = message
        self.file = file
    }

    public var description: String {
        if let file { return "\(file): \(message)" }
        return message
    }

    /// The same error, attributed to `file` unless it already names one.
    public func naming(_ file: String) -> FormatError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }
}

extension Error {
    /// Attributes any error to `file` for a one-line report.
    public func attributed(to file: String) -> FormatError {
        if let error = self as? FormatError { return error.naming(file) }
        return FormatError("\(self)", file: file)
    }
}
