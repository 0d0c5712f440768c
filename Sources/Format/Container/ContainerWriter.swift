import Foundation

/// Writes a `.ckpt` as tensors arrive: each chunk is compressed and hashed on all cores
/// as soon as it is added, and appended in order by the caller's thread while later
/// chunks are still being encoded (a barrier per batch left the cores idle during every
/// write and the disk idle during every encode). Memory stays bounded by the bytes in
/// flight however large the model; the index goes at the end. Nothing appears at the
/// destination until `finish()`.
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
    /// Chunks handed to the encoders and not yet written, oldest first from `nextToWrite`.
    private var inFlight: [PendingChunk] = []
    private var nextToWrite = 0
    private var inFlightBytes = 0
    private var doneBytes = 0
    private var queuedBytes = 0
    private var bytesSinceWriteback = 0
    /// Raw bytes being encoded or waiting to be written; bounds the memory a save needs
    /// (about twice this: sources are the caller's, encoded chunks and plane buffers are
    /// ours) and keeps every core busy while the oldest chunk is written.
    private let inFlightLimit = 32 << 20
    /// Written bytes after which the kernel is asked to start writeback (`startWriteback`).
    private let writebackBytes = 16 << 20

    /// Where a chunk's entry lives once written: a model tensor or a probe tensor.
    private enum Slot { case tensor(Int), probeInput(Int, Int), probeOutput(Int, Int) }
    private struct Job {
        var slot: Slot
        var dtype: DType
        var codec: Codec
        var source: Data
        var range: Range<Int>
    }

    /// One chunk on its way. Whoever claims it first encodes it: a worker of the global
    /// queue, or the writer itself when the chunk is the oldest and no worker has started
    /// it. The writer never waits on a chunk nobody is encoding, so a save run from
    /// inside a parallel loop (the store saves objects with `concurrentPerform`, which
    /// holds the pool's threads) still makes progress. The claimant fills `outcome` and
    /// signals `ready`; the writer reads `outcome` only after `ready` (which orders them).
    /// A nil chunk means "store the source bytes raw".
    private final class PendingChunk: @unchecked Sendable {
        let job: Job
        let level: Int32
        private(set) var outcome: Result<(EncodedChunk?, UInt64), Error>?
        private let ready = DispatchSemaphore(value: 0)
        private let claiming = NSLock()
        private var claimed = false

        init(_ job: Job, level: Int32) {
            self.job = job
            self.level = level
        }

        /// Encodes the chunk unless someone already has; returns at once in that case.
        func encodeIfUnclaimed() {
            claiming.lock()
            let mine = !claimed
            claimed = true
            claiming.unlock()
            guard mine else { return }
            let job = self.job, level = self.level
            outcome = Result {
                try job.source.withUnsafeBytes { bytes in
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[job.range])
                    let encoded = try ChunkCodec.encodeParts(slice, dtype: job.dtype, codec: job.codec, level: level)
                    // A tensor that fits one chunk and does not shrink (biases, tiny
                    // layers: frame overhead beats the saving) is stored raw instead.
                    if job.range.count == job.source.count, encoded.count >= slice.count { return (nil, Checksum.xxh3(slice)) }
                    return (encoded, encoded.xxh3)
                }
            }
            ready.signal()
        }

        /// The outcome, encoding the chunk here if no worker has started it.
        func result() -> Result<(EncodedChunk?, UInt64), Error> {
            encodeIfUnclaimed()
            ready.wait()
            ready.signal() // a later call (draining after an error) must not block
            return outcome!
        }
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
        try writeAll()
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
        let codec = codec(for: slot)
        var start = 0
        while start < count {
            let end = min(start + step, count)
            let pending = PendingChunk(Job(slot: slot, dtype: tensor.dtype, codec: codec, source: tensor.data, range: start..<end),
                                       level: options.level)
            // Captures only the chunk, so a writer dropped half way is not kept alive by its workers.
            DispatchQueue.global(qos: .userInitiated).async { pending.encodeIfUnclaimed() }
            inFlight.append(pending)
            inFlightBytes += end - start
            queuedBytes += end - start
            start = end
            while inFlightBytes > inFlightLimit { try writeOldest() }
        }
    }

    private func codec(for slot: Slot) -> Codec {
        switch slot {
        case .tensor: return options.codec
        case .probeInput, .probeOutput: return .zstd
        }
    }

    /// Appends the oldest chunk in flight, encoding it first if no worker has started it.
    /// If its encoding failed, the chunks behind it are dropped and the error is thrown: the writer is then unusable, and its temporary file is removed
    /// when it is released.
    private func writeOldest() throws {
        let pending = inFlight[nextToWrite]
        nextToWrite += 1
        let job = pending.job
        inFlightBytes -= job.range.count
        do {
            let (encoded, hash) = try pending.result().get()
            if encoded == nil { setCodec(.raw, for: job.slot) }
            try file.pad(to: UInt64(ContainerLimits.alignment))
            let length = encoded?.count ?? job.range.count
            let chunk = ManifestWire.Chunk(offset: Int(file.offset), length: length, size: job.range.count,
                                           xxh3: Checksum.hex(hash))
            if let encoded {
                for part in encoded.parts { try file.write(part) }
            } else {
                try job.source.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[job.range])) }
            }
            switch job.slot {
            case .tensor(let t): tensors[t].chunks.append(chunk)
            case .probeInput(let p, let k): probes[p].inputs[k].chunks.append(chunk)
            case .probeOutput(let p, let k): probes[p].outputs[k].chunks.append(chunk)
            }
            doneBytes += job.range.count
            bytesSinceWriteback += length
            if options.releasesSourcePages { SourcePages.release(job.source, job.range) }
        } catch {
            // Workers still encoding later chunks hold their own references; the results are dropped.
            inFlight.removeAll()
            nextToWrite = 0
            inFlightBytes = 0
            throw error
        }
        if nextToWrite == inFlight.count {
            inFlight.removeAll(keepingCapacity: true)
            nextToWrite = 0
        } else if nextToWrite >= 64 {
            inFlight.removeFirst(nextToWrite)
            nextToWrite = 0
        }
        if bytesSinceWriteback >= writebackBytes {
            file.startWriteback()
            bytesSinceWriteback = 0
            progress?(doneBytes, max(expectedBytes, queuedBytes))
        }
    }

    /// Writes every chunk in flight, in order.
    private func writeAll() throws {
        guard nextToWrite < inFlight.count else { return }
        while nextToWrite < inFlight.count { try writeOldest() }
        file.startWriteback()
        bytesSinceWriteback = 0
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
        // Sections follow the chunks added before them in the file.
        try writeAll()
        try file.pad(to: UInt64(ContainerLimits.alignment))
        sections[name] = ManifestWire.Section(offset: Int(file.offset), length: bytes.count,
                                              xxh3: bytes.withUnsafeBytes { Checksum.hex(Checksum.xxh3($0)) })
        try file.write(bytes)
    }
}

/// The version string written into every index.
public let ckptVersion = "0.1.0"
