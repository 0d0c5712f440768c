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
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                let existing = try describe(url, hash: hash, dtype: tensor.dtype, shape: tensor.shape)
                return Stored(codec: existing.codec, storedBytes: existing.storedCount, written: 0)
            } catch CatalogError.objectDamaged {
                // Present but damaged: written again below (spec/CATALOG.md section 2). Any
                // other failure (the directory unreadable) is the store's and is thrown.
            }
        }
        try makeFanDirectory(url.deletingLastPathComponent())
        do {
            let writer = try ContainerWriter(destination: url, options: WriteOptions(codec: codec))
            try writer.add(NamedTensor(name: Self.tensorName, tensor: tensor))
            try writer.finish()
        } catch {
            throw CatalogError.format(error.attributed(to: url.path))
        }
        let record = try describe(url, hash: hash, dtype: tensor.dtype, shape: tensor.shape)
        var status = stat()
        guard stat(url.path, &status) == 0 else { throw CatalogError.io(operation: "stat", path: url.path, errno: errno) }
        return Stored(codec: record.codec, storedBytes: record.storedCount, written: Int(status.st_size))
    }

    /// Opens an object (header, trailer and index checks) and returns its one tensor's record.
    private func describe(_ url: URL, hash: String, dtype: DType, shape: [Int]) throws -> TensorRecord {
        let reader = try open(url, hash: hash)
        return try Self.soleRecord(of: reader, hash: hash, dtype: dtype, shape: shape)
    }

    /// The container of an object; a file the container refuses is a damaged object.
    func open(_ url: URL, hash: String) throws -> ContainerReader {
        do {
            return try ContainerReader(contentsOf: url)
        } catch let error as FormatError {
            throw CatalogError.objectDamaged(hash: hash, problem: .unreadable(error))
        }
    }

    static func soleRecord(of reader: ContainerReader, hash: String, dtype: DType, shape: [Int]) throws -> TensorRecord {
        guard reader.manifest.tensors.count == 1, let record = reader.manifest.tensors.first else {
            throw CatalogError.objectDamaged(hash: hash, problem: .tensorCount(reader.manifest.tensors.count))
        }
        guard record.dtype == dtype, record.shape == shape else {
            throw CatalogError.objectDamaged(hash: hash, problem: .typeMismatch(
                found: "\(record.dtype.rawValue)\(Tensor.describe(record.shape))", expected: "\(dtype.rawValue)\(Tensor.describe(shape))"))
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
            // Another save may have made it meanwhile; only a directory still missing is a failure.
            if !FileManager.default.fileExists(atPath: fan.path) {
                throw CatalogError.io(operation: "create the object directory", path: fan.path, errno: Store.systemErrno(error))
            }
        }
        let fd = Glibc.open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw CatalogError.io(operation: "open", path: directory.path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw CatalogError.io(operation: "sync", path: directory.path, errno: errno) }
    }

    /// Reads an object's tensor, checking every chunk checksum and then that the
    /// decoded bytes still hash to the object's name. Errors name the object only
    /// (`objectMissing`, `objectDamaged`); the caller adds which version and tensor wanted it.
    public func read(_ hash: String, dtype: DType, shape: [Int]) throws -> Tensor {
        let url = url(for: hash)
        guard FileManager.default.fileExists(atPath: url.path) else { throw CatalogError.objectMissing(hash: hash, path: url.path) }
        let reader = try open(url, hash: hash)
        let record = try Self.soleRecord(of: reader, hash: hash, dtype: dtype, shape: shape)
        var tensor: Tensor
        do {
            tensor = try reader.tensor(record)
        } catch let error as FormatError {
            throw CatalogError.objectDamaged(hash: hash, problem: .unreadable(error))
        }
        tensor = try resolve(tensor, of: reader, hash: hash, dtype: dtype, shape: shape)
        guard Digest.object(tensor) == hash else { throw CatalogError.objectDamaged(hash: hash, problem: .contentMismatch) }
        return tensor
    }

    /// What fsck asks of an object: the container's whole verification (every checksum,
    /// every chunk decoded, exact layout, so that any flipped byte is noticed), then the
    /// decoded tensor re-hashed against the name. Returns the problems found (none = good),
    /// each without the object's name (the caller names it with its users).
    public func check(_ hash: String, dtype: DType, shape: [Int]) -> (problems: [String], chunks: Int, bytes: Int) {
        let url = url(for: hash)
        guard FileManager.default.fileExists(atPath: url.path) else { return (["missing (no file \(url.path))"], 0, 0) }
        do {
            let reader = try open(url, hash: hash)
            let record = try Self.soleRecord(of: reader, hash: hash, dtype: dtype, shape: shape)
            let report = reader.verify()
            guard report.ok else { return (report.problems, report.chunksChecked, 0) }
            var tensor: Tensor
            do { tensor = try reader.tensor(record) } catch let error as FormatError {
                return ([error.description], report.chunksChecked, report.bytesDecoded)
            }
            tensor = try resolve(tensor, of: reader, hash: hash, dtype: dtype, shape: shape)
            guard Digest.object(tensor) == hash else {
                return ([CatalogError.ObjectProblem.contentMismatch.description], report.chunksChecked, report.bytesDecoded)
            }
            return ([], report.chunksChecked, report.bytesDecoded)
        } catch CatalogError.objectDamaged(_, let problem) {
            return ([problem.description], 0, 0)
        } catch {
            return ([Self.reason(error)], 0, 0)
        }
    }

    /// Every object file and every temporary file left by an interrupted write. A store
    /// whose `objects/` cannot be listed throws: gc and fsck must not take it for empty.
    public func enumerate() throws -> (objects: [File], temporaries: [File]) {
        var objects: [File] = [], temporaries: [File] = []
        for fan in try Self.list(directory.path).sorted() {
            let fanPath = directory.appendingPathComponent(fan).path
            guard fan.utf8.count == 2, Digest.isHex(fan), Self.isDirectory(fanPath) else { continue }
            for name in try Self.list(fanPath).sorted() {
                let path = fanPath + "/" + name
                var status = stat()
                guard lstat(path, &status) == 0 else {
                    if errno == ENOENT { continue }   // removed meanwhile (a save's rename, another gc)
                    throw CatalogError.io(operation: "stat", path: path, errno: errno)
                }
                let size = Int(status.st_size)
                if name.hasPrefix(".") && name.contains(".tmp-") {
                    temporaries.append(File(hash: "", path: path, size: size))
                } else if Digest.isHex(fan + name), (fan + name).utf8.count == 64 {
                    objects.append(File(hash: fan + name, path: path, size: size))
                }
            }
        }
        return (objects, temporaries)
    }

    /// A directory's entries (without `.` and `..`), with the system's errno when it fails.
    private static func list(_ path: String) throws -> [String] {
        guard let handle = opendir(path) else { throw CatalogError.io(operation: "list", path: path, errno: errno) }
        defer { closedir(handle) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 { throw CatalogError.io(operation: "list", path: path, errno: errno) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The message of an error without the object's path (the caller names it better).
    static func reason(_ error: Error) -> String {
        switch error {
        case CatalogError.objectDamaged(_, let problem): return problem.description
        case CatalogError.objectMissing(_, let path): return "missing (no file \(path))"
        default: return "\(error)"
        }
    }
}
