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

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let format = try OutputFile.format(output)
        let checkpoint = try InputArgument.checkpoint(source, store: storeOptions.store)
        try OutputFile.write(checkpoint, as: format, to: output, label: "exporting")
        if json {
            print(try Terminal.json(OutputFile.written(checkpoint, as: format, to: output)))
        } else {
            OutputFile.report(checkpoint, as: format, to: output)
        }
    }
}
