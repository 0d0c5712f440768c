import ArgumentParser
import Catalog
import Foundation
import Format

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List every model of the store: its version count, latest version, tags and stored bytes.",
        discussion: "Bytes are the stored size of the distinct objects the model's versions use (an object shared with another model counts in each).",
        aliases: ["ls"])

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let models = try storeOptions.open().models()
        if json { return print(try Terminal.json(models)) }
        guard !models.isEmpty else { return Terminal.say("no models (save one with: ckpt save FILE)") }
        let rows = models.map { model in
            [model.name, String(model.versions), model.latest.map { "\($0) \(model.latestHash.map { String($0.prefix(12)) } ?? "")" } ?? "-",
             model.tags.joined(separator: ", "), Terminal.bytes(model.bytes)]
        }
        Terminal.say(block: Terminal.table(["model", "versions", "latest", "tags", "bytes"], rows, rightAligned: [1, 4]))
    }
}
