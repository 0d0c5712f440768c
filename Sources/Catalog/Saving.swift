import Foundation
import Format
import GRDB

/// What to save and where it goes in history.
public struct SaveRequest {
    public var checkpoint: Checkpoint
    public var model: String
    public var message: String
    public var tags: [String]
    /// References of the parents, in order (two or more make a merge); nil means the
    /// model's latest version if it has one, so that saving twice makes a line.
    public var parents: [String]?
    /// The codec of newly written objects (probe tensors always use zstd, as in files).
    public var codec: Codec
    public var time: Date
    /// Whether a tensor that changed from the first parent's tensor of the same name may be
    /// stored as a delta against it (CATALOG.md, section 2.1).
    public var deltas: Bool

    public init(checkpoint: Checkpoint, model: String, message: String = "", tags: [String] = [], parents: [String]? = nil,
                codec: Codec = .default, time: Date = Date(), deltas: Bool = true) {
        self.deltas = deltas
        self.checkpoint = checkpoint
        self.model = model
        self.message = message
        self.tags = tags
        self.parents = parents
        self.codec = codec
        self.time = time
    }
}

/// What a save made and wrote. Tensors are counted as the checkpoint names them; objects
/// as the store holds them (equal tensors are one object), so the two counts differ.
public struct SaveResult: Sendable {
    public var version: VersionInfo
    /// The checkpoint's named tensors (aliases not counted again).
    public var tensors: Int
    /// The input and output tensors of its probes, counted apart from `tensors`.
    public var probeTensors: Int
    /// Distinct objects (tensors and probe tensors) this save wrote, and their bytes on disk.
    public var newObjects: Int
    public var writtenBytes: Int
    /// Distinct objects the store already held.
    public var reusedObjects: Int
    /// The newest earlier version with exactly the same content (`content` digest), if any:
    /// the new version is made all the same (it records a message, tags and a place in
    /// history), and the caller says so.
    public var sameContentAs: String?
}

