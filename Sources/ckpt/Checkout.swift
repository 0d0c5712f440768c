import ArgumentParser
import Catalog
import Foundation
import Format

struct Checkout: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a stored version out as a standalone file: a .ckpt (tensors bit for bit, aliases, architecture, metadata, probes, structure) or the format the output's extension names (.pt, .safetensors, .npz).")

    @Argument(help: "The version: NAME@N, NAME@latest, NAME, a tag or a hash prefix.")
    var reference: String

    @Option(name: .shortAndLong, help: "The file to write: OUT.ckpt, OUT.pt (also .pth, .bin), OUT.safetensors or OUT.npz.")
    var output: String

    @Option(help: "How tensors are stored in a .ckpt: raw, zstd, shuffle-zstd or shuffle-ans.")
    var codec: Codec = .default

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    struct Report: Encodable {
        var reference: String
        var hash: String
        var output: OutputFile.Written
    }

    func run() throws {
        let format = try OutputFile.format(output)
        let store = try storeOptions.open()
        // Under the shared lock: a concurrent rm + gc cannot delete the objects mid-read.
        let reading = ProgressBar("reading")
        let (content, checkpoint) = try store.reading {
            defer { reading.finish() }
            let content = try store.content(reference)
            return (content, try store.checkpoint(of: content, progress: reading.callback))
        }
        try OutputFile.write(checkpoint, as: format, to: output, options: WriteOptions(codec: codec), label: "writing")
        if json {
            print(try Terminal.json(Report(reference: content.info.reference, hash: content.info.hash,
                                           output: OutputFile.written(checkpoint, as: format, to: output))))
            return
        }
        print("\(output): \(content.info.reference) (\(content.info.shortHash)), \(StoreText.count(checkpoint.tensors.count, "tensor"))".escapedForDisplay)
        let dropped = format.leftOut(of: checkpoint)
        if !dropped.isEmpty { Terminal.warn("note: \(format.rawValue) cannot hold \(dropped.joined(separator: " or ")); left out") }
    }
}
