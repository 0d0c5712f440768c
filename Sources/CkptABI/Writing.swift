import Foundation
import Format

/// One entry of `ckpt_write`'s tensor list (spec/ABI.md "ckpt_write").
struct TensorDescription: Decodable {
    var name: String
    var aliases: [String]?
    var dtype: String
    var shape: [Int]
}

/// Writes a `.ckpt` atomically at `path` (spec/ABI.md "ckpt_write").
///
/// `tensors_json` is a JSON array of `count` objects `{"name", "aliases"?, "dtype",
/// "shape"}`; `data[i]` and `lengths[i]` are the C-order little-endian bytes of the i-th
/// (exactly dtype x shape bytes; the pointer may be NULL when the length is 0). The bytes
/// are read in place, never copied, and only during the call. `structure_json` is the
/// JSON of the structure's root node (FORMAT.md 4.1) or NULL for a flat state_dict;
/// `metadata_json` any JSON or NULL; `codec` an index spelling or NULL for the default;
/// `level` the zstd level, INT32_MIN for the default; `flags` a sum of `WriteFlag`s.
@_cdecl("ckpt_write")
public func ckpt_write(_ path: UnsafePointer<CChar>?, _ tensorsJSON: UnsafePointer<CChar>?,
                       _ data: UnsafePointer<UnsafeRawPointer?>?, _ lengths: UnsafePointer<UInt64>?, _ count: Int64,
                       _ structureJSON: UnsafePointer<CChar>?, _ metadataJSON: UnsafePointer<CChar>?,
                       _ codec: UnsafePointer<CChar>?, _ level: Int32, _ flags: UInt32,
                       _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        let path = try text(path, "path")
        let checkpoint = try checkpointArgument(tensorsJSON, data, lengths, count, structureJSON, metadataJSON)
        var options = WriteOptions()
        if let name = try optionalText(codec, "codec") { options.codec = try codecArgument(name) }
        if level != Int32.min { options.level = level }
        guard flags & ~WriteFlag.known == 0 else { throw ABIError(detail: "flags has unknown bits \(flags & ~WriteFlag.known)") }
        options.sync = flags & WriteFlag.noSync == 0
        try CheckpointFile.write(checkpoint, to: URL(fileURLWithPath: path), options: options)
    }
}

/// The checkpoint `ckpt_write` and `ckpt_store_save` are given: tensors described in JSON
/// with their bytes wrapped in place (no copy; valid during the call), the structure's root
/// node, the metadata.
func checkpointArgument(_ tensorsJSON: UnsafePointer<CChar>?, _ data: UnsafePointer<UnsafeRawPointer?>?,
                        _ lengths: UnsafePointer<UInt64>?, _ count: Int64,
                        _ structureJSON: UnsafePointer<CChar>?, _ metadataJSON: UnsafePointer<CChar>?) throws -> Checkpoint {
    let descriptions = try decodeArgument([TensorDescription].self, try text(tensorsJSON, "tensors_json"), "tensors_json")
    guard count >= 0, descriptions.count == count else {
        throw ABIError(detail: "tensors_json lists \(descriptions.count) tensors, count is \(count)")
    }
    guard count == 0 || (data != nil && lengths != nil) else { throw ABIError(detail: "data or lengths is NULL") }
    var tensors: [NamedTensor] = []
    tensors.reserveCapacity(descriptions.count)
    for (k, description) in descriptions.enumerated() {
        guard let dtype = DType(rawValue: description.dtype) else { throw FormatError(.unsupportedDType(description.dtype)) }
        guard let length = Int(exactly: lengths![k]) else { throw ABIError(detail: "lengths[\(k)] does not fit in this address space") }
        let bytes: Data
        if length == 0 {
            bytes = Data()
        } else {
            guard let pointer = data![k] else { throw ABIError(detail: "data[\(k)] is NULL for \(length) bytes") }
            // The caller keeps the memory alive for the call; the writer only reads it.
            bytes = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: pointer), count: length, deallocator: .none)
        }
        let tensor: Tensor
        do { tensor = try Tensor(dtype: dtype, shape: description.shape, data: bytes) } catch let error as FormatError {
            throw error.within("tensor '\(description.name)'")
        }
        tensors.append(NamedTensor(name: description.name, aliases: description.aliases ?? [], tensor: tensor))
    }
    var checkpoint = Checkpoint(tensors: tensors)
    if let root = try optionalText(structureJSON, "structure_json") {
        checkpoint.structure = try CheckpointStructure.decode(Data("{\"version\":\(CheckpointStructure.encodingVersion),\"root\":\(root)}".utf8))
        try checkpoint.validateStructure()
    }
    if let metadata = try optionalText(metadataJSON, "metadata_json") {
        checkpoint.metadata = try decodeArgument(JSONValue.self, metadata, "metadata_json")
    }
    return checkpoint
}

/// A codec by its index spelling.
func codecArgument(_ name: String) throws -> Codec {
    guard let codec = Codec(rawValue: name) else {
        throw FormatError(.invalidValue(field: "codec", value: "'\(name)'", expected: Codec.allCases.map(\.rawValue).joined(separator: ", ")))
    }
    return codec
}

/// The bits of `ckpt_write`'s `flags` (spec/ABI.md).
enum WriteFlag {
    /// Return without fsyncing the file and its directory (the file is whole in the page
    /// cache, not yet on disk): for callers that sync themselves, and for benchmarks.
    static let noSync: UInt32 = 1
    static let known: UInt32 = noSync
}

/// The caller's JSON argument decoded, or an `ABIError` naming it.
func decodeArgument<T: Decodable>(_ type: T.Type, _ json: String, _ argument: String) throws -> T {
    do { return try JSONDecoder().decode(type, from: Data(json.utf8)) } catch {
        throw ABIError(detail: "\(argument) is not the JSON this entry point takes")
    }
}
