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

    public convenience init(contentsOf url: URL) throws {
        try self.init(file: MappedFile(path: url.path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        do {
            let minimum = ContainerLimits.headerSize + ContainerLimits.trailerSize
            guard file.count >= minimum else {
                if file.count >= 8, Array(file[0..<8]) == ContainerLimits.headerMagic {
                    throw FormatError("truncated: \(file.count) bytes, a ckpt container has at least \(minimum)")
                }
                throw FormatError("not a ckpt container (\(file.count) bytes)")
            }
            let header = try FileHeader.decode(file[0..<ContainerLimits.headerSize])
            let trailer = try FileTrailer.decode(file[(file.count - ContainerLimits.trailerSize)..<file.count])
            guard trailer.version == header.version else {
                throw FormatError("header says format \(header.version) but trailer says \(trailer.version)")
            }
            let trailerStart = file.count - ContainerLimits.trailerSize
            guard trailer.indexLength <= UInt64(ContainerLimits.maxIndexSize) else {
                throw FormatError("index of \(trailer.indexLength) bytes exceeds the \(ContainerLimits.maxIndexSize)-byte limit")
            }
            guard trailer.indexOffset >= UInt64(ContainerLimits.headerSize), trailer.indexOffset % UInt64(ContainerLimits.alignment) == 0,
                  trailer.indexOffset + trailer.indexLength <= UInt64(trailerStart),
                  ContainerLimits.aligned(Int(trailer.indexOffset + trailer.indexLength)) == trailerStart else {
                throw FormatError("trailer points to an index outside the file (offset \(trailer.indexOffset), length \(trailer.indexLength))")
            }
            indexOffset = Int(trailer.indexOffset)
            indexLength = Int(trailer.indexLength)
            let index = file[indexOffset..<(indexOffset + indexLength)]
            guard Checksum.xxh3(index) == trailer.indexChecksum else {
                throw FormatError("index is damaged (checksum mismatch)")
            }
            let wire: ManifestWire
            do {
                wire = try JSONDecoder().decode(ManifestWire.self, from: Data(index))
            } catch {
                throw FormatError("index is not a valid ckpt \(header.version) index: \(Self.describe(error))")
            }
            manifest = try ManifestValidator(version: header.version, dataEnd: indexOffset).validate(wire)
        } catch let error as FormatError {
            throw error.naming(file.path)
        }
    }

    // MARK: - Tensors

    public func record(named name: String) -> TensorRecord? { manifest.record(named: name) }

    /// Checks a chunk's stored bytes against its checksum.
    func verifiedBytes(of chunk: ChunkRecord, in record: TensorRecord, index: Int) throws -> UnsafeRawBufferPointer {
        let stored = file[chunk.offset..<(chunk.offset + chunk.length)]
        guard Checksum.xxh3(stored) == chunk.xxh3 else {
            throw FormatError("tensor '\(record.name)' chunk \(index) at offset \(chunk.offset): checksum mismatch", file: path)
        }
        return stored
    }

    /// Checks chunk `index` of `record` against its checksum, then decodes it into `target`
    /// (exactly the chunk's size). Errors name the tensor, the chunk and its offset.
    func decode(chunk index: Int, of record: TensorRecord, into target: UnsafeMutableRawBufferPointer) throws {
        let chunk = record.chunks[index]
        let stored = try verifiedBytes(of: chunk, in: record, index: index)
        do {
            try ChunkCodec.decode(stored, dtype: record.dtype, codec: record.codec, into: target)
        } catch {
            throw FormatError("tensor '\(record.name)' chunk \(index) at offset \(chunk.offset): \((error as? FormatError)?.message ?? "\(error)")", file: path)
        }
    }

    /// Decodes one tensor, verifying every chunk it touches; chunks decode in parallel.
    public func tensor(_ record: TensorRecord) throws -> Tensor {
        if record.codec == .raw, record.chunks.count > 0 {
            // Raw chunks are written back to back, so the tensor is one span of the map.
            let first = record.chunks[0].offset
            let contiguous = zip(record.chunks, record.chunks.dropFirst()).allSatisfy { $0.offset + $0.length == $1.offset }
            if contiguous {
                for (k, chunk) in record.chunks.enumerated() { _ = try verifiedBytes(of: chunk, in: record, index: k) }
                return try Tensor(dtype: record.dtype, shape: record.shape, data: file.data(first..<(first + record.byteCount)))
            }
        }
        try checkAffordable(record.byteCount, name: record.name)
        let buffer = OwnedBuffer(count: record.byteCount)
        try decodeChunks(of: [(record, buffer.bytes)])
        return try Tensor(dtype: record.dtype, shape: record.shape, data: buffer.data())
    }

    public func tensor(named name: String) throws -> Tensor {
        guard let record = record(named: name) else {
            throw FormatError("no tensor named '\(name)'", file: path)
        }
        return try tensor(record)
    }

    /// Every model tensor, decoded with all cores across tensor boundaries.
    public func allTensors() throws -> [NamedTensor] {
        let records = manifest.tensors
        try checkAffordable(records.reduce(0) { $0 + $1.byteCount }, name: "all tensors")
        let buffers = records.map { OwnedBuffer(count: $0.byteCount) }
        try decodeChunks(of: Array(zip(records, buffers.map(\.bytes))))
        return try zip(records, buffers).map { record, buffer in
            NamedTensor(name: record.name, aliases: record.aliases,
                        tensor: try Tensor(dtype: record.dtype, shape: record.shape, data: buffer.data()))
        }
    }

    private func decodeChunks(of targets: [(TensorRecord, UnsafeMutableRawBufferPointer)]) throws {
        var jobs: [(record: TensorRecord, chunk: Int, target: UnsafeMutableRawBufferPointer)] = []
        for (record, buffer) in targets {
            var start = 0
            for (k, chunk) in record.chunks.enumerated() {
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
                    out[j] = error as? FormatError
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    }

    /// Refuses to allocate more than the machine has, whatever the index claims.
    private func checkAffordable(_ bytes: Int, name: String) throws {
        guard UInt64(bytes) <= ProcessInfo.processInfo.physicalMemory else {
            throw FormatError("'\(name)' would need \(bytes) bytes, more than this machine's memory", file: path)
        }
    }

    // MARK: - Sections and probes

    /// A section's bytes after checking its checksum; nil when the file has none.
    public func section(_ name: String) throws -> Data? {
        guard let section = manifest.sections[name] else { return nil }
        let bytes = file[section.offset..<(section.offset + section.length)]
        guard Checksum.xxh3(bytes) == section.xxh3 else {
            throw FormatError("section '\(name)' is damaged (checksum mismatch)", file: path)
        }
        return Data(bytes)
    }

    public func architecture() throws -> Data? { try section(Manifest.architectureSection) }

    public func metadata() throws -> JSONValue? {
        guard let bytes = try section(Manifest.metadataSection) else { return nil }
        do { return try JSONValue.parse(bytes) } catch {
            throw FormatError("section 'metadata' is not valid JSON", file: path)
        }
    }

    public func probes() throws -> [Probe] {
        try manifest.probes.map { record in
            Probe(name: record.name, inputs: try record.inputs.map(tensor), outputs: try record.outputs.map(tensor),
                  rtol: record.rtol, atol: record.atol, origin: record.origin)
        }
    }

    /// Everything in the file, decoded and verified.
    public func checkpoint() throws -> Checkpoint {
        Checkpoint(tensors: try allTensors(), architecture: try architecture(), metadata: try metadata(), probes: try probes())
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
