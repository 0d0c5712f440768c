import Foundation

/// Opens a `.ckpt`, validates its header, trailer and index, and decodes tensors on
/// request. Opening reads only the fixed parts and the index; a tensor's chunks are
/// read, checksummed and decoded when that tensor is asked for.
public final class ContainerReader: @unchecked Sendable {
    public let file: MappedFile
    public let manifest: Manifest
    /// Where the data region ends and the index begins.
    let indexOffset: Int
    let indexLength: Int

    public var path: String { file.path }
    public var version: FormatVersion { manifest.version }

    /// What decoding from this file may allocate in total (see `MemoryBudget`).
    public let budget: MemoryBudget

    /// Opens the file at `url`; `budget` bounds the memory its decoded tensors may take.
    public convenience init(contentsOf url: URL, budget: MemoryBudget = MemoryBudget()) throws {
        try self.init(file: MappedFile(path: url.path), budget: budget)
    }

    /// Validates `file`'s header, trailer and index (FORMAT.md section 5) before anything
    /// uses them; every value read is checked with overflow-free arithmetic.
    public init(file: MappedFile, budget: MemoryBudget = MemoryBudget()) throws {
        self.file = file
        self.budget = budget
        do {
            let minimum = ContainerLimits.headerSize + ContainerLimits.trailerSize
            guard file.count >= minimum else {
                if file.count >= 8, Array(file[0..<8]) == ContainerLimits.headerMagic {
                    throw FormatError(.truncated(what: "a ckpt container", needed: UInt64(minimum), available: UInt64(file.count)))
                }
                throw FormatError(.unrecognisedFile(detail: "not a ckpt container (\(file.count) bytes)"))
            }
            let header = try FileHeader.decode(file[0..<ContainerLimits.headerSize])
            let trailerStart = file.count - ContainerLimits.trailerSize
            let trailer = try FileTrailer.decode(file[trailerStart..<file.count])
            guard trailer.version == header.version else {
                throw FormatError(.malformed(what: "trailer", detail: "it says format \(trailer.version), the header says \(header.version)"))
            }
            (indexOffset, indexLength) = try Self.indexSpan(trailer, trailerStart: trailerStart)
            let index = file[indexOffset..<(indexOffset + indexLength)]
            guard Checksum.xxh3(index) == trailer.indexChecksum else {
                throw FormatError(.checksumMismatch(what: "index"))
            }
            let wire: ManifestWire
            do {
                wire = try JSONDecoder().decode(ManifestWire.self, from: Data(index))
            } catch {
                throw FormatError(.malformed(what: "index", detail: "not a valid ckpt \(header.version) index: \(Self.describe(error))"))
            }
            manifest = try ManifestValidator(version: header.version, dataEnd: indexOffset).validate(wire)
        } catch let error as FormatError {
            throw error.naming(file.path)
        }
    }

    /// Where the trailer says the index is, after checking it against the file: bounded
    /// length, aligned offset after the header, ending before the trailer, and the trailer
    /// at the next 64-byte boundary. No sum is formed before its terms are known to fit.
    static func indexSpan(_ trailer: FileTrailer, trailerStart: Int) throws -> (offset: Int, length: Int) {
        let limit = UInt64(ContainerLimits.maxIndexSize)
        guard trailer.indexLength <= limit else {
            throw FormatError(.limitExceeded(what: "the index length", value: trailer.indexLength, limit: limit))
        }
        let end = UInt64(trailerStart)
        guard trailer.indexOffset >= UInt64(ContainerLimits.headerSize), trailer.indexOffset % UInt64(ContainerLimits.alignment) == 0,
              trailer.indexOffset <= end, trailer.indexLength <= end - trailer.indexOffset else {
            throw FormatError(.malformed(what: "trailer", detail: "the index (offset \(trailer.indexOffset), length \(trailer.indexLength)) does not lie between the header and the trailer"))
        }
        let offset = Int(trailer.indexOffset), length = Int(trailer.indexLength)
        guard ContainerLimits.checkedAligned(offset + length) == trailerStart else {
            throw FormatError(.malformed(what: "trailer", detail: "\(trailerStart - offset - length) bytes lie between the index and the trailer (at most 63 of padding)"))
        }
        return (offset, length)
    }

    // MARK: - Tensors

    /// The record of the tensor known by `name` (stored name or alias).
    public func record(named name: String) -> TensorRecord? { manifest.record(named: name) }

