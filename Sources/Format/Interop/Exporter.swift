import Foundation

/// The formats a checkpoint can be written as, picked by the output's extension: the one
/// definition every verb that writes a checkpoint uses (`export`, `import`, `checkout`,
/// `transplant`), so that `-o best.pt` is a torch file whatever verb wrote it.
public enum ExportFormat: String, CaseIterable, Sendable {
    case ckpt, safetensors, npz, torch

    /// Extension (lower case) to format.
    public static let byExtension: [String: ExportFormat] = [
        "ckpt": .ckpt, "safetensors": .safetensors, "npz": .npz, "pt": .torch, "pth": .torch, "bin": .torch,
    ]

    /// The extensions accepted, for messages.
    public static let extensions = ["ckpt", "safetensors", "npz", "pt", "pth", "bin"]

    /// The format `path`'s extension names (case-insensitive); nil for any other.
    public init?(path: String) {
        guard let format = Self.byExtension[URL(fileURLWithPath: path).pathExtension.lowercased()] else { return nil }
        self = format
    }

    /// Writes `checkpoint` atomically (every writer uses `AtomicFile`). `options` and
    /// `progress` apply to `.ckpt`; the other formats store elements as they are.
    public func write(_ checkpoint: Checkpoint, to url: URL, options: WriteOptions = WriteOptions(),
                      progress: ((Int, Int) -> Void)? = nil) throws {
        do {
            switch self {
            case .ckpt: try CheckpointFile.write(checkpoint, to: url, options: options, progress: progress)
            case .safetensors: try Safetensors.write(checkpoint, to: url)
            case .npz: try Npz.write(checkpoint, to: url)
            case .torch: try TorchFile.write(checkpoint, to: url)
            }
        } catch {
            throw error.attributed(to: url.path)
        }
    }

    /// What of `checkpoint` this format cannot hold, one phrase each (empty for `.ckpt`):
    /// an exporter says so rather than drop it silently.
    public func leftOut(of checkpoint: Checkpoint) -> [String] {
        guard self != .ckpt else { return [] }
        var dropped: [String] = []
        if checkpoint.architecture != nil { dropped.append("the architecture document") }
        if !checkpoint.probes.isEmpty { dropped.append(Self.count(checkpoint.probes.count, "probe")) }
        if self != .safetensors, checkpoint.metadata != nil { dropped.append("the metadata") }
        if let structure = checkpoint.structure, !structure.isFlatStateDict {
            switch self {
            case .torch:
                let outside = checkpoint.tensorsOutsideStructure
                if !outside.isEmpty {
                    dropped.append("the nesting, which does not reach \(Self.count(outside.count, "tensor")) (every tensor is written in a flat state_dict instead)")
                    break
                }
                let opaque = structure.opaquePaths
                if !opaque.isEmpty {
                    dropped.append("\(Self.count(opaque.count, "value")) of classes a state_dict cannot hold, written as None ("
                                   + opaque.prefix(3).joined(separator: ", ") + (opaque.count > 3 ? ", ..." : "") + ")")
                }
            case .npz:
                dropped.append("the nesting (dicts, lists and the non-tensor values around the tensors; only the tensors are written, by their dotted names)")
            case .safetensors, .ckpt:
                break // safetensors keeps it in __metadata__ (`kept`)
            }
        }
        return dropped
    }

    /// What this format keeps outside its own model, one phrase each (said beside the count).
    public func kept(of checkpoint: Checkpoint) -> [String] {
        guard self == .safetensors, let structure = checkpoint.structure, !structure.isFlatStateDict else { return [] }
        return ["the nesting (dicts, lists and non-tensor values) in __metadata__ as \(Safetensors.structureKey); tensors by their dotted names"]
    }

    static func count(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
}
