import Foundation

/// The architecture a checkpoint carries, parsed and validated once (at load or import) and
/// carried as a typed value: either form of `spec/ARCH.md`, with the JSON text it is stored as.
///
/// `text` is the document exactly as read (a loaded file keeps its bytes, so stores and
/// digests see what was written) or, for a document built in memory, its serialization,
/// made once here. Equality compares the documents, not the bytes.
public struct Architecture: Sendable, Equatable {
    /// The two forms of the document.
    public enum Form: Sendable, Equatable {
        /// A module tree (`version` 1).
        case modules(ArchitectureDocument)
        /// A dataflow graph (`version` 2), as imported from a torch.export program.
        case graph(GraphDocument)
    }

    public let form: Form
    /// The document as UTF-8 JSON text, as stored in a `.ckpt`'s architecture section.
    public let text: Data

    /// A module tree, serialized once.
    public init(_ document: ArchitectureDocument) {
        form = .modules(document)
        text = document.serialized()
    }

    /// A graph, serialized once.
    public init(_ document: GraphDocument) {
        form = .graph(document)
        text = document.serialized()
    }

    /// Parses and validates JSON text of either form; `version` says which.
    public static func parse(_ data: Data) throws -> Architecture {
        // Module trees nest deeper than graphs (children of children), so the bound here is the tree's.
        let json = try ExactJSON.parse(data, maxDepth: 2 * ArchitectureLimits.maxDepth + 8, what: "architecture document")
        if case .object(let members) = json, let version = members["version"], version != .int(ArchitectureDocument.currentVersion) {
            guard version == .int(GraphDocument.version) else {
                throw FormatError(.unsupportedVersion(what: "architecture document", found: version.summary,
                                                      supported: "\(ArchitectureDocument.currentVersion) (module tree) and \(GraphDocument.version) (graph)"))
            }
            return Architecture(form: .graph(try GraphParser.document(from: json).validated()), text: data)
        }
        // A module tree is small: its own parser reads it again (and refuses other versions).
        return Architecture(form: .modules(try ArchitectureDocument.parse(data)), text: data)
    }

    /// Reads a document of either form from a file.
    public static func read(contentsOf url: URL) throws -> Architecture {
        let file = try MappedFile(path: url.path)
        let data = withExtendedLifetime(file) { Data(file.bytes) } // the map must outlive the copy
        do { return try parse(data) } catch { throw error.attributed(to: url.path) }
    }

    private init(form: Form, text: Data) {
        self.form = form
        self.text = text
    }

    /// The module tree, if this is one.
    public var modules: ArchitectureDocument? {
        if case .modules(let document) = form { return document }
        return nil
    }

    /// The graph, if this is one.
    public var graph: GraphDocument? {
        if case .graph(let document) = form { return document }
        return nil
    }

    /// The module tree, or a typed refusal naming the operation for a graph (which has none).
    public func moduleTree(for operation: @autoclosure () -> String = "this operation") throws -> ArchitectureDocument {
        guard let document = modules else {
            throw FormatError(.refused(what: operation(), why: "it needs a module-tree architecture document and this checkpoint carries a graph"))
        }
        return document
    }

    public static func == (a: Architecture, b: Architecture) -> Bool { a.form == b.form }
}
