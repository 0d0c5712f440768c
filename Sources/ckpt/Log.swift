import ArgumentParser
import Catalog
import Foundation
import Format

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List versions, newest first, with their lineage drawn as a graph (as git log --graph).")

    @Argument(help: "Only this model's versions (default: every model).")
    var model: String?

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let versions = try store.history(model: model)
        if json {
            print(try Terminal.json(versions))
            return
        }
        if versions.isEmpty {
            print(model.map { "model '\($0.escapedForDisplay)' has no versions" } ?? "the store has no versions yet (ckpt save FILE)")
            return
        }
        let shown = Set(versions.map(\.id))
        let nodes = versions.map { version in
            LineageGraph.Node(id: version.id, parents: version.parents.map(\.id).filter(shown.contains))
        }
        for line in LineageGraph.draw(nodes) {
            guard let index = line.node else {
                print(line.graph)
                continue
            }
            let version = versions[index]
            var text = "\(version.shortHash) \(version.reference)\(StoreText.decoration(version))  \(StoreText.date(version.created))"
            if !version.message.isEmpty { text += "  \(version.message)" }
            let outside = version.parents.filter { !shown.contains($0.id) }
            if !outside.isEmpty { text += "  (from \(outside.map(\.reference).joined(separator: ", ")))" }
            text += StoreText.pruned(version)
            // Names, tags and messages come from whoever saved: one line, no escapes obeyed.
            print(line.graph + " " + text.escapedForDisplay)
        }
    }
}
