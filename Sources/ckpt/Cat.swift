import ArgumentParser
import Catalog
import Foundation
import Format

struct Cat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one tensor to a .npy file, decoding nothing else.")

    @Argument(help: ArgumentHelp("The checkpoint: a file (.ckpt, .safetensors, .npz, .npy, torch .pt) or a stored version.", valueName: "FILE|REF"))
    var file: String

    @Argument(help: "The tensor's name or one of its aliases.")
    var name: String

    @Option(name: .shortAndLong, help: "The .npy file to write.")
    var output: String

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let tensor: Tensor
        let url: URL
        switch try InputArgument.locate(file, store: storeOptions.store) {
        case .file(let found): url = found
        case .version(let content, let store):
            // One object read (checked end to end), under the lock that keeps gc away.
            tensor = try store.reading {
                let content = try store.content(content.info.hash)
                guard let entry = content.tensors.first(where: { $0.name == name || $0.aliases.contains(name) }) else {
                    throw CLIError.noSuchTensor(file: file, name: name, suggestions: Self.suggestions(name, content.tensors.flatMap { [$0.name] + $0.aliases }))
                }
                return try store.tensor(entry, of: content.info)
            }
            return try write(tensor)
        }
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
        try write(tensor)
    }

    private func write(_ tensor: Tensor) throws {
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
