import Foundation
import Format
import GRDB

extension Store {
    /// The version `reference` names and everything it holds, from one snapshot.
    public func content(_ reference: String) throws -> VersionContent {
        try read { db in try CatalogQueries.content(db, of: try Reference.resolve(reference, in: db)) }
    }

    /// Runs `body` holding the store lock shared, as saves and fsck do, so that `gc` (which
    /// holds it exclusive) cannot delete an object between the moment `body` resolves a
    /// reference and the moment it reads the objects: a concurrent `rm` and `gc` waits for
    /// it to finish. Hold it from the first `content(_:)` to the last object read
    /// (`checkout`, `diff`, `verify REF`); reads of the catalog alone need no lock.
    public func reading<T>(_ body: () throws -> T) throws -> T {
        try lock.shared(body)
    }

    /// Versions newest first, every model's or one model's.
    public func history(model: String? = nil) throws -> [VersionInfo] {
        try read { db in
            if let model {
                guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM model WHERE name = ?)", arguments: [model]) ?? false else {
                    throw CatalogError.noSuchModel(model, suggestion: nil)
                }
                return try CatalogQueries.versions(db, where: "m.name = ?", arguments: [model])
            }
            return try CatalogQueries.versions(db)
        }
    }

    /// One tensor's bytes, checked end to end (chunk checksums, then the SHA-256 of the
    /// decoded bytes against the object's name). A failure names the version and tensor.
    public func tensor(_ entry: TensorEntry, label: String? = nil, of version: VersionInfo) throws -> Tensor {
        do {
            return try objects.read(entry.object, dtype: entry.dtype, shape: entry.shape)
        } catch {
            throw CatalogError.tensorUnreadable(version: version.reference, item: label ?? "tensor '\(entry.name)'", error: attributed(error))
        }
    }

    /// The version as a whole checkpoint, every tensor checked as `tensor(_:of:)` does.
    /// `progress` gets (bytes read, bytes of every tensor and probe tensor), from several threads.
    public func checkpoint(of content: VersionContent, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> Checkpoint {
        let references = content.objectReferences
        let total = references.reduce(0) { $0 + ((try? Tensor.byteCount(dtype: $1.entry.dtype, shape: $1.entry.shape)) ?? 0) }
        let counting = NSLock()
        var done = 0
        var results = [Result<Tensor, Error>?](repeating: nil, count: references.count)
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: references.count) { k in
                out[k] = Result { try tensor(references[k].entry, label: references[k].label, of: content.info) }
                if let progress, case .success(let read) = out[k] {
                    counting.lock(); done += read.data.count; let now = done; counting.unlock()
                    progress(now, total)
                }
            }
        }
        var decoded = try results.map { try $0!.get() }[...]
        let tensors = content.tensors.map { entry in NamedTensor(name: entry.name, aliases: entry.aliases, tensor: decoded.removeFirst()) }
        let probes = content.probes.map { probe in
            Probe(name: probe.name, inputs: probe.inputs.map { _ in decoded.removeFirst() },
                  outputs: probe.outputs.map { _ in decoded.removeFirst() },
                  rtol: probe.rtol, atol: probe.atol, origin: probe.origin)
        }
        // Parsed once here, as a file's architecture is when it is loaded.
        let architecture = try content.architecture.map { bytes in
            do { return try Architecture.parse(bytes) } catch let error as FormatError { throw error.within("\(content.info.reference) architecture") }
        }
        return Checkpoint(tensors: tensors, architecture: architecture, metadata: content.metadataValue, probes: probes)
    }

    /// Points `name` at the version `reference` names; an existing tag moves only with `force`.
    @discardableResult
    public func tag(_ reference: String, as name: String, force: Bool = false) throws -> VersionInfo {
        try Reference.validateName(name, kind: .tag)
        return try write { db in
            let version = try Reference.resolve(reference, in: db)
            if force {
                try Self.checkNotModel(name, db)   // -f moves a tag; it never lets one shadow a model
                try db.execute(sql: "DELETE FROM tag WHERE name = ?", arguments: [name])
            } else {
                try Self.checkTagFree(name, db)
            }
            try db.execute(sql: "INSERT INTO tag(name, version_id) VALUES (?, ?)", arguments: [name, version.id])
            return version
        }
    }

    /// Removes a tag; returns the version it named.
    @discardableResult
    public func untag(_ name: String) throws -> VersionInfo {
        try write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT version_id FROM tag WHERE name = ?", arguments: [name]),
                  let version = try CatalogQueries.version(db, id: id) else {
                throw CatalogError.noSuchTag(name)
            }
            try db.execute(sql: "DELETE FROM tag WHERE name = ?", arguments: [name])
            return version
        }
    }
}