extension Store {
    /// Saves a checkpoint as a new version.
    ///
    /// Crash safety comes from the order: every object is written completely and fsynced
    /// (atomic rename, directory synced) before the one transaction that inserts the
    /// version and its tensor list. Killed before the commit, a save leaves at most
    /// objects that nothing references (gc removes them) and never a version whose
    /// tensors are missing; readers see the version whole or not at all. `progress` gets
    /// (bytes done, bytes of every tensor and probe tensor): half for hashing, half for storing.
    public func save(_ request: SaveRequest, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> SaveResult {
        try Reference.validateName(request.model, kind: .model)
        var seenTags: Set<String> = []
        for tag in request.tags {
            try Reference.validateName(tag, kind: .tag)
            guard seenTags.insert(tag).inserted else { throw CatalogError.tagGivenTwice(tag) }
            // The model may be new, so the catalog cannot say it: a tag of its own name.
            guard tag != request.model else { throw CatalogError.tagShadowsModel(tag: tag) }
        }
        let checkpoint = request.checkpoint
        let architecture: String?
        if let bytes = checkpoint.architecture?.text {
            guard let text = String(data: bytes, encoding: .utf8) else {
                throw CatalogError.architectureNotText
            }
            architecture = text
        } else {
            architecture = nil
        }
        let metadata = try checkpoint.metadata.map { value -> String in
            do {
                return String(decoding: try value.serialized(), as: UTF8.self)
            } catch {
                // JSON has no NaN or infinity, the only values that do not serialise.
                throw CatalogError.format(FormatError(.invalidValue(field: "metadata", value: "a non-finite number",
                                                                    expected: "finite JSON numbers")))
            }
        }

        // Fail before writing anything when the catalog would refuse the version anyway.
        try read { db in
            for parent in request.parents ?? [] { _ = try Reference.resolve(parent, in: db) }
            try Self.checkModelName(request.model, db)
            for tag in request.tags { try Self.checkTagFree(tag, db) }
        }

        return try lock.shared {
            let stored = try storeObjects(of: checkpoint, codec: request.codec, candidates: try deltaCandidates(for: request), progress: progress)
            var tensors = stored.tensors
            for (k, named) in checkpoint.tensors.enumerated() {
                tensors[k].name = named.name
                tensors[k].aliases = named.aliases
            }
            let probes = zip(checkpoint.probes, stored.probes).map { probe, entries in
                ProbeEntry(name: probe.name, origin: probe.origin, rtol: probe.rtol, atol: probe.atol,
                           inputs: entries.inputs, outputs: entries.outputs)
            }
            let content = Digest.content(tensors: tensors, architecture: architecture.map { Data($0.utf8) },
                                         metadata: metadata.map { Data($0.utf8) }, probes: probes)
            let milliseconds = Int64((request.time.timeIntervalSince1970 * 1000).rounded())
            let (version, sameAs) = try write { db -> (VersionInfo, String?) in
                try Self.checkModelName(request.model, db)   // again: a tag may have been made since
                try db.execute(sql: "INSERT INTO model(name) VALUES (?) ON CONFLICT(name) DO NOTHING", arguments: [request.model])
                let model = try Row.fetchOne(db, sql: "SELECT id, last_number FROM model WHERE name = ?", arguments: [request.model])!
                let modelID: Int64 = try model.checked(0)
                let number = (try model.checked(1) as Int) + 1
                let parents: [VersionInfo]
                if let references = request.parents {
                    parents = try references.map { try Reference.resolve($0, in: db) }
                } else {
                    parents = try CatalogQueries.versions(db, where: "m.id = ?", arguments: [modelID]).prefix(1).map { $0 }
                }
                var parentIDs: [Int64] = []
                for parent in parents where !parentIDs.contains(parent.id) { parentIDs.append(parent.id) }
                let parentHashes = parentIDs.map { id in parents.first { $0.id == id }!.hash }
                let sameAs = try CatalogQueries.versions(db, where: "v.content = ?", arguments: [content]).first?.reference
                let hash = Digest.version(content: content, model: request.model, number: number, parents: parentHashes,
                                          createdMilliseconds: milliseconds, message: request.message)
                try db.execute(sql: "UPDATE model SET last_number = ? WHERE id = ?", arguments: [number, modelID])
                try db.execute(sql: """
                    INSERT INTO version(model_id, number, hash, content, message, created_ms, architecture, metadata)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [modelID, number, hash, content, request.message, milliseconds, architecture, metadata])
                let versionID = db.lastInsertedRowID
                try Self.insertRows(db, version: versionID, parents: parentIDs, tensors: tensors, probes: probes, tags: request.tags)
                return (try CatalogQueries.version(db, id: versionID)!, sameAs)
            }
            return SaveResult(version: version, tensors: tensors.count,
                              probeTensors: checkpoint.probes.reduce(0) { $0 + $1.inputs.count + $1.outputs.count },
                              newObjects: stored.newObjects,
                              writtenBytes: stored.writtenBytes, reusedObjects: stored.reusedObjects, sameContentAs: sameAs)
        }
    }

    /// The rows that make up a version besides its own: parents, tensor list, probes, tags.
    private static func insertRows(_ db: Database, version versionID: Int64, parents parentIDs: [Int64],
                                   tensors: [TensorEntry], probes: [ProbeEntry], tags: [String]) throws {
        for (position, parent) in parentIDs.enumerated() {
            try db.execute(sql: "INSERT INTO version_parent(version_id, position, parent_id) VALUES (?, ?, ?)",
                           arguments: [versionID, position, parent])
        }
        for (position, tensor) in tensors.enumerated() {
            try db.execute(sql: """
                INSERT INTO tensor(version_id, position, name, aliases, object, dtype, shape, codec, stored_bytes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [versionID, position, tensor.name, CatalogQueries.json(tensor.aliases), tensor.object,
                                 tensor.dtype.rawValue, CatalogQueries.json(tensor.shape), tensor.codec.rawValue, tensor.storedBytes])
        }
        for (position, probe) in probes.enumerated() {
            try db.execute(sql: "INSERT INTO probe(version_id, position, name, origin, rtol, atol) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [versionID, position, probe.name, probe.origin.rawValue, probe.rtol, probe.atol])
            for (role, list) in [("input", probe.inputs), ("output", probe.outputs)] {
                for (k, tensor) in list.enumerated() {
                    try db.execute(sql: """
                        INSERT INTO probe_tensor(version_id, probe_position, role, position, object, dtype, shape, codec, stored_bytes)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [versionID, position, role, k, tensor.object, tensor.dtype.rawValue,
                                         CatalogQueries.json(tensor.shape), tensor.codec.rawValue, tensor.storedBytes])
                }
            }
        }
        for tag in tags {
            try checkTagFree(tag, db)
            try db.execute(sql: "INSERT INTO tag(name, version_id) VALUES (?, ?)", arguments: [tag, versionID])
        }
    }

    /// A tag must be new and must not be a model's name (it would shadow the model).
    static func checkTagFree(_ tag: String, _ db: Database) throws {
        if let holder = try CatalogQueries.versions(db, where: "v.id = (SELECT version_id FROM tag WHERE name = ?)", arguments: [tag]).first {
            throw CatalogError.tagTaken(tag: tag, holder: holder.reference)
        }
        try checkNotModel(tag, db)
    }

    /// A tag may not take a model's name: `ckpt show NAME` would mean two things.
    static func checkNotModel(_ tag: String, _ db: Database) throws {
        if try Reference.modelExists(tag, db) { throw CatalogError.tagShadowsModel(tag: tag) }
    }

    /// A new model may not take a tag's name, for the same reason. (An existing model that
    /// shares a tag's name, made before this rule, keeps taking saves: the name means it.)
    static func checkModelName(_ model: String, _ db: Database) throws {
        if try Reference.modelExists(model, db) { return }
        if let holder = try CatalogQueries.versions(db, where: "v.id = (SELECT version_id FROM tag WHERE name = ?)", arguments: [model]).first {
            throw CatalogError.modelShadowedByTag(model: model, taggedVersion: holder.reference)
        }
    }

    /// Hashes every tensor and writes the objects the store lacks, on all cores.
    private func storeObjects(of checkpoint: Checkpoint, codec: Codec, candidates: [String: ObjectStore.DeltaCandidate],
                              progress: ((Int, Int) -> Void)?)
        throws -> (tensors: [TensorEntry], probes: [(inputs: [TensorEntry], outputs: [TensorEntry])], newObjects: Int, writtenBytes: Int, reusedObjects: Int) {
        var jobs: [(tensor: Tensor, codec: Codec, candidate: ObjectStore.DeltaCandidate?)] =
            checkpoint.tensors.map { ($0.tensor, codec, candidates[$0.name]) }
        for probe in checkpoint.probes {
            jobs += probe.inputs.map { ($0, Codec.zstd, nil) } + probe.outputs.map { ($0, Codec.zstd, nil) }
        }
        // Progress counts each job's bytes twice (hashed, then stored or found stored), halved.
        let total = jobs.reduce(0) { $0 + $1.tensor.data.count }
        let counting = NSLock()
        var done = 0
        func advance(_ bytes: Int) {
            guard let progress else { return }
            counting.lock(); done += bytes; let now = done; counting.unlock()
            progress(now / 2, total)
        }
        var hashes = [String](repeating: "", count: jobs.count)
        hashes.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: jobs.count) {
                out[$0] = Digest.object(jobs[$0].tensor)
                advance(jobs[$0].tensor.data.count)
            }
        }
        // Equal tensors under different names are one object, written once.
        var firstJob: [String: Int] = [:]
        var users: [String: Int] = [:]
        for (k, hash) in hashes.enumerated() {
            if firstJob[hash] == nil { firstJob[hash] = k }
            users[hash, default: 0] += 1
        }
        let unique = firstJob.values.sorted()
        var results = [Result<ObjectStore.Stored, Error>?](repeating: nil, count: unique.count)
        let objects = objects
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: unique.count) { u in
                let job = jobs[unique[u]]
                out[u] = Result { try objects.put(job.tensor, hash: hashes[unique[u]], codec: job.codec, against: job.candidate) }
                advance(job.tensor.data.count * users[hashes[unique[u]]]!)
            }
        }
        var storedByHash: [String: ObjectStore.Stored] = [:]
        var newObjects = 0, writtenBytes = 0
        for (u, result) in zip(unique, results) {
            let stored = try result!.get()
            storedByHash[hashes[u]] = stored
            if stored.written > 0 { newObjects += 1; writtenBytes += stored.written }
        }
        let entries = jobs.indices.map { k -> TensorEntry in
            let stored = storedByHash[hashes[k]]!
            return TensorEntry(name: "", aliases: [], object: hashes[k], dtype: jobs[k].tensor.dtype, shape: jobs[k].tensor.shape,
                               codec: stored.codec, storedBytes: stored.storedBytes)
        }
        var cursor = checkpoint.tensors.count
        var probes: [(inputs: [TensorEntry], outputs: [TensorEntry])] = []
        for probe in checkpoint.probes {
            let inputs = Array(entries[cursor..<(cursor + probe.inputs.count)])
            cursor += probe.inputs.count
            let outputs = Array(entries[cursor..<(cursor + probe.outputs.count)])
            cursor += probe.outputs.count
            probes.append((inputs, outputs))
        }
        return (Array(entries[0..<checkpoint.tensors.count]), probes, newObjects, writtenBytes, unique.count - newObjects)
    }
}
