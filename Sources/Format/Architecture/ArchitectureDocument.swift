import Foundation

/// The network a checkpoint carries: a module tree whose parameter and buffer names are
/// exactly the state_dict keys of the same PyTorch module. See `spec/ARCH.md`.
public struct ArchitectureDocument: Equatable, Sendable {
    /// The only version this code reads and writes.
    public static let currentVersion = 1

    public var root: ModuleNode
    /// An example input shape, batch axis included (e.g. `[1, 20]`). It lets lazy sizes be
    /// inferred and `ckpt arch` show shapes; running accepts any batch size.
    public var inputShape: [Int]?
    /// Free text for people.
    public var description: String?

    public init(root: ModuleNode, inputShape: [Int]? = nil, description: String? = nil) {
        self.root = root
        self.inputShape = inputShape
        self.description = description
    }

    /// Parses and validates a document (JSON text); every error names the module at fault.
    public static func parse(_ data: Data) throws -> ArchitectureDocument {
        let value: JSONValue
        do {
            value = try JSONValue.parse(data)
        } catch {
            throw FormatError(.malformed(what: "architecture document", detail: "not valid JSON: \(Self.describeDecodingError(error))"))
        }
        let document = try ArchitectureParser.document(from: value)
        _ = try ModuleTree(document.root) // validates names, Repeat patterns and Shared targets
        return document
    }

    /// Reads a document from a file.
    public static func read(contentsOf url: URL) throws -> ArchitectureDocument {
        // MappedFile reports a missing or unreadable file as a typed `io` error with its errno.
        let file = try MappedFile(path: url.path)
        let data = withExtendedLifetime(file) { Data(file.bytes) } // the map must outlive the copy
        do { return try parse(data) } catch { throw error.attributed(to: url.path) }
    }

    /// The document as UTF-8 JSON text, keys in a fixed order so equal documents give equal bytes.
    public func serialized() -> Data {
        Data(ArchitectureWriter.text(of: self).utf8)
    }

    /// The expanded tree (Repeat unrolled, Shared targets looked up).
    public func tree() throws -> ModuleTree { try ModuleTree(root) }

    private static func describeDecodingError(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return context.underlyingError.map { "\($0.localizedDescription)" } ?? context.debugDescription
        }
        return "\(error)"
    }
}
