import Foundation
import Format
import FuzzSupport

// numpy's files as ckpt reads them: an input that starts like a zip ("PK") is an .npz,
// read from a file as `ckpt import` does (the zip directory, member sizes, deflate, CRC,
// each member's .npy header); anything else is one .npy, read from memory as
// `ckpt run --input` and `ckpt probe add` do. Then `ckpt export`'s writers.

let scratch = ScratchFile(suffix: ".npz")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumpy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    do {
        let checkpoint: Checkpoint
        if bytes.starts(with: [0x50, 0x4B]) {
            scratch.write(bytes)
            checkpoint = try Npz.read(contentsOf: scratch.url)
        } else {
            checkpoint = Checkpoint(tensors: [NamedTensor(name: "x", tensor: try Npy.read(data: Data(bytes)))])
        }
        checkExports(checkpoint)
    } catch {
        _ = "\(error)"
    }
    return 0
}
