@testable import Engine
import Format
import Foundation
import XCTest

/// Absurd documents, built in code (so no parse-time limit stands in front of the plan
/// builder): every size the plan computes is checked and every buffer is bounded by the
/// memory budget, so each is a typed error, never a trap or a terabyte allocation.
final class PlanLimitTests: XCTestCase {
    /// One Conv2d(1 -> 1, kernel 1) with `padding`, and its weights.
    private func conv(padding: Int, kernel: Int = 1, stride: Int = 1, dilation: Int = 1) throws -> (ArchitectureDocument, Checkpoint) {
        let config = Conv2dConfig(inChannels: 1, outChannels: 1, kernelSize: Pair(kernel), stride: Pair(stride),
                                  padding: Pair(padding), dilation: Pair(dilation), bias: false)
        let document = ArchitectureDocument(root: ModuleNode(layer: .sequential, children: [ModuleNode(name: "0", layer: .conv2d(config))]))
        let weight = try FloatConversion.tensor(shape: [1, 1, kernel, kernel], values: [Float](repeating: 0.5, count: kernel * kernel))
        return (document, Checkpoint(tensors: [NamedTensor(name: "0.weight", tensor: weight)]))
    }

    /// An overflow refused as a typed error: the engine's own check, or the shape rules'
    /// element-count limit (Format) where that check comes first.
    private func isTypedOverflow(_ error: Error) -> Bool {
        if case .arithmeticOverflow? = error as? EngineError { return true }
        switch (error as? FormatError)?.reason.root {
        case .arithmeticOverflow?, .limitExceeded?: return true
        default: return false
        }
    }

    private func input() throws -> Tensor { try FloatConversion.tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]) }

    /// Padding 10^6 on a 2x2 input: a 2,000,002² output plane, 16 TB of float32. The budget
    /// (1 GiB here) refuses it before anything is allocated, and gives back what it reserved.
    func testHugePaddingIsRefusedByTheBudget() throws {
        let (document, checkpoint) = try conv(padding: 1_000_000)
        let budget = MemoryBudget(limit: 1 << 30)
        let network = try Network(document: document, checkpoint: checkpoint, budget: budget)
        XCTAssertThrowsError(try network.run(try input())) { error in
            guard case let .allocationRefused(what, bytes, _, limit)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertEqual(bytes, 2_000_002 * 2_000_002 * 4)
            XCTAssertEqual(limit, 1 << 30)
            XCTAssertTrue(what.contains("module '0' (Conv2d)"), what)
        }
        XCTAssertEqual(budget.inUse, 0)
    }

    /// Padding 2^40: each side of the output is about 2^41, so the plane's element count
    /// (2^82) overflows Int; padding 2^62 overflows `2·padding` itself.
    func testPaddingWhoseSizesOverflowIsATypedError() throws {
        for padding in [1 << 40, 1 << 62, Int.max] {
            let (document, checkpoint) = try conv(padding: padding)
            let network = try Network(document: document, checkpoint: checkpoint, budget: MemoryBudget(limit: 1 << 30))
            XCTAssertThrowsError(try network.run(try input()), "padding \(padding)") { error in
                XCTAssertTrue(self.isTypedOverflow(error), "padding \(padding): \(error)")
            }
        }
    }

    /// Settings the shape rules would divide by or that make no window at all.
    func testNonPositiveWindowSettingsAreRefused() throws {
        for (stride, dilation, padding) in [(0, 1, 0), (1, 0, 0), (1, 1, -1)] {
            let (document, checkpoint) = try conv(padding: padding, stride: stride, dilation: dilation)
            let network = try Network(document: document, checkpoint: checkpoint)
            XCTAssertThrowsError(try network.run(try input())) { error in
                guard case let .unsupportedLayer(module, type, _)? = error as? EngineError else { return XCTFail("\(error)") }
                XCTAssertEqual(module, "0")
                XCTAssertEqual(type, "Conv2d")
            }
        }
    }

    /// A sane network within a small budget still runs, and its plan's reservation is held
    /// while the network lives and covers at least its buffers.
    func testASaneNetworkRunsWithinItsBudget() throws {
        let (document, checkpoint) = try conv(padding: 1)
        let budget = MemoryBudget(limit: 1 << 20)
        let network = try Network(document: document, checkpoint: checkpoint, budget: budget)
        let output = try network.run(try input())
        XCTAssertEqual(output.shape, [1, 1, 4, 4])
        // Ground truth: a 1x1 kernel of 0.5 over the zero-padded input.
        XCTAssertEqual(try FloatConversion.floats(output), [0, 0, 0, 0, 0, 0.5, 1, 0, 0, 1.5, 2, 0, 0, 0, 0, 0])
        XCTAssertGreaterThanOrEqual(budget.inUse, UInt64((4 + 16) * 4))
    }

    /// An input shape whose byte count overflows is refused before anything is allocated.
    func testInputWhoseByteCountOverflowsIsATypedError() throws {
        let document = ArchitectureDocument(root: ModuleNode(layer: .sequential, children: [
            ModuleNode(name: "0", layer: .flatten(startDim: 1, endDim: -1)),
        ]))
        let network = try Network(document: document, checkpoint: Checkpoint(tensors: []))
        // A rank-1 input of 2^61 floats: its byte count (2^63) overflows before any allocation.
        let plan = Result { try network.plan(inputShape: [1 << 61]) }
        guard case .failure(let error) = plan, case .arithmeticOverflow? = error as? EngineError else { return XCTFail("\(plan)") }
    }

    /// `ckpt new` on a document declaring a huge Linear: the sizes are checked and the budget
    /// refuses before anything is drawn.
    func testInitialisingAHugeLayerIsRefused() throws {
        let huge = ArchitectureDocument(root: ModuleNode(layer: .linear(LinearConfig(inFeatures: 1 << 20, outFeatures: 1 << 20))))
        let budget = MemoryBudget(limit: 1 << 30)
        XCTAssertThrowsError(try Initialization.checkpoint(for: huge, budget: budget)) { error in
            guard case let .allocationRefused(_, bytes, _, _)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertEqual(bytes, 4 << 40) // 2^40 floats of 4 bytes
        }
        XCTAssertEqual(budget.inUse, 0)
        let overflowing = ArchitectureDocument(root: ModuleNode(layer: .linear(LinearConfig(inFeatures: 1 << 40, outFeatures: 1 << 40))))
        XCTAssertThrowsError(try Initialization.checkpoint(for: overflowing, budget: budget)) { error in
            XCTAssertTrue(self.isTypedOverflow(error), "\(error)")
        }
    }
}
