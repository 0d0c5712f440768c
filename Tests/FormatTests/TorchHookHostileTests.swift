@testable import Format
import Foundation
import XCTest

/// Hand-made whole-module pickles whose hooks or tensors are unusual: the module stays
/// Opaque with a reason, and the document ckpt writes of it parses again.
final class TorchHookHostileTests: XCTestCase {
    /// A Linear(2, 2) module whose `__dict__` gets `extra` after its ordinary attributes.
    func linear(_ extra: (inout PickleScript) -> Void) throws -> ArchitectureDocument {
        var p = PickleScript()
        p.global("torch.nn.modules.linear", "Linear"); p.emptyTuple(); p.newObj()
        p.emptyDict(); p.mark()
        p.string("training"); p.bool(false)
        p.string("_parameters"); p.emptyDict(); p.mark(); p.string("weight")
        p.floatTensor(key: "0", numel: 4, size: [2, 2], stride: [2, 1]); p.setItems()
        p.string("_buffers"); p.emptyDict()
        p.string("_modules"); p.emptyDict()
        p.string("in_features"); p.int(2)
        p.string("out_features"); p.int(2)
        extra(&p)
        p.setItems(); p.build()
        p.stop()
        let file = try HostileInteropTests.torchZip(p, storages: [("0", HostileInteropTests.floats([1, 2, 3, 4]))])
        let document = try XCTUnwrap(TorchFile.read(data: file).architecture?.modules)
        XCTAssertEqual(try ArchitectureDocument.parse(document.serialized()), document)
        return document
    }

    func testPlainLinearIsALayer() throws {
        XCTAssertEqual(try linear { _ in }.root.layer, .linear(LinearConfig(inFeatures: 2, outFeatures: 2, bias: false)))
    }

    func testEveryHookIsCountedAndAnUnreadableHookTableCountsAsOne() throws {
        let document = try linear { p in
            p.string("_forward_pre_hooks"); p.orderedDict(); p.mark()
            for id in 0 ..< 3 { p.int(id); p.global("__main__", "hook\(id)") }
            p.setItems()
            p.string("_forward_hooks"); p.int(7) // not the OrderedDict torch writes
            p.string("_backward_hooks"); p.orderedDict(); p.mark(); p.int(9); p.global("__main__", "grad"); p.setItems()
        }
        guard case .opaque(let config) = document.root.layer else { return XCTFail("\(document.root.layer)") }
        XCTAssertEqual(config.reason, .hooks([HookCount(kind: .forwardPre, count: 3), HookCount(kind: .forward, count: 1)]))
    }

    func testEmptyOrNoneHookTablesAreNoHooks() throws {
        let document = try linear { p in
            p.string("_forward_pre_hooks"); p.orderedDict()
            p.string("_forward_hooks"); p.none()
        }
        XCTAssertEqual(document.root.layer.type, .linear)
    }

    func testAPruningPreHookBesideAnotherHookIsReportedAsTheHook() throws {
        let document = try linear { p in
            p.string("_forward_pre_hooks"); p.orderedDict(); p.mark()
            p.int(0); p.global("torch.nn.utils.prune", "L1Unstructured"); p.emptyTuple(); p.newObj()
            p.emptyDict(); p.mark(); p.string("_tensor_name"); p.string("weight"); p.setItems(); p.build()
            p.int(1); p.global("__main__", "mine")
            p.setItems()
        }
        guard case .opaque(let config) = document.root.layer else { return XCTFail("\(document.root.layer)") }
        XCTAssertEqual(config.reason, .hooks([HookCount(kind: .forwardPre, count: 1)]))
    }

    func testAReasonListsAtMostItsBoundOfNames() throws {
        var p = PickleScript()
        p.global("torch.nn.modules.container", "Sequential"); p.emptyTuple(); p.newObj()
        p.emptyDict(); p.mark()
        p.string("_parameters"); p.emptyDict(); p.mark()
        for index in 0 ..< OpaqueReason.maxNames + 76 {
            p.string("p\(index)"); p.floatTensor(key: "0", numel: 1, size: [1], stride: [1])
        }
        p.setItems()
        p.string("_modules"); p.emptyDict()
        p.setItems(); p.build()
        p.stop()
        let file = try HostileInteropTests.torchZip(p, storages: [("0", HostileInteropTests.floats([5]))])
        let document = try XCTUnwrap(TorchFile.read(data: file).architecture?.modules)
        guard case .opaque(let config) = document.root.layer, case .unexpectedTensors(let names)? = config.reason else {
            return XCTFail("\(document.root.layer)")
        }
        XCTAssertEqual(names.count, OpaqueReason.maxNames)
        XCTAssertEqual(config.tensors.count, OpaqueReason.maxNames + 76) // every tensor is still kept
        XCTAssertEqual(try ArchitectureDocument.parse(document.serialized()), document)
    }
}
