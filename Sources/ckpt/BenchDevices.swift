import ArgumentParser
import Dispatch
import Engine
import Foundation
import Format

/// `ckpt bench devices`: the chapter's device experiments on the CPU and every OpenCL device.
/// (a) n × n products, with and without the transfers; (b) 1000 small products whose norms are
/// read one by one or kept on the device; (c) two products on two devices at once.
struct BenchDevices: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "Time matrix products on the CPU against each OpenCL device (transfers, launches, syncs).")

    @Option(help: "The largest n for the CPU's n x n products.")
    var maxN = 4096

    @Option(help: "The largest n on OpenCL devices of type cpu (PoCL); GPUs go to --max-n.")
    var maxCPUDeviceN = 2048

    @Option(help: "How many 100 x 100 products experiment (b) makes.")
    var products = 1000

    @Option(help: "Seconds to spend on each measurement at most (after one warm-up).")
    var seconds = 0.3

    func run() throws {
        let devices = try OpenCLDevices.list()
        if devices.isEmpty { print("no OpenCL platform or device found: only the CPU is measured\n") }
        let backends = try devices.map { try OpenCLBackend(device: $0.index) }
        try squareProducts(backends)
        try norms(backends)
        try twoDevices(backends)
    }

    // MARK: (a)

    private func squareProducts(_ backends: [OpenCLBackend]) throws {
        print("(a) n x n products C = A B: milliseconds per product (GFLOP/s)")
        print("    cpu: OpenBLAS on host memory; 'with transfers': upload A and B, product, download C; 'product only': data already on the device")
        var header = ["n", "cpu"]
        for b in backends { header += ["\(b.name) with transfers", "\(b.name) product only"] }
        var rows: [[String]] = []
        var sizes: [Int] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096].filter { $0 <= maxN }
        if !sizes.contains(maxN) { sizes.append(maxN) }
        var capped = false
        for n in sizes {
            let flops = 2 * Double(n) * Double(n) * Double(n)
            let bare = BareGemm(products: [(m: n, n: n, k: n)], threads: CPUBackend().threads)
            var row = ["\(n)", cell(time { bare.run() }, flops)]
            for backend in backends {
                let limit = backend.info.type == "cpu" ? min(maxN, maxCPUDeviceN) : maxN
                guard n <= limit else { row += ["-", "-"]; capped = true; continue }
                let a = try backend.makeBuffer(count: n * n), b = try backend.makeBuffer(count: n * n), c = try backend.makeBuffer(count: n * n)
                let host = [Float](repeating: 0.5, count: n * n)
                var result = [Float](repeating: 0, count: n * n)
                let withTransfers = try time {
                    try host.withUnsafeBufferPointer { try backend.upload($0, to: a, offset: 0); try backend.upload($0, to: b, offset: 0) }
                    try backend.multiply(a, b, into: c, n: n)
                    try result.withUnsafeMutableBufferPointer { try backend.download(c, offset: 0, into: $0) }
                }
                let only = try time {
                    try backend.multiply(a, b, into: c, n: n)
                    try backend.synchronize()
                }
                row += [cell(withTransfers, flops), cell(only, flops)]
            }
            rows.append(row)
        }
        print(Terminal.table(header, rows, rightAligned: Set(0 ..< header.count)))
        if capped { print("    '-': above \(maxCPUDeviceN) on a CPU OpenCL device (PoCL), too slow for this bench; raise --max-cpu-device-n") }
        print("    Small n: the device's fixed cost per launch and per transfer dominates; large n: arithmetic dominates.\n")
    }

    // MARK: (b)

    private func norms(_ backends: [OpenCLBackend]) throws {
        let (n, count) = (100, products)
        print("(b) \(count) products of \(n) x \(n) matrices and the Frobenius norm of each: milliseconds for all \(count)")
        var rows: [[String]] = []
        let bare = BareGemm(products: [(m: n, n: n, k: n)], threads: 1)
        rows.append(["cpu (OpenBLAS, products only)", ms(time(repeats: 3) { for _ in 0 ..< count { bare.run() } }), "-"])
        for backend in backends {
            let values = (0 ..< n * n).map { Float($0 % 13) * 0.01 }
            let a = try backend.makeBuffer(values), b = try backend.makeBuffer(values), c = try backend.makeBuffer(count: n * n)
            let normBuffer = try backend.makeBuffer(count: count)
            var matrix = [Float](repeating: 0, count: n * n)
            var logged: [Float] = []
            let eachRead = try time(repeats: 3) {
                logged = []
                for _ in 0 ..< count {
                    try backend.multiply(a, b, into: c, n: n)
                    try matrix.withUnsafeMutableBufferPointer { try backend.download(c, offset: 0, into: $0) }
                    logged.append(matrix.reduce(0) { $0 + $1 * $1 }.squareRoot())
                }
            }
            var kept: [Float] = []
            let onDevice = try time(repeats: 3) {
                for i in 0 ..< count {
                    try backend.multiply(a, b, into: c, n: n)
                    try backend.frobeniusNorm(c, count: n * n, into: normBuffer, slot: i)
                }
                kept = try backend.download(normBuffer)
            }
            let agree = zip(logged, kept).allSatisfy { abs($0 - $1) <= 1e-4 * abs($0) }
            rows.append([backend.name, ms(eachRead), ms(onDevice) + (agree ? "" : " (norms differ!)")])
        }
        print(Terminal.table(["device", "read each norm as computed", "norms kept on device, read once"], rows, rightAligned: [1, 2]))
        print("    Reading a value back waits for the queue to drain: every read is a synchronisation.\n")
    }

    // MARK: (c)

    private func twoDevices(_ backends: [OpenCLBackend]) throws {
        print("(c) two products on two devices at the same time against both on one device, one after the other")
        guard backends.count >= 2 else {
            print("    fewer than two OpenCL devices (\(backends.count) found): nothing to compare\n")
            return
        }
        let n = backends.allSatisfy { $0.info.type != "cpu" } ? 4096 : 1024
        let (first, second) = (backends[0], backends[1])
        func prepared(_ backend: OpenCLBackend) throws -> (DeviceBuffer, DeviceBuffer, DeviceBuffer) {
            let values = [Float](repeating: 0.5, count: n * n)
            return (try backend.makeBuffer(values), try backend.makeBuffer(values), try backend.makeBuffer(count: n * n))
        }
        let one = try prepared(first), other = try prepared(first), two = try prepared(second)
        let sequential = try time(repeats: 3) {
            try first.multiply(one.0, one.1, into: one.2, n: n)
            try first.multiply(other.0, other.1, into: other.2, n: n)
            try first.synchronize()
        }
        let parallel = try time(repeats: 3) {
            // Both queued before either is waited for: the devices work at the same time.
            try first.multiply(one.0, one.1, into: one.2, n: n)
            try second.multiply(two.0, two.1, into: two.2, n: n)
            try first.synchronize()
            try second.synchronize()
        }
        print(Terminal.table(["n", "both on \(first.name)", "\(first.name) and \(second.name) at once", "speed-up"],
                             [["\(n)", ms(sequential), ms(parallel), String(format: "%.2fx", sequential / parallel)]], rightAligned: [0, 1, 2, 3]))
        print("")
    }

    // MARK: timing

    /// The median seconds of `body` after one warm-up, repeated for at most `seconds` (at least once, at most `repeats`).
    private func time(repeats: Int = 50, _ body: () throws -> Void) rethrows -> Double {
        let clock = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        try body()
        var samples: [Double] = []
        let start = clock()
        while samples.isEmpty || (clock() - start < seconds && samples.count < repeats) {
            let t0 = clock()
            try body()
            samples.append(clock() - t0)
        }
        return samples.sorted()[samples.count / 2]
    }

    private func ms(_ seconds: Double) -> String { String(format: seconds < 0.01 ? "%.3f" : "%.1f", seconds * 1000) }

    private func cell(_ seconds: Double, _ flops: Double) -> String {
        let gflops = flops / seconds / 1e9
        return "\(ms(seconds)) (\(String(format: gflops < 10 ? "%.2f" : "%.0f", gflops)))"
    }
}
