import Foundation
import Format
import GRDB

/// What `fsck` found. Damage is any problem; unreferenced objects and leftover temporary
/// files are normal after an interrupted save or an `rm` (gc removes them).
/// What `verify REF` found in one version (the counterpart of a file's `VerificationReport`).
public struct VersionVerification: Codable, Sendable {
    public var problems: [String] = []
    public var tensorsChecked = 0
    public var chunksChecked = 0
    public var bytesDecoded = 0
    public var ok: Bool { problems.isEmpty }
}

public struct FsckReport: Codable, Sendable {
    public var versions = 0
    public var objectsChecked = 0
    public var chunksChecked = 0
    public var bytesChecked = 0
    public var problems: [String] = []
    public var unreferencedObjects = 0
    public var unreferencedBytes = 0
    public var temporaryFiles = 0
    public var ok: Bool { problems.isEmpty }
}

extension Store {
    /// Checks the whole store: SQLite's own integrity and foreign keys, every version's
    /// hash against its rows, and every object any version references (container
    /// verification, then the decoded bytes re-hashed against the name). Each damaged
    /// object is reported once for every version and tensor that references it. `progress`
    /// gets (bytes checked, bytes of every referenced object), from several threads.
    public func fsck(progress: ((Int, Int) -> Void)? = nil) throws -> FsckReport {
        // Shared: saves go on meanwhile, but gc cannot delete what the snapshot references.
        try lock.shared {
            var report = FsckReport()
            let contents: [VersionContent] = try read { db in
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                if integrity != ["ok"] { report.problems += integrity.map { "catalog: \($0)" } }
                for row in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") {
                    report.problems.append("catalog: a row of '\(row[0] as String? ?? "?")' points to a missing row of '\(row[2] as String? ?? "?")'")
                }
                return try CatalogQueries.versions(db).reversed().map { try CatalogQueries.content(db, of: $0) }
            }
            report.versions = contents.count
            for content in contents { report.problems += hashProblems(content) }
            report.problems += try checkObjects(of: contents, into: &report, progress: progress)

            // Bases that only deltas name are in use, not leftovers.
            let referenced = objects.readableClosure(Set(contents.flatMap { $0.objectReferences.map(\.entry.object) }))
            let files = try objects.enumerate()
            for file in files.objects where !referenced.contains(file.hash) {
                report.unreferencedObjects += 1
                report.unreferencedBytes += file.size
            }
            report.temporaryFiles = files.temporaries.count
            return report
        }
    }

    /// A version whose rows no longer hash to its name was altered behind ckpt's back.
    private func hashProblems(_ content: VersionContent) -> [String] {
        let info = content.info
        let digest = Digest.content(tensors: content.tensors, architecture: content.architecture,
                                    metadata: content.metadata, probes: content.probes, structure: content.structureData)
        guard digest == info.content else {
            return ["\(info.reference): its tensor list, architecture, metadata, structure or probes no longer match its content digest"]
        }
        let hash = Digest.version(content: info.content, model: info.model, number: info.number, parents: info.hashedParentHashes,
                                  createdMilliseconds: info.createdMilliseconds, message: info.message)
        return hash == info.hash ? [] : ["\(info.reference): its catalog row no longer matches its hash \(info.shortHash)"]
    }

    /// Checks each distinct object once, on all cores, and names every user of a bad one.
    private func checkObjects(of contents: [VersionContent], into report: inout FsckReport,
                              progress: ((Int, Int) -> Void)?) throws -> [String] {
        struct Key: Hashable { var object: String; var dtype: DType; var shape: [Int] }
        var users: [Key: [String]] = [:]
        var order: [Key] = []
        for content in contents {
            for (label, entry) in content.objectReferences {
                let key = Key(object: entry.object, dtype: entry.dtype, shape: entry.shape)
                if users[key] == nil { order.append(key) }
                users[key, default: []].append("\(content.info.reference) \(label)")
            }
        }
        // Delta bases are checked as objects of their own too (a damaged base also shows
        // under every delta that decodes through it), named after a delta that uses them.
        for key in order {
            guard let base = objects.readableDeltaBase(of: key.object) else { continue }
            let baseKey = Key(object: base, dtype: key.dtype, shape: key.shape)
            if users[baseKey] == nil { order.append(baseKey) }
            users[baseKey, default: []].append("delta base of \(ObjectStore.label(key.object))")
        }
        var results = [(problems: [String], chunks: Int, bytes: Int)](repeating: ([], 0, 0), count: order.count)
        // Progress in bytes: each object counts the bytes its rows say it holds.
        let sizes = order.map { (try? Tensor.byteCount(dtype: $0.dtype, shape: $0.shape)) ?? 0 }
        let total = sizes.reduce(0, +)
        let lock = NSLock()
        var done = 0
        let objects = objects
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: order.count) { k in
                out[k] = objects.check(order[k].object, dtype: order[k].dtype, shape: order[k].shape)
                lock.lock(); done += sizes[k]; let now = done; lock.unlock()
                progress?(now, total)
            }
        }
        var problems: [String] = []
        for (key, result) in zip(order, results) {
            report.objectsChecked += 1
            report.chunksChecked += result.chunks
            report.bytesChecked += result.bytes
            for problem in result.problems {
                for user in users[key]! { problems.append("\(user): \(ObjectStore.label(key.object)): \(problem)") }
            }
        }
        return problems
    }

    /// `ckpt verify REF`: every object of one version checked as fsck checks it.
    public func verify(_ content: VersionContent) -> VersionVerification {
        var report = VersionVerification()
        for (label, entry) in content.objectReferences {
            let result = objects.check(entry.object, dtype: entry.dtype, shape: entry.shape)
            report.problems += result.problems.map { "\(content.info.reference) \(label): \(ObjectStore.label(entry.object)): \($0)" }
            report.tensorsChecked += 1
            report.chunksChecked += result.chunks
            report.bytesDecoded += result.bytes
        }
        if hashProblems(content).count > 0 { report.problems += hashProblems(content) }
        return report
    }
}
