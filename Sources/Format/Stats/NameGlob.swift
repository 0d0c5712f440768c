import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A shell pattern over tensor names: `*` any run of characters (dots included, so
/// `*.weight` matches `0.net.2.weight`), `?` one character, `[...]` a set.
public struct NameGlob: Sendable, CustomStringConvertible {
    public let pattern: String

    public init(_ pattern: String) {
        self.pattern = pattern
    }

    public var description: String { pattern }

    public func matches(_ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }

    /// Whether any of `names` matches.
    public func matches(any names: [String]) -> Bool {
        names.contains(where: matches)
    }
}
