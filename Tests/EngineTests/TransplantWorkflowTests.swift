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
