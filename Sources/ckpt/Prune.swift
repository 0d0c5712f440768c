import ArgumentParser
import Catalog
import Foundation
import Format

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep only some versions of a model (e.g. the best and the latest) and remove the rest, lineage kept honest.",
        discussion: """
            Every version of MODEL that no --keep names (and, with --keep-latest, that is not \
            its latest) is removed in one transaction. Children of a removed version take its \
            parents in its place, so the kept versions still descend from one another, and each \
            records which versions were pruned in between (ckpt log shows them). Tensors no kept \
            version uses are freed by ckpt gc.
            """)

    @Argument(help: "The model to prune.")
    var model: String

    @Option(help: ArgumentHelp("A version to keep: NAME@N, a tag or a hash prefix (may be repeated).", valueName: "REF"))
    var keep: [String] = []

    @Flag(name: .customLong("keep-latest"), help: "Also keep the model's latest version.")
    var keepLatest = false

    @Flag(name: .customLong("dry-run"), help: "Only say what would be removed.")
    var dryRun = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        if keep.isEmpty && !keepLatest { throw ValidationError("say what to keep: --keep REF (repeatable) and/or --keep-latest") }
    }

    func run() throws {
        let store = try storeOptions.open()
        let result = try store.prune(model: model, keep: keep, keepLatest: keepLatest, dryRun: dryRun)
        if json {
            print(try Terminal.json(result))
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        let names = result.removed.map(\.reference).joined(separator: ", ")
        var line = "\(model): \(verb) \(StoreText.count(result.removed.count, "version"))"
        if !result.removed.isEmpty { line += " (\(names))" }
        print(line.escapedForDisplay)
        for child in result.reparented { print(StoreText.reparented(child).escapedForDisplay) }
        if !dryRun, !result.removed.isEmpty { print("`ckpt gc` frees the tensors no remaining version uses") }
    }
}
