import Foundation
import Format
import FuzzSupport

// A .safetensors file as `ckpt import` reads it (header length, JSON header, offsets,
// dtypes, the ckpt.aliases and metadata keys), then `ckpt export`'s writers. An input that
// starts with `{` is a shard index (`model.safetensors.index.json`) instead: its checks alone.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        if size > 0, data?.pointee == UInt8(ascii: "{") {
            _ = try SafetensorsShards.shardFiles(inIndex: Data(fuzzInput(data, size)))
            return 0
        }
        let checkpoint = try Safetensors.read(data: Data(fuzzInput(data, size)))
        checkExports(checkpoint)
    } catch {
        _ = "\(error)"
    }
    return 0
}
