@testable import Engine
import Format
import Foundation
import XCTest

/// Paths the small fixtures do not reach: threaded products, convolutions spread over
/// samples, split element-wise work, and the vectorised exponential.
final class KernelTests: XCTestCase {
    /// LeNet on 64 samples (32 copies of the fixture's two) takes the threaded conv path and
    /// must still give PyTorch's numbers for every copy.
    func testLargeBatchConvolutionMatchesPyTorch() throws {
        let checkpoint = try Fixtures.imported(weights: "torch/lenet/model.safetensors", arch: try Fixtures.document("lenet"))
        let x = try Fixtures.floats(try Fixtures.npy("torch/lenet/x.npy"))
        let y = try Fixtures.floats(try Fixtures.npy("torch/lenet/y.npy"))
        let tiled = try Fixtures.tensor([64, 1, 28, 28], (0 ..< 32).flatMap { _ in x })
        let output = try Network(checkpoint: checkpoint).run(tiled)
        try assertClose(output, try Fixtures.tensor([64, 10], (0 ..< 32).flatMap { _ in y }), rtol: 1e-5, atol: 1e-6)
    }

    /// A Linear large enough for several BLAS threads against a plain double-precision loop.
    func testThreadedLinearAgainstAPlainLoop() throws {
        let (rows, inFeatures, outFeatures) = (40, 500, 300)
        let weight = (0 ..< outFeatures * inFeatures).map { Float(($0 * 7919) % 201 - 100) / 1000 }
        let bias = (0 ..< outFeatures).map { Float($0 % 13) / 10 - 0.6 }
        let x = (0 ..< rows * inFeatures).map { Float(($0 * 104_729) % 97 - 48) / 50 }
        let document = ArchitectureDocument(root: .sequential("", [.linear(LinearConfig(inFeatures: inFeatures, outFeatures: outFeatures)),
                                                                    .activation(.relu)]))
        let checkpoint = try attachArchitecture(document, to: Checkpoint(tensors: [
            NamedTensor(name: "0.weight", tensor: try Fixtures.tensor([outFeatures, inFeatures], weight)),
            NamedTensor(name: "0.bias", tensor: try Fixtures.tensor([outFeatures], bias)),
        ]))
        let output = try Fixtures.floats(try Network(checkpoint: checkpoint).run(try Fixtures.tensor([rows, inFeatures], x)))
        var expected = [Float]()
        for r in 0 ..< rows {
            for o in 0 ..< outFeatures {
                var sum = Double(bias[o])
                for i in 0 ..< inFeatures { sum += Double(weight[o * inFeatures + i]) * Double(x[r * inFeatures + i]) }
                expected.append(Float(max(sum, 0)))
            }
        }
        try assertClose(try Fixtures.tensor([rows, outFeatures], output), try Fixtures.tensor([rows, outFeatures], expected), rtol: 1e-5, atol: 1e-5)
    }

    func testFastExpStaysWithinTwoUlpOfLibm() {
        var x: Float = -87
        var worst: Float = 0
        while x < 88 {
            let exact = Float(Foundation.exp(Double(x)))
            worst = max(worst, abs(fastExp(x) - exact) / exact)
            let lanes = fastExp(SIMD8<Float>(repeating: x))
            XCTAssertEqual(lanes[3], fastExp(x))
            x += 0.0137
        }
        XCTAssertLessThan(worst, 2.5e-7)
        XCTAssertTrue(fastExp(Float.nan).isNaN || fastExp(Float.nan) >= 0) // no trap
    }

    func testSigmoidOfLargeMagnitudes() {
        var values: [Float] = [-200, -90, -30, -1, 0, 1, 30, 90, 200, -5, 5, 0.5, -0.5, 3, -3, 7, 12]
        let count = values.count
        values.withUnsafeMutableBufferPointer { buffer in
            CPUElementwise.apply(.sigmoid, x: buffer.baseAddress!, y: buffer.baseAddress!, count: count)
        }
        let inputs: [Double] = [-200, -90, -30, -1, 0, 1, 30, 90, 200, -5, 5, 0.5, -0.5, 3, -3, 7, 12]
        for (value, input) in zip(values, inputs) {
            XCTAssertEqual(Double(value), 1 / (1 + Foundation.exp(-input)), accuracy: 1e-7 + 1e-6 * abs(Double(value)), "\(input)")
        }
    }

    func testPlanFusesActivationsAndViews() throws {
        let checkpoint = try Fixtures.imported(weights: "torch/lenet/model.safetensors", arch: try Fixtures.document("lenet"))
        let plan = try Network(checkpoint: checkpoint).plan(inputShape: [1, 1, 28, 28])
        // conv+sigmoid, pool, conv+sigmoid, pool, (flatten is a view), linear+sigmoid, linear+sigmoid, linear
        XCTAssertEqual(plan.kernelCount, 7)
        XCTAssertEqual(plan.outputShape, [1, 10])
    }
}
