import Foundation
import Format

/// An open checkpoint behind an opaque handle: a file's validated reader and the map it
/// holds, or a checkpoint in memory (`ckpt_store_checkout`). Made by `ckpt_reader_open`,
/// `ckpt_reader_open_fd` or `ckpt_store_checkout`, released by `ckpt_reader_close`; every
/// view it hands out lives as long as the handle.
final class ReaderHandle {
    let source: any TensorSource

    init(_ source: any TensorSource) { self.source = source }
}

/// The handle's object; an `ABIError` for NULL.
func handle(_ pointer: UnsafeMutableRawPointer?) throws -> ReaderHandle {
    guard let pointer else { throw ABIError(detail: "the reader handle is NULL") }
    return Unmanaged<ReaderHandle>.fromOpaque(pointer).takeUnretainedValue()
}

/// Opens and validates the `.ckpt` at `path` (header, trailer, index; spec/FORMAT.md 5)
/// and stores a handle in `*reader`, to be released with `ckpt_reader_close`.
@_cdecl("ckpt_reader_open")
public func ckpt_reader_open(_ path: UnsafePointer<CChar>?, _ reader: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                             _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    reader?.pointee = nil
    return guarded(message) {
        guard let reader else { throw ABIError(detail: "the output pointer is NULL") }
        let opened = try ContainerReader(contentsOf: URL(fileURLWithPath: try text(path, "path")))
        reader.pointee = Unmanaged.passRetained(ReaderHandle(FileSource(opened))).toOpaque()
    }
}

/// `ckpt_reader_open` of the file open at `fd` (the caller's: not closed, and the map
/// outlives it); `name` names it in messages. A caller that maps `fd` itself (the Python
/// package's copy-on-write views of raw tensors) sees exactly the bytes this reader checked.
@_cdecl("ckpt_reader_open_fd")
public func ckpt_reader_open_fd(_ fd: Int32, _ name: UnsafePointer<CChar>?, _ reader: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    reader?.pointee = nil
    return guarded(message) {
        guard let reader else { throw ABIError(detail: "the output pointer is NULL") }
        let file = try MappedFile(descriptor: fd, path: try text(name, "name"))
        reader.pointee = Unmanaged.passRetained(ReaderHandle(FileSource(try ContainerReader(file: file)))).toOpaque()
    }
}

/// Releases a handle from `ckpt_reader_open` and unmaps the file; every view
/// (`ckpt_reader_view`) becomes invalid. NULL is allowed; a second close is undefined.
@_cdecl("ckpt_reader_close")
public func ckpt_reader_close(_ reader: UnsafeMutableRawPointer?) {
    guard let reader else { return }
    Unmanaged<ReaderHandle>.fromOpaque(reader).release()
}

/// Stores in `*json` the JSON array of the file's tensors in storage order: `{"name",
/// "aliases", "dtype", "shape", "codec", "bytes", "stored_bytes"}`.
@_cdecl("ckpt_reader_tensors")
public func ckpt_reader_tensors(_ reader: UnsafeMutableRawPointer?, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        try hand(try JSONEncoder().encode(try handle(reader).source.infos), to: json)
    }
}

/// Stores in `*json` the JSON of the structure's root node (FORMAT.md 4.1), checked
/// against the file's names; for a file without a structure section, the flat
/// state_dict it means (an ordered dict of every name and alias to its tensor).
@_cdecl("ckpt_reader_structure")
public func ckpt_reader_structure(_ reader: UnsafeMutableRawPointer?, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                  _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        try hand(try handle(reader).source.structure().jsonValue.serialized(), to: json)
    }
}

/// Stores in `*json` the metadata section (JSON text, checksum checked), or NULL when the
/// file has none.
@_cdecl("ckpt_reader_metadata")
public func ckpt_reader_metadata(_ reader: UnsafeMutableRawPointer?, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        try hand(try handle(reader).source.metadata().map { try $0.serialized() }, to: json)
    }
}

/// Stores in `*json` the architecture document as stored (spec/ARCH.md; checksum checked
/// and parsed, so a malformed one is an error), or NULL when the file has none.
@_cdecl("ckpt_reader_architecture")
public func ckpt_reader_architecture(_ reader: UnsafeMutableRawPointer?, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                     _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        try hand(try handle(reader).source.architectureText(), to: json)
    }
}

