import ArgumentParser
import Foundation
import Format

struct Cat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one tensor to a .npy file, decoding nothing else.")

    @Argument(help: "The checkpoint (.ckpt, .safetensors, .npz or .npy).")
    var file: String

    @Argument(help: "The tensor's name or one of its aliases.")
    var name: String

    @Option(name: .shortAndLong, help: "The .npy file to write.")
    var output: String

    func run() throws {
        let url = URL(fileURLWithPath: file)
        let tensor: Tensor
        let detected = try DetectedFile(url)
        if detected.kind == .ckpt {
            let reader = try ContainerReader(contentsOf: url)
            guard reader.record(named: name) != nil else {
                throw CLIError.noSuchTensor(file: file, name: name, suggestions: Self.suggestions(name, reader.manifest.tensors.flatMap(\.allNames)))
            }
            tensor = try reader.tensor(named: name)
        } else {
            let checkpoint = try Importer.load(detected)
            guard let found = checkpoint.tensor(named: name) else {
                throw CLIError.noSuchTensor(file: file, name: name, suggestions: Self.suggestions(name, checkpoint.allNames))
            }
            tensor = found
        }
        do { try Npy.write(tensor, to: URL(fileURLWithPath: output)) } catch { throw error.attributed(to: output) }
        Terminal.say("\(output): \(name) \(tensor.dtype.rawValue)\(Tensor.describe(tensor.shape))")
    }

    /// Up to three names that share the longest prefix with `name` (none when none shares a character).
    static func suggestions(_ name: String, _ names: [String]) -> [String] {
        let scored = names.map { candidate in (candidate, zip(candidate, name).prefix(while: { $0 == $1 }).count) }
        guard let best = scored.map(\.1).max(), best > 0 else { return [] }
        return scored.filter { $0.1 == best }.prefix(3).map(\.0)
    }
}
