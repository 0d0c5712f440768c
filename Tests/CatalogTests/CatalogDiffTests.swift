import Catalog
import Foundation
import Format
import XCTest

/// diff measures a change as Format's TensorDifference does (one definition), numbers
/// checked against values worked out by hand.
final class CatalogDiffTests: CatalogTestCase {
    private func f32(_ values: [Float]) throws -> Tensor {
        var data = Data()
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return try Tensor(dtype: .f32, shape: [values.count], data: data)
    }

    private func f16(_ bits: [UInt16]) throws -> Tensor {
        var data = Data()
        for value in bits { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        return try Tensor(dtype: .f16, shape: [bits.count], data: data)
    }

    func testRelativeChangeIsTensorDifferencesIncludingNaN() throws {
        let (store, _) = try Store.create(in: work)
        let before = [try f32([3, 4, 0, 1]), try f32([1, .nan, 2]), try f16([0x3C00, 0x4000]), try f32([1, .nan])]   // f16: 1, 2
        let after = [try f32([3, 4, 0, 1 + 5]), try f32([1, 2, 2]), try f16([0x3C00, 0x4200]), try f32([2, .nan])]  // f16: 1, 3
        let names = ["plain", "nan", "half", "nan kept"]
        let a = try store.save(SaveRequest(checkpoint: Checkpoint(tensors: zip(names, before).map { NamedTensor(name: $0, tensor: $1) }), model: "d")).version
        let b = try store.save(SaveRequest(checkpoint: Checkpoint(tensors: zip(names, after).map { NamedTensor(name: $0, tensor: $1) }), model: "d")).version
        let diff = try store.diff(store.content(a.reference), store.content(b.reference))
        // c64 has no arithmetic: only its differing elements are counted.
        let complexA = try Tensor(dtype: .c64, shape: [2], data: Data(count: 16))
        var bytes = Data(count: 16)
        bytes[9] = 1
        let complexB = try Tensor(dtype: .c64, shape: [2], data: bytes)
        let ca = try store.save(SaveRequest(checkpoint: Checkpoint(tensors: [NamedTensor(name: "z", tensor: complexA)]), model: "c")).version
        let cb = try store.save(SaveRequest(checkpoint: Checkpoint(tensors: [NamedTensor(name: "z", tensor: complexB)]), model: "c")).version
        let complex = try store.diff(store.content(ca.reference), store.content(cb.reference)).tensors[0]
        XCTAssertEqual(complex.differingElements, 1)
        XCTAssertNil(complex.relativeNorm)
        let byName = Dictionary(uniqueKeysWithValues: diff.tensors.map { ($0.name, $0) })

        // ||b - a|| = 5, ||a|| = sqrt(9 + 16 + 1) = sqrt(26); max |b - a| = 5.
        XCTAssertEqual(byName["plain"]?.differingElements, 1)
        XCTAssertEqual(try XCTUnwrap(byName["plain"]?.maxAbsDifference), 5)
        XCTAssertEqual(try XCTUnwrap(byName["plain"]?.relativeNorm), 5 / 26.0.squareRoot(), accuracy: 1e-12)
        // f16 1, 2 -> 1, 3: max 1, relative 1 / sqrt(5).
        XCTAssertEqual(try XCTUnwrap(byName["half"]?.maxAbsDifference), 1)
        XCTAssertEqual(try XCTUnwrap(byName["half"]?.relativeNorm), 1 / 5.0.squareRoot(), accuracy: 1e-12)
        // A NaN that became a number makes the change undefined; the element is still counted.
        XCTAssertEqual(byName["nan"]?.differingElements, 1)
        XCTAssertNil(byName["nan"]?.relativeNorm)
        XCTAssertNil(byName["nan"]?.maxAbsDifference)
        // A NaN that stays NaN is no change: 1 -> 2 alone, over ||a|| = 1 (the finite part).
        XCTAssertEqual(byName["nan kept"]?.differingElements, 1)
        XCTAssertEqual(byName["nan kept"]?.maxAbsDifference, 1)
        XCTAssertEqual(byName["nan kept"]?.relativeNorm, 1)
        for k in before.indices {
            let one = try XCTUnwrap(TensorDifference.compare(before[k], after[k]))
            XCTAssertEqual(byName[names[k]]?.relativeNorm, one.relative, names[k])
            XCTAssertEqual(byName[names[k]]?.maxAbsDifference, one.maxAbs, names[k])
            XCTAssertEqual(byName[names[k]]?.differingElements, one.differingElements, names[k])
        }
    }
}
