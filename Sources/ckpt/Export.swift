import ArgumentParser
import Foundation
import Format

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint as .safetensors, .npz, .ckpt or a torch .pt state_dict (chosen by the output's extension).")

    @Argument(help: "The checkpoint to export (.ckpt or any importable file).")
    var source: String

    @Option(name: .shortAndLong, help: "The file to write: OUT.safetensors, OUT.npz, OUT.ckpt or OUT.pt (also .pth, .bin).")
    var output: String

    func run() throws {
        let destination = URL(fileURLWithPath: output)
        let ext = destination.pathExtension.lowercased()
        let torch = ["pt", "pth", "bin"].contains(ext)
        guard ["safetensors", "npz", "ckpt"].contains(ext) || torch else {
            throw CLIError.unknownExtension(path: output, extension: ext, accepted: ["safetensors", "npz", "ckpt", "pt"])
        }
        let checkpoint = try Importer.load(contentsOf: URL(fileURLWithPath: source))
        do {
            switch ext {
            case "safetensors": try Safetensors.write(checkpoint, to: destination)
            case "npz": try Npz.write(checkpoint, to: destination)
            case _ where torch: try TorchFile.write(checkpoint, to: destination)
            default:
                let bar = ProgressBar("exporting")
                defer { bar.finish() }
                try CheckpointFile.write(checkpoint, to: destination, progress: bar.callback)
            }
        } catch {
            throw error.attributed(to: output)
        }
        var dropped: [String] = []
        if ext != "ckpt" {
            if checkpoint.architecture != nil { dropped.append("the architecture document") }
            if !checkpoint.probes.isEmpty { dropped.append(Terminal.count(checkpoint.probes.count, "probe")) }
            if ext == "npz" || torch, checkpoint.metadata != nil { dropped.append("the metadata") }
        }
        let aliases = checkpoint.tensors.reduce(0) { $0 + $1.aliases.count }
        var line = "\(output): \(Terminal.count(checkpoint.tensors.count, "tensor"))"
        if aliases > 0 {
            let counted = ", " + Terminal.count(aliases, "alias")
            line += ext == "safetensors" ? counted + " kept once and listed in __metadata__ as ckpt.aliases"
                : ext == "npz" ? counted + " written as copies"
                : torch ? counted + " sharing \(aliases == 1 ? "its" : "their") tensor's storage" : counted
        }
        Terminal.say(line)
        if !dropped.isEmpty { Terminal.warn("note: .\(ext)\(torch ? " (a state_dict)" : "") cannot hold \(dropped.joined(separator: " or ")); left out") }
    }
}
