import Foundation
import Format

/// What a reader handle reads from: a `.ckpt` file (`FileSource`) or a checkpoint already
/// in memory (`MemorySource`: a stored version, read and checked by the store). The
/// `ckpt_reader_*` entry points work on either, so a caller has one way to read.
protocol TensorSource: AnyObject {
    /// The tensors in storage order, as `ckpt_reader_tensors` lists them.
    var infos: [TensorInfo] { get }
    /// The structure, or the flat state_dict of every name and alias.
    func structure() throws -> CheckpointStructure
    func metadata() throws -> JSONValue?
    func architectureText() throws -> Data?
    /// Decodes the tensors named `names` into `targets` (each exactly the tensor's size).
    func decode(_ names: [String], into targets: [UnsafeMutableRawBufferPointer]) throws
    /// For each name, its bytes' span in the file when stored raw and contiguous (checked),
    /// else nil. Always nil for memory.
    func rawSpans(_ names: [String]) throws -> [Range<Int>?]
    /// The start of the mapped file, for `ckpt_reader_view`; nil for memory.
    var mapBase: UnsafeRawPointer? { get }
    func verify() throws
}

/// One tensor as `ckpt_reader_tensors` lists it.
struct TensorInfo: Encodable {
    var name: String
    var aliases: [String]
    var dtype: String
    var shape: [Int]
    var codec: String
    var bytes: Int
    var stored_bytes: Int
}

/// A `.ckpt` through its validated reader.
final class FileSource: TensorSource {
    let reader: ContainerReader

    init(_ reader: ContainerReader) { self.reader = reader }

    var infos: [TensorInfo] {
        reader.manifest.tensors.map {
            TensorInfo(name: $0.name, aliases: $0.aliases, dtype: $0.dtype.rawValue, shape: $0.shape, codec: $0.codec.rawValue,
                       bytes: $0.byteCount, stored_bytes: $0.storedCount)
        }
    }

    func record(_ name: String) throws -> TensorRecord {
        guard let record = reader.record(named: name) else {
            throw FormatError(.notFound(kind: "tensor", name: name), file: reader.path)
        }
        return record
    }

    func structure() throws -> CheckpointStructure {
        try reader.structure() ?? .stateDict(reader.manifest.tensors.flatMap(\.allNames))
    }

    func metadata() throws -> JSONValue? { try reader.metadata() }

    /// Parsed and validated (a malformed document is an error), then the stored bytes.
    func architectureText() throws -> Data? { try reader.architecture()?.text }

    func decode(_ names: [String], into targets: [UnsafeMutableRawBufferPointer]) throws {
        let records = try names.map(record)
        do { try reader.decode(records, into: targets) } catch let error as FormatError { throw error.naming(reader.path) }
    }

    func rawSpans(_ names: [String]) throws -> [Range<Int>?] {
        try reader.verifiedRawSpans(try names.map(record))
    }

    var mapBase: UnsafeRawPointer? { reader.file.bytes.baseAddress }

    func verify() throws {
        let report = reader.verify()
        if let failure = report.failures.first { throw failure.naming(reader.path) }
        if let problem = report.problems.first {
            throw FormatError(.malformed(what: "the file", detail: problem), file: reader.path)
        }
    }
}

/// A checkpoint in memory, named `label` in messages (`run@3`). Its bytes were checked
/// when it was read (a store checks chunk checksums and each object's SHA-256).
final class MemorySource: TensorSource {
    let checkpoint: Checkpoint
    let label: String
    let codecs: [String]

    init(_ checkpoint: Checkpoint, label: String, codecs: [String]) {
        self.checkpoint = checkpoint
        self.label = label
        self.codecs = codecs
    }

    var infos: [TensorInfo] {
        checkpoint.tensors.enumerated().map { k, named in
            TensorInfo(name: named.name, aliases: named.aliases, dtype: named.tensor.dtype.rawValue, shape: named.tensor.shape,
                       codec: k < codecs.count ? codecs[k] : Codec.raw.rawValue, bytes: named.tensor.data.count,
                       stored_bytes: named.tensor.data.count)
        }
    }

    func structure() throws -> CheckpointStructure { checkpoint.effectiveStructure }
    func metadata() throws -> JSONValue? { checkpoint.metadata }
    func architectureText() throws -> Data? { checkpoint.architecture?.text }

    func decode(_ names: [String], into targets: [UnsafeMutableRawBufferPointer]) throws {
        for (name, target) in zip(names, targets) {
            guard let tensor = checkpoint.tensor(named: name) else {
                throw FormatError(.notFound(kind: "tensor", name: name), file: label)
            }
            guard target.count == tensor.data.count else {
                throw FormatError(.invalidValue(field: "the buffer for tensor '\(name)'", value: "\(target.count) bytes",
                                                expected: "exactly \(tensor.data.count) bytes"), file: label)
            }
            if let base = target.baseAddress { tensor.data.copyBytes(to: base.assumingMemoryBound(to: UInt8.self), count: target.count) }
        }
    }

    func rawSpans(_ names: [String]) throws -> [Range<Int>?] {
        try names.map { name in
            guard checkpoint.tensor(named: name) != nil else { throw FormatError(.notFound(kind: "tensor", name: name), file: label) }
            return nil
        }
    }

    var mapBase: UnsafeRawPointer? { nil }
    func verify() throws {}
}
