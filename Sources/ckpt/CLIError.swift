import ArgumentParser
import Catalog
import Engine
import Foundation
import Format

/// An error of the command line itself. Each case carries the facts; the message and the
/// exit code are derived from the case, so nothing needs to read the text.
enum CLIError: Error, CustomStringConvertible {
    /// An argument that cannot work as given; the text says what is wrong with it.
    case usage(String)
    /// An output whose extension names no format the verb writes.
    case unknownExtension(path: String, extension: String, accepted: [String])
    /// A file named on the command line that does not exist.
    case noSuchFile(String)
    /// A name glob that matches no tensor of `source`.
    case noTensorMatches(source: String, pattern: String)
    /// No tensor of `file` has this name or alias; `suggestions` share the longest prefix with it.
    case noSuchTensor(file: String, name: String, suggestions: [String])
    /// `file` carries no architecture document and the verb needs one.
    case noArchitecture(file: String)
    /// A FILE|REF argument that names neither a readable file nor a version of a store.
    case unresolved(CheckpointResolverError)

    /// 2 for a command line that cannot work as given, 1 for what the files say.
    var exitCode: Int32 {
        switch self {
        case .usage, .unknownExtension, .noSuchFile: return 2
        case .noTensorMatches, .noSuchTensor, .noArchitecture: return 1
        case .unresolved(let error): return error.isUsage ? 2 : 1
        }
    }

    var description: String {
        switch self {
        case .usage(let text):
            return text
        case let .unknownExtension(path, ext, accepted):
            return "\(path.escapedForDisplay): cannot tell the format from the extension '.\(ext.escapedForDisplay)' "
                + "(use \(accepted.map { "." + $0 }.joined(separator: ", ")))"
        case .noSuchFile(let path):
            return "\(path.escapedForDisplay): no such file"
        case let .noTensorMatches(source, pattern):
            return "\(source.escapedForDisplay): no tensor matches '\(pattern.escapedForDisplay)'"
        case let .noSuchTensor(file, name, suggestions):
            let hint = suggestions.isEmpty ? "" : "; did you mean \(suggestions.map { "'\($0.escapedForDisplay)'" }.joined(separator: ", "))?"
            return "\(file.escapedForDisplay): no tensor named '\(name.escapedForDisplay)'\(hint)"
        case .unresolved(let error):
            return error.description
        case .noArchitecture(let file):
            return "\(file.escapedForDisplay): has no architecture document (attach one with `ckpt import SRC --arch ARCH -o OUT`)"
        }
    }
}

/// The exit code each module's error means: 0 success, 1 a file is bad or an operation
/// failed, 2 the command line cannot work as given (usage, or a machine without the
/// device asked for).
enum ExitStatus {
    static func code(for error: Error) -> Int32? {
        switch error {
        case let error as CLIError: return error.exitCode
        case is FormatError: return 1
        case let error as CatalogError: return catalogCode(error)
        case is EngineError: return 1
        case let error as OpenCLError: return error.isMissingDevice ? 2 : 1
        case let error as CheckpointResolverError: return error.isUsage ? 2 : 1
        default: return nil
        }
    }

    /// A name or reference that is malformed whatever the store holds is a usage error;
    /// what the store's content refuses (no such version, a tag taken) or damage is 1.
    static func catalogCode(_ error: CatalogError) -> Int32 {
        switch error {
        case .invalidName, .malformedReference, .tagGivenTwice: return 2
        default: return 1
        }
    }
}
