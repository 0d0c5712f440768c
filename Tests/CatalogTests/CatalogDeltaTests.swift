import Foundation
import Format
import XCTest
@testable import Catalog

/// Versions of a training run stored as XOR deltas against the parent's tensors
/// (CATALOG.md, section 2.1): bit-exact reads, one-deep chains, bases kept by gc and
/// checked by fsck, and a removed base version never breaking its descendants.
final class CatalogDeltaTests: CatalogTestCase {
    /// One AdamW-like step: every weight moves by about `rate` of its size, the way
    /// consecutive training checkpoints differ (every element changes, a little).
    private func step(_ tensor: Tensor, rate: Float, seed: UInt64) -> Tensor {
        var noise = Gaussian(seed: seed)
        let kicks = noise.floats(tensor.data.count / 4, scale: 1)
        var data = tensor.data
        data.withUnsafeMutableBytes { raw in
            kicks.withUnsafeBytes { k in
                let w = raw.bindMemory(to: Float.self), d = k.bindMemory(to: Float.self)
                for i in 0..<w.count { w[i] += rate * 0.05 * d[i] }
            }
        }
        return try! Tensor(dtype: tensor.dtype, shape: tensor.shape, data: data)
    }

    /// Versions of a two-tensor model: the weight takes one step of `rates[k]` before
    /// version k + 1 (the first rate is ignored), the bias never changes.
    private func run(_ rates: [Float]) -> [Checkpoint] {
        var gaussian = Gaussian(seed: 42)
        var weight = gaussian.tensor([256, 256])
        let bias = gaussian.tensor([16])
        var versions: [Checkpoint] = []
        for (k, rate) in rates.enumerated() {
            if k > 0 { weight = step(weight, rate: rate, seed: UInt64(k)) }
            versions.append(Checkpoint(tensors: [NamedTensor(name: "w", tensor: weight), NamedTensor(name: "b", tensor: bias)]))
        }
        return versions
    }

    private func entry(_ store: Store, _ reference: String, _ name: String) throws -> TensorEntry {
        try XCTUnwrap(try store.content(reference).tensors.first { $0.name == name })
    }

    func testAChangedTensorIsStoredAsADeltaAndReadsBackBitExact() throws {
        let (store, _) = try Store.create(in: work)
        let versions = run([0, 1e-4])
        for checkpoint in versions { _ = try store.save(SaveRequest(checkpoint: checkpoint, model: "m")) }
        let first = try entry(store, "m@1", "w"), second = try entry(store, "m@2", "w")
        XCTAssertNil(try store.objects.deltaBase(of: first.object))
        XCTAssertEqual(try store.objects.deltaBase(of: second.object), first.object)
        // A step of 1e-4 of each weight's scale leaves sign, exponent and the top ~9
        // mantissa bits unchanged: the difference has ~15 varying bits of 32, against
        // ~26 bits for the weight alone.
        XCTAssertLessThan(Double(second.storedBytes), 0.6 * Double(first.storedBytes))
        for (k, checkpoint) in versions.enumerated() {
            let back = try store.checkpoint(of: try store.content("m@\(k + 1)"))
            XCTAssertEqual(back.tensors.map(\.tensor.data), checkpoint.tensors.map(\.tensor.data), "m@\(k + 1)")
        }
        // The unchanged bias is one object, not a delta of itself.
        XCTAssertEqual(try entry(store, "m@1", "b").object, try entry(store, "m@2", "b").object)
        // Without deltas the same tensor is stored whole.
        _ = try store.save(SaveRequest(checkpoint: run([0, 1e-4, 1e-4])[2], model: "n", deltas: false))
        XCTAssertNil(try store.objects.deltaBase(of: try entry(store, "n@1", "w").object))
    }

    /// Chains are one deep: every delta's base is a full object, however long the run,
    /// and a run that drifts far from its base gets a fresh full copy.
    func testChainsAreOneDeepAndDriftStartsAFreshBase() throws {
        let (store, _) = try Store.create(in: work)
        // Small steps, one large jump (a learning-rate spike), small steps again.
        let versions = run([0, 1e-4, 1e-4, 1e-4, 1, 1e-4, 1e-4])
        for checkpoint in versions { _ = try store.save(SaveRequest(checkpoint: checkpoint, model: "m")) }
        var fullCopies: [Int] = []
        for k in 1...versions.count {
            let object = try entry(store, "m@\(k)", "w").object
            if let base = try store.objects.deltaBase(of: object) {
                XCTAssertNil(try store.objects.deltaBase(of: base), "m@\(k): a delta's base is itself a delta")
            } else {
                fullCopies.append(k)
            }
            XCTAssertEqual(try store.checkpoint(of: try store.content("m@\(k)")).tensors[0].tensor.data, versions[k - 1].tensors[0].tensor.data)
        }
        XCTAssertEqual(fullCopies, [1, 5], "the jump starts a new base, the small steps are deltas")
        XCTAssertEqual(try store.objects.deltaBase(of: try entry(store, "m@7", "w").object), try entry(store, "m@5", "w").object)
    }

