import ArgumentParser
import Catalog
import Foundation
import Format

struct Gc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete stored tensors that no version references, and leftovers of interrupted saves.")

    @Flag(name: .customLong("dry-run"), help: "Only report what would be freed.")
    var dryRun = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let bar = ProgressBar(dryRun ? "looking" : "collecting")
        let report: GCReport
        do {
            defer { bar.finish() }
            report = try store.gc(dryRun: dryRun, progress: bar.callback)
        }
        if json {
            print(try Terminal.json(report))
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        var line = "\(store.path.escapedForDisplay): \(verb) \(StoreText.count(report.removedObjects, "unreferenced object"))"
        if report.removedTemporaries > 0 { line += " and \(StoreText.count(report.removedTemporaries, "temporary file"))" }
        line += ", \(Terminal.bytes(report.freedBytes)) freed; \(StoreText.count(report.keptObjects, "object")) (\(Terminal.bytes(report.keptBytes))) kept"
        print(line)
    }
}
