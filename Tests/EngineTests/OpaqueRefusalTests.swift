import Engine
import Format
import Foundation
import XCTest

/// The engine refuses a network with Opaque modules listing every one with its reason, on
/// whole-module pickles written by real torch (fixtures/torch-hooks/make.py); the same
/// network without its hook runs and gives torch's output.
final class OpaqueRefusalTests: XCTestCase {
    func load(_ name: String) throws -> Checkpoint { try Importer.load(contentsOf: Fixtures.url("torch-hooks/\(name)")) }

    func refusal(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [OpaqueModule] {
        let checkpoint = try load(name)
        do {
            _ = try makeNetwork(for: checkpoint)
            XCTFail("\(name) ran", file: file, line: line)
            return []
        } catch let error as EngineError {
            guard case .opaqueModules(let modules) = error.root else {
                XCTFail("\(name): \(error)", file: file, line: line)
                return []
            }
            return modules
        }
    }

    func testAHookedChildIsRefusedWithTheHook() throws {
        XCTAssertEqual(try refusal("child_hook.pt"),
                       [OpaqueModule(path: "2", className: "torch.nn.modules.linear.Linear", reason: .hooks([HookCount(kind: .forward, count: 1)]))])
    }

    func testEveryOpaqueModuleIsListedNotJustTheFirst() throws {
        XCTAssertEqual(try refusal("root_prehook.pt"), [
            OpaqueModule(path: "", className: "torch.nn.modules.container.Sequential", reason: .hooks([HookCount(kind: .forwardPre, count: 1)])),
            OpaqueModule(path: "0", className: "torch.nn.modules.linear.Linear", reason: .hooks([HookCount(kind: .forward, count: 1)])),
        ])
        XCTAssertEqual(try refusal("mixed.pt").map(\.reason), [
            .unsupportedSetting(name: "padding_mode", value: "'reflect'"),
            .parametrization(method: "pruning", tensors: ["weight_orig", "weight_mask"]),
            .unknownClass(name: "__main__.Gain"),
        ])
    }

    func testProbesOfAHookedNetworkAreRefusedToo() throws {
        var checkpoint = try load("child_hook.pt")
        checkpoint.probes = [Probe(name: "torch", inputs: [try Fixtures.npy("torch-hooks/x.npy")],
                                   outputs: [try Fixtures.npy("torch-hooks/hooked_y.npy")], origin: .expected)]
        XCTAssertThrowsError(try verifyProbes(of: checkpoint)) { error in
            guard case .opaqueModules(let modules)? = (error as? EngineError)?.root else { return XCTFail("\(error)") }
            XCTAssertEqual(modules.map(\.path), ["2"])
        }
    }

    func testTheSameNetworkWithoutTheHookMatchesTorch() throws {
        let network = try makeNetwork(for: try load("plain.pt"))
        let y = try network.run([try Fixtures.npy("torch-hooks/x.npy")])
        try assertClose(try XCTUnwrap(y.first), try Fixtures.npy("torch-hooks/plain_y.npy"), rtol: 1e-5, atol: 1e-6)
        // The hooked file's torch output differs, so a rebuild that dropped the hook could not pass as it.
        XCTAssertFalse(try compareOutput(try XCTUnwrap(y.first), expected: try Fixtures.npy("torch-hooks/hooked_y.npy"), rtol: 1e-3, atol: 1e-3).passed)
    }

    func testBackwardAndStateDictHooksDoNotStopARun() throws {
        // They do not change a forward pass (spec/ARCH.md "Opaque"): torch computes plain_y.npy with them.
        let network = try makeNetwork(for: try load("backward_hook.pt"))
        let y = try network.run([try Fixtures.npy("torch-hooks/x.npy")])
        try assertClose(try XCTUnwrap(y.first), try Fixtures.npy("torch-hooks/plain_y.npy"), rtol: 1e-5, atol: 1e-6)
    }
}
