import ArgumentParser
import Foundation
import Format

/// Times reading a torch.save file: parsing it (pickle, zip, every tensor materialized as a
/// view of the mapped file), parsing and reading every byte, and parsing and writing a .ckpt.
/// bench/torch/run.sh sets these beside torch.load(weights_only=True) of the same file.
struct BenchTorch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torch",
        abstract: "Time importing a torch .pt file: parse, parse + read all bytes, parse + write .ckpt (disk and tmpfs).")

    @Argument(help: "A torch.save file, e.g. MiniLM-L6 resaved with torch.save.")
    var file: String

    @Option(help: "Directory for the .ckpt written.")
    var directory: String = "."

    @Option(help: "Repetitions; the best time is reported.")
    var repetitions: Int = 5

    @Option(help: "Codec of the .ckpt written.")
    var codec: Codec = .raw

    @Flag(help: "Print JSON.")
    var json = false

    struct Result: Encodable {
        var file: String
        var tensors: Int
        var bytes: Int
        var parseSeconds: Double
        var parseReadSeconds: Double
        var parseWriteSeconds: Double
        var parseWriteTmpfsSeconds: Double?
        var codec: String
    }

    func run() throws {
        let url = URL(fileURLWithPath: file)
        let first = try TorchFile.read(contentsOf: url)
        let bytes = first.tensors.reduce(0) { $0 + $1.tensor.data.count }
        let parse = try best { _ = try TorchFile.read(contentsOf: url) }
        let parseRead = try best {
            let checkpoint = try TorchFile.read(contentsOf: url)
            var sum: UInt64 = 0
            for named in checkpoint.tensors {
                named.tensor.data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                    var i = 0
                    while i + 8 <= raw.count {
                        sum &+= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                        i += 8
                    }
                }
            }
            if sum == 42 { print("") } // keep the loop
        }
        let target = URL(fileURLWithPath: directory).appendingPathComponent("bench-torch-\(getpid()).ckpt")
        defer { try? FileManager.default.removeItem(at: target) }
        let parseWrite = try best {
            try CheckpointFile.write(try TorchFile.read(contentsOf: url), to: target, options: WriteOptions(codec: codec))
        }
        let tmpfs = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : nil
        let parseWriteTmpfs = try tmpfs.map { dir -> Double in
            let target = URL(fileURLWithPath: dir).appendingPathComponent("ckpt-bench-torch-\(getpid()).ckpt")
            defer { try? FileManager.default.removeItem(at: target) }
            return try best { try CheckpointFile.write(try TorchFile.read(contentsOf: url), to: target, options: WriteOptions(codec: codec)) }
        }
        let result = Result(file: file, tensors: first.tensors.count, bytes: bytes, parseSeconds: parse,
                            parseReadSeconds: parseRead, parseWriteSeconds: parseWrite, parseWriteTmpfsSeconds: parseWriteTmpfs,
                            codec: codec.rawValue)
        if json {
            print(try Terminal.json(result))
            return
        }
        print("\(file): \(result.tensors) tensors, \(Terminal.bytes(bytes)), best of \(repetitions)")
        print(String(format: "parse (tensors are views of the mapped file)  %8.2f ms", parse * 1000))
        print(String(format: "parse + read every byte                      %8.2f ms", parseRead * 1000))
        print(String(format: "parse + write .ckpt (%@, fsync)             %8.2f ms", codec.rawValue, parseWrite * 1000))
        if let parseWriteTmpfs {
            print(String(format: "parse + write .ckpt (%@, tmpfs)             %8.2f ms", codec.rawValue, parseWriteTmpfs * 1000))
        }
    }

    private func best(_ body: () throws -> Void) throws -> Double {
        var fastest = Double.infinity
        for _ in 0 ..< max(1, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return fastest
    }
}
