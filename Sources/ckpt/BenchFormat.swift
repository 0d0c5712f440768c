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
        /// Save with fsync of the file and its directory (what `ckpt import` does).
        var saveSeconds: Double
        /// Save into the page cache only (the file renamed into place, no fsync).
        var saveNoSyncSeconds: Double
        /// Every tensor decoded, every chunk checksum checked.
        var loadSeconds: Double
    }

    func run() throws {
        let source = try Importer.load(contentsOf: URL(fileURLWithPath: model))
        let raw = source.tensors.reduce(0) { $0 + $1.tensor.data.count }
        // Touch every byte once so the first codec does not pay for page faults of the map.
        var sink: UInt8 = 0
        for tensor in source.tensors { tensor.tensor.data.withUnsafeBytes { bytes in stride(from: 0, to: bytes.count, by: 4096).forEach { sink &+= bytes[$0] } } }
        _ = sink
        var rows: [Row] = []
        for codec in Codec.allCases {
            let url = URL(fileURLWithPath: directory).appendingPathComponent("bench-\(codec.rawValue).ckpt")
            let save = try best { try CheckpointFile.write(source, to: url, options: WriteOptions(codec: codec)) }
            let saveNoSync = try best { try CheckpointFile.write(source, to: url, options: WriteOptions(codec: codec, sync: false)) }
            let load = try best { _ = try ContainerReader(contentsOf: url).allTensors() }
            let stored = try ContainerReader(contentsOf: url).manifest.tensors.reduce(0) { $0 + $1.storedCount }
            rows.append(Row(codec: codec.rawValue, raw: raw, stored: stored, ratio: Double(stored) / Double(raw),
                            saveSeconds: save, saveNoSyncSeconds: saveNoSync, loadSeconds: load))
            try? FileManager.default.removeItem(at: url)
        }
        if json {
            print(try Terminal.json(rows))
            return
        }
        print("\(model): \(Terminal.bytes(raw)) raw, best of \(repetitions)")
        print(Terminal.table(
            ["codec", "stored/raw", "save (fsync)", "GB/s", "save (no fsync)", "GB/s", "load all", "GB/s"],
            rows.map { row in
                [row.codec, String(format: "%.3f", row.ratio),
                 ms(row.saveSeconds), rate(raw, row.saveSeconds),
                 ms(row.saveNoSyncSeconds), rate(raw, row.saveNoSyncSeconds),
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