/// Decodes `count` tensors, `names[i]` into the caller's `buffers[i]` of exactly
/// `lengths[i]` bytes (the tensor's dtype x shape), verifying every chunk; chunks of all
/// of them decode in parallel. The one copy from the file into the caller's memory.
@_cdecl("ckpt_reader_decode")
public func ckpt_reader_decode(_ reader: UnsafeMutableRawPointer?, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                               _ buffers: UnsafePointer<UnsafeMutableRawPointer?>?, _ lengths: UnsafePointer<UInt64>?, _ count: Int64,
                               _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        let handle = try handle(reader)
        guard count >= 0 else { throw ABIError(detail: "count is \(count)") }
        guard count == 0 || (names != nil && buffers != nil && lengths != nil) else { throw ABIError(detail: "names, buffers or lengths is NULL") }
        var wanted: [String] = []
        var targets: [UnsafeMutableRawBufferPointer] = []
        for k in 0..<Int(count) {
            wanted.append(try text(names![k], "names[\(k)]"))
            guard let length = Int(exactly: lengths![k]) else { throw ABIError(detail: "lengths[\(k)] does not fit in this address space") }
            guard length == 0 || buffers![k] != nil else { throw ABIError(detail: "buffers[\(k)] is NULL for \(length) bytes") }
            targets.append(UnsafeMutableRawBufferPointer(start: buffers![k], count: length))
        }
        try handle.source.decode(wanted, into: targets)
    }
}

/// For a tensor stored raw with its chunks back to back: verifies every chunk and stores
/// in `*data` a read-only pointer into the map, in `*offset` where those bytes start in
/// the file, and in `*length` their count, valid until `ckpt_reader_close` (no copy at
/// all). For any other tensor `*data` is NULL and `*offset`, `*length` 0, with status 0:
/// the caller decodes it with `ckpt_reader_decode` instead.
@_cdecl("ckpt_reader_view")
public func ckpt_reader_view(_ reader: UnsafeMutableRawPointer?, _ name: UnsafePointer<CChar>?,
                             _ data: UnsafeMutablePointer<UnsafeRawPointer?>?, _ offset: UnsafeMutablePointer<UInt64>?,
                             _ length: UnsafeMutablePointer<UInt64>?,
                             _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    data?.pointee = nil
    offset?.pointee = 0
    length?.pointee = 0
    return guarded(message) {
        let handle = try handle(reader)
        guard let data, let offset, let length else { throw ABIError(detail: "the output pointer is NULL") }
        // Every chunk's checksum is checked; the bytes are then the map's own.
        guard let span = try handle.source.rawSpans([try text(name, "name")])[0], let base = handle.source.mapBase else { return }
        data.pointee = base + span.lowerBound
        offset.pointee = UInt64(span.lowerBound)
        length.pointee = UInt64(span.count)
    }
}

/// `ckpt_reader_view` for `count` tensors at once, their checksums checked in parallel:
/// `offsets[i]` and `lengths[i]` are the file span of `names[i]`'s bytes when it is stored
/// raw with its chunks back to back, else both 0 (decode that one).
@_cdecl("ckpt_reader_views")
public func ckpt_reader_views(_ reader: UnsafeMutableRawPointer?, _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int64,
                              _ offsets: UnsafeMutablePointer<UInt64>?, _ lengths: UnsafeMutablePointer<UInt64>?,
                              _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        let handle = try handle(reader)
        guard count >= 0 else { throw ABIError(detail: "count is \(count)") }
        guard count == 0 || (names != nil && offsets != nil && lengths != nil) else { throw ABIError(detail: "names, offsets or lengths is NULL") }
        let wanted = try (0..<Int(count)).map { try text(names![$0], "names[\($0)]") }
        for k in 0..<Int(count) { offsets![k] = 0; lengths![k] = 0 }
        for (k, span) in try handle.source.rawSpans(wanted).enumerated() {
            guard let span else { continue }
            offsets![k] = UInt64(span.lowerBound)
            lengths![k] = UInt64(span.count)
        }
    }
}

/// Verifies the whole file as `ckpt verify` checks its container: every chunk of every
/// tensor, every section and the exact layout.
@_cdecl("ckpt_reader_verify")
public func ckpt_reader_verify(_ reader: UnsafeMutableRawPointer?, _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        try handle(reader).source.verify()
    }
}
