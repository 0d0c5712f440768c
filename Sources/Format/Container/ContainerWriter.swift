import Foundation

/// Writes a `.ckpt` as tensors arrive: chunks are compressed in parallel batches and
/// appended, the index goes at the end, so memory stays bounded by one batch however
/// large the model. Nothing appears at the destination until `finish()`.
public final class ContainerWriter {
    public let destination: URL
    public let options: WriteOptions
    /// Called with (raw bytes written so far, raw bytes in all) after each batch is written.
    /// The total is `expectedBytes`; a streaming writer cannot know it before every tensor
    /// is added, so without it the total is what has been queued so far.
    public var progress: ((_ done: Int, _ total: Int) -> Void)?
    /// The raw bytes of every tensor and probe tensor the caller is going to add, so that
    /// `progress` reports against the real total (0: unknown).
    public var expectedBytes = 0

    private let file: AtomicFile
    private var tensors: [ManifestWire.Tensor] = []
    private var probes: [ManifestWire.Probe] = []
    private var sections: [String: ManifestWire.Section] = [:]
    private var names = Set<String>()
    private var pending: [Job] = []
    private var pendingBytes = 0
    private var doneBytes = 0
    private var queuedBytes = 0
    /// Raw bytes compressed together; bounds the memory a save needs.
    private let batchBytes = 16 << 20

    /// Where a chunk's entry lives once written: a model tensor or a probe tensor.
    private enum Slot { case tensor(Int), probeInput(Int, Int), probeOutput(Int, Int) }
    private struct Job {
        var slot: Slot
        var dtype: DType
        var source: Data
        var range: Range<Int>
    }

    public init(destination: URL, options: WriteOptions = WriteOptions()) throws {
        guard options.chunkSize > 0, options.chunkSize % ContainerLimits.alignment == 0,
              options.chunkSize <= ContainerLimits.maxChunkSize else {
            throw FormatError(.invalidValue(field: "chunk size", value: "\(options.chunkSize)",
                                            expected: "a multiple of 64 from 64 to \(ContainerLimits.maxChunkSize)"))
        }
        self.destination = destination
        self.options = options
        file = try AtomicFile(destination: destination)
        try file.write(FileHeader(version: .base).encoded())
    }

    /// Queues a tensor under its name and aliases; names must be unique across the file.
    public func add(_ named: NamedTensor) throws {
        // The reader's rule (`CheckpointNames`), so that whatever is written can be read.
        for name in named.allNames { try CheckpointNames.claim(name, kind: "tensor", in: &names) }
        tensors.append(entry(for: named, codec: options.codec))
        try enqueue(named.tensor, slot: .tensor(tensors.count - 1))
    }

    public func setArchitecture(_ document: Data) throws {
        try writeSection(Manifest.architectureSection, document)
    }

    public func setMetadata(_ metadata: JSONValue) throws {
        try writeSection(Manifest.metadataSection, metadata.serialized())
    }

    /// Stores the checkpoint's nesting (FORMAT.md section 4.1); a flat state_dict needs none.
    public func setStructure(_ structure: CheckpointStructure) throws {
        try writeSection(Manifest.structureSection, structure.encoded())
    }

    public func add(_ probe: Probe) throws {
        try CheckpointNames.check(probe.name, kind: "probe")
        guard !probes.contains(where: { $0.name == probe.name }) else {
            throw FormatError(.duplicateName(kind: "probe", name: probe.name))
        }
        // Probe tensors are small and read whole: zstd, no shuffling needed.
        let index = probes.count
        probes.append(ManifestWire.Probe(
            name: probe.name, origin: probe.origin.rawValue, rtol: probe.rtol, atol: probe.atol,
            inputs: probe.inputs.enumerated().map { entry(for: NamedTensor(name: "input \($0.offset)", tensor: $0.element), codec: .zstd) },
            outputs: probe.outputs.enumerated().map { entry(for: NamedTensor(name: "output \($0.offset)", tensor: $0.element), codec: .zstd) }))
        for (k, tensor) in probe.inputs.enumerated() { try enqueue(tensor, slot: .probeInput(index, k)) }
        for (k, tensor) in probe.outputs.enumerated() { try enqueue(tensor, slot: .probeOutput(index, k)) }
    }

