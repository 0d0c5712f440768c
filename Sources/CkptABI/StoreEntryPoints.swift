import Catalog
import Foundation
import Format

/// An open store (spec/CATALOG.md) behind an opaque handle, from `ckpt_store_open`,
/// released by `ckpt_store_close`.
final class StoreHandle {
    let store: Store
    init(_ store: Store) { self.store = store }
}

func storeHandle(_ pointer: UnsafeMutableRawPointer?) throws -> Store {
    guard let pointer else { throw ABIError(detail: "the store handle is NULL") }
    return Unmanaged<StoreHandle>.fromOpaque(pointer).takeUnretainedValue().store
}

/// A version as every store entry point returns it (spec/ABI.md "Stores").
struct VersionJSON: Encodable {
    var reference: String
    var hash: String
    var model: String
    var number: Int
    var message: String
    var parents: [String]
    var tags: [String]
    var created_ms: Int64
    var same_content_as: String?

    init(_ info: VersionInfo, sameContentAs: String? = nil) {
        reference = info.reference
        hash = info.hash
        model = info.model
        number = info.number
        message = info.message
        parents = info.parents.map(\.reference)
        tags = info.tags
        created_ms = info.createdMilliseconds
        same_content_as = sameContentAs
    }
}

/// Opens the store at `path` (the `.ckpt` directory or the directory holding it; NULL: the
/// one `$CKPT_STORE` names, else the first `.ckpt/` from the working directory up, as the
/// CLI finds it). With `create` non-zero, `path` is a directory in which `.ckpt/` is made
/// when it is not there (`ckpt init`).
@_cdecl("ckpt_store_open")
public func ckpt_store_open(_ path: UnsafePointer<CChar>?, _ create: Int32, _ store: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                            _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    store?.pointee = nil
    return guarded(message) {
        guard let store else { throw ABIError(detail: "the output pointer is NULL") }
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let given = try optionalText(path, "path")
        let opened: Store
        if create != 0 {
            guard let given else { throw ABIError(detail: "path is NULL, which create needs") }
            opened = try Store.create(in: URL(fileURLWithPath: given, relativeTo: here).standardizedFileURL).store
        } else {
            opened = try Store.open(try Store.locate(explicit: given, environment: ProcessInfo.processInfo.environment, start: here))
        }
        store.pointee = Unmanaged.passRetained(StoreHandle(opened)).toOpaque()
    }
}

/// Releases a handle from `ckpt_store_open`. NULL is allowed.
@_cdecl("ckpt_store_close")
public func ckpt_store_close(_ store: UnsafeMutableRawPointer?) {
    guard let store else { return }
    Unmanaged<StoreHandle>.fromOpaque(store).release()
}

/// What `ckpt_store_save`'s `request_json` holds.
struct SaveArguments: Decodable {
    var model: String
    var message: String?
    var tags: [String]?
    var parents: [String]?
    var codec: String?
    var deltas: Bool?
}

/// Saves a checkpoint (given as `ckpt_write` takes one) as a new version of a model, as
/// `ckpt save` does; stores the new version's JSON in `*version_json`.
@_cdecl("ckpt_store_save")
public func ckpt_store_save(_ store: UnsafeMutableRawPointer?, _ tensorsJSON: UnsafePointer<CChar>?,
                            _ data: UnsafePointer<UnsafeRawPointer?>?, _ lengths: UnsafePointer<UInt64>?, _ count: Int64,
                            _ structureJSON: UnsafePointer<CChar>?, _ metadataJSON: UnsafePointer<CChar>?,
                            _ requestJSON: UnsafePointer<CChar>?, _ versionJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        let store = try storeHandle(store)
        let checkpoint = try checkpointArgument(tensorsJSON, data, lengths, count, structureJSON, metadataJSON)
        let arguments = try decodeArgument(SaveArguments.self, try text(requestJSON, "request_json"), "request_json")
        var request = SaveRequest(checkpoint: checkpoint, model: arguments.model, message: arguments.message ?? "",
                                  tags: arguments.tags ?? [], parents: arguments.parents, deltas: arguments.deltas ?? true)
        if let codec = arguments.codec { request.codec = try codecArgument(codec) }
        let result = try store.save(request)
        try hand(try JSONEncoder().encode(VersionJSON(result.version, sameContentAs: result.sameContentAs)), to: versionJSON)
    }
}

