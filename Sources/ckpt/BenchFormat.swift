import ArgumentParser
import Foundation
import Format

struct BenchFormat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "format",
        abstract: "Time import (save) and load of a model with each codec; report stored/raw ratios.")

    @Argument(help: "A model to import, e.g. MiniLM-L6's model.safetensors.")
    var model: String

    @Option(help: "Directory for the files written (its disk is what save speed measures).")
    var directory: String = "."

    @Option(help: "Repetitions; the best time is reported.")
    var repetitions: Int = 5

    @Flag(help: "Print JSON.")
    var json = false

    struct Row: Encodable {
        var codec: String
        var raw: Int
        var stored: Int
        var ratio: Double
        var saveSeconds: Double
        var saveTmpfsSeconds: Double?
        var loadSeconds: Double
    }

    func run() throws {
        let source = try Importer.load(contentsOf: URL(fileURLWithPath: model))
        let raw = source.tensors.reduce(0) { $0 + $1.tensor.data.count }
        // Touch every byte once so the first codec does not pay for page faults of the map.
        var sink: UInt8 = 0
        for tensor in source.tensors { tensor.tensor.data.withUnsafeBytes { bytes in stride(from: 0, to: bytes.count, by: 4096).forEach { sink &+= bytes[$0] } } }
        _ = sink
        let tmpfs = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : nil
        var rows: [Row] = []
        for codec in [Codec.shuffleZstd, .zstd, .raw] {
            let url = URL(fileURLWithPath: directory).appendingPathComponent("bench-\(codec.rawValue).ckpt")
            let save = try best { try CheckpointFile.write(source, to: url, options: WriteOptions(codec: codec)) }
            let saveTmpfs = try tmpfs.map { dir -> Double in
                let target = URL(fileURLWithPath: dir).appendingPathComponent("ckpt-bench-\(getpid()).ckpt")
                defer { try? FileManager.default.removeItem(at: target) }
                return try best { try CheckpointFile.write(source, to: target, options: WriteOptions(codec: codec)) }
            }
            let load = try best { _ = try ContainerReader(contentsOf: url).allTensors() }
            let stored = try ContainerReader(contentsOf: url).manifest.tensors.reduce(0) { $0 + $1.storedCount }
            rows.append(Row(codec: codec.rawValue, raw: raw, stored: stored, ratio: Double(stored) / Double(raw),
                            saveSeconds: save, saveTmpfsSeconds: saveTmpfs, loadSeconds: load))
            try? FileManager.default.removeItem(at: url)
        }
        if json {
            print(try Terminal.json(rows))
            return
        }
        print("\(model): \(Terminal.bytes(raw)) raw, best of \(repetitions)")
        print(Terminal.table(
            ["codec", "stored/raw", "save (fsync)", "GB/s", "save (tmpfs)", "GB/s", "load all", "GB/s"],
            rows.map { row in
                [row.codec, String(format: "%.3f", row.ratio),
                 ms(row.saveSeconds), rate(raw, row.saveSeconds),
                 row.saveTmpfsSeconds.map(ms) ?? "-", row.saveTmpfsSeconds.map { rate(raw, $0) } ?? "-",
                 ms(row.loadSeconds), rate(raw, row.loadSeconds)]
            }, rightAligned: Set(1...7)))
    }

    private func best(_ body: () throws -> Void) throws -> Double {
        var fastest = Double.infinity
        for _ in 0..<max(1, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return fastest
    }

    private func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
    private func rate(_ bytes: Int, _ seconds: Double) -> String { String(format: "%.2f", Double(bytes) / seconds / 1e9) }
}
