import Foundation

extension ContainerReader {
    /// Decodes each record into the caller's memory, verifying every chunk: the one copy a
    /// foreign caller (the Python package through CkptABI) needs, with no intermediate
    /// buffer. Each target must hold exactly its record's byte count; chunks of all records
    /// decode together on all cores. Nothing is reserved against `budget`: the caller owns
    /// and has already allocated the memory.
    public func decode(_ records: [TensorRecord], into targets: [UnsafeMutableRawBufferPointer]) throws {
        guard records.count == targets.count else {
            throw FormatError(.invalidValue(field: "the number of decode targets", value: "\(targets.count)", expected: "\(records.count), one per tensor"))
        }
        for (record, target) in zip(records, targets) where target.count != record.byteCount {
            throw FormatError(.invalidValue(field: "the buffer for tensor '\(record.name)'", value: "\(target.count) bytes",
                                            expected: "exactly \(record.byteCount) bytes (\(record.dtype.rawValue)\(Tensor.describe(record.shape)))"))
        }
        // A zero-byte target may have no base address; it has no chunk to fill either.
        try decodeChunks(of: zip(records, targets).filter { $0.0.byteCount > 0 })
    }
}

extension ContainerReader {
    /// For each record stored raw with its chunks back to back, the span of the file its
    /// bytes occupy, after checking every chunk's checksum (all records' chunks on all
    /// cores); nil for a record stored otherwise (or empty), which must be decoded. A view
    /// of such a span is the tensor, with no copy.
    public func verifiedRawSpans(_ records: [TensorRecord]) throws -> [Range<Int>?] {
        let spans: [Range<Int>?] = records.map { record in
            guard record.codec == .raw, record.byteCount > 0, let first = record.chunks.first,
                  zip(record.chunks, record.chunks.dropFirst()).allSatisfy({ $0.offset + $0.length == $1.offset }) else { return nil }
            return first.offset..<(first.offset + record.byteCount)
        }
        let jobs = zip(records, spans).filter { $0.1 != nil }.flatMap { record, _ in record.chunks.indices.map { (record, $0) } }
        var failures = [FormatError?](repeating: nil, count: jobs.count)
        failures.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
                let (record, k) = jobs[j]
                do { _ = try verifiedBytes(of: record.chunks[k], in: record, index: k) } catch {
                    out[j] = error.attributed(to: path)
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        return spans
    }
}
