import Foundation
import Format
import FuzzSupport

// A .safetensors file as `ckpt import` reads it (header length, JSON header, offsets,
// dtypes, the ckpt.aliases and metadata keys), then `ckpt export`'s writers.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        let checkpoint = try Safetensors.read(data: Data(fuzzInput(data, size)))
        checkExports(checkpoint)
    } catch {
        _ = "\(error)"
    }
    return 0
}
