import Foundation
import Format
import FuzzSupport

// A torch.save file (zip format or legacy) as `ckpt import` and `ckpt inspect` read it:
// the zip records, the restricted pickle machine, tensor rebuilding, whole-module
// architecture recovery and the outline `inspect` prints; then `ckpt export`'s writers.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(fuzzInput(data, size))
    do {
        let checkpoint = try TorchFile.read(data: bytes)
        checkExports(checkpoint)
    } catch {
        _ = "\(error)"
    }
    do { _ = try TorchFile.tree(data: bytes) } catch { _ = "\(error)" }
    return 0
}
