@testable import Format
import Foundation
import XCTest

/// `WriteOptions.releasesSourcePages`: dropping a mapped source's pages while writing must
/// never change what is written or what the mapping reads afterwards.
final class SourcePagesTests: XCTestCase {
    func testReleasedPagesOfAMappedFileReadTheSameAndTheWrittenFileIsExact() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-pages-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var values = [Float](repeating: 0, count: 3 << 20) // 12 MiB: several chunks of 2 MiB
        for i in values.indices { values[i] = Float(i % 1000) * 0.001 - 0.5 }
        let source = Checkpoint(tensors: [NamedTensor(name: "w", tensor: try Tensor(dtype: .f32, shape: [values.count],
                                                                                     data: values.withUnsafeBytes { Data($0) }))])
        let safetensors = folder.appendingPathComponent("w.safetensors")
        try Safetensors.write(source, to: safetensors)
        let mapped = try Safetensors.read(contentsOf: safetensors)
        let out = folder.appendingPathComponent("w.ckpt")
        try CheckpointFile.write(mapped, to: out, options: WriteOptions(releasesSourcePages: true))
        XCTAssertEqual(mapped.tensors[0].tensor.data, source.tensors[0].tensor.data) // pages fault back in from the file
        XCTAssertEqual(try CheckpointFile.read(contentsOf: out).tensors[0].tensor.data, source.tensors[0].tensor.data)
        // Heap bytes (not a mapping) are left as they were too.
        var heap = Data(count: 1 << 20)
        heap.withUnsafeMutableBytes { for i in 0..<$0.count { $0[i] = UInt8(truncatingIfNeeded: i &* 7) } }
        let before = heap
        SourcePages.release(heap, 0..<heap.count)
        XCTAssertEqual(heap, before)
    }
}
