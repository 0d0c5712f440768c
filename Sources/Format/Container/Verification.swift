import Foundation

/// What `verify` found: every problem with where it is, and how much was checked.
public struct VerificationReport: Codable, Sendable, Equatable {
    /// Each problem's one-line message (escaped), in file order.
    public var problems: [String] = []
    /// The same problems as typed errors, for code that branches on them (not encoded).
    public var failures: [FormatError] = []
    /// Model tensors checked (each stored tensor once, whatever its aliases).
    public var tensorsChecked = 0
    /// Tensors of probes checked (inputs and reference outputs), counted apart from the model's.
    public var probeTensorsChecked = 0
    /// Chunks whose checksum was checked and which were decoded, model and probe tensors together.
    public var chunksChecked = 0
    /// Decoded bytes of every tensor checked.
    public var bytesDecoded = 0
    /// No problem was found.
    public var ok: Bool { problems.isEmpty }

    /// An empty report.
    public init() {}

    /// Adds `error` to both `failures` and `problems`.
    public mutating func record(_ error: FormatError) {
        failures.append(error)
        problems.append(error.message)
    }

    private enum CodingKeys: String, CodingKey {
        case problems, tensorsChecked, probeTensorsChecked, chunksChecked, bytesDecoded
    }
}

/// `verify(loading: true)`: the report and, when the file is good, what it holds, decoded
/// by the same pass that checked it.
public struct VerificationOutcome: Sendable {
    public var report: VerificationReport
    /// Everything in the file when it was asked for and every check passed.
    public var checkpoint: Checkpoint?
    /// Why the contents were not kept although asked for: their total is beyond the
    /// reader's memory budget. The file was still verified, chunk by chunk.
    public var loadRefusal: FormatError?
}

extension ContainerReader {
    /// Checks everything opening does not: every checksum, every chunk decoding to its
    /// size, the sections parsing, and the exact layout (each blob where the writer puts
    /// it, padding all zero), so that no byte of the file goes unchecked. Memory stays at
    /// one chunk per worker. `progress` gets (bytes decoded, bytes of every tensor), from
    /// several threads at once.
    public func verify(progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> VerificationReport {
        verify(loading: false, progress: progress).report
    }

    /// `verify()`, decoding every chunk exactly once. With `loading`, the chunks decode
    /// into the tensors' own buffers and the outcome carries the checkpoint (when no
    /// problem was found), so a caller that goes on to run probes does not decode the file
    /// a second time. If the budget refuses the whole file, verification falls back to
    /// chunk by chunk and `loadRefusal` says why nothing was kept.
    public func verify(loading: Bool, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> VerificationOutcome {
        var report = VerificationReport()
        var outcome = VerificationOutcome(report: report)
        let probeRecords = manifest.probes.flatMap { $0.inputs + $0.outputs }
        let records = manifest.tensors + probeRecords
        report.tensorsChecked = manifest.tensors.count
        report.probeTensorsChecked = probeRecords.count
        report.chunksChecked = records.reduce(0) { $0 + $1.chunks.count }
        // Each record's size is validated; their sum may still not fit (then nothing is kept).
        report.bytesDecoded = (try? Self.total(records.map(\.byteCount), what: "the tensors of this file")) ?? Int.max

        var buffers: [OwnedBuffer]? = nil
        if loading {
            do { buffers = try records.map { try allocate($0.byteCount, for: "tensor '\($0.name)'") } } catch {
                outcome.loadRefusal = error.attributed(to: path)
            }
        }
        for failure in decodeOnce(records, into: buffers, progress: progress) { report.record(failure) }

        var sectionBytes: [String: Data] = [:]
        var architecture: Architecture?
        for name in manifest.sections.keys.sorted() {
            do {
                guard let bytes = try section(name) else { continue }
                sectionBytes[name] = bytes
                // Only the sections this reader knows have a meaning to check; others are ignored.
                if name == Manifest.metadataSection, (try? JSONValue.parse(bytes)) == nil {
                    throw FormatError(.malformed(what: "section '\(name)'", detail: "not valid JSON"), file: path)
                }
                if name == Manifest.architectureSection { architecture = try Self.parseArchitecture(bytes, path: path) }
                if name == Manifest.structureSection { _ = try Self.parseStructure(bytes, manifest: manifest, path: path) }
            } catch {
                report.record(error.attributed(to: path))
            }
        }
        for problem in layoutProblems() { report.record(FormatError(problem, file: path)) }

        if let buffers, report.ok {
            outcome.checkpoint = assemble(records, buffers, sections: sectionBytes, architecture: architecture)
        }
        outcome.report = report
        return outcome
    }

    /// Checks and decodes every chunk of `records` once, on all cores: into `buffers` (one
    /// per record) when given, else into a chunk-sized scratch per job. Returns the
    /// failures in file order.
    private func decodeOnce(_ records: [TensorRecord], into buffers: [OwnedBuffer]?,
                            progress: ((Int, Int) -> Void)?) -> [FormatError] {
        var jobs: [(record: Int, chunk: Int, start: Int)] = []
        for (r, record) in records.enumerated() {
            var start = 0
            for (k, chunk) in record.chunks.enumerated() {
                jobs.append((r, k, start))
                start += chunk.size
            }
        }
        let total = records.reduce(0) { $0 &+ $1.byteCount }
        let counting = NSLock()
        var done = 0
        var failures = [FormatError?](repeating: nil, count: jobs.count)
        failures.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
                let job = jobs[j]
                let record = records[job.record]
                let size = record.chunks[job.chunk].size
                do {
                    if let buffers {
                        let target = buffers[job.record].bytes
                        try decode(chunk: job.chunk, of: record, into: UnsafeMutableRawBufferPointer(rebasing: target[job.start..<(job.start + size)]))
                    } else {
                        // Not reserved: one validated chunk (at most 16 MiB) per worker is
                        // bounded by construction, and a small CKPT_MEMORY_LIMIT must not make
                        // a good file look bad. Still failable, never an abort.
                        let scratch = try OwnedBuffer(count: size, budget: nil, for: Self.label(record, chunk: job.chunk))
                        try decode(chunk: job.chunk, of: record, into: scratch.bytes)
                        // Nothing keeps what was decoded: the stored pages need not stay resident either.
                        let chunk = record.chunks[job.chunk]
                        file.release(chunk.offset ..< (chunk.offset + chunk.length))
                    }
                } catch {
                    out[j] = error.attributed(to: path)
                }
                if let progress {
                    counting.lock(); done += size; let now = done; counting.unlock()
                    progress(now, total)
                }
            }
        }
        return failures.compactMap { $0 }
    }

