import Foundation

/// What `verify` found: every problem with where it is, and how much was checked.
public struct VerificationReport: Codable, Sendable {
    public var problems: [String] = []
    public var tensorsChecked = 0
    public var chunksChecked = 0
    public var bytesDecoded = 0
    public var ok: Bool { problems.isEmpty }
}

extension ContainerReader {
    /// Checks everything opening does not: every checksum, every chunk decoding to its
    /// size, the sections parsing, and the exact layout (each blob where the writer puts
    /// it, padding all zero), so that no byte of the file goes unchecked. `progress` gets
    /// (bytes decoded, bytes of every tensor), from several threads at once.
    public func verify(progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> VerificationReport {
        var report = VerificationReport()
        let records = manifest.tensors + manifest.probes.flatMap { $0.inputs + $0.outputs }
        let total = records.reduce(0) { $0 + $1.byteCount }
        let counting = NSLock()
        var done = 0
        var problems = [[String]](repeating: [], count: records.count)
        problems.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: records.count) { t in
                let record = records[t]
                let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: ContainerLimits.maxChunkSize, alignment: 64)
                defer { scratch.deallocate() }
                for (k, chunk) in record.chunks.enumerated() {
                    do {
                        try decode(chunk: k, of: record, into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<chunk.size]))
                    } catch {
                        out[t].append((error as? FormatError)?.message ?? "\(error)")
                    }
                    if let progress {
                        counting.lock(); done += chunk.size; let now = done; counting.unlock()
                        progress(now, total)
                    }
                }
            }
        }
        report.problems = problems.flatMap { $0 }
        report.tensorsChecked = records.count
        report.chunksChecked = records.reduce(0) { $0 + $1.chunks.count }
        report.bytesDecoded = records.reduce(0) { $0 + $1.byteCount }

        for name in manifest.sections.keys.sorted() {
            do {
                let bytes = try section(name)
                if name == Manifest.metadataSection || name == Manifest.architectureSection, let bytes {
                    guard (try? JSONValue.parse(bytes)) != nil else { throw FormatError("section '\(name)' is not valid JSON") }
                }
            } catch {
                report.problems.append((error as? FormatError)?.message ?? "\(error)")
            }
        }
        report.problems += layoutProblems()
        return report
    }

    /// Blobs must follow each other at the next 64-byte boundary with zero padding, and
    /// the index must follow the last blob, so that a flipped byte anywhere is noticed.
    private func layoutProblems() -> [String] {
        var problems: [String] = []
        var cursor = ContainerLimits.headerSize
        func checkGap(upTo end: Int, before label: String) {
            let expected = ContainerLimits.aligned(cursor)
            if end != expected {
                problems.append("\(end - cursor) unaccounted bytes at offset \(cursor) before \(label)")
            } else if file[cursor..<end].contains(where: { $0 != 0 }) {
                problems.append("non-zero padding at offset \(cursor) before \(label)")
            }
        }
        for blob in manifest.blobs {
            checkGap(upTo: blob.offset, before: blob.label)
            cursor = blob.offset + blob.length
        }
        checkGap(upTo: indexOffset, before: "the index")
        cursor = indexOffset + indexLength
        checkGap(upTo: file.count - ContainerLimits.trailerSize, before: "the trailer")
        return problems
    }
}