    /// Writes the index and trailer, syncs, and renames the file into place.
    public func finish() throws {
        try flush()
        try file.pad(to: UInt64(ContainerLimits.alignment))
        let wire = ManifestWire(writer: "ckpt \(ckptVersion)", tensors: tensors, sections: sections, probes: probes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let index = try encoder.encode(wire)
        guard index.count <= ContainerLimits.maxIndexSize else {
            throw FormatError(.limitExceeded(what: "the index length", value: UInt64(index.count), limit: UInt64(ContainerLimits.maxIndexSize)),
                              file: destination.path)
        }
        // The header was written first, as 1.0; a file that uses a later feature says so.
        let used = Set((tensors + probes.flatMap { $0.inputs + $0.outputs }).compactMap { Codec(rawValue: $0.codec) })
        let version = FormatVersion.needed(by: used)
        if version != FormatVersion.base { try file.overwrite(FileHeader(version: version).encoded(), at: 0) }
        let indexOffset = file.offset
        try file.write(index)
        try file.pad(to: UInt64(ContainerLimits.alignment))
        let trailer = FileTrailer(indexOffset: indexOffset, indexLength: UInt64(index.count),
                                  indexChecksum: index.withUnsafeBytes { Checksum.xxh3($0) }, version: version)
        try file.write(trailer.encoded())
        try file.commit(sync: options.sync)
    }

    // MARK: - Internals

    private func entry(for named: NamedTensor, codec: Codec) -> ManifestWire.Tensor {
        ManifestWire.Tensor(name: named.name, aliases: named.aliases.isEmpty ? nil : named.aliases,
                            dtype: named.tensor.dtype.rawValue, shape: named.tensor.shape,
                            codec: codec.rawValue, chunks: [])
    }

    private func enqueue(_ tensor: Tensor, slot: Slot) throws {
        let count = tensor.data.count
        // Chunks hold whole elements so that byte planes never straddle two chunks.
        let step = options.chunkSize / tensor.dtype.size * tensor.dtype.size
        var start = 0
        while start < count {
            let end = min(start + step, count)
            pending.append(Job(slot: slot, dtype: tensor.dtype, source: tensor.data, range: start..<end))
            pendingBytes += end - start
            queuedBytes += end - start
            start = end
        }
        if pendingBytes >= batchBytes { try flush() }
    }

    private func codec(for slot: Slot) -> Codec {
        switch slot {
        case .tensor: return options.codec
        case .probeInput, .probeOutput: return .zstd
        }
    }

    /// Encodes every pending chunk on all cores, then appends them in order.
    private func flush() throws {
        guard !pending.isEmpty else { return }
        let jobs = pending
        let level = options.level
        // Encoding and hashing run on all cores; only the appends are serial. (The xxh3
        // of every stored chunk was a serial pass over the whole output before.)
        var results = [Result<(Data?, UInt64), Error>?](repeating: nil, count: jobs.count)
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
                let job = jobs[k]
                out[k] = Result {
                    try job.source.withUnsafeBytes { bytes in
                        let slice = UnsafeRawBufferPointer(rebasing: bytes[job.range])
                        let encoded = try ChunkCodec.encode(slice, dtype: job.dtype, codec: self.codec(for: job.slot), level: level)
                        // A tensor that fits one chunk and does not shrink (biases, tiny
                        // layers: frame overhead beats the saving) is stored raw instead.
                        if job.range.count == job.source.count, encoded.count >= slice.count { return (nil, Checksum.xxh3(slice)) }
                        return (encoded, encoded.withUnsafeBytes { Checksum.xxh3($0) })
                    }
                }
            }
        }
        for (job, result) in zip(jobs, results) {
            let (encoded, hash) = try result!.get()
            if encoded == nil { setCodec(.raw, for: job.slot) }
            let stored = encoded ?? job.source
            try file.pad(to: UInt64(ContainerLimits.alignment))
            let chunk = ManifestWire.Chunk(offset: Int(file.offset), length: stored.count, size: job.range.count,
                                           xxh3: Checksum.hex(hash))
            try file.write(stored)
            switch job.slot {
            case .tensor(let t): tensors[t].chunks.append(chunk)
            case .probeInput(let p, let k): probes[p].inputs[k].chunks.append(chunk)
            case .probeOutput(let p, let k): probes[p].outputs[k].chunks.append(chunk)
            }
            doneBytes += job.range.count
        }
        file.startWriteback()
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
        progress?(doneBytes, max(expectedBytes, queuedBytes))
    }

    private func setCodec(_ codec: Codec, for slot: Slot) {
        switch slot {
        case .tensor(let t): tensors[t].codec = codec.rawValue
        case .probeInput(let p, let k): probes[p].inputs[k].codec = codec.rawValue
        case .probeOutput(let p, let k): probes[p].outputs[k].codec = codec.rawValue
        }
    }

    /// Stores `bytes` as the section `name` (internal: tests write sections a newer minor might add).
    func writeSection(_ name: String, _ bytes: Data) throws {
        try CheckpointNames.check(name, kind: "section")
        guard sections[name] == nil else { throw FormatError(.duplicateName(kind: "section", name: name)) }
        try file.pad(to: UInt64(ContainerLimits.alignment))
        sections[name] = ManifestWire.Section(offset: Int(file.offset), length: bytes.count,
                                              xxh3: bytes.withUnsafeBytes { Checksum.hex(Checksum.xxh3($0)) })
        try file.write(bytes)
    }
}

/// The version string written into every index.
public let ckptVersion = "0.1.0"
