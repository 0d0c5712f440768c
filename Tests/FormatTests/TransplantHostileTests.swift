import Foundation
import XCTest
@testable import Format

/// Transplant metadata is read back from a checkpoint's file: hostile numbers and shapes in
/// it are refused (or ignored where informative) with typed reasons, never a trap.
final class TransplantHostileTests: XCTestCase {
    func reason(_ body: () throws -> Void) -> FormatError.Reason? {
        do { try body(); return nil } catch { return (error as? FormatError)?.reason.root ?? .unclassified("\(error)") }
    }

    func graft(modules: [JSONValue]) -> JSONValue {
        .object([TransplantProvenance.metadataKey: .object(["version": .number(1), "grafts": .array([
            .object(["source": .string("a.pt"), "source_sha256": .string("00"), "modules": .array(modules)]),
        ])])])
    }

    func testHugeNumbersInRecordedShapesDoNotTrap() throws {
        let mismatch: JSONValue = .object(["path": .string("w"), "source_shape": .array([.number(1e300), .number(-5), .number(2)])])
        let module: JSONValue = .object(["source": .string("0"), "target": .string("1"), "skipped": .array([mismatch])])
        let grafts = try TransplantProvenance.all(in: graft(modules: [module]))
        XCTAssertEqual(grafts.first?.modules.first?.skipped.first?.sourceShape, [2], "sizes outside 0...2^62 are dropped from the informative shape")
        let tensor: JSONValue = .object(["dtype": .string("f32"), "shape": .array([.number(1e300)]), "base64": .string("")])
        let probed: JSONValue = .object(["source": .string("0"), "target": .string("1"), "probe": .object(["input": tensor, "output": tensor])])
        if case .invalidValue("probe tensor shape", _, _) = reason({ _ = try TransplantProvenance.all(in: graft(modules: [probed])) }) {} else {
            XCTFail("a probe tensor of 1e300 elements is accepted")
        }
    }

    func testMissingFieldsAndBadSelectionsAreTyped() throws {
        XCTAssertEqual(reason { _ = try TransplantProvenance.all(in: graft(modules: [.object(["target": .string("1")])])) }, .missingField("modules[].source"))
        XCTAssertEqual(reason { _ = try TransplantSelection.parseRule("=x") }, .invalidValue(field: "--map", value: "'=x'", expected: "FROM=TO (e.g. module.=)"))
        let tree = try ArchitectureDocument.parse(Data(#"{"version": 1, "module": {"type": "Sequential", "children": [{"type": "ReLU"}]}}"#.utf8)).tree()
        XCTAssertEqual(reason { _ = try TransplantSelection.resolve("7", in: tree) }, .notFound(kind: "module for the selection", name: "7"))
        XCTAssertEqual(reason { _ = try TransplantSelection.resolve("0,", in: tree) },
                       .invalidValue(field: "selection", value: "'0,'", expected: "a comma-separated list without empty items"))
        XCTAssertEqual(reason { _ = try TransplantSelection.resolve("1:1", in: tree) }, .invalidValue(field: "selection", value: "'1:1'", expected: "a range that is not empty"))
    }
}
