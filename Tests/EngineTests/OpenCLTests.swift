@testable import Engine
import Format
import Foundation
import XCTest

/// The OpenCL backend on the first device (PoCL in CI) against PyTorch's outputs and the
/// CPU backend. Without an OpenCL platform every test reports itself skipped.
final class OpenCLTests: XCTestCase {
    /// One backend for the whole class: the program compiles once per process anyway.
    private static var shared: OpenCLBackend?

    private func backend() throws -> OpenCLBackend {
        if let backend = Self.shared { return backend }
        guard OpenCLDevices.hasPlatform, let first = try OpenCLDevices.list().first else { throw XCTSkip("no OpenCL platform") }
        let backend = try OpenCLBackend(device: first.index)
        Self.shared = backend
        return backend
    }

    func testDevicesAreListed() throws {
        let opencl = try backend()
        let devices = try OpenCLDevices.list()
        XCTAssertFalse(devices.isEmpty)
        XCTAssertEqual(opencl.name, "opencl:\(devices[0].index)")
        XCTAssertFalse(devices[0].name.isEmpty)
        XCTAssertGreaterThan(devices[0].computeUnits, 0)
        XCTAssertGreaterThan(devices[0].globalMemoryBytes, 0)
        XCTAssertTrue(devices[0].version.hasPrefix("OpenCL"), devices[0].version)
    }

    func testBuffersRoundTripAndRefuseForeignBuffers() throws {
        let opencl = try backend()
        let buffer = try opencl.makeBuffer([1, 2, 3, 4, 5])
        XCTAssertEqual(try opencl.download(buffer), [1, 2, 3, 4, 5])
        try [9, 8].withUnsafeBufferPointer { try opencl.upload($0, to: buffer, offset: 3) }
        XCTAssertEqual(try opencl.download(buffer), [1, 2, 3, 9, 8])
        var part = [Float](repeating: 0, count: 2)
        try part.withUnsafeMutableBufferPointer { try opencl.download(buffer, offset: 1, into: $0) }
        XCTAssertEqual(part, [2, 3])
        XCTAssertThrowsError(try [1, 2].withUnsafeBufferPointer { try opencl.upload($0, to: buffer, offset: 4) }) { error in
            XCTAssertEqual(error as? EngineError, .bufferOverrun(operation: "upload", count: 2, offset: 4, capacity: 5))
        }
        let foreign = try CPUBackend().makeBuffer([1])
        XCTAssertThrowsError(try opencl.enqueue(.copy(x: foreign, y: buffer, count: 1))) { error in
            XCTAssertEqual(error as? EngineError, .foreignBuffer(backend: opencl.name))
        }
    }

    /// A device index past the last is the machine's state, named with how many there are.
    func testMissingDeviceIsATypedMachineProblem() throws {
        _ = try backend()
        let count = try OpenCLDevices.list().count
        XCTAssertThrowsError(try OpenCLBackend(device: count + 3)) { error in
            XCTAssertEqual(error as? OpenCLError, .noDevice(index: count + 3, available: count))
            XCTAssertEqual((error as? OpenCLError)?.isMissingDevice, true)
        }
        XCTAssertThrowsError(try DeviceSelection.opencl(count).backends()) { error in
            XCTAssertEqual(error as? OpenCLError, .noDevice(index: count, available: count))
        }
        // PoCL lists CPU devices only: `gpu` then finds none, and says so with a typed error.
        let devices = try OpenCLDevices.list()
        if !devices.contains(where: { $0.type.split(separator: "+").contains("gpu") }) {
            XCTAssertThrowsError(try DeviceSelection.gpu.backends()) { error in
                XCTAssertEqual(error as? OpenCLError, .noGPU(available: devices.count))
            }
        } else {
            XCTAssertEqual(try DeviceSelection.gpu.backends().count, 1)
        }
    }

