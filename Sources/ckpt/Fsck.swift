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
        let report: FsckReport
        do {
            defer { bar.finish() }
            report = try store.fsck(progress: bar.callback)
        }
        if json {
            print(try Terminal.json(report))
        } else {
            for problem in report.problems { Terminal.say("\(store.path): \(problem)") }
            var line = "\(store.path): \(report.ok ? "ok" : "DAMAGED (\(Terminal.count(report.problems.count, "problem")))")"
            line += " (\(Terminal.count(report.versions, "version")), \(Terminal.count(report.objectsChecked, "object")), \(Terminal.bytes(report.bytesChecked)) re-hashed)"
            if report.unreferencedObjects > 0 || report.temporaryFiles > 0 {
                line += "; \(Terminal.count(report.unreferencedObjects, "unreferenced object")) (\(Terminal.bytes(report.unreferencedBytes)))"
                    + " and \(Terminal.count(report.temporaryFiles, "temporary file")): ckpt gc removes them"
            }
            Terminal.say(line)
        }
        if !report.ok { throw ExitCode(1) }
    }
}
