import Catalog
import Foundation
import Format
import XCTest

/// The dedup guarantee: ten versions of MiniLM-L6 in which only the last encoder layer
/// changes grow the store by no more than 1.1 x the compressed size of the changed
/// tensors per version.
final class CatalogDedupTests: CatalogTestCase {
    func testTenVersionsOfMiniLMGrowByTheChangedLayerOnly() throws {
        let (store, _) = try Store.create(in: work)
        var model = MiniLM.checkpoint(seed: 1)
        let first = try store.save(SaveRequest(checkpoint: model, model: "minilm", message: "base"))
        XCTAssertEqual(first.tensors, 104)
        let lastLayer = Set(MiniLM.layerShapes(MiniLM.layers - 1).map(\.0))
        var worst = 0.0
        for version in 2...10 {
            model = MiniLM.withLastLayerRetrained(model, seed: UInt64(100 + version))
            let before = try store.totalBytes()
            let result = try store.save(SaveRequest(checkpoint: model, model: "minilm", message: "epoch \(version)"))
            let growth = try store.totalBytes() - before
            XCTAssertEqual(result.newObjects, lastLayer.count, "only the last layer's tensors are new")
            XCTAssertEqual(result.reusedObjects, 104 - lastLayer.count)
            XCTAssertEqual(result.version.parents.map(\.number), [version - 1], "saving again makes a line")

            // The yardstick: the same tensors compressed by the same codec into one file.
            let changed = Checkpoint(tensors: model.tensors.filter { lastLayer.contains($0.name) })
            let yardstick = url("changed-\(version).ckpt")
            try CheckpointFile.write(changed, to: yardstick)
            let compressed = try ContainerReader(contentsOf: yardstick).manifest.tensors.reduce(0) { $0 + $1.storedCount }
            let ratio = Double(growth) / Double(compressed)
            worst = max(worst, ratio)
            XCTAssertLessThanOrEqual(ratio, 1.1, "version \(version): grew \(growth) bytes for \(compressed) compressed bytes of changed tensors")
        }
        print("dedup: worst store growth per version = \(String(format: "%.4f", worst)) x the compressed size of the changed tensors")
        XCTAssertEqual(try store.history(model: "minilm").count, 10)
        XCTAssertEqual(try store.objects.enumerate().objects.count, 104 + 9 * lastLayer.count)
    }
}
