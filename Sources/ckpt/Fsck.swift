import ArgumentParser
import Catalog
import Foundation
import Format

struct Fsck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the whole store: every object re-hashed, every reference resolved.",
        discussion: "Exit status: 0 the store is sound, 1 damage was found (each problem names the version and tensor), 2 usage error.")

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let bar = ProgressBar("checking")
        let report = try store.fsck { done, total in bar.update(done, of: total) }
        bar.finish()
        if json {
            print(try Terminal.json(report))
        } else {
            let path = store.path.escapedForDisplay
            for problem in report.problems { print("\(path): \(problem.escapedForDisplay)") }
            var line = "\(path): \(report.ok ? "ok" : "DAMAGED (\(report.problems.count) problem\(report.problems.count == 1 ? "" : "s"))")"
            line += " (\(StoreText.count(report.versions, "version")), \(StoreText.count(report.objectsChecked, "object")), \(Terminal.bytes(report.bytesChecked)) re-hashed)"
            if report.unreferencedObjects > 0 || report.temporaryFiles > 0 {
                line += "; \(StoreText.count(report.unreferencedObjects, "unreferenced object")) (\(Terminal.bytes(report.unreferencedBytes)))"
                    + " and \(StoreText.count(report.temporaryFiles, "temporary file")): ckpt gc removes them"
            }
            print(line)
        }
        if !report.ok { throw ExitCode(1) }
    }
}
