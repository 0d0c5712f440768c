import Catalog
import Foundation
import Format
import XCTest

/// A flipped byte in an object is found by fsck and by every read that touches it,
/// naming the version and the tensor.
final class CatalogDamageTests: CatalogTestCase {
    private func flipByte(in url: URL, at offset: Int) throws {
        var bytes = try Data(contentsOf: url)
        bytes[offset] ^= 0x10
        try bytes.write(to: url)
    }

    func testAFlippedByteIsFoundByFsckAndByEveryRead() throws {
        try ckpt("init")
        let one = SmallModel.checkpoint(seed: 1)
        var two = one
        var other = Gaussian(seed: 99)
        two.tensors[1].tensor = other.tensor([64])
        try CheckpointFile.write(one, to: url("one.ckpt"))
        try CheckpointFile.write(two, to: url("two.ckpt"))
        try ckpt("save", path("one.ckpt"), "--model", "m")
        try ckpt("save", path("two.ckpt"), "--model", "m")

        // Damage 0.weight, which both versions share, in the middle of its data.
        let store = try Store.open(url(".ckpt"))
        let entry = try XCTUnwrap(try store.content("m@1").tensors.first { $0.name == "0.weight" })
        let object = store.objects.url(for: entry.object)
        let record = try ContainerReader(contentsOf: object).manifest.tensors[0]
        try flipByte(in: object, at: record.chunks[0].offset + record.chunks[0].length / 2)

        let fsck = try ckpt("fsck", expect: 1)
        XCTAssertTrue(fsck.stdout.contains("m@1 tensor '0.weight': object \(entry.object.prefix(16))"), fsck.stdout)
        XCTAssertTrue(fsck.stdout.contains("m@2 tensor '0.weight'"), fsck.stdout)
        XCTAssertTrue(fsck.stdout.contains("checksum mismatch"), fsck.stdout)
        XCTAssertTrue(fsck.stdout.contains("DAMAGED (2 problems)"), fsck.stdout)
        XCTAssertFalse(fsck.stdout.contains("'0.bias'"), "only the damaged tensor is named")

        let checkout = try ckpt("checkout", "m@1", "-o", path("out.ckpt"), expect: 1)
        XCTAssertTrue(checkout.stderr.contains("m@1 tensor '0.weight'"), checkout.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.ckpt")))
        let verify = try ckpt("verify", "m@2", expect: 1)
        XCTAssertTrue(verify.stdout.contains("m@2 tensor '0.weight'"), verify.stdout)
        // diff reads only changed tensors: 0.bias changed, 0.weight did not, so diff works...
        try ckpt("diff", "m@1", "m@2")
        // ...but not against a version where 0.weight changed.
        var three = one
        var fresh = Gaussian(seed: 5)
        three.tensors[0].tensor = fresh.tensor([64, 32])
        try CheckpointFile.write(three, to: url("three.ckpt"))
        try ckpt("save", path("three.ckpt"), "--model", "m")
        XCTAssertTrue(try ckpt("diff", "m@1", "m@3", expect: 1).stderr.contains("m@1 tensor '0.weight'"))
    }

    func testDamageInAnyPartOfAnObjectIsFound() throws {
        let (store, _) = try Store.create(in: work)
        let version = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "m")).version
        let entry = try store.content("m@1").tensors[2]
        let object = store.objects.url(for: entry.object)
        let pristine = try Data(contentsOf: object)
        // Header, data, padding, index and trailer: every byte of an object is checked.
        for offset in [3, 64 + 5, pristine.count - 100, pristine.count - 30, pristine.count - 70] {
            try pristine.write(to: object)
            try flipByte(in: object, at: offset)
            let report = try store.fsck()
            XCTAssertFalse(report.ok, "byte \(offset) of \(pristine.count) flipped, fsck saw nothing")
            XCTAssertTrue(report.problems.allSatisfy { $0.hasPrefix("m@1 tensor '2.weight'") }, report.problems.joined(separator: "\n"))
            // A read checks what it decodes (chunk checksums, the content hash); bytes it does
            // not need (padding, the trailer) are fsck's. A flip inside the data is a read's too.
            guard offset == 64 + 5 else { continue }
            XCTAssertThrowsError(try store.tensor(entry, of: version)) { error in
                guard case .tensorUnreadable("m@1", "tensor '2.weight'", .objectDamaged(entry.object, _))? = error as? CatalogError else {
                    return XCTFail("\(error)")
                }
            }
        }
        try FileManager.default.removeItem(at: object)
        let missing = try store.fsck()
        XCTAssertTrue(missing.problems.first?.contains("m@1 tensor '2.weight'") == true && missing.problems.first?.contains("missing") == true,
                      missing.problems.joined(separator: "\n"))
        assertCatalogError(try store.checkpoint(of: store.content(version.reference)),
                           .tensorUnreadable(version: "m@1", item: "tensor '2.weight'", error: .objectMissing(hash: entry.object, path: object.path)))
        // Saving the same tensors again repairs the store.
        _ = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "m"))
        XCTAssertTrue(try store.fsck().ok)
    }
}
