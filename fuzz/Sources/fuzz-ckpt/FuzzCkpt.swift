import Format
import FuzzSupport
import Foundation

// The `.ckpt` reader as `ckpt verify` and `ckpt cat` drive it: open (header, trailer,
// index, manifest validation), `verify()` (every chunk's checksum and decoding, the
// sections, the exact layout), then, for a file that verifies, load every tensor, the
// architecture, metadata and probes.
//
// The fixed parts carry xxh3 checksums that random mutation almost never gets right, so
// before each run the header's and trailer's checksums, and the index's when the trailer
// points inside the file, are recomputed over the mutated bytes: the fuzzer then explores
// the index and the manifest instead of the checksum comparison. Chunk checksums live in
// the index JSON and are left as they are.

let scratch = ScratchFile(suffix: ".ckpt")
let headerSize = ContainerLimits.headerSize, trailerSize = ContainerLimits.trailerSize

func repairChecksums(_ bytes: UnsafeMutableRawBufferPointer) {
    guard bytes.count >= headerSize + trailerSize else { return }
    func load(_ offset: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    func store(_ value: UInt64, _ offset: Int) { bytes.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self) }
    func xxh3(_ range: Range<Int>) -> UInt64 { Checksum.xxh3(UnsafeRawBufferPointer(rebasing: bytes[range])) }
    store(xxh3(0 ..< 56), 56)
    let trailer = bytes.count - trailerSize
    let offset = load(trailer), length = load(trailer + 8)
    if offset <= UInt64(trailer), length <= UInt64(trailer) - offset {
        store(xxh3(Int(offset) ..< Int(offset + length)), trailer + 16)
    }
    store(xxh3(trailer ..< trailer + 48), trailer + 48)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCkpt(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
    defer { copy.deallocate() }
    let bytes = UnsafeMutableRawBufferPointer(rebasing: copy[0 ..< size])
    if size > 0 { bytes.copyMemory(from: fuzzInput(data, size)) }
    repairChecksums(bytes)
    scratch.write(UnsafeRawBufferPointer(bytes))
    do {
        let reader = try ContainerReader(contentsOf: scratch.url)
        let report = reader.verify()
        guard report.ok else { return 0 }
        let checkpoint = try reader.checkpoint()
        if let architecture = checkpoint.architecture { _ = try? Architecture.parse(architecture.text) }
    } catch {
        _ = "\(error)" // the message is derived from the error's facts: deriving it must not trap either
    }
    return 0
}
