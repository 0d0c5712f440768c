@testable import Catalog
import Foundation
import Format
import XCTest

/// REF forms: name@N, name@latest, name, a tag, a hash prefix; ambiguous prefixes are
/// refused with the candidates listed.
final class CatalogReferenceTests: CatalogTestCase {
    func testEveryReferenceFormResolves() throws {
        let (store, _) = try Store.create(in: work)
        let one = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 1), model: "mlp", tags: ["baseline"])).version
        let two = try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 2), model: "mlp")).version
        XCTAssertEqual(one.reference, "mlp@1")
        XCTAssertEqual(two.reference, "mlp@2")
        XCTAssertEqual(try store.resolve("mlp@1").id, one.id)
        XCTAssertEqual(try store.resolve("mlp@2").id, two.id)
        XCTAssertEqual(try store.resolve("mlp@latest").id, two.id)
        XCTAssertEqual(try store.resolve("mlp").id, two.id)
        XCTAssertEqual(try store.resolve("baseline").id, one.id)
        XCTAssertEqual(try store.resolve(String(one.hash.prefix(10))).id, one.id)
        XCTAssertEqual(try store.resolve(one.hash.uppercased()).id, one.id)
        XCTAssertEqual(one.hash.count, 64)

        assertCatalogError(try store.resolve("mlp@3"), .noSuchVersion(model: "mlp", number: 3, existing: [1, 2]))
        assertCatalogError(try store.resolve("mpl@1"), .noSuchModel("mpl", suggestion: "mlp"))
        assertCatalogError(try store.resolve("nothing"), .noSuchReference("nothing", suggestion: nil))
        assertCatalogError(try store.resolve("mlp@x"), .malformedReference("mlp@x", problem: .badSelector))
        assertCatalogError(try store.resolve("@3"), .malformedReference("@3", problem: .noModel))
        assertCatalogError(try store.tag("mlp@2", as: "baseline"), .tagTaken(tag: "baseline", holder: "mlp@1"))
        assertCatalogError(try store.tag("mlp@2", as: "beef"), .invalidName(kind: .tag, name: "beef", rule: .allHexTag))
        assertCatalogError(try store.untag("nope"), .noSuchTag("nope"))
        assertCatalogError(try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "a@b")),
                           .invalidName(kind: .model, name: "a@b", rule: .forbiddenCharacter))
        assertCatalogError(try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "x", tags: ["t", "t"])),
                           .tagGivenTwice("t"))
        assertCatalogError(try store.history(model: "none"), .noSuchModel("none", suggestion: nil))
        try store.tag("mlp@2", as: "baseline", force: true)
        XCTAssertEqual(try store.resolve("baseline").id, two.id)
    }

    func testAnAmbiguousHashPrefixListsTheCandidates() throws {
        let (store, _) = try Store.create(in: work)
        let checkpoint = Checkpoint(tensors: [NamedTensor(name: "w", tensor: try Tensor(dtype: .f32, shape: [1], data: Data(count: 4)))])
        let time = Date(timeIntervalSince1970: 1_700_000_000)
        let probe = try store.save(SaveRequest(checkpoint: checkpoint, model: "probe", time: time)).version
        // Find two models whose first version's hash shares 4 digits (a version's hash is a
        // function of content, model, number, parents, time and message), then save them.
        var seen: [String: Int] = [:]
        var pair: (Int, Int)?
        for k in 1...100_000 where pair == nil {
            let hash = Digest.version(content: probe.content, model: "m\(k)", number: 1, parents: [],
                                      createdMilliseconds: probe.createdMilliseconds, message: "")
            if let earlier = seen[String(hash.prefix(4))] { pair = (earlier, k) }
            seen[String(hash.prefix(4))] = k
        }
        let (first, second) = try XCTUnwrap(pair)
        let a = try store.save(SaveRequest(checkpoint: checkpoint, model: "m\(first)", time: time)).version
        let b = try store.save(SaveRequest(checkpoint: checkpoint, model: "m\(second)", time: time)).version
        let prefix = String(a.hash.prefix(4))
        XCTAssertEqual(String(b.hash.prefix(4)), prefix)
        // Newest first, as every listing of versions.
        assertCatalogError(try store.resolve(prefix), .ambiguousPrefix(prefix, candidates: [
            .init(shortHash: b.shortHash, reference: b.reference), .init(shortHash: a.shortHash, reference: a.reference)], total: 2))
        let cli = try ckpt("show", prefix, expect: 1)
        XCTAssertTrue(cli.stderr.contains("is ambiguous"), cli.stderr)
        // One more digit where they differ settles it.
        let common = zip(a.hash, b.hash).prefix { $0 == $1 }.count
        XCTAssertEqual(try store.resolve(String(a.hash.prefix(common + 1))).id, a.id)
    }
}