    /// A delta whose base version is removed: another model holds the same tensor (so the
    /// same delta object), m@2 and then m@1 are removed, and the delta still reads, gc
    /// keeps its base, and fsck counts nothing unreferenced.
    func testRemovingTheBaseVersionKeepsTheDeltaReadableAndGcKeepsTheBase() throws {
        let (store, _) = try Store.create(in: work)
        let versions = run([0, 1e-4])
        for checkpoint in versions { _ = try store.save(SaveRequest(checkpoint: checkpoint, model: "m")) }
        _ = try store.save(SaveRequest(checkpoint: versions[1], model: "other", parents: []))
        let base = try entry(store, "m@1", "w").object
        let delta = try entry(store, "other@1", "w").object
        XCTAssertEqual(try store.objects.deltaBase(of: delta), base)
        try store.remove("m@2")
        try store.remove("m@1")
        let report = try store.gc()
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.objects.url(for: base).path), "gc removed a delta's base")
        XCTAssertEqual(report.removedObjects, 0, "every object is m@1's base or other@1's")
        XCTAssertEqual(try store.checkpoint(of: try store.content("other@1")).tensors[0].tensor.data, versions[1].tensors[0].tensor.data)
        let fsck = try store.fsck()
        XCTAssertTrue(fsck.ok, fsck.problems.joined(separator: "\n"))
        XCTAssertEqual(fsck.unreferencedObjects, 0)
        XCTAssertEqual(fsck.objectsChecked, 3, "the bias, the delta and its base")
    }

    /// A flipped byte in a base is reported for the delta that decodes through it, and
    /// every read of the delta fails naming the base.
    func testFsckDetectsADamagedBaseThroughItsDelta() throws {
        let (store, _) = try Store.create(in: work)
        for checkpoint in run([0, 1e-4]) { _ = try store.save(SaveRequest(checkpoint: checkpoint, model: "m")) }
        let base = try entry(store, "m@1", "w").object
        let url = store.objects.url(for: base)
        var bytes = try Data(contentsOf: url)
        bytes[ContainerLimits.headerSize + 100] ^= 0x10
        try bytes.write(to: url)
        let report = try store.fsck()
        XCTAssertFalse(report.ok)
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("m@2 tensor 'w'") && $0.contains("delta base") }, report.problems.joined(separator: "\n"))
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("m@1 tensor 'w'") }, report.problems.joined(separator: "\n"))
        XCTAssertThrowsError(try store.checkpoint(of: try store.content("m@2"))) { error in
            XCTAssertTrue("\(error)".contains("delta base"), "\(error)")
        }
    }

    /// `sub` deltas invert exactly at every width, extremes included (wrap-around and
    /// the zigzag's top bit), and `xor` deltas, which readers accept too, read back.
    func testSubAndXorDeltasInvertExactly() throws {
        var gaussian = Gaussian(seed: 9)
        var random = gaussian.floats(1024, scale: 1e6)
        random.append(contentsOf: [UInt8](repeating: 0xFF, count: 64) + [UInt8](repeating: 0x00, count: 64) + [0x80, 0, 0, 0, 0, 0, 0, 0x7F])
        let other = Data(random.reversed())
        for width in [1, 2, 4, 8] {
            let delta = ObjectStore.subtract(random, other, width: width)
            XCTAssertEqual(ObjectStore.add(delta, to: other, width: width), random, "width \(width)")
        }
        // A one-ulp step is one small difference, not a carry chain: 0x3F7FFFFF -> 0x3F800000.
        let up = ObjectStore.subtract(Data([0x00, 0x00, 0x80, 0x3F]), Data([0xFF, 0xFF, 0x7F, 0x3F]), width: 4)
        XCTAssertEqual([UInt8](up), [2, 0, 0, 0])

        let (store, _) = try Store.create(in: work)
        let versions = run([0, 1e-4])
        for checkpoint in versions { _ = try store.save(SaveRequest(checkpoint: checkpoint, model: "m")) }
        let first = try entry(store, "m@1", "w"), second = try entry(store, "m@2", "w")
        let url = store.objects.url(for: second.object)
        try FileManager.default.removeItem(at: url)
        let writer = try ContainerWriter(destination: url)
        try writer.add(NamedTensor(name: "tensor", tensor: try Tensor(dtype: .f32, shape: [256, 256],
                                                                      data: ObjectStore.xor(versions[1].tensors[0].tensor.data, versions[0].tensors[0].tensor.data))))
        try writer.setMetadata(.object(["ckpt.delta": .object(["base": .string(first.object), "operation": .string("xor")])]))
        try writer.finish()
        XCTAssertEqual(try store.checkpoint(of: try store.content("m@2")).tensors[0].tensor.data, versions[1].tensors[0].tensor.data)
    }

    /// A delta object whose metadata names a base that is itself a delta is refused:
    /// the reader never follows a chain, whatever a file claims.
    func testADeltaWhoseBaseIsADeltaIsRefused() throws {
        let (store, _) = try Store.create(in: work)
        let versions = run([0, 1e-4, 1e-4])
        for checkpoint in versions { _ = try store.save(SaveRequest(checkpoint: checkpoint, model: "m")) }
        let second = try entry(store, "m@2", "w"), third = try entry(store, "m@3", "w")
        XCTAssertNotNil(try store.objects.deltaBase(of: third.object))
        // Rewrite m@3's object as a delta against m@2's (a delta): a chain of two.
        let xor = ObjectStore.xor(versions[2].tensors[0].tensor.data, versions[1].tensors[0].tensor.data)
        let url = store.objects.url(for: third.object)
        let writer = try ContainerWriter(destination: url)
        try writer.add(NamedTensor(name: "tensor", tensor: try Tensor(dtype: .f32, shape: [256, 256], data: xor)))
        try writer.setMetadata(.object(["ckpt.delta": .object(["base": .string(second.object), "operation": .string("xor")])]))
        try writer.finish()
        XCTAssertThrowsError(try store.checkpoint(of: try store.content("m@3"))) { error in
            XCTAssertTrue("\(error)".contains("itself a delta"), "\(error)")
        }
    }
}
