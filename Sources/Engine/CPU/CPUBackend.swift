import Format

/// The CPU backend: OpenBLAS for the products (sgemv for one row, sgemm otherwise,
/// im2col + sgemm for convolutions), KissFFT for FourierHalf, plain loops for the rest.
/// Kernels run when enqueued, so `synchronize` has nothing to wait for.
public final class CPUBackend: Backend {
    public let name = "cpu"
    var blas: BLASThreads
    /// Scratch memory for im2col and outer products, one area per worker thread.
    var scratch: [ScratchArea] = []
    var fourierPlans: [Int: FourierPlan] = [:]

    /// `threads`: the most threads to use (default: OpenBLAS's own count, one per core).
    public init(threads: Int? = nil) {
        blas = BLASThreads(maximum: threads)
    }

    /// The most threads a kernel may use.
    public var threads: Int { blas.maximum }

    /// A convolution spreads samples over up to `threads` workers, each with its own columns.
    public var scratchCopies: Int { max(1, threads) }

    public func makeBuffer(count: Int) throws -> DeviceBuffer {
        guard count >= 0 else { throw EngineError.arithmeticOverflow(what: "a buffer of \(count) elements") }
        return CPUBuffer(count: count)
    }

    public func upload(_ values: UnsafeBufferPointer<Float>, to buffer: DeviceBuffer, offset: Int) throws {
        let target = try host(buffer)
        guard offset >= 0, offset + values.count <= target.count else {
            throw EngineError.bufferOverrun(operation: "upload", count: values.count, offset: offset, capacity: target.count)
        }
        guard let base = values.baseAddress else { return }
        (target.pointer + offset).update(from: base, count: values.count)
    }

    public func download(_ buffer: DeviceBuffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws {
        let source = try host(buffer)
        guard offset >= 0, offset + values.count <= source.count else {
            throw EngineError.bufferOverrun(operation: "download", count: values.count, offset: offset, capacity: source.count)
        }
        guard let base = values.baseAddress else { return }
        base.update(from: source.pointer + offset, count: values.count)
    }

    public func synchronize() throws {}

    public func enqueue(_ kernel: Kernel) throws {
        switch kernel {
        case let .linear(x, weight, bias, y, rows, inFeatures, outFeatures, activation):
            linear(x: p(x), weight: p(weight), bias: bias.map(p), y: p(y), rows: rows, inFeatures: inFeatures,
                   outFeatures: outFeatures, activation: activation)
        case let .conv2d(x, weight, bias, y, geometry, activation):
            conv2d(x: p(x), weight: p(weight), bias: bias.map(p), y: p(y), geometry: geometry, activation: activation)
        case let .maxPool2d(x, y, geometry):
            let (x, y) = (p(x), p(y))
            planes(geometry) { planes, g in
                CPUPooling.max(x: x + planes.lowerBound * g.inHeight * g.inWidth, y: y + planes.lowerBound * g.outHeight * g.outWidth, geometry: g)
            }
        case let .avgPool2d(x, y, geometry, countIncludePad):
            let (x, y) = (p(x), p(y))
            planes(geometry) { planes, g in
                CPUPooling.average(x: x + planes.lowerBound * g.inHeight * g.inWidth, y: y + planes.lowerBound * g.outHeight * g.outWidth,
                                   geometry: g, countIncludePad: countIncludePad)
            }
        case let .adaptiveAvgPool2d(x, y, planes, inHeight, inWidth, outHeight, outWidth):
            CPUPooling.adaptiveAverage(x: p(x), y: p(y), planes: planes, inHeight: inHeight, inWidth: inWidth,
                                       outHeight: outHeight, outWidth: outWidth)
        case let .channelAffine(x, scale, shift, y, outer, channels, inner):
            let (x, scale, shift, y) = (p(x), p(scale), p(shift), p(y))
            let block = channels * inner
            CPUParallel.split(outer, work: outer * block, threads: threads) { rows in
                CPUElementwise.channelAffine(x: x + rows.lowerBound * block, scale: scale, shift: shift, y: y + rows.lowerBound * block,
                                             outer: rows.count, channels: channels, inner: inner)
            }
        case let .layerNorm(x, weight, bias, y, rows, columns, eps):
            CPUElementwise.layerNorm(x: p(x), weight: weight.map(p), bias: bias.map(p), y: p(y), rows: rows, columns: columns, eps: eps)
        case let .activation(activation, x, y, count):
            activate(activation, x: p(x), y: p(y), count: count)
        case let .softmax(x, y, outer, axis, inner):
            CPUElementwise.softmax(x: p(x), y: p(y), outer: outer, axis: axis, inner: inner)
        case let .concat(parts, y, outer):
            CPUElementwise.concat(parts: parts.map { (p($0.buffer), $0.inner) }, y: p(y), outer: outer)
        case let .tensorReduction(x, weight, y, rows, inFeatures, outFeatures):
            tensorReduction(x: p(x), weight: p(weight), y: p(y), rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        case let .fourierHalf(x, y, rows, length):
            try fourierHalf(x: p(x), y: p(y), rows: rows, length: length)
        case let .copy(x, y, count):
            p(y).update(from: p(x), count: count)
        case .graph(let kernel):
            try run(kernel)
        }
    }

    /// An activation over `count` values, split over threads when large.
    func activate(_ activation: Activation, x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        CPUParallel.split(count, work: count, threads: threads) { range in
            CPUElementwise.apply(activation, x: x + range.lowerBound, y: y + range.lowerBound, count: range.count)
        }
    }

    /// Pooling split by planes over threads when large.
    private func planes(_ geometry: PoolGeometry, _ body: (Range<Int>, PoolGeometry) -> Void) {
        let work = geometry.planes * geometry.outHeight * geometry.outWidth * geometry.kernel.h * geometry.kernel.w
        CPUParallel.split(geometry.planes, work: work, threads: threads) { planes in
            var part = geometry
            part.planes = planes.count
            body(planes, part)
        }
    }

    /// The memory behind a buffer of this backend. Plans are built against one backend, so
    /// a foreign buffer here is a programming error; the checked cast stays out of the hot path.
    @inline(__always)
    func p(_ buffer: DeviceBuffer) -> UnsafeMutablePointer<Float> {
        assert(buffer is CPUBuffer, "a buffer of another backend reached the CPU backend")
        return unsafeDowncast(buffer, to: CPUBuffer.self).pointer
    }

    private func host(_ buffer: DeviceBuffer) throws -> CPUBuffer {
        guard let buffer = buffer as? CPUBuffer else { throw EngineError.foreignBuffer(backend: "cpu") }
        return buffer
    }

    /// Scratch memory of at least `count` floats for worker `index`.
    func scratch(_ index: Int, count: Int) -> UnsafeMutablePointer<Float> {
        while scratch.count <= index { scratch.append(ScratchArea()) }
        return scratch[index].reserve(count)
    }
}

/// A growable block of floats reused across kernels.
final class ScratchArea {
    private var pointer: UnsafeMutablePointer<Float>?
    private var capacity = 0

    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let pointer, capacity >= count { return pointer }
        pointer?.deallocate()
        capacity = max(count, capacity * 2, 1024)
        let fresh = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        pointer = fresh
        return fresh
    }

    deinit { pointer?.deallocate() }
}
