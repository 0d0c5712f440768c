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

        XCTAssertThrowsError(try store.resolve("mlp@3")) { XCTAssertTrue("\($0)".contains("no version 3 (it has 1, 2)"), "\($0)") }
        XCTAssertThrowsError(try store.resolve("mpl@1")) { XCTAssertTrue("\($0)".contains("did you mean 'mlp'"), "\($0)") }
        XCTAssertThrowsError(try store.resolve("nothing")) { XCTAssertTrue("\($0)".contains("no version 'nothing'"), "\($0)") }
        XCTAssertThrowsError(try store.resolve("mlp@x")) { XCTAssertTrue("\($0)".contains("version number or 'latest'"), "\($0)") }
        XCTAssertThrowsError(try store.tag("mlp@2", as: "baseline")) { XCTAssertTrue("\($0)".contains("already names mlp@1"), "\($0)") }
        XCTAssertThrowsError(try store.tag("mlp@2", as: "beef")) { XCTAssertTrue("\($0)".contains("hex"), "\($0)") }
        XCTAssertThrowsError(try store.save(SaveRequest(checkpoint: SmallModel.checkpoint(seed: 3), model: "a@b")))
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
        XCTAssertThrowsError(try store.resolve(prefix)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("'\(prefix)' is ambiguous: 2 versions match"), message)
            XCTAssertTrue(message.contains("\(a.shortHash) (\(a.reference))"), message)
            XCTAssertTrue(message.contains("\(b.shortHash) (\(b.reference))"), message)
        }
        let cli = try ckpt("show", prefix, expect: 1)
        XCTAssertTrue(cli.stderr.contains("is ambiguous"), cli.stderr)
        // One more digit where they differ settles it.
        let common = zip(a.hash, b.hash).prefix { $0 == $1 }.count
        XCTAssertEqual(try store.resolve(String(a.hash.prefix(common + 1))).id, a.id)
    }
}
