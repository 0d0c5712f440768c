import Foundation

/// Why the engine refused or failed: one line that names the module or tensor at fault.
public struct EngineError: Error, CustomStringConvertible, LocalizedError, Sendable {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
    public var errorDescription: String? { message }

    /// The plain answer for every verb that would have to run an Opaque module.
    public static func opaque(path: String, className: String) -> EngineError {
        EngineError("cannot run: module '\(path.isEmpty ? "(root)" : path)' is Opaque (class \(className))")
    }
}