    /// Every chapter model on the device gives PyTorch's y.npy and the CPU backend's numbers.
    func testEveryChapterModelMatchesPyTorchAndTheCPU() throws {
        let opencl = try backend()
        for model in TorchFixtureTests.models {
            let checkpoint = try Fixtures.imported(weights: "torch/\(model)/model.safetensors", arch: try Fixtures.document(model))
            let x = try Fixtures.npy("torch/\(model)/x.npy")
            let output = try Network(checkpoint: checkpoint, backend: opencl).run(x)
            let cpu = try Network(checkpoint: checkpoint, backend: CPUBackend()).run(x)
            try assertClose(output, try Fixtures.npy("torch/\(model)/y.npy"), rtol: 1e-5, atol: 1e-6, "\(model) against PyTorch")
            try assertClose(output, cpu, rtol: 1e-5, atol: 1e-6, "\(model) against the CPU")
        }
    }

    /// Conv options, pooling modes, norms, GELU/SiLU/LeakyReLU, Softmax, odd FourierHalf, 3-d inputs.
    func testLayerFixturesMatchPyTorchAndTheCPU() throws {
        let opencl = try backend()
        for name in ["convs", "pools", "norms", "seq3d"] {
            let document = try ArchitectureDocument.read(contentsOf: Fixtures.url("torch/layers/\(name)/arch.json"))
            let checkpoint = try Fixtures.imported(weights: "torch/layers/\(name)/model.safetensors", arch: document)
            let x = try Fixtures.npy("torch/layers/\(name)/x.npy")
            let output = try Network(checkpoint: checkpoint, backend: opencl).run(x)
            let cpu = try Network(checkpoint: checkpoint, backend: CPUBackend()).run(x)
            try assertClose(output, try Fixtures.npy("torch/layers/\(name)/y.npy"), rtol: 1e-5, atol: 1e-6, "\(name) against PyTorch")
            try assertClose(output, cpu, rtol: 1e-5, atol: 1e-6, "\(name) against the CPU")
        }
    }

    func testHalfBfloatAndDoubleWeights() throws {
        let opencl = try backend()
        let x = try Fixtures.npy("torch/dtypes/x.npy")
        for (tag, rtol, atol) in [("float16", 4e-3, 4e-3), ("bfloat16", 3e-2, 3e-2), ("float64", 1e-5, 1e-6)] {
            let checkpoint = try Fixtures.imported(weights: "torch/dtypes/\(tag).safetensors", arch: try Fixtures.document("dtypes"))
            try assertClose(try Network(checkpoint: checkpoint, backend: opencl).run(x), try Fixtures.npy("torch/dtypes/y_\(tag).npy"),
                            rtol: rtol, atol: atol, tag)
        }
    }

    /// LeNet on 16 samples: the batched convolution products over several samples.
    func testBatchedConvolutionMatchesPyTorch() throws {
        let opencl = try backend()
        let checkpoint = try Fixtures.imported(weights: "torch/lenet/model.safetensors", arch: try Fixtures.document("lenet"))
        let x = try Fixtures.floats(try Fixtures.npy("torch/lenet/x.npy"))
        let y = try Fixtures.floats(try Fixtures.npy("torch/lenet/y.npy"))
        let tiled = try Fixtures.tensor([16, 1, 28, 28], (0 ..< 8).flatMap { _ in x })
        let output = try Network(checkpoint: checkpoint, backend: opencl).run(tiled)
        try assertClose(output, try Fixtures.tensor([16, 10], (0 ..< 8).flatMap { _ in y }), rtol: 1e-5, atol: 1e-6)
    }

    // MARK: - Each kernel against the CPU backend on the same inputs

    /// Runs `make(backend, inputs)` on both backends with the same input values and compares the output buffer.
    private func compare(_ label: String, inputs: [Int], output: Int, rtol: Double = 1e-5, atol: Double = 1e-6,
                         _ make: ([DeviceBuffer], DeviceBuffer) -> [Kernel]) throws {
        let opencl = try backend()
        let values = inputs.enumerated().map { index, count in
            (0 ..< count).map { Float((($0 + 1) * 7919 + index * 104_729) % 2001 - 1000) / 400 }
        }
        var results: [[Float]] = []
        for backend in [CPUBackend() as Backend, opencl] {
            let buffers = try values.map { try backend.makeBuffer($0) }
            let y = try backend.makeBuffer([Float](repeating: .nan, count: output))
            for kernel in make(buffers, y) { try backend.enqueue(kernel) }
            try backend.synchronize()
            results.append(try backend.download(y))
        }
        try assertClose(try Fixtures.tensor([output], results[1]), try Fixtures.tensor([output], results[0]), rtol: rtol, atol: atol, label)
    }

