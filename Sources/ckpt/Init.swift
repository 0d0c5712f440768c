import ArgumentParser
import Catalog
import Foundation
import Format

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a checkpoint store (.ckpt/ in DIR): a SQLite catalog and content-addressed tensors.")

    @Argument(help: "The directory to hold the store (default: the current directory).")
    var directory: String = "."

    func run() throws {
        // As git init does, a directory that does not exist yet is created (Store.create).
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        let (store, created) = try Store.create(in: url)
        let schema = try store.schema().count
        Terminal.say(created ? "created an empty store in \(store.path) (schema \(schema))"
                      : "\(store.path): a store is already here (schema \(schema))")
    }
}
