import Foundation

/// Something `verify` can check and the engine can run: a `.ckpt` file, another file format
/// (checked by reading it), or a version in a store (Catalog's `StoredVersionSource`).
///
/// One protocol so that files and store references take one verification path: structure
/// first (`verifyStructure`, which lists problems and never throws), then, when that is
/// clean, the whole `checkpoint()` for the checks that need the tensors.
public protocol CheckpointSource: AnyObject {
    /// How reports name it: the path as given, or `mlp@2 (1a2b3c4d5e6f)`.
    var displayName: String { get }

    /// Every checksum and structural rule this kind of source has, each problem named with
    /// where it is; how much was checked, probe tensors counted apart from tensors.
    /// `keepingContents`: the caller goes on to `checkpoint()`, so a source that decodes
    /// everything to check it may keep what it decoded (memory for one decode less).
    func verifyStructure(keepingContents: Bool) -> StructureVerification

    /// The whole checkpoint (tensors, architecture, metadata, probes), every byte checked.
    func checkpoint() throws -> Checkpoint

    /// Whether anything beyond the structural check needs the tensors: an architecture to
    /// match, probes to run, a transplant to rerun. When not, `verify` stops after the
    /// structural check and never holds the tensors (a weights-only file larger than memory
    /// verifies in the memory of the chunks in flight). A source that cannot tell says true.
    var hasChecksBeyondStructure: Bool { get }
}

extension CheckpointSource {
    /// Conservative: load and look.
    public var hasChecksBeyondStructure: Bool { true }

    /// The structural check alone (nothing kept for a later `checkpoint()`).
    public func verifyStructure() -> StructureVerification { verifyStructure(keepingContents: false) }
}

/// What a structural check found.
public struct StructureVerification: Codable, Sendable, Equatable {
    /// Each problem, one line, with where it is.
    public var problems: [String] = []
    /// The checkpoint's own tensors checked (probe inputs and outputs not included).
    public var tensors = 0
    /// Probe inputs and outputs checked.
    public var probeTensors = 0
    public var chunks = 0
    public var bytes = 0
    public var ok: Bool { problems.isEmpty }

    public init(problems: [String] = [], tensors: Int = 0, probeTensors: Int = 0, chunks: Int = 0, bytes: Int = 0) {
        self.problems = problems
        self.tensors = tensors
        self.probeTensors = probeTensors
        self.chunks = chunks
        self.bytes = bytes
    }

    /// A container's report (which counts probe tensors apart already).
    public init(_ report: VerificationReport) {
        self.init(problems: report.problems, tensors: report.tensorsChecked, probeTensors: report.probeTensorsChecked,
                  chunks: report.chunksChecked, bytes: report.bytesDecoded)
    }
}

/// A file source of the kind its first bytes say: a `.ckpt` container, or any format the
/// importer reads.
public enum FileCheckpointSource {
    /// The source for the file at `url`, named `displayName` in reports. A file whose kind
    /// cannot be told is handed to the importer, whose structural check then says why.
    public static func open(_ url: URL, displayName: String? = nil) -> any CheckpointSource {
        let name = displayName ?? url.path
        if (try? FileKind.detect(url)) == .ckpt { return ContainerFileSource(url, displayName: name) }
        return ImportedFileSource(url, displayName: name)
    }
}

/// A `.ckpt` file: every chunk checksum, every section, the exact layout. The structural
/// check decodes every chunk once and keeps what it decoded (`verify(loading:)`), so
/// `checkpoint()` after it does not decode the file again.
public final class ContainerFileSource: CheckpointSource {
    public let url: URL
    public let displayName: String
    /// Called with (bytes decoded, bytes of every tensor) while `verifyStructure` runs.
    public var progress: ((_ done: Int, _ total: Int) -> Void)?
    private var reader: ContainerReader?
    private var loaded: Checkpoint?

    public init(_ url: URL, displayName: String) {
        self.url = url
        self.displayName = displayName
    }

    private func open() throws -> ContainerReader {
        if let reader { return reader }
        let opened = try ContainerReader(contentsOf: url)
        reader = opened
        return opened
    }

    public func verifyStructure(keepingContents: Bool) -> StructureVerification {
        do {
            let outcome = try open().verify(loading: keepingContents, progress: progress)
            loaded = outcome.checkpoint
            return StructureVerification(outcome.report)
        } catch {
            return StructureVerification(problems: [Self.message(error)])
        }
    }

    public func checkpoint() throws -> Checkpoint {
        if let loaded { return loaded }
        return try open().checkpoint()
    }

    /// From the index and the metadata section alone: no tensor is decoded to tell.
    public var hasChecksBeyondStructure: Bool {
        guard let reader = try? open() else { return true }
        if reader.manifest.sections[Manifest.architectureSection] != nil || !reader.manifest.probes.isEmpty { return true }
        guard reader.manifest.sections[Manifest.metadataSection] != nil else { return false }
        guard let metadata = try? reader.metadata() else { return true }
        return metadata[TransplantProvenance.metadataKey] != nil
    }

    static func message(_ error: Error) -> String {
        (error as? FormatError)?.message ?? "\(error)".escapedForDisplay
    }
}

/// Any other format (safetensors, npz, npy, torch): these carry no checksums, so reading the
/// whole file is its structural check. The checkpoint read is kept for `checkpoint()`.
public final class ImportedFileSource: CheckpointSource {
    public let url: URL
    public let displayName: String
    private var loaded: Checkpoint?

    public init(_ url: URL, displayName: String) {
        self.url = url
        self.displayName = displayName
    }

    /// Reading is the check; what was read is kept either way (it is already in memory).
    public func verifyStructure(keepingContents: Bool) -> StructureVerification {
        do {
            let checkpoint = try self.checkpoint()
            let probeTensors = checkpoint.probes.reduce(0) { $0 + $1.inputs.count + $1.outputs.count }
            let bytes = checkpoint.tensors.reduce(0) { $0 + $1.tensor.data.count }
            return StructureVerification(tensors: checkpoint.tensors.count, probeTensors: probeTensors, bytes: bytes)
        } catch {
            return StructureVerification(problems: [ContainerFileSource.message(error)])
        }
    }

    public func checkpoint() throws -> Checkpoint {
        if let loaded { return loaded }
        let checkpoint = try Importer.load(contentsOf: url)
        loaded = checkpoint
        return checkpoint
    }
}
