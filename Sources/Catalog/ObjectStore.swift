import Foundation
import Format
#if canImport(Glibc)
import Glibc
#endif

/// Tensors stored once by content under `objects/ab/cdef...`, each file a one-tensor
/// `.ckpt` container: objects reuse the container's codecs, its per-chunk checksums and
/// its validation, and any object can be opened with `ckpt inspect` or `ckpt verify`.
///
/// Writing an object is idempotent: its name is its content, so two processes writing
/// the same one produce the same file, and the atomic rename makes either win.
public final class ObjectStore: @unchecked Sendable {
    public let directory: URL
    /// The name the single tensor carries inside an object file.
    static let tensorName = "tensor"

    /// What the store holds for one object.
    public struct Stored: Sendable {
        public var codec: Codec
        /// Stored chunk bytes (without the container's header, index and trailer).
        public var storedBytes: Int
        /// Bytes this call wrote to disk (0 when the object was already there).
        public var written: Int
    }

    /// An object file found on disk.
    public struct File: Sendable {
        public var hash: String
        public var path: String
        public var size: Int
    }

    init(directory: URL) {
        self.directory = directory
    }

    public func url(for hash: String) -> URL {
        let digits = hash.utf8
        let fan = String(decoding: digits.prefix(2), as: UTF8.self)
        return directory.appendingPathComponent(fan).appendingPathComponent(String(decoding: digits.dropFirst(2), as: UTF8.self))
    }

    static func label(_ hash: String) -> String { "object \(hash.prefix(16))" }

    /// Stores `tensor` under `hash` unless a readable object of that name is already there.
    /// The file is complete and fsynced, and its directory entry too, before this returns:
    /// the caller may then reference it from the catalog.
    public func put(_ tensor: Tensor, hash: String, codec: Codec) throws -> Stored {
        let url = url(for: hash)
        if let existing = try? describe(url, dtype: tensor.dtype, shape: tensor.shape) {
            return Stored(codec: existing.codec, storedBytes: existing.storedCount, written: 0)
        }
        // Absent, or present but unreadable (damaged): write it (again).
        try makeFanDirectory(url.deletingLastPathComponent())
        do {
            let writer = try ContainerWriter(destination: url, options: WriteOptions(codec: codec))
            try writer.add(NamedTensor(name: Self.tensorName, tensor: tensor))
            try writer.finish()
        } catch {
            throw error.attributed(to: url.path)
        }
        let record = try describe(url, dtype: tensor.dtype, shape: tensor.shape)
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        return Stored(codec: record.codec, storedBytes: record.storedCount, written: size)
    }

    /// Opens an object (header, trailer and index checks) and returns its one tensor's record.
    private func describe(_ url: URL, dtype: DType, shape: [Int]) throws -> TensorRecord {
        let reader = try ContainerReader(contentsOf: url)
        return try Self.soleRecord(of: reader, dtype: dtype, shape: shape)
    }

    static func soleRecord(of reader: ContainerReader, dtype: DType, shape: [Int]) throws -> TensorRecord {
        guard reader.manifest.tensors.count == 1, let record = reader.manifest.tensors.first else {
            throw FormatError("holds \(reader.manifest.tensors.count) tensors, an object holds one")
        }
        guard record.dtype == dtype, record.shape == shape else {
            throw FormatError("holds \(record.dtype.rawValue)\(Tensor.describe(record.shape)), the catalog says \(dtype.rawValue)\(Tensor.describe(shape))")
        }
        return record
    }

    /// `objects/ab/` is created on first use; its entry in `objects/` is synced so that
    /// a crash cannot lose the directory of an object the catalog already names.
    func makeFanDirectory(_ fan: URL) throws {
        if FileManager.default.fileExists(atPath: fan.path) { return }
        do {
            try FileManager.default.createDirectory(at: fan, withIntermediateDirectories: true)
        } catch {
            if !FileManager.default.fileExists(atPath: fan.path) {
                throw FormatError("cannot create the object directory: \(error.localizedDescription)", file: fan.path)
            }
        }
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// Reads an object's tensor, checking every chunk checksum and then that the
    /// decoded bytes still hash to the object's name. Errors name the object only; the
    /// caller adds which version and tensor wanted it.
    public func read(_ hash: String, dtype: DType, shape: [Int]) throws -> Tensor {
        let url = url(for: hash)
        do {
            guard FileManager.default.fileExists(atPath: url.path) else { throw FormatError("missing (no file \(url.path))") }
            let reader = try ContainerReader(contentsOf: url)
            let record = try Self.soleRecord(of: reader, dtype: dtype, shape: shape)
            let tensor = try resolve(try reader.tensor(record), of: reader, dtype: dtype, shape: shape)
            guard Digest.object(tensor) == hash else {
                throw FormatError("content does not hash to the object's name (damaged)")
            }
            return tensor
        } catch {
            throw FormatError("\(Self.label(hash)): \(Self.reason(error))")
        }
    }

    /// What fsck asks of an object: the container's whole verification (every checksum,
    /// every chunk decoded, exact layout, so that any flipped byte is noticed), then the
    /// decoded tensor re-hashed against the name. Returns the problems found (none = good).
    public func check(_ hash: String, dtype: DType, shape: [Int]) -> (problems: [String], chunks: Int, bytes: Int) {
        let url = url(for: hash)
        guard FileManager.default.fileExists(atPath: url.path) else { return (["missing (no file \(url.path))"], 0, 0) }
        do {
            let reader = try ContainerReader(contentsOf: url)
            let record = try Self.soleRecord(of: reader, dtype: dtype, shape: shape)
            let report = reader.verify()
            guard report.ok else { return (report.problems, report.chunksChecked, 0) }
            let tensor = try resolve(try reader.tensor(record), of: reader, dtype: dtype, shape: shape)
            guard Digest.object(tensor) == hash else {
                return (["content does not hash to the object's name (damaged)"], report.chunksChecked, report.bytesDecoded)
            }
            return ([], report.chunksChecked, report.bytesDecoded)
        } catch {
            return ([Self.reason(error)], 0, 0)
        }
    }

    /// Every object file and every temporary file left by an interrupted write.
    public func enumerate() -> (objects: [File], temporaries: [File]) {
        var objects: [File] = [], temporaries: [File] = []
        let manager = FileManager.default
        guard let fans = try? manager.contentsOfDirectory(atPath: directory.path) else { return ([], []) }
        for fan in fans.sorted() {
            let fanPath = directory.appendingPathComponent(fan).path
            guard let names = try? manager.contentsOfDirectory(atPath: fanPath) else { continue }
            for name in names.sorted() {
                let path = fanPath + "/" + name
                let size = ((try? manager.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
                if name.hasPrefix(".") && name.contains(".tmp-") {
                    temporaries.append(File(hash: "", path: path, size: size))
                } else if fan.utf8.count == 2, Digest.isHex(fan + name), (fan + name).utf8.count == 64 {
                    objects.append(File(hash: fan + name, path: path, size: size))
                }
            }
        }
        return (objects, temporaries)
    }

    /// The message of an error without the object's path (the caller names it better).
    static func reason(_ error: Error) -> String {
        if let error = error as? FormatError { return error.message }
        return "\(error)"
    }
}
