import Engine
import Format
import Foundation
import XCTest

/// The library half of `ckpt transplant`: planning, probes and provenance, without the binary.
final class TransplantWorkflowTests: XCTestCase {
    private func input(_ name: String, seed: UInt64, architecture: Bool = true) throws -> TransplantInput {
        var checkpoint = try Initialization.checkpoint(for: try Fixtures.document("mlp"), seed: seed)
        if !architecture { checkpoint.architecture = nil }
        return TransplantInput(name: name, checkpoint: checkpoint, hash: "\(name)-hash", hashOf: "file bytes")
    }

    func testMovedTensorsComeFromTheSourceAndTheRecordedProbeVerifies() throws {
        let a = try input("a", seed: 1), b = try input("b", seed: 2)
        let outcome = try TransplantWorkflow.transplant(a, into: b, TransplantRequest(layers: "0"))
        XCTAssertEqual(outcome.movedTensors, 2)
        XCTAssertEqual(outcome.checkpoint.tensor(named: "0.weight")?.data, a.checkpoint.tensor(named: "0.weight")?.data)
        XCTAssertEqual(outcome.checkpoint.tensor(named: "0.bias")?.data, a.checkpoint.tensor(named: "0.bias")?.data)
        XCTAssertEqual(outcome.checkpoint.tensor(named: "2.weight")?.data, b.checkpoint.tensor(named: "2.weight")?.data)
        XCTAssertEqual(outcome.provenance.sourceHash, "a-hash")
        XCTAssertEqual(outcome.provenance.modules.map(\.target), ["0"])
        let probe = try XCTUnwrap(outcome.provenance.modules[0].probe)
        // Ground truth for the probe: module 0 of the source, a plain Linear, computed here by hand.
        let x = try Fixtures.floats(probe.input), w = try Fixtures.floats(a.checkpoint.tensor(named: "0.weight")!)
        let bias = try Fixtures.floats(a.checkpoint.tensor(named: "0.bias")!)
        let y = try Fixtures.floats(probe.output)
        let inFeatures = probe.input.shape[1], outFeatures = probe.output.shape[1]
        var worst: Double = 0
        for r in 0 ..< probe.input.shape[0] {
            for o in 0 ..< outFeatures {
                var sum = Double(bias[o])
                for i in 0 ..< inFeatures { sum += Double(x[r * inFeatures + i]) * Double(w[o * inFeatures + i]) }
                worst = max(worst, abs(sum - Double(y[r * outFeatures + o])))
            }
        }
        XCTAssertLessThan(worst, 1e-5)
        // verify reruns it alone inside the result: the same output bit for bit.
        XCTAssertEqual(try verifyTransplants(of: outcome.checkpoint).map(\.passed), [true])
    }

    /// A moved tensor changed after the transplant: the verifier reruns the module alone and
    /// reports the difference, typed, as a problem of the checkpoint.
    func testAChangedTransplantedModuleFailsVerification() throws {
        let outcome = try TransplantWorkflow.transplant(try input("a", seed: 1), into: try input("b", seed: 2), TransplantRequest(layers: "0"))
        var changed = outcome.checkpoint
        let index = changed.tensors.firstIndex { $0.name == "0.bias" }!
        var bias = try Fixtures.floats(changed.tensors[index].tensor)
        bias[0] += 0.5
        changed.tensors[index].tensor = try Fixtures.tensor(changed.tensors[index].tensor.shape, bias)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("transplant-\(UUID().uuidString).ckpt")
        defer { try? FileManager.default.removeItem(at: file) }
        try CheckpointFile.write(changed, to: file)
        let found = try CheckpointVerifier().verify(FileCheckpointSource.open(file))
        XCTAssertEqual(found.transplants.count, 1)
        guard case let .transplantFailed(source, sourceFile, target, problem)? = found.problems.first,
              case let .outputDiffers(maxAbs) = problem else { return XCTFail("\(found.problems)") }
        XCTAssertEqual([source, sourceFile, target], ["0", "a", "0"])
        XCTAssertEqual(maxAbs, 0.5, accuracy: 1e-6) // a bias shifts its output column by exactly that much
    }

    func testRefusalsAreTyped() throws {
        let a = try input("a", seed: 1), b = try input("b", seed: 2)
        XCTAssertThrowsError(try TransplantWorkflow.transplant(a, into: try input("c", seed: 3, architecture: false), TransplantRequest(layers: "0"))) {
            XCTAssertEqual($0 as? TransplantFailure, .destinationWithoutArchitecture(destination: "c"))
        }
        XCTAssertThrowsError(try TransplantWorkflow.transplant(a, into: b, TransplantRequest(layers: "0", to: "0,2"))) {
            XCTAssertEqual($0 as? TransplantFailure, .selectionCounts(sources: ["0"], targets: ["0", "2"]))
            XCTAssertEqual(($0 as? TransplantFailure)?.isUsage, true)
        }
        // Layer 0 (Linear 20 -> 256) into layer 2 (Linear 256 -> 10): every tensor mismatches.
        XCTAssertThrowsError(try TransplantWorkflow.transplant(a, into: b, TransplantRequest(layers: "0", to: "2"))) {
            guard case let .mismatches(_, _, mismatches)? = $0 as? TransplantFailure else { return XCTFail("\($0)") }
            XCTAssertFalse(mismatches.isEmpty)
        }
        XCTAssertThrowsError(try TransplantWorkflow.transplant(a, into: b, TransplantRequest(layers: "0", to: "2", skipMismatches: true))) {
            XCTAssertEqual($0 as? TransplantFailure, .nothingToMove(source: "a", destination: "b"))
        }
    }
}
