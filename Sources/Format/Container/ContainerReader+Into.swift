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
