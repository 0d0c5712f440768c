import Foundation

/// Turns the wire index into a `Manifest`, checking every field before anything uses
/// it (FORMAT.md section 5): names valid and unique (`CheckpointNames`), dtypes and codecs
/// known, sizes equal to dtype x shape, chunks within limits, checksums 16 lowercase hex
/// digits, every blob inside the data region and no two overlapping.
///
/// Every comparison is written so that no intermediate sum can overflow: a bound is
/// subtracted from a known-larger value instead of adding two values read from the file.
/// Sections of any name are checked alike and kept; only `architecture` and `metadata`
/// have a meaning to this reader, the others are ignored (a newer minor may add them).
struct ManifestValidator {
    let version: FormatVersion
    /// End of the data region (where the index starts).
    let dataEnd: Int

    func validate(_ wire: ManifestWire) throws -> Manifest {
        do {
            return try validateIndex(wire)
        } catch let error as FormatError {
            throw error.within("index")
        }
    }

    private func validateIndex(_ wire: ManifestWire) throws -> Manifest {
        var names = Set<String>()
        var tensors: [TensorRecord] = []
        tensors.reserveCapacity(wire.tensors.count)
        for entry in wire.tensors {
            try CheckpointNames.check(entry.name, kind: "tensor")
            let record = try within("tensor '\(entry.name)'") { try tensor(entry) }
            for name in record.allNames { try CheckpointNames.claim(name, kind: "tensor", in: &names) }
            tensors.append(record)
        }
        var sections: [String: SectionRecord] = [:]
        for (name, entry) in wire.sections ?? [:] {
            try CheckpointNames.check(name, kind: "section")
            sections[name] = try within("section '\(name)'") {
                guard entry.length >= 0 else { throw FormatError(.invalidValue(field: "length", value: "\(entry.length)", expected: "at least 0")) }
                try checkSpan(offset: entry.offset, length: entry.length)
                return SectionRecord(offset: entry.offset, length: entry.length, xxh3: try checksum(entry.xxh3))
            }
        }
        var probes: [ProbeRecord] = []
        var probeNames = Set<String>()
        for entry in wire.probes ?? [] {
            try CheckpointNames.claim(entry.name, kind: "probe", in: &probeNames)
            probes.append(try within("probe '\(entry.name)'") { try probe(entry) })
        }
        let manifest = Manifest(version: version, writer: wire.writer, tensors: tensors, sections: sections, probes: probes)
        try checkOverlaps(manifest)
        return manifest
    }

    private func probe(_ entry: ManifestWire.Probe) throws -> ProbeRecord {
        guard let origin = Probe.Origin(rawValue: entry.origin) else {
            throw FormatError(.invalidValue(field: "origin", value: "'\(entry.origin)'", expected: "'expected', 'recorded' or 'sample'"))
        }
        // A sample has inputs only; every other probe has something to compare.
        guard (origin == .sample) == entry.outputs.isEmpty else {
            throw FormatError(.invalidValue(field: "outputs", value: "\(entry.outputs.count) tensors",
                                            expected: origin == .sample ? "none for a 'sample' probe" : "at least one for an '\(origin.rawValue)' probe"))
        }
        for (field, value) in [("rtol", entry.rtol), ("atol", entry.atol)] where !(value.isFinite && value >= 0) {
            throw FormatError(.invalidValue(field: field, value: "\(value)", expected: "a finite number at least 0"))
        }
        // Inputs and outputs share one scope of names ("input 0", "output 0", ...).
        var names = Set<String>()
        func tensors(_ entries: [ManifestWire.Tensor], _ role: String) throws -> [TensorRecord] {
            try entries.map { entry in
                try CheckpointNames.claim(entry.name, kind: "probe tensor", in: &names)
                return try within("\(role) '\(entry.name)'") { try tensor(entry) }
            }
        }
        return ProbeRecord(name: entry.name, origin: origin, rtol: entry.rtol, atol: entry.atol,
                           inputs: try tensors(entry.inputs, "input"), outputs: try tensors(entry.outputs, "output"))
    }

