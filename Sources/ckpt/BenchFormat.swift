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
        /// The same decode and checks on one thread, chunk by chunk into one scratch
        /// buffer: the per-core decode rate, without allocation or page faults.
        var decodeOneCoreSeconds: Double
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
            let decodeOneCore = try best { try decodeSerially(url) }
            let stored = try ContainerReader(contentsOf: url).manifest.tensors.reduce(0) { $0 + $1.storedCount }
            rows.append(Row(codec: codec.rawValue, raw: raw, stored: stored, ratio: Double(stored) / Double(raw),
                            saveSeconds: save, saveNoSyncSeconds: saveNoSync, loadSeconds: load,
                            decodeOneCoreSeconds: decodeOneCore))
            try? FileManager.default.removeItem(at: url)
        }
        if json {
            print(try Terminal.json(rows))
            return
        }
        print("\(model): \(Terminal.bytes(raw)) raw, best of \(repetitions)")
        print(Terminal.table(
            ["codec", "stored/raw", "save (fsync)", "GB/s", "save (no fsync)", "GB/s", "load all", "GB/s", "decode GB/s/core"],
            rows.map { row in
                [row.codec, String(format: "%.3f", row.ratio),
                 ms(row.saveSeconds), rate(raw, row.saveSeconds),
                 ms(row.saveNoSyncSeconds), rate(raw, row.saveNoSyncSeconds),
                 ms(row.loadSeconds), rate(raw, row.loadSeconds), rate(raw, row.decodeOneCoreSeconds)]
            }, rightAligned: Set(1...8)))
    }

    /// Checks and decodes every chunk of every tensor on this thread, one at a time.
    private func decodeSerially(_ url: URL) throws {
        let reader = try ContainerReader(contentsOf: url)
        let largest = reader.manifest.tensors.flatMap(\.chunks).map(\.size).max() ?? 0
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(largest, 1), alignment: 64)
        defer { scratch.deallocate() }
        var sink: UInt8 = 0
        for record in reader.manifest.tensors {
            for index in record.chunks.indices {
                sink &+= try reader.withDecodedChunk(record, index: index, scratch: scratch) { $0.last ?? 0 }
            }
        }
        _ = sink
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