    func testEveryKernelMatchesTheCPU() throws {
        let activations: [Activation] = [.relu, .leakyReLU(negativeSlope: 0.2), .sigmoid, .tanh, .gelu, .geluTanh, .silu]
        for activation in activations {
            try compare("\(activation)", inputs: [1000], output: 1000) { b, y in [.activation(activation, x: b[0], y: y, count: 1000)] }
            try compare("linear \(activation)", inputs: [3 * 17, 5 * 17, 5], output: 15) { b, y in
                [.linear(x: b[0], weight: b[1], bias: b[2], y: y, rows: 3, inFeatures: 17, outFeatures: 5, activation: activation)]
            }
        }
        try compare("linear, one row, no bias", inputs: [17, 5 * 17], output: 5) { b, y in
            [.linear(x: b[0], weight: b[1], bias: nil, y: y, rows: 1, inFeatures: 17, outFeatures: 5, activation: nil)]
        }
        // Grouped, strided, padded, dilated, rectangular convolutions with and without bias.
        let convs: [ConvGeometry] = [
            ConvGeometry(batch: 2, inChannels: 4, inHeight: 9, inWidth: 7, outChannels: 6, outHeight: 5, outWidth: 4, kernel: Pair(3, 2),
                         stride: Pair(2, 2), padding: Pair(1, 1), dilation: Pair(1, 1), groups: 2),
            ConvGeometry(batch: 3, inChannels: 3, inHeight: 8, inWidth: 8, outChannels: 5, outHeight: 4, outWidth: 4, kernel: Pair(3),
                         stride: Pair(1), padding: Pair(0), dilation: Pair(2), groups: 1),
            ConvGeometry(batch: 1, inChannels: 6, inHeight: 5, inWidth: 5, outChannels: 6, outHeight: 5, outWidth: 5, kernel: Pair(1),
                         stride: Pair(1), padding: Pair(0), dilation: Pair(1), groups: 6),
        ]
        for (index, g) in convs.enumerated() {
            let x = g.batch * g.inChannels * g.inHeight * g.inWidth
            let w = g.outChannels * (g.inChannels / g.groups) * g.kernel.h * g.kernel.w
            let out = g.batch * g.outChannels * g.outHeight * g.outWidth
            try compare("conv \(index)", inputs: [x, w, g.outChannels], output: out, atol: 1e-5) { b, y in
                [.conv2d(x: b[0], weight: b[1], bias: b[2], y: y, geometry: g, activation: .relu)]
            }
            try compare("conv \(index) without bias", inputs: [x, w], output: out, atol: 1e-5) { b, y in
                [.conv2d(x: b[0], weight: b[1], bias: nil, y: y, geometry: g, activation: nil)]
            }
        }
        let pools: [PoolGeometry] = [
            PoolGeometry(planes: 6, inHeight: 7, inWidth: 9, outHeight: 4, outWidth: 5, kernel: Pair(3), stride: Pair(2), padding: Pair(1), dilation: Pair(1)),
            PoolGeometry(planes: 4, inHeight: 8, inWidth: 8, outHeight: 4, outWidth: 4, kernel: Pair(2), stride: Pair(2), padding: Pair(0), dilation: Pair(1)),
            PoolGeometry(planes: 3, inHeight: 9, inWidth: 9, outHeight: 3, outWidth: 3, kernel: Pair(2, 3), stride: Pair(3), padding: Pair(1), dilation: Pair(2)),
        ]
        for (index, g) in pools.enumerated() {
            let (x, out) = (g.planes * g.inHeight * g.inWidth, g.planes * g.outHeight * g.outWidth)
            try compare("max pool \(index)", inputs: [x], output: out) { b, y in [.maxPool2d(x: b[0], y: y, geometry: g)] }
            var plain = g
            plain.dilation = Pair(1)
            for include in [true, false] {
                try compare("avg pool \(index) \(include)", inputs: [x], output: out) { b, y in
                    [.avgPool2d(x: b[0], y: y, geometry: plain, countIncludePad: include)]
                }
            }
        }
        try compare("adaptive avg pool", inputs: [3 * 10 * 7], output: 3 * 4 * 3) { b, y in
            [.adaptiveAvgPool2d(x: b[0], y: y, planes: 3, inHeight: 10, inWidth: 7, outHeight: 4, outWidth: 3)]
        }
        try compare("channel affine", inputs: [2 * 3 * 5, 3, 3], output: 30) { b, y in
            [.channelAffine(x: b[0], scale: b[1], shift: b[2], y: y, outer: 2, channels: 3, inner: 5)]
        }
        try compare("layer norm", inputs: [4 * 33, 33, 33], output: 4 * 33) { b, y in
            [.layerNorm(x: b[0], weight: b[1], bias: b[2], y: y, rows: 4, columns: 33, eps: 1e-5)]
        }
        try compare("layer norm without affine", inputs: [4 * 33], output: 4 * 33) { b, y in
            [.layerNorm(x: b[0], weight: nil, bias: nil, y: y, rows: 4, columns: 33, eps: 1e-5)]
        }
        try compare("softmax", inputs: [2 * 7 * 3], output: 42) { b, y in [.softmax(x: b[0], y: y, outer: 2, axis: 7, inner: 3)] }
        try compare("concat", inputs: [3 * 4, 3 * 2, 3 * 5], output: 3 * 11) { b, y in
            [.concat(parts: [(b[0], 4), (b[1], 2), (b[2], 5)], y: y, outer: 3)]
        }
        try compare("tensor reduction", inputs: [3 * 6, 6 * 6 * 4], output: 12, atol: 1e-5) { b, y in
            [.tensorReduction(x: b[0], weight: b[1], y: y, rows: 3, inFeatures: 6, outFeatures: 4)]
        }
        for length in [16, 15, 64] {
            try compare("fourier half \(length)", inputs: [3 * length], output: 3 * 2 * (length / 2), atol: 1e-5) { b, y in
                [.fourierHalf(x: b[0], y: y, rows: 3, length: length)]
            }
        }
        try compare("copy", inputs: [10], output: 10) { b, y in [.copy(x: b[0], y: y, count: 10)] }
    }

