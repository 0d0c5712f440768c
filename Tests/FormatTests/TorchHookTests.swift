@testable import Format
import Foundation
import XCTest

/// Whole-module pickles with hooks, a pruned Linear, a reflect-padded Conv2d and a user
/// class, written by real torch (fixtures/torch-hooks/make.py): each Opaque module with the
/// reason torch's own objects give, never a plain layer.
final class TorchHookTests: XCTestCase {
    static func url(_ name: String) -> URL { TorchTests.url("torch-hooks/\(name)") }

    /// expected.json: per file, its state_dict keys with shapes and the Opaque modules.
    func expected() throws -> [String: JSONValue] {
        guard case .object(let files) = try JSONValue.parse(Data(contentsOf: Self.url("expected.json"))) else {
            throw FormatError("expected.json is not an object")
        }
        return files
    }

    func opaqueModules(_ document: ArchitectureDocument) throws -> [(path: String, className: String, reason: OpaqueReason?)] {
        try document.tree().allModules().compactMap { module in
            guard case .opaque(let config) = module.layer else { return nil }
            return (module.path, config.className, config.reason)
        }
    }

    func testEveryOpaqueModuleHasTorchsReason() throws {
        for (file, entry) in try expected() {
            let checkpoint = try TorchFile.read(contentsOf: Self.url(file))
            let document = try XCTUnwrap(checkpoint.architecture?.modules, file)
            guard case .object(let keys)? = entry["keys"], case .array(let opaque)? = entry["opaque"] else { return XCTFail(file) }
            XCTAssertEqual(Set(checkpoint.allNames), Set(keys.keys), file)
            for named in checkpoint.tensors {
                guard case .array(let shape)? = keys[named.name] else { continue }
                XCTAssertEqual(named.tensor.shape, shape.map { if case .number(let n) = $0 { return Int(n) } else { return -1 } }, "\(file) \(named.name)")
            }
            let found = try opaqueModules(document)
            XCTAssertEqual(found.map(\.path), opaque.map { $0["path"]?.stringValue ?? "?" }, file)
            for (module, truth) in zip(found, opaque) {
                XCTAssertEqual(module.className, truth["class"]?.stringValue, "\(file) \(module.path)")
                let reason = try OpaqueReason.parse(try XCTUnwrap(truth["reason"]), context: "expected.json")
                XCTAssertEqual(module.reason, reason, "\(file) \(module.path)")
            }
            // The reasons survive the stored document's text.
            XCTAssertEqual(try ArchitectureDocument.parse(document.serialized()), document, file)
        }
    }

    func testAHookedLinearKeepsItsTensorsAndSettings() throws {
        let document = try XCTUnwrap(TorchFile.read(contentsOf: Self.url("child_hook.pt")).architecture?.modules)
        XCTAssertEqual(document.root.layer, .sequential)
        XCTAssertEqual(document.root.children[0].layer, .linear(LinearConfig(inFeatures: 6, outFeatures: 5)))
        guard case .opaque(let hooked) = document.root.children[2].layer else { return XCTFail("\(document.root.children[2].layer)") }
        XCTAssertEqual(hooked.tensors.map(\.name), ["weight", "bias"])
        XCTAssertEqual(hooked.config?["in_features"], .number(5))
        XCTAssertEqual(hooked.reason, .hooks([HookCount(kind: .forward, count: 1)]))
    }

    func testTheSameNetworkWithoutHooksIsPlainLayers() throws {
        let document = try XCTUnwrap(TorchFile.read(contentsOf: Self.url("plain.pt")).architecture?.modules)
        XCTAssertEqual(try opaqueModules(document).count, 0)
        XCTAssertEqual(document.root.children.map(\.layer.type.rawValue), ["Linear", "ReLU", "Linear"])
    }

    func testReasonsRoundTripAndADocumentWithoutOneStillParses() throws {
        let reasons: [OpaqueReason] = [
            .unknownClass(name: "__main__.Gain"), .unsupportedSetting(name: "padding_mode", value: "'reflect'"),
            .parametrization(method: "pruning", tensors: ["weight_orig", "weight_mask"]),
            .hooks([HookCount(kind: .forwardPre, count: 2), HookCount(kind: .forward, count: 1)]),
            .unreadableAttributes(names: ["in_features"]), .unexpectedTensors(names: ["w"]), .unexpectedChildren(names: ["inner"]),
            .notAModule,
        ]
        for reason in reasons {
            let document = ArchitectureDocument(root: ModuleNode(layer: .opaque(OpaqueConfig(className: "m.X", reason: reason))))
            XCTAssertEqual(try ArchitectureDocument.parse(document.serialized()), document, reason.kind)
        }
        let old = try ArchitectureDocument.parse(Data(#"{"version": 1, "module": {"type": "Opaque", "class": "m.X"}}"#.utf8))
        XCTAssertEqual(old.root.layer, .opaque(OpaqueConfig(className: "m.X")))
    }

    func testMalformedReasonsAreRefused() {
        let bad = [
            #"{"kind": "gremlins"}"#, #"{"kind": "hooks", "hooks": []}"#, #"{"kind": "hooks", "hooks": [{"kind": "backward", "count": 1}]}"#,
            #"{"kind": "hooks", "hooks": [{"kind": "forward", "count": 0}]}"#,
            #"{"kind": "hooks", "hooks": [{"kind": "forward", "count": 1}, {"kind": "forward", "count": 1}]}"#,
            #"{"kind": "unknown_class", "class": "x", "extra": 1}"#, #"{"kind": "unexpected_tensors", "names": [1]}"#, #""hooks""#,
        ]
        for reason in bad {
            let text = #"{"version": 1, "module": {"type": "Opaque", "class": "m.X", "reason": \#(reason)}}"#
            XCTAssertThrowsError(try ArchitectureDocument.parse(Data(text.utf8)), reason)
        }
        let many = "[" + Array(repeating: #""n""#, count: OpaqueReason.maxNames + 1).joined(separator: ",") + "]"
        let text = #"{"version": 1, "module": {"type": "Opaque", "class": "m.X", "reason": {"kind": "unexpected_tensors", "names": \#(many)}}}"#
        XCTAssertThrowsError(try ArchitectureDocument.parse(Data(text.utf8)))
    }
}