    /// `tensor 'w' chunk 3 at offset 4096`, for messages.
    static func label(_ record: TensorRecord, chunk index: Int) -> String {
        "tensor '\(record.name)' chunk \(index) at offset \(record.chunks[index].offset)"
    }

    /// Checks a chunk's stored bytes against its checksum. Records come from a validated
    /// manifest (their fields cannot be set outside this module), but possibly another
    /// file's: the span is checked against this map before it is touched.
    func verifiedBytes(of chunk: ChunkRecord, in record: TensorRecord, index: Int) throws -> UnsafeRawBufferPointer {
        guard chunk.length <= file.count, chunk.offset <= file.count - chunk.length else {
            throw FormatError(.malformed(what: Self.label(record, chunk: index), detail: "lies outside this file"), file: path)
        }
        let stored = file[chunk.offset..<(chunk.offset + chunk.length)]
        guard Checksum.xxh3(stored) == chunk.xxh3 else {
            throw FormatError(.checksumMismatch(what: Self.label(record, chunk: index)), file: path)
        }
        return stored
    }

    /// Checks chunk `index` of `record` against its checksum, then decodes it into `target`
    /// (exactly the chunk's size). Errors name the tensor, the chunk and its offset.
    func decode(chunk index: Int, of record: TensorRecord, into target: UnsafeMutableRawBufferPointer) throws {
        let stored = try verifiedBytes(of: record.chunks[index], in: record, index: index)
        do {
            try ChunkCodec.decode(stored, dtype: record.dtype, codec: record.codec, into: target)
        } catch {
            throw error.attributed(to: path).within(Self.label(record, chunk: index))
        }
    }

    /// Decodes one tensor, verifying every chunk it touches; chunks decode in parallel.
    /// The decoded bytes are reserved against `budget` until the tensor's data is freed.
    public func tensor(_ record: TensorRecord) throws -> Tensor {
        if let mapped = try mappedRaw(record) { return mapped }
        let buffer = try allocate(record.byteCount, for: "tensor '\(record.name)'")
        try decodeChunks(of: [(record, buffer.bytes)])
        return try Tensor(dtype: record.dtype, shape: record.shape, data: buffer.take())
    }

    /// A raw tensor whose chunks lie back to back is a view of the map: checked, not copied.
    private func mappedRaw(_ record: TensorRecord) throws -> Tensor? {
        guard record.codec == .raw, let first = record.chunks.first else { return nil }
        let contiguous = zip(record.chunks, record.chunks.dropFirst()).allSatisfy { $0.offset + $0.length == $1.offset }
        guard contiguous else { return nil }
        for (k, chunk) in record.chunks.enumerated() { _ = try verifiedBytes(of: chunk, in: record, index: k) }
        return try Tensor(dtype: record.dtype, shape: record.shape, data: file.data(first.offset..<(first.offset + record.byteCount)))
    }

    /// The tensor known by `name`, decoded and verified.
    public func tensor(named name: String) throws -> Tensor {
        guard let record = record(named: name) else {
            throw FormatError(.notFound(kind: "tensor", name: name), file: path)
        }
        return try tensor(record)
    }

    /// Every model tensor, decoded with all cores across tensor boundaries. Their total
    /// is reserved against `budget` before anything is allocated.
    public func allTensors() throws -> [NamedTensor] {
        try decodeAll(manifest.tensors).map { NamedTensor(name: $0.0.name, aliases: $0.0.aliases, tensor: $0.1) }
    }

    /// Decodes `records` together: one reservation for their total, then every chunk of
    /// every record on all cores.
    private func decodeAll(_ records: [TensorRecord]) throws -> [(TensorRecord, Tensor)] {
        _ = try Self.total(records.map(\.byteCount), what: "the tensors of this file")
        var buffers: [OwnedBuffer?] = []
        buffers.reserveCapacity(records.count)
        var mapped: [Tensor?] = []
        for record in records {
            if let view = try mappedRaw(record) {
                mapped.append(view)
                buffers.append(nil)
            } else {
                mapped.append(nil)
                buffers.append(try allocate(record.byteCount, for: "tensor '\(record.name)'"))
            }
        }
        try decodeChunks(of: zip(records, buffers).compactMap { record, buffer in buffer.map { (record, $0.bytes) } })
        return try records.indices.map { k in
            let data = mapped[k]?.data ?? buffers[k]!.take()
            return (records[k], try Tensor(dtype: records[k].dtype, shape: records[k].shape, data: data))
        }
    }