    /// A batch whose im2col columns exceed the limit goes in several passes, with the same numbers.
    func testConvolutionInSeveralPasses() throws {
        let opencl = try OpenCLBackend(device: try backend().info.index)
        opencl.columnLimit = 2 * 25 * 24 * 24 // two LeNet samples' first-layer columns a pass
        let checkpoint = try Fixtures.imported(weights: "torch/lenet/model.safetensors", arch: try Fixtures.document("lenet"))
        let x = try Fixtures.floats(try Fixtures.npy("torch/lenet/x.npy"))
        let y = try Fixtures.floats(try Fixtures.npy("torch/lenet/y.npy"))
        let tiled = try Fixtures.tensor([6, 1, 28, 28], (0 ..< 3).flatMap { _ in x })
        let output = try Network(checkpoint: checkpoint, backend: opencl).run(tiled)
        try assertClose(output, try Fixtures.tensor([6, 10], (0 ..< 3).flatMap { _ in y }), rtol: 1e-5, atol: 1e-6)
    }

    /// Two backends on one device share its compiled program and do not see each other's queues.
    func testTwoBackendsOnOneDevice() throws {
        let first = try backend()
        let second = try OpenCLBackend(device: first.info.index)
        XCTAssertTrue(first.shared === second.shared)
        let a = try second.makeBuffer([1, -2, 3])
        let b = try second.makeBuffer(count: 3)
        try second.enqueue(.activation(.relu, x: a, y: b, count: 3))
        try second.synchronize()
        XCTAssertEqual(try second.download(b), [1, 0, 3])
    }
}
