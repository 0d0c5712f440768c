import ArgumentParser
import Engine
import Foundation
import Format

/// `ckpt bench engine`: forward-pass timings of the CPU engine on the networks, with
/// the bare cblas_sgemm time of the same products from the same run. bench/engine/run.sh
/// prints them beside PyTorch and numpy.
struct BenchEngine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Time the CPU engine's forward pass (see bench/engine/run.sh).")

    @Option(help: "Seconds to spend measuring each case (after warm-up).")
    var seconds: Double = 1

    @Flag(help: "Print JSON for bench/engine/peers.py.")
    var json = false

    struct Case: Encodable {
        var name: String
        var network: String
        var batch: Int
        /// Median microseconds per forward pass.
        var microseconds: Double
        /// Bare cblas_sgemm microseconds for the same products (large batches only).
        var sgemmMicroseconds: Double?
        var gflops: Double
    }

    func run() throws {
        let mlp = try BenchEngine.mlp([20, 256, 10])
        let large = try BenchEngine.mlp([1024, 4096, 4096, 1024])
        let lenet = try ArchitectureDocument.parse(Data(BenchEngine.lenetDocument.utf8))
        let networks: [(String, ArchitectureDocument, [Int], [Int], [Int])] = [
            // name, document, feature shape, batches, sizes for the sgemm yardstick (empty: none)
            ("mlp 20-256-10", mlp, [20], [1, 64], []),
            ("mlp 1024-4096-4096-1024", large, [1024], [1, 256], [1024, 4096, 4096, 1024]),
            ("lenet", lenet, [1, 28, 28], [64], []),
        ]
        var cases: [Case] = []
        for (name, document, features, batches, sizes) in networks {
            let network = try Network(checkpoint: try Initialization.checkpoint(for: document, seed: 0))
            for batch in batches {
                let plan = try network.plan(inputShape: [batch] + features)
                let input = (0 ..< plan.inputCount).map { Float($0 % 17) * 0.05 - 0.4 }
                var output = [Float](repeating: 0, count: plan.outputCount)
                let forward = {
                    try input.withUnsafeBufferPointer { x in try output.withUnsafeMutableBufferPointer { y in try plan.run(x, into: y) } }
                }
                let microseconds: Double
                var sgemm: Double?
                if batch > 1, !sizes.isEmpty {
                    // The network and its bare products take turns, so that both see the same machine.
                    let products = zip(sizes, sizes.dropFirst()).map { (m: batch, n: $0.1, k: $0.0) }
                    let bare = BareGemm(products: products, threads: CPUBackend().threads)
                    var ours: [Double] = [], theirs: [Double] = []
                    for _ in 0 ..< 5 {
                        ours += try BenchEngine.samples(seconds: seconds / 5, forward)
                        theirs += BenchEngine.samples(seconds: seconds / 5) { bare.run() }
                    }
                    microseconds = BenchEngine.median(ours) * 1e6
                    sgemm = BenchEngine.median(theirs) * 1e6
                } else {
                    microseconds = BenchEngine.median(try BenchEngine.samples(seconds: seconds, forward)) * 1e6
                }
                let flops = 2.0 * Double(try BenchEngine.multiplyAdds(document, batch: batch, features: features))
                cases.append(Case(name: "\(name) batch \(batch)", network: name, batch: batch, microseconds: microseconds,
                                  sgemmMicroseconds: sgemm, gflops: flops / microseconds / 1e3))
            }
        }
        if json {
            print(try Terminal.json(cases))
        } else {
            let rows = cases.map { c in
                [c.name, String(format: "%.1f", c.microseconds), String(format: "%.1f", c.gflops),
                 c.sgemmMicroseconds.map { String(format: "%.1f (%.0f%%)", $0, 100 * $0 / c.microseconds) } ?? "-"]
            }
            print(Terminal.table(["case", "ckpt us", "GFLOP/s", "bare sgemm us (share)"], rows, rightAligned: [1, 2, 3]))
        }
    }

    static func median(_ samples: [Double]) -> Double { samples.sorted()[samples.count / 2] }

    /// Seconds per call, one sample per group of calls lasting about 10 ms, after a warm-up.
    static func samples(seconds: Double, _ body: () throws -> Void) rethrows -> [Double] {
        let clock = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        var start = clock()
        var calls = 0
        while clock() - start < min(0.2, seconds / 4) || calls < 3 { try body(); calls += 1 } // warm-up, and a rate estimate
        let perGroup = max(1, Int(0.01 / ((clock() - start) / Double(calls))))
        var samples: [Double] = []
        start = clock()
        while clock() - start < seconds || samples.count < 5 {
            let t0 = clock()
            for _ in 0 ..< perGroup { try body() }
            samples.append((clock() - t0) / Double(perGroup))
        }
        return samples
    }

    static func mlp(_ sizes: [Int]) throws -> ArchitectureDocument {
        var layers: [Layer] = []
        for (index, pair) in zip(sizes, sizes.dropFirst()).enumerated() {
            layers.append(.linear(LinearConfig(inFeatures: pair.0, outFeatures: pair.1)))
            if index + 2 < sizes.count { layers.append(.activation(.relu)) }
        }
        return ArchitectureDocument(root: .sequential("", layers))
    }

    /// Multiply-adds of the products (Linear and Conv2d) for one forward pass.
    static func multiplyAdds(_ document: ArchitectureDocument, batch: Int, features: [Int]) throws -> Int {
        let tree = try document.tree()
        let trace = try tree.traceShapes(input: [batch] + features)
        var total = 0
        for module in tree.allModules() {
            guard let shape = trace.outputs[module.path] else { continue }
            switch module.layer {
            case .linear(let c): total += shape.reduce(1, *) * (c.inFeatures ?? 0)
            case .conv2d(let c): total += shape.reduce(1, *) * (c.inChannels ?? 0) / c.groups * c.kernelSize.h * c.kernelSize.w
            default: break
            }
        }
        return total
    }

    static let lenetDocument = """
    {"version": 1, "module": {"type": "Sequential", "children": [
      {"type": "Conv2d", "in_channels": 1, "out_channels": 6, "kernel_size": 5, "padding": 2}, {"type": "Sigmoid"},
      {"type": "AvgPool2d", "kernel_size": 2, "stride": 2},
      {"type": "Conv2d", "in_channels": 6, "out_channels": 16, "kernel_size": 5}, {"type": "Sigmoid"},
      {"type": "AvgPool2d", "kernel_size": 2, "stride": 2}, {"type": "Flatten"},
      {"type": "Linear", "in_features": 400, "out_features": 120}, {"type": "Sigmoid"},
      {"type": "Linear", "in_features": 120, "out_features": 84}, {"type": "Sigmoid"},
      {"type": "Linear", "in_features": 84, "out_features": 10}]}}
    """
}
