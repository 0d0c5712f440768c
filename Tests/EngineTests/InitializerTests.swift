import Engine
import Format
import Foundation
import XCTest

final class InitializerTests: XCTestCase {
    /// Random123's known-answer vectors for philox4x32_10.
    func testPhiloxKnownAnswers() {
        func check(_ counter: (UInt32, UInt32, UInt32, UInt32), _ key: (UInt32, UInt32), _ expected: [UInt32]) {
            let out = Philox4x32.block(counter: counter, key: key)
            XCTAssertEqual([out.0, out.1, out.2, out.3], expected)
        }
        check((0, 0, 0, 0), (0, 0), [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        check((.max, .max, .max, .max), (.max, .max), [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
        check((0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), (0xA409_3822, 0x299F_31D0),
              [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
    }

    func testPortableLogAgreesWithLibm() {
        var x = 0x1p-1030 // subnormal
        while x < 1e300 {
            XCTAssertEqual(PortableMath.log(x), Foundation.log(x), accuracy: abs(Foundation.log(x)) * 4e-16 + 1e-300, "\(x)")
            x *= 3.7
        }
    }

    private struct Reference: Decodable {
        struct Entry: Decodable {
            var name: String
            var `init`: String
            var shape: [Int]
            var f32_bits_first: [UInt32]
            var sum: Double
        }
        var seed: UInt64
        var log: [[Double]]
        var tensors: [Entry]
    }

    /// An independent pure-Python implementation (fixtures/torch/init/make_init_reference.py)
    /// must give the same bits: this is what makes `ckpt new` reproducible across machines.
    func testValuesEqualTheIndependentReferenceBitForBit() throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("torch/init/reference.json")))
        for pair in reference.log { XCTAssertEqual(PortableMath.log(pair[0]).bitPattern, pair[1].bitPattern, "log \(pair[0])") }
        let rules = try ["2.weight=normal(0, 0.02)", "2.bias=uniform(-0.5, 2)"].map(InitRule.init(parsing:))
        let checkpoint = try Initialization.checkpoint(for: try Fixtures.document("mlp"), rules: rules, seed: reference.seed)
        for entry in reference.tensors {
            let tensor = try XCTUnwrap(checkpoint.tensor(named: entry.name))
            XCTAssertEqual(tensor.shape, entry.shape)
            let values = try Fixtures.floats(tensor)
            XCTAssertEqual(values.prefix(entry.f32_bits_first.count).map(\.bitPattern), entry.f32_bits_first, entry.name)
            XCTAssertEqual(values.reduce(0.0) { $0 + Double($1) }, entry.sum, entry.name)
        }
    }

    func testSameSeedSameBytesOtherSeedOtherBytes() throws {
        let document = try Fixtures.document("lenet")
        let a = try Initialization.checkpoint(for: document, seed: 7)
        let b = try Initialization.checkpoint(for: document, seed: 7)
        let c = try Initialization.checkpoint(for: document, seed: 8)
        XCTAssertEqual(a.tensors.map(\.tensor.data), b.tensors.map(\.tensor.data))
        XCTAssertNotEqual(a.tensors[0].tensor.data, c.tensors[0].tensor.data)
        XCTAssertEqual(a.architecture, b.architecture)
    }

    /// Statistics of one initialiser on a large tensor.
    private func sample(_ rule: String, shape: [Int] = [512, 256, 3, 3], seed: UInt64 = 3) throws -> (values: [Float], mean: Double, std: Double) {
        let document = ArchitectureDocument(root: .sequential("", [.conv2d(Conv2dConfig(inChannels: shape[1], outChannels: shape[0],
                                                                                      kernelSize: Pair(shape[2], shape[3])))]))
        let checkpoint = try Initialization.checkpoint(for: document, rules: [try InitRule(parsing: rule)], seed: seed)
        let values = try Fixtures.floats(try XCTUnwrap(checkpoint.tensor(named: "0.weight")))
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
        return (values, mean, variance.squareRoot())
    }

    func testDistributions() throws {
        let fanIn = 256.0 * 9, fanOut = 512.0 * 9
        // uniform(a, b): bounds, mean (a+b)/2, std (b-a)/sqrt 12
        var s = try sample("*.weight=uniform(-0.5, 1.5)")
        XCTAssertTrue(s.values.allSatisfy { $0 >= -0.5 && $0 <= 1.5 })
        XCTAssertEqual(s.mean, 0.5, accuracy: 0.005)
        XCTAssertEqual(s.std, 2 / 12.0.squareRoot(), accuracy: 0.003)
        s = try sample("*.weight=normal(mean=1, std=0.02)")
        XCTAssertEqual(s.mean, 1, accuracy: 1e-4)
        XCTAssertEqual(s.std, 0.02, accuracy: 1e-4)
        // normal tails: about 0.27% beyond 3 sigma
        let beyond = Double(s.values.filter { abs(Double($0) - 1) > 0.06 }.count) / Double(s.values.count)
        XCTAssertEqual(beyond, 0.0027, accuracy: 0.0006)
        s = try sample("*.weight=constant(0.25)")
        XCTAssertTrue(s.values.allSatisfy { $0 == 0.25 })
        s = try sample("*.weight=zeros")
        XCTAssertTrue(s.values.allSatisfy { $0 == 0 })
        s = try sample("*.weight=ones")
        XCTAssertTrue(s.values.allSatisfy { $0 == 1 })
        // xavier_uniform: bound gain·sqrt(6/(fan_in+fan_out))
        let xavierBound = (6 / (fanIn + fanOut)).squareRoot()
        s = try sample("*.weight=xavier_uniform")
        XCTAssertTrue(s.values.allSatisfy { abs(Double($0)) <= xavierBound * (1 + 1e-6) })
        XCTAssertEqual(s.std, xavierBound / 3.0.squareRoot(), accuracy: xavierBound * 0.01)
        s = try sample("*.weight=xavier_normal(gain=2)")
        XCTAssertEqual(s.std, 2 * (2 / (fanIn + fanOut)).squareRoot(), accuracy: 2e-4)
        // kaiming: std gain/sqrt(fan); relu gain sqrt 2
        s = try sample("*.weight=kaiming_normal(mode=fan_out, nonlinearity=relu)")
        XCTAssertEqual(s.std, 2.0.squareRoot() / fanOut.squareRoot(), accuracy: 1e-4)
        XCTAssertEqual(s.mean, 0, accuracy: 1e-4)
        s = try sample("*.weight=kaiming_uniform(a=0, nonlinearity=relu)")
        let kaimingBound = 3.0.squareRoot() * 2.0.squareRoot() / fanIn.squareRoot()
        XCTAssertTrue(s.values.allSatisfy { abs(Double($0)) <= kaimingBound * (1 + 1e-6) })
        XCTAssertEqual(s.std, kaimingBound / 3.0.squareRoot(), accuracy: kaimingBound * 0.01)
    }

    /// PyTorch's defaults: Linear/Conv weights within ±1/sqrt(fan_in) (kaiming-uniform, a = sqrt 5),
    /// biases within ±1/sqrt(fan_in), norms at ones and zeros.
    func testPyTorchDefaults() throws {
        let document = try ArchitectureDocument.parse(Data(#"""
        {"version": 1, "input_shape": [2, 3, 8, 8], "module": {"type": "Sequential", "children": [
          {"type": "Conv2d", "out_channels": 64, "kernel_size": 3}, {"type": "BatchNorm2d"}, {"type": "Flatten"},
          {"type": "Linear", "out_features": 300}, {"type": "LayerNorm", "normalized_shape": 300}]}}
        """#.utf8))
        let checkpoint = try Initialization.checkpoint(for: document, seed: 11)
        func values(_ name: String) throws -> [Float] { try Fixtures.floats(try XCTUnwrap(checkpoint.tensor(named: name))) }
        let convBound = Float(1 / 27.0.squareRoot())
        XCTAssertTrue(try values("0.weight").allSatisfy { abs($0) <= convBound })
        XCTAssertGreaterThan(try values("0.weight").map(abs).max()!, convBound * 0.95)
        XCTAssertTrue(try values("0.bias").allSatisfy { abs($0) <= convBound })
        let linearBound = Float(1 / (64.0 * 36).squareRoot())
        XCTAssertTrue(try values("3.weight").allSatisfy { abs($0) <= linearBound })
        XCTAssertTrue(try values("3.bias").allSatisfy { abs($0) <= linearBound })
        XCTAssertEqual(Set(try values("1.weight")), [1])
        XCTAssertEqual(Set(try values("1.bias")), [0])
        XCTAssertEqual(Set(try values("1.running_mean")), [0])
        XCTAssertEqual(Set(try values("1.running_var")), [1])
        XCTAssertEqual(checkpoint.tensor(named: "1.num_batches_tracked")?.dtype, .i64)
        XCTAssertEqual(Set(try values("4.weight")), [1])
    }

    func testRulesByPatternLastMatchWins() throws {
        let rules = try ["*=zeros", "*.weight=ones", "2.*=constant(3)"].map(InitRule.init(parsing:))
        let checkpoint = try Initialization.checkpoint(for: try Fixtures.document("mlp"), rules: rules, seed: 0)
        XCTAssertEqual(Set(try Fixtures.floats(checkpoint.tensor(named: "0.weight")!)), [1])
        XCTAssertEqual(Set(try Fixtures.floats(checkpoint.tensor(named: "0.bias")!)), [0])
        XCTAssertEqual(Set(try Fixtures.floats(checkpoint.tensor(named: "2.weight")!)), [3])
    }

    func testRuleErrors() throws {
        func problem(_ text: String) -> InitRuleProblem? {
            do { _ = try InitRule(parsing: text); return nil } catch {
                guard case .invalidInitRule(_, let problem)? = error as? EngineError else { return nil }
                return problem
            }
        }
        XCTAssertEqual(problem("xavier_uniform"), .notPatternEqualsInitializer)
        if case .unknownInitializer(let name, _)? = problem("*=gaussian") { XCTAssertEqual(name, "gaussian") } else { XCTFail("gaussian") }
        XCTAssertEqual(problem("*=normal(0, 1, 2)"), .tooManyArguments)
        XCTAssertEqual(problem("*=normal(sigma=1)"), .unknownArgument(key: "sigma"))
        XCTAssertEqual(problem("*=normal(0, x)"), .notANumber(key: "std", value: "x"))
        XCTAssertEqual(problem("*=kaiming_normal(0, fan_sideways)"), .badMode)
        XCTAssertThrowsError(try Initialization.checkpoint(for: try Fixtures.document("mlp"), rules: [try InitRule(parsing: "*.bias=xavier_uniform")])) { error in
            XCTAssertEqual(error as? EngineError, .initializerNeedsAxes(initializer: "xavier_uniform", tensor: "0.bias", shape: [256]))
        }
        XCTAssertThrowsError(try Initialization.checkpoint(for: try Fixtures.document("mlp"), rules: [try InitRule(parsing: "fc.*=zeros")])) { error in
            XCTAssertEqual(error as? EngineError, .ruleMatchesNothing(rule: "fc.*=zeros", example: "0.weight"))
        }
        XCTAssertTrue(try InitRule(parsing: "0.block ?.*=zeros").matches("0.block 3.2.weight"))
        XCTAssertFalse(try InitRule(parsing: "*.bias=zeros").matches("0.bias.x"))
    }

    func testFreshCheckpointRuns() throws {
        let checkpoint = try Initialization.checkpoint(for: try Fixtures.document("hydra"), seed: 5)
        let output = try Network(checkpoint: checkpoint).run(try Fixtures.tensor([3, 4], [Float](repeating: 0.5, count: 12)))
        XCTAssertEqual(output.shape, [3, 1])
    }
}
