import ArgumentParser
import Catalog
import Foundation
import Format

struct Rm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove a version from the catalog (its tensors stay until ckpt gc).",
        discussion: """
            A version that is the parent of another is refused unless --reparent: then its \
            children take its parents in its place and record it as a pruned ancestor (ckpt log \
            shows it). To keep only some versions of a model, see ckpt prune.
            """)

    @Argument(help: "The version: NAME@N, NAME@latest, NAME, a tag or a hash prefix.")
    var reference: String

    @Flag(help: "Re-parent the version's children onto its parents instead of refusing.")
    var reparent = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let result = try store.remove(reference, reparent: reparent)
        for version in result.removed {
            print("removed \(version.reference) (\(version.shortHash)); `ckpt gc` frees the tensors no other version uses".escapedForDisplay)
        }
        for child in result.reparented {
            print(StoreText.reparented(child).escapedForDisplay)
        }
    }
}
