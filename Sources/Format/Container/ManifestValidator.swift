import Foundation

/// Turns the wire index into a `Manifest`, checking every field before anything uses
/// it: names unique, dtypes and codecs known, sizes equal to dtype x shape, chunks
/// within limits, every blob inside the data region and no two overlapping.
struct ManifestValidator {
    let version: FormatVersion
    /// End of the data region (where the index starts).
    let dataEnd: Int

    func validate(_ wire: ManifestWire) throws -> Manifest {
        var names = Set<String>()
        var tensors: [TensorRecord] = []
        tensors.reserveCapacity(wire.tensors.count)
        for entry in wire.tensors {
            let record = try tensor(entry, context: "tensor '\(entry.name)'")
            for name in record.allNames {
                guard names.insert(name).inserted else { throw FormatError("index: the name '\(name)' is used twice") }
            }
            tensors.append(record)
        }
        var sections: [String: SectionRecord] = [:]
        for (name, entry) in wire.sections ?? [:] {
            guard entry.offset >= ContainerLimits.headerSize, entry.offset % ContainerLimits.alignment == 0,
                  entry.length >= 0, entry.length <= dataEnd - entry.offset else {
                throw FormatError("index: section '\(name)' lies outside the data region")
            }
            guard let sum = Checksum.parse(entry.xxh3) else { throw FormatError("index: section '\(name)' has a malformed checksum") }
            sections[name] = SectionRecord(offset: entry.offset, length: entry.length, xxh3: sum)
        }
        var probes: [ProbeRecord] = []
        var probeNames = Set<String>()
        for entry in wire.probes ?? [] {
            guard !entry.name.isEmpty, probeNames.insert(entry.name).inserted else {
                throw FormatError("index: probe name '\(entry.name)' is empty or used twice")
            }
            guard let origin = Probe.Origin(rawValue: entry.origin) else {
                throw FormatError("index: probe '\(entry.name)' has unknown origin '\(entry.origin)'")
            }
            guard entry.rtol.isFinite, entry.rtol >= 0, entry.atol.isFinite, entry.atol >= 0 else {
                throw FormatError("index: probe '\(entry.name)' has an invalid tolerance")
            }
            probes.append(ProbeRecord(
                name: entry.name, origin: origin, rtol: entry.rtol, atol: entry.atol,
                inputs: try entry.inputs.map { try tensor($0, context: "probe '\(entry.name)' input '\($0.name)'") },
                outputs: try entry.outputs.map { try tensor($0, context: "probe '\(entry.name)' output '\($0.name)'") }))
        }
        let manifest = Manifest(version: version, writer: wire.writer, tensors: tensors, sections: sections, probes: probes)
        try checkOverlaps(manifest)
        return manifest
    }

    private func tensor(_ entry: ManifestWire.Tensor, context: String) throws -> TensorRecord {
        guard !entry.name.isEmpty else { throw FormatError("index: a tensor has an empty name") }
        guard let dtype = DType(rawValue: entry.dtype) else {
            throw FormatError("index: \(context) has unknown dtype '\(entry.dtype)'")
        }
        guard let codec = Codec(rawValue: entry.codec) else {
            throw FormatError("index: \(context) has unknown codec '\(entry.codec)'")
        }
        let byteCount: Int
        do { byteCount = try Tensor.byteCount(dtype: dtype, shape: entry.shape) } catch let error as FormatError {
            throw FormatError("index: \(context): \(error.message)")
        }
        var chunks: [ChunkRecord] = []
        chunks.reserveCapacity(entry.chunks.count)
        var total = 0
        for (k, chunk) in entry.chunks.enumerated() {
            let where_ = "index: \(context) chunk \(k)"
            guard chunk.size > 0, chunk.size <= ContainerLimits.maxChunkSize, chunk.size % dtype.size == 0 else {
                throw FormatError("\(where_) decodes to \(chunk.size) bytes (must be 1 to \(ContainerLimits.maxChunkSize) whole elements)")
            }
            guard chunk.offset >= ContainerLimits.headerSize, chunk.offset % ContainerLimits.alignment == 0,
                  chunk.length > 0, chunk.length <= dataEnd - chunk.offset else {
                throw FormatError("\(where_) lies outside the data region (offset \(chunk.offset), length \(chunk.length))")
            }
            guard codec != .raw || chunk.length == chunk.size else {
                throw FormatError("\(where_) is raw but stores \(chunk.length) bytes for \(chunk.size)")
            }
            guard let sum = Checksum.parse(chunk.xxh3) else { throw FormatError("\(where_) has a malformed checksum") }
            total += chunk.size
            guard total <= byteCount else { break }
            chunks.append(ChunkRecord(offset: chunk.offset, length: chunk.length, size: chunk.size, xxh3: sum))
        }
        guard total == byteCount else {
            throw FormatError("index: \(context) chunks hold \(total) bytes, but \(dtype.rawValue)\(Tensor.describe(entry.shape)) needs \(byteCount)")
        }
        return TensorRecord(name: entry.name, aliases: entry.aliases ?? [], dtype: dtype, shape: entry.shape,
                            codec: codec, chunks: chunks, byteCount: byteCount)
    }

    private func checkOverlaps(_ manifest: Manifest) throws {
        var end = ContainerLimits.headerSize
        var previous = "the header"
        for blob in manifest.blobs {
            guard blob.offset >= end else { throw FormatError("index: \(blob.label) overlaps \(previous)") }
            end = blob.offset + blob.length
            previous = blob.label
        }
    }
}
