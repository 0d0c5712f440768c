import Foundation

/// The file kinds ckpt reads, told apart by their first bytes (and the extension
/// where the bytes cannot tell, as for a zip that might be .npz or a torch .pt).
public enum FileKind: String, Sendable {
    case ckpt, safetensors, npz, npy

    public static func detect(_ url: URL) throws -> FileKind {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw FormatError("cannot open: \(FileManager.default.fileExists(atPath: url.path) ? "permission denied" : "no such file")", file: url.path)
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 16)) ?? Data())
        if head.starts(with: ContainerLimits.headerMagic) { return .ckpt }
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) { return .npy }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            return .npz
        }
        let ext = url.pathExtension.lowercased()
        if ext == "safetensors" || (head.count >= 9 && head[8] == UInt8(ascii: "{")) { return .safetensors }
        throw FormatError("unrecognised file: not a .ckpt, .safetensors, .npz or .npy", file: url.path)
    }
}

/// Loads any file ckpt can read into a `Checkpoint`.
public enum Importer {
    public static func load(contentsOf url: URL) throws -> Checkpoint {
        do {
            switch try FileKind.detect(url) {
            case .ckpt: return try CheckpointFile.read(contentsOf: url)
            case .safetensors: return try Safetensors.read(contentsOf: url)
            case .npz: return try Npz.read(contentsOf: url)
            case .npy:
                let name = url.deletingPathExtension().lastPathComponent
                return Checkpoint(tensors: [NamedTensor(name: name, tensor: try Npy.read(contentsOf: url))])
            }
        } catch {
            throw error.attributed(to: url.path)
        }
    }
}
