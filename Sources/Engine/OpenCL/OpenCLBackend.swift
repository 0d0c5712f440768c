import CCLBlast
import COpenCL
import Foundation
import Format

/// The OpenCL backend: one in-order command queue on one device. Weights are uploaded once
/// (the plan's buffers live on the device); `enqueue` only queues work, CLBlast does the
/// products, the engine's own kernels (OpenCLKernelSource) the rest, and `synchronize`
/// waits once. Reads wait for the queued work that writes them.
public final class OpenCLBackend: Backend {
    public let name: String
    public let info: OpenCLDeviceInfo
    let shared: OpenCLDeviceContext
    let queue: cl_command_queue?
    private var kernels: [String: cl_kernel] = [:]
    /// im2col columns and outer products; reused, as the queue runs kernels in order.
    private var scratch: OpenCLBuffer?
    /// The most floats of im2col columns made at once; larger batches go in several passes.
    var columnLimit = 64 << 20

    /// The backend on `opencl:index`. Throws "no OpenCL platform found" where there is none.
    public init(device index: Int = 0) throws {
        shared = try OpenCLDeviceContext.shared(index: index)
        info = shared.info
        name = "opencl:\(index)"
        var status: cl_int = 0
        guard let queue = clCreateCommandQueue(shared.context, shared.device, 0, &status), status == CL_SUCCESS else {
            throw OpenCLError.callFailed(call: "clCreateCommandQueue", code: status)
        }
        self.queue = queue
    }

    deinit {
        if let queue { clFinish(queue) }
        for kernel in kernels.values { clReleaseKernel(kernel) }
        if let queue { clReleaseCommandQueue(queue) }
    }

    public func makeBuffer(count: Int) throws -> DeviceBuffer {
        guard count >= 0 else { throw EngineError.arithmeticOverflow(what: "a buffer of \(count) elements") }
        return try OpenCLBuffer(count: count, owner: shared)
    }

    public func upload(_ values: UnsafeBufferPointer<Float>, to buffer: DeviceBuffer, offset: Int) throws {
        let target = try device(buffer)
        guard offset >= 0, offset + values.count <= target.count else {
            throw EngineError.bufferOverrun(operation: "upload", count: values.count, offset: offset, capacity: target.count)
        }
        guard let base = values.baseAddress, values.count > 0 else { return }
        // Blocking: the host memory may be reused as soon as this returns.
        try OpenCLError.check(clEnqueueWriteBuffer(queue, target.memory, cl_bool(CL_TRUE), offset * 4, values.count * 4, base, 0, nil, nil),
                              "clEnqueueWriteBuffer")
    }

    public func download(_ buffer: DeviceBuffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws {
        let source = try device(buffer)
        guard offset >= 0, offset + values.count <= source.count else {
            throw EngineError.bufferOverrun(operation: "download", count: values.count, offset: offset, capacity: source.count)
        }
        guard let base = values.baseAddress, values.count > 0 else { return }
        try OpenCLError.check(clEnqueueReadBuffer(queue, source.memory, cl_bool(CL_TRUE), offset * 4, values.count * 4, base, 0, nil, nil),
                              "clEnqueueReadBuffer")
    }

    public func synchronize() throws {
        try OpenCLError.check(clFinish(queue), "clFinish")
    }

    /// Queues the transfers and kernels of one layer; returns before they run.
    public func enqueue(_ kernel: Kernel) throws {
        switch kernel {
        case let .linear(x, weight, bias, y, rows, inFeatures, outFeatures, activation):
            if let bias { try launch("fill_rows", rows * outFeatures, [.buffer(y), .buffer(bias), .int(rows), .int(outFeatures)]) }
            try gemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures, a: mem(x), aOffset: 0, lda: inFeatures,
                     b: mem(weight), bOffset: 0, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: mem(y), cOffset: 0, ldc: outFeatures)
            if let activation { try activate(activation, x: y, y: y, count: rows * outFeatures) }
        case let .conv2d(x, weight, bias, y, g, activation):
            try conv2d(x: x, weight: weight, bias: bias, y: y, geometry: g, activation: activation)
        case let .maxPool2d(x, y, g):
            try launch("max_pool", g.planes * g.outHeight * g.outWidth, [.buffer(x), .buffer(y)] + pool(g) + [.int(g.dilation.h), .int(g.dilation.w)])
        case let .avgPool2d(x, y, g, countIncludePad):
            try launch("avg_pool", g.planes * g.outHeight * g.outWidth, [.buffer(x), .buffer(y)] + pool(g) + [.int(countIncludePad ? 1 : 0)])
        case let .adaptiveAvgPool2d(x, y, planes, inHeight, inWidth, outHeight, outWidth):
            try launch("adaptive_avg_pool", planes * outHeight * outWidth, [.buffer(x), .buffer(y), .int(planes), .int(inHeight), .int(inWidth),
                                                                             .int(outHeight), .int(outWidth)])
        case let .channelAffine(x, scale, shift, y, outer, channels, inner):
            try launch("channel_affine", outer * channels * inner, [.buffer(x), .buffer(scale), .buffer(shift), .buffer(y),
                                                                    .int(outer * channels * inner), .int(channels), .int(inner)])
        case let .layerNorm(x, weight, bias, y, rows, columns, eps):
            try launch("layer_norm", rows, [.buffer(x), .buffer(weight ?? x), .buffer(bias ?? x), .buffer(y), .int(rows), .int(columns),
                                            .float(eps), .int(weight == nil ? 0 : 1), .int(bias == nil ? 0 : 1)])
        case let .activation(activation, x, y, count):
            try activate(activation, x: x, y: y, count: count)
        case let .softmax(x, y, outer, axis, inner):
            try launch("softmax", outer * inner, [.buffer(x), .buffer(y), .int(outer), .int(axis), .int(inner)])
        case let .concat(parts, y, outer):
            let block = parts.reduce(0) { $0 + $1.inner }
            var offset = 0
            for part in parts {
                try launch("concat_part", outer * part.inner, [.buffer(part.buffer), .buffer(y), .int(outer), .int(part.inner), .int(block), .int(offset)])
                offset += part.inner
            }
        case let .tensorReduction(x, weight, y, rows, inFeatures, outFeatures):
            let square = inFeatures * inFeatures
            let z = try scratch(rows * square)
            try launch("outer_products", rows * square, [.buffer(x), .buffer(z), .int(rows), .int(inFeatures)])
            try gemm(transposeB: false, m: rows, n: outFeatures, k: square, a: z.memory, aOffset: 0, lda: square,
                     b: mem(weight), bOffset: 0, ldb: outFeatures, beta: 0, c: mem(y), cOffset: 0, ldc: outFeatures)
        case let .fourierHalf(x, y, rows, length):
            try launch("fourier_half", rows * (length / 2), [.buffer(x), .buffer(y), .int(rows), .int(length)])
        case let .copy(x, y, count):
            guard count > 0 else { return }
            try OpenCLError.check(clEnqueueCopyBuffer(queue, mem(x), mem(y), 0, 0, count * 4, 0, nil, nil), "clEnqueueCopyBuffer")
        case .graph(let kernel):
            throw EngineError.kernelUnavailable(backend: name, kernel: kernel.name)
        }
    }