    private func tensor(_ entry: ManifestWire.Tensor) throws -> TensorRecord {
        guard let dtype = DType(rawValue: entry.dtype) else { throw FormatError(.unsupportedDType(entry.dtype)) }
        guard let codec = Codec(rawValue: entry.codec) else {
            throw FormatError(.invalidValue(field: "codec", value: "'\(entry.codec)'",
                                            expected: Codec.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")))
        }
        let byteCount = try Tensor.byteCount(dtype: dtype, shape: entry.shape)
        var chunks: [ChunkRecord] = []
        chunks.reserveCapacity(entry.chunks.count)
        // Each size is at most 16 MiB and the loop stops once the sum passes byteCount,
        // so the running total cannot overflow.
        var total = 0
        for (k, chunk) in entry.chunks.enumerated() {
            try within("chunk \(k)") {
                guard chunk.size > 0, chunk.size <= ContainerLimits.maxChunkSize, chunk.size % dtype.size == 0 else {
                    throw FormatError(.invalidValue(field: "size", value: "\(chunk.size)",
                                                    expected: "1 to \(ContainerLimits.maxChunkSize) bytes of whole \(dtype.rawValue) elements"))
                }
                guard chunk.length > 0 else { throw FormatError(.invalidValue(field: "length", value: "\(chunk.length)", expected: "at least 1")) }
                try checkSpan(offset: chunk.offset, length: chunk.length)
                guard codec != .raw || chunk.length == chunk.size else {
                    throw FormatError(.malformed(what: "raw chunk", detail: "stores \(chunk.length) bytes for a size of \(chunk.size)"))
                }
                chunks.append(ChunkRecord(offset: chunk.offset, length: chunk.length, size: chunk.size, xxh3: try checksum(chunk.xxh3)))
            }
            total += chunk.size
            guard total <= byteCount else { break }
        }
        guard total == byteCount else {
            throw FormatError(.malformed(what: "chunks", detail: "they hold \(total) bytes\(total > byteCount ? " or more" : ""), but \(dtype.rawValue)\(Tensor.describe(entry.shape)) needs \(byteCount)"))
        }
        let aliases = entry.aliases ?? []
        for alias in aliases { try CheckpointNames.check(alias, kind: "alias") }
        return TensorRecord(name: entry.name, aliases: aliases, dtype: dtype, shape: entry.shape,
                            codec: codec, chunks: chunks, byteCount: byteCount)
    }

    /// A blob `[offset, offset + length)` must start at a 64-byte boundary after the header
    /// and end at or before the index. `length` is non-negative here.
    private func checkSpan(offset: Int, length: Int) throws {
        guard offset >= ContainerLimits.headerSize, offset % ContainerLimits.alignment == 0,
              offset <= dataEnd, length <= dataEnd - offset else {
            throw FormatError(.malformed(what: "blob at offset \(offset), length \(length)",
                                         detail: "lies outside the data region (64 to \(dataEnd), 64-byte aligned)"))
        }
    }

    /// A checksum is exactly 16 lowercase hex digits (`Checksum.parse`), as the writer writes.
    private func checksum(_ text: String) throws -> UInt64 {
        guard let value = Checksum.parse(text) else {
            throw FormatError(.invalidValue(field: "xxh3", value: "'\(text)'", expected: "16 lowercase hex digits"))
        }
        return value
    }

    private func within<T>(_ context: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FormatError { throw error.within(context) }
    }

    private func checkOverlaps(_ manifest: Manifest) throws {
        var end = ContainerLimits.headerSize
        var previous = "the header"
        for blob in manifest.blobs {
            guard blob.offset >= end else {
                throw FormatError(.malformed(what: blob.label, detail: "overlaps \(previous)"))
            }
            end = blob.offset + blob.length
            previous = blob.label
        }
    }
}