    /// The checkpoint from buffers that verification filled and sections it checked.
    private func assemble(_ records: [TensorRecord], _ buffers: [OwnedBuffer], sections: [String: Data], architecture: Architecture?) -> Checkpoint? {
        do {
            var tensors = try zip(records, buffers).map { record, buffer in
                try Tensor(dtype: record.dtype, shape: record.shape, data: buffer.take())
            }
            let model = manifest.tensors.enumerated().map { k, record in
                NamedTensor(name: record.name, aliases: record.aliases, tensor: tensors[k])
            }
            tensors.removeFirst(manifest.tensors.count)
            var probes: [Probe] = []
            for record in manifest.probes {
                let inputs = Array(tensors.prefix(record.inputs.count))
                tensors.removeFirst(record.inputs.count)
                let outputs = Array(tensors.prefix(record.outputs.count))
                tensors.removeFirst(record.outputs.count)
                probes.append(Probe(name: record.name, inputs: inputs, outputs: outputs, rtol: record.rtol, atol: record.atol, origin: record.origin))
            }
            let metadata = try sections[Manifest.metadataSection].map { try Self.parseMetadata($0, path: path) }
            let structure = try sections[Manifest.structureSection].map { try Self.parseStructure($0, manifest: manifest, path: path) }
            return Checkpoint(tensors: model, architecture: architecture, metadata: metadata, probes: probes,
                              structure: structure)
        } catch {
            return nil // unreachable: every size and section was checked above
        }
    }

    /// Blobs must follow each other at the next 64-byte boundary with zero padding, and
    /// the index must follow the last blob, so that a flipped byte anywhere is noticed.
    /// Every offset here was validated against the file, so the arithmetic cannot overflow.
    private func layoutProblems() -> [FormatError.Reason] {
        var problems: [FormatError.Reason] = []
        var cursor = ContainerLimits.headerSize
        func checkGap(upTo end: Int, before label: String) {
            let expected = ContainerLimits.aligned(cursor)
            if end != expected {
                problems.append(.malformed(what: "layout", detail: "\(end - cursor) unaccounted bytes at offset \(cursor) before \(label)"))
            } else if file[cursor..<end].contains(where: { $0 != 0 }) {
                problems.append(.malformed(what: "layout", detail: "non-zero padding at offset \(cursor) before \(label)"))
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