    /// Graph kernels are not ported to OpenCL yet; a graph plan refuses to build here.
    public func canRun(_ kernel: GraphKernel) -> Bool { false }

    /// im2col of the whole batch into scratch as [n][g][depth][OH·OW], then per group one
    /// strided-batched product over the samples straight into NCHW, then bias and activation.
    private func conv2d(x: DeviceBuffer, weight: DeviceBuffer, bias: DeviceBuffer?, y: DeviceBuffer, geometry g: ConvGeometry,
                        activation: Activation?) throws {
        let groupChannels = g.inChannels / g.groups
        let groupOutputs = g.outChannels / g.groups
        let depth = groupChannels * g.kernel.h * g.kernel.w
        let outPlane = g.outHeight * g.outWidth
        // Samples per im2col pass: the columns stay under 64 Mi floats (256 MiB) and the device's largest allocation.
        let perSample = max(1, g.groups * depth * outPlane)
        let limit = min(columnLimit, info.maxAllocationBytes / 4)
        let chunk = max(1, min(g.batch, limit / perSample))
        let col = try scratch(chunk * perSample)
        let (w, c) = (try mem(weight), try mem(y))
        for first in stride(from: 0, to: g.batch, by: chunk) {
            let samples = min(chunk, g.batch - first)
            try launch("im2col", samples * perSample, [.buffer(x), .memory(col.memory), .int(first), .int(samples), .int(g.inChannels),
                                                      .int(g.inHeight), .int(g.inWidth), .int(g.outHeight), .int(g.outWidth), .int(g.kernel.h),
                                                      .int(g.kernel.w), .int(g.stride.h), .int(g.stride.w), .int(g.padding.h), .int(g.padding.w),
                                                      .int(g.dilation.h), .int(g.dilation.w), .int(g.groups)])
            for group in 0 ..< g.groups where groupOutputs > 0 && outPlane > 0 && depth > 0 {
                var q = queue
                let status = CLBlastSgemmStridedBatched(
                    CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, groupOutputs, outPlane, depth, 1,
                    w, group * groupOutputs * depth, depth, 0,
                    col.memory, group * depth * outPlane, outPlane, perSample,
                    0, c, (first * g.outChannels + group * groupOutputs) * outPlane, outPlane, g.outChannels * outPlane, samples, &q, nil)
                try check(status, "CLBlastSgemmStridedBatched")
            }
        }
        if bias != nil || activation != nil {
            let (kind, slope) = activation.map(code) ?? (-1, 0)
            let count = g.batch * g.outChannels * outPlane
            try launch("bias_activation", count, [.buffer(bias ?? y), .int(bias == nil ? 0 : 1), .int(count), .int(g.outChannels), .int(outPlane),
                                                  .int(kind), .float(slope)], first: .buffer(y))
        }
    }

