import ArgumentParser
import Foundation
import Format

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint or a stored version as .safetensors, .npz, .ckpt or a torch .pt file (chosen by the output's extension).",
        discussion: "A .pt keeps a training checkpoint's nesting (dicts with their key types, lists, numbers) for torch.load(weights_only=True); .safetensors keeps it in __metadata__; .npz holds the tensors only.")

    @Argument(help: ArgumentHelp("The checkpoint to export: a file (.ckpt or any importable file) or a stored version.", valueName: "FILE|REF"))
    var source: String

    @Option(name: .shortAndLong, help: "The file to write: OUT.safetensors, OUT.npz, OUT.ckpt or OUT.pt (also .pth, .bin).")
    var output: String

    @Option(help: ArgumentHelp("Split a .safetensors output into shards of at most SIZE (5GB, 500MB, 2GiB, or bytes) with NAME.safetensors.index.json, as save_pretrained writes them.", valueName: "SIZE"))
    var maxShardSize: ByteSize?

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let format = try OutputFile.format(output)
        if maxShardSize != nil, format != .safetensors {
            throw CLIError.usage("--max-shard-size splits .safetensors outputs only, not .\(URL(fileURLWithPath: output).pathExtension)")
        }
        let checkpoint = try InputArgument.checkpoint(source, store: storeOptions.store)
        if let maxShardSize {
            let files = try OutputFile.writeShards(checkpoint, to: output, maxShardSize: maxShardSize.bytes)
            if json {
                print(try Terminal.json(files.map { OutputFile.written(checkpoint, as: format, to: $0.path) }))
            } else {
                OutputFile.reportShards(checkpoint, files: files)
            }
            return
        }
        try OutputFile.write(checkpoint, as: format, to: output, label: "exporting")
        if json {
            print(try Terminal.json(OutputFile.written(checkpoint, as: format, to: output)))
        } else {
            OutputFile.report(checkpoint, as: format, to: output)
        }
    }
}
