import ArgumentParser
import Catalog
import Foundation
import Format

struct Tag: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Name a version with a tag (usable wherever a REF is), or list or delete tags.")

    @Argument(help: "The version to tag (omit both arguments to list tags).")
    var reference: String?

    @Argument(help: "The tag.")
    var name: String?

    @Flag(name: .shortAndLong, help: "Move the tag if it already names another version.")
    var force = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Delete this tag.", valueName: "TAG"))
    var delete: String?

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    /// One tag as `--json` prints it.
    struct Entry: Encodable {
        var tag: String
        var reference: String
        var hash: String
        /// Set when `--delete` removed it.
        var deleted: Bool?
    }

    func validate() throws {
        if delete != nil, reference != nil { throw ValidationError("give either --delete TAG or REF NAME") }
        if delete == nil, reference != nil, name == nil { throw ValidationError("give the tag name after the version: ckpt tag REF NAME") }
    }

    func run() throws {
        let store = try storeOptions.open()
        if let delete {
            let version = try store.untag(delete)
            if json { return print(try Terminal.json(Entry(tag: delete, reference: version.reference, hash: version.hash, deleted: true))) }
            print("deleted tag \(delete) (was \(version.reference))".escapedForDisplay)
        } else if let reference, let name {
            let version = try store.tag(reference, as: name, force: force)
            if json { return print(try Terminal.json(Entry(tag: name, reference: version.reference, hash: version.hash))) }
            print("\(name) -> \(version.reference) (\(version.shortHash))".escapedForDisplay)
        } else {
            let history = try store.history()
            if json {
                return print(try Terminal.json(history.flatMap { version in
                    version.tags.map { Entry(tag: $0, reference: version.reference, hash: version.hash) }
                }))
            }
            for version in history {
                // Tab-separated for scripts: each field escaped, the tabs between them kept.
                for tag in version.tags { print("\(tag.escapedForDisplay)\t\(version.reference.escapedForDisplay)\t\(version.shortHash)") }
            }
        }
    }
}