    private func pool(_ g: PoolGeometry) -> [Argument] {
        [.int(g.planes), .int(g.inHeight), .int(g.inWidth), .int(g.outHeight), .int(g.outWidth), .int(g.kernel.h), .int(g.kernel.w),
         .int(g.stride.h), .int(g.stride.w), .int(g.padding.h), .int(g.padding.w)]
    }

    private func activate(_ activation: Activation, x: DeviceBuffer, y: DeviceBuffer, count: Int) throws {
        let (kind, slope) = code(activation)
        try launch("activation", count, [.buffer(x), .buffer(y), .int(count), .int(kind), .float(slope)])
    }

    private func code(_ activation: Activation) -> (Int, Float) {
        switch activation {
        case .relu: return (0, 0)
        case .leakyReLU(let slope): return (1, Float(slope))
        case .sigmoid: return (2, 0)
        case .tanh: return (3, 0)
        case .gelu: return (4, 0)
        case .geluTanh: return (5, 0)
        case .silu: return (6, 0)
        }
    }

    // MARK: - Products

    /// C = A · B (or A · Bᵀ), row-major, through CLBlast, queued on this backend's queue.
    func gemm(transposeB: Bool, m: Int, n: Int, k: Int, a: cl_mem?, aOffset: Int, lda: Int, b: cl_mem?, bOffset: Int, ldb: Int,
              beta: Float, c: cl_mem?, cOffset: Int, ldc: Int) throws {
        guard m > 0, n > 0 else { return }
        var q = queue
        let status = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, transposeB ? CLBlastTransposeYes : CLBlastTransposeNo,
                                  m, n, k, 1, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, &q, nil)
        try check(status, "CLBlastSgemm")
    }

    /// C = A · B for square n × n matrices held in buffers of this backend (the device benchmarks).
    public func multiply(_ a: DeviceBuffer, _ b: DeviceBuffer, into c: DeviceBuffer, n: Int) throws {
        try gemm(transposeB: false, m: n, n: n, k: n, a: mem(a), aOffset: 0, lda: n, b: mem(b), bOffset: 0, ldb: n, beta: 0, c: mem(c), cOffset: 0, ldc: n)
    }

    /// Queues out[slot] = ‖x‖_F (the first `count` values of x), computed on the device.
    public func frobeniusNorm(_ x: DeviceBuffer, count: Int, into out: DeviceBuffer, slot: Int) throws {
        try launch("frobenius", 1, [.buffer(x), .buffer(out), .int(count), .int(slot)])
    }

    private func check(_ status: CLBlastStatusCode, _ call: String) throws {
        guard status == CLBlastSuccess else { throw OpenCLError.clblastFailed(call: call, status: Int32(status.rawValue)) }
    }

    // MARK: - Launching

    enum Argument {
        case buffer(DeviceBuffer)
        case memory(cl_mem?)
        case int(Int)
        case float(Float)
    }

    private func launch(_ name: String, _ global: Int, _ arguments: [Argument], first: Argument? = nil) throws {
        guard global > 0 else { return }
        let kernel = try self.kernel(name)
        for (index, argument) in ((first.map { [$0] } ?? []) + arguments).enumerated() {
            let status: cl_int
            switch argument {
            case .buffer(let buffer):
                var memory = try device(buffer).memory
                status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem?>.size, &memory)
            case .memory(let memory):
                var memory = memory
                status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem?>.size, &memory)
            case .int(let value):
                guard value <= Int(Int32.max) else { throw OpenCLError.argumentTooWide(kernel: name, value: value) }
                var v = Int32(value)
                status = clSetKernelArg(kernel, cl_uint(index), 4, &v)
            case .float(let value):
                var v = value
                status = clSetKernelArg(kernel, cl_uint(index), 4, &v)
            }
            try OpenCLError.check(status, "clSetKernelArg(\(name), \(index))")
        }
        var size = global
        try OpenCLError.check(clEnqueueNDRangeKernel(queue, kernel, 1, nil, &size, nil, 0, nil, nil), "clEnqueueNDRangeKernel(\(name))")
    }

    private func kernel(_ name: String) throws -> cl_kernel {
        if let kernel = kernels[name] { return kernel }
        var status: cl_int = 0
        guard let kernel = clCreateKernel(shared.program, name, &status), status == CL_SUCCESS else { throw OpenCLError.callFailed(call: "clCreateKernel(\(name))", code: status) }
        kernels[name] = kernel
        return kernel
    }

    private func scratch(_ count: Int) throws -> OpenCLBuffer {
        if let scratch, scratch.count >= count { return scratch }
        let fresh = try OpenCLBuffer(count: max(count, (scratch?.count ?? 0) * 2), owner: shared)
        scratch = fresh
        return fresh
    }

    private func device(_ buffer: DeviceBuffer) throws -> OpenCLBuffer {
        guard let buffer = buffer as? OpenCLBuffer, buffer.owner === shared else {
            throw EngineError.foreignBuffer(backend: name)
        }
        return buffer
    }

    private func mem(_ buffer: DeviceBuffer) throws -> cl_mem? { try device(buffer).memory }
}
