import ArgumentParser
import Catalog
import Foundation
import Format

struct Rm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove a version from the catalog (its tensors stay until ckpt gc).",
        discussion: "A version that is the parent of another is refused: remove its children first.")

    @Argument(help: "The version: NAME@N, NAME@latest, NAME, a tag or a hash prefix.")
    var reference: String

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let version = try store.remove(reference)
        Terminal.say("removed \(version.reference) (\(version.shortHash)); `ckpt gc` frees the tensors no other version uses")
    }
}