    /// `count` bytes reserved against this reader's budget; fails with a typed error, never an abort.
    func allocate(_ count: Int, for what: @autoclosure () -> String) throws -> OwnedBuffer {
        do { return try OwnedBuffer(count: count, budget: budget, for: what()) } catch let error as FormatError {
            throw error.naming(path)
        }
    }

    /// The sum of sizes, refusing overflow (a validated record's size fits, a sum may not).
    static func total(_ sizes: [Int], what: @autoclosure () -> String) throws -> Int {
        var sum = 0
        for size in sizes {
            let (next, overflow) = sum.addingReportingOverflow(size)
            guard !overflow else { throw FormatError(.arithmeticOverflow(what: what())) }
            sum = next
        }
        return sum
    }

    func decodeChunks(of targets: [(TensorRecord, UnsafeMutableRawBufferPointer)]) throws {
        var jobs: [(record: TensorRecord, chunk: Int, target: UnsafeMutableRawBufferPointer)] = []
        for (record, buffer) in targets {
            var start = 0
            for (k, chunk) in record.chunks.enumerated() {
                // The validator made the sizes add up to the record's byte count.
                jobs.append((record, k, UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + chunk.size)])))
                start += chunk.size
            }
        }
        var failures = [FormatError?](repeating: nil, count: jobs.count)
        failures.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
                let job = jobs[j]
                do {
                    try decode(chunk: job.chunk, of: job.record, into: job.target)
                } catch {
                    out[j] = error.attributed(to: path)
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    }

    // MARK: - Sections and probes

    /// A section's bytes after checking its checksum; nil when the file has none.
    public func section(_ name: String) throws -> Data? {
        guard let section = manifest.sections[name] else { return nil }
        let bytes = file[section.offset..<(section.offset + section.length)]
        guard Checksum.xxh3(bytes) == section.xxh3 else {
            throw FormatError(.checksumMismatch(what: "section '\(name)'"), file: path)
        }
        return Data(bytes)
    }

    /// The architecture document's bytes (checked), if the file has one.
    public func architectureText() throws -> Data? { try section(Manifest.architectureSection) }

    /// The architecture document, parsed and validated, if the file has one.
    public func architecture() throws -> Architecture? {
        guard let bytes = try architectureText() else { return nil }
        return try Self.parseArchitecture(bytes, path: path)
    }

    static func parseArchitecture(_ bytes: Data, path: String) throws -> Architecture {
        do { return try Architecture.parse(bytes) } catch let error as FormatError {
            throw error.within("section 'architecture'").naming(path)
        }
    }

    /// The metadata section, parsed; nil when the file has none.
    public func metadata() throws -> JSONValue? {
        guard let bytes = try section(Manifest.metadataSection) else { return nil }
        return try Self.parseMetadata(bytes, path: path)
    }

    static func parseMetadata(_ bytes: Data, path: String) throws -> JSONValue {
        do { return try JSONValue.parse(bytes) } catch {
            throw FormatError(.malformed(what: "section 'metadata'", detail: "not valid JSON"), file: path)
        }
    }

    /// The checkpoint's nesting, parsed and checked against this file's tensor names; nil
    /// when the file has none (a flat state_dict).
    public func structure() throws -> CheckpointStructure? {
        guard let bytes = try section(Manifest.structureSection) else { return nil }
        return try Self.parseStructure(bytes, manifest: manifest, path: path)
    }

    static func parseStructure(_ bytes: Data, manifest: Manifest, path: String) throws -> CheckpointStructure {
        do {
            let structure = try CheckpointStructure.decode(bytes)
            try structure.validate(against: Set(manifest.tensors.flatMap(\.allNames)))
            return structure
        } catch let error as FormatError {
            throw error.naming(path)
        }
    }

    /// Every probe with its tensors decoded and verified.
    public func probes() throws -> [Probe] {
        try manifest.probes.map { record in
            Probe(name: record.name, inputs: try record.inputs.map(tensor), outputs: try record.outputs.map(tensor),
                  rtol: record.rtol, atol: record.atol, origin: record.origin)
        }
    }

    /// Everything in the file, decoded and verified.
    public func checkpoint() throws -> Checkpoint {
        Checkpoint(tensors: try allTensors(), architecture: try architecture(), metadata: try metadata(), probes: try probes(),
                   structure: try structure())
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)'" + path(context)
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type" + path(context)
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "bad value" + path(context)
        default:
            return "\(error)"
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
        return keys.isEmpty ? "" : " at " + keys.joined(separator: ".")
    }
}