/// Reads the version `reference` names (every tensor checked: chunk checksums and each
/// object's SHA-256) and stores in `*reader` a reader handle over it, which the
/// `ckpt_reader_*` entry points read as they read a file (no views: it is in memory).
@_cdecl("ckpt_store_checkout")
public func ckpt_store_checkout(_ store: UnsafeMutableRawPointer?, _ reference: UnsafePointer<CChar>?,
                                _ reader: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    reader?.pointee = nil
    return guarded(message) {
        guard let reader else { throw ABIError(detail: "the output pointer is NULL") }
        let store = try storeHandle(store)
        let reference = try text(reference, "reference")
        let (content, checkpoint) = try store.reading {
            let content = try store.content(reference)
            return (content, try store.checkpoint(of: content))
        }
        let source = MemorySource(checkpoint, label: content.info.reference, codecs: content.tensors.map(\.codec.rawValue))
        reader.pointee = Unmanaged.passRetained(ReaderHandle(source)).toOpaque()
    }
}

/// The versions newest first, of `model` or (NULL) of every model: a JSON array of versions.
@_cdecl("ckpt_store_log")
public func ckpt_store_log(_ store: UnsafeMutableRawPointer?, _ model: UnsafePointer<CChar>?,
                           _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        let versions = try storeHandle(store).history(model: try optionalText(model, "model"))
        try hand(try JSONEncoder().encode(versions.map { VersionJSON($0) }), to: json)
    }
}

/// The version `reference` names, as JSON (resolving `NAME@N`, `NAME@latest`, a tag, a
/// model, a hash prefix).
@_cdecl("ckpt_store_show")
public func ckpt_store_show(_ store: UnsafeMutableRawPointer?, _ reference: UnsafePointer<CChar>?,
                            _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        let info = try storeHandle(store).content(try text(reference, "reference")).info
        try hand(try JSONEncoder().encode(VersionJSON(info)), to: json)
    }
}

/// Points tag `name` at the version `reference` names (an existing tag moves only with
/// `force` non-zero); stores that version's JSON.
@_cdecl("ckpt_store_tag")
public func ckpt_store_tag(_ store: UnsafeMutableRawPointer?, _ reference: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?,
                           _ force: Int32, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        let store = try storeHandle(store)
        let tagged = try store.tag(try text(reference, "reference"), as: try text(name, "name"), force: force != 0)
        // Read back, so that the version's tags include the new one.
        try hand(try JSONEncoder().encode(VersionJSON(try store.content(tagged.reference).info)), to: json)
    }
}

/// Every model (`ckpt models`): a JSON array of `{"name", "versions", "latest",
/// "latestHash", "tags", "bytes"}`.
@_cdecl("ckpt_store_models")
public func ckpt_store_models(_ store: UnsafeMutableRawPointer?, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                              _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        try hand(try JSONEncoder().encode(try storeHandle(store).models()), to: json)
    }
}

/// Compares two versions as `ckpt diff --json` does: the JSON of the diff (tensors added,
/// removed, changed with their largest difference; architecture, metadata and structure changes).
@_cdecl("ckpt_store_diff")
public func ckpt_store_diff(_ store: UnsafeMutableRawPointer?, _ a: UnsafePointer<CChar>?, _ b: UnsafePointer<CChar>?,
                            _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guarded(message) {
        let store = try storeHandle(store)
        let (first, second) = (try text(a, "a"), try text(b, "b"))
        let diff = try store.reading { try store.diff(try store.content(first), try store.content(second)) }
        try hand(try JSONEncoder().encode(diff), to: json)
    }
}
