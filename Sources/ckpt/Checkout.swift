import ArgumentParser
import Catalog
import Foundation
import Format

struct Checkout: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a stored version out as a standalone .ckpt (tensors bit for bit, aliases, architecture, metadata, probes).")

    @Argument(help: "The version: NAME@N, NAME@latest, NAME, a tag or a hash prefix.")
    var reference: String

    @Option(name: .shortAndLong, help: "The .ckpt to write.")
    var output: String

    @Option(help: "How tensors are stored in the file: raw, zstd, shuffle-zstd or shuffle-ans.")
    var codec: Codec = .default

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        // Under the shared lock: a concurrent rm + gc cannot delete the objects mid-read.
        let reading = ProgressBar("reading")
        let (content, checkpoint) = try store.reading {
            defer { reading.finish() }
            let content = try store.content(reference)
            return (content, try store.checkpoint(of: content, progress: reading.callback))
        }
        let writing = ProgressBar("writing")
        defer { writing.finish() }
        try CheckpointFile.write(checkpoint, to: URL(fileURLWithPath: output), options: WriteOptions(codec: codec), progress: writing.callback)
        writing.finish()
        print("\(output): \(content.info.reference) (\(content.info.shortHash)), \(StoreText.count(checkpoint.tensors.count, "tensor"))".escapedForDisplay)
    }
}
