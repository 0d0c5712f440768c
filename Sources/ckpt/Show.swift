import ArgumentParser
import Catalog
import Foundation
import Format

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a stored version holds, as inspect shows a file, with its history.")

    @Argument(help: "The version: NAME@N, NAME@latest, NAME, a tag or a hash prefix.")
    var reference: String

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    struct Report: Encodable {
        var version: VersionInfo
        var contents: Inspect.Report
    }

    func run() throws {
        let store = try storeOptions.open()
        let content = try store.content(reference)
        let report = Self.inspectReport(content)
        if json {
            print(try Terminal.json(Report(version: content.info, contents: report)))
            return
        }
        let info = content.info
        // Names, tags and messages come from whoever saved: each printed as one line.
        print("version \(info.hash)\(StoreText.decoration(info))".escapedForDisplay)
        print("model   \(info.reference)".escapedForDisplay)
        if !info.parents.isEmpty {
            print("parents \(info.parents.map { "\($0.reference) (\($0.hash.prefix(12)))" }.joined(separator: ", "))\(StoreText.pruned(info))".escapedForDisplay)
        } else if !info.prunedAncestors.isEmpty {
            print("parents none\(StoreText.pruned(info))".escapedForDisplay)
        }
        print("date    \(StoreText.date(info.created))")
        if !info.message.isEmpty { print("message \(info.message)".escapedForDisplay) }
        print("")
        Terminal.say(lines: Inspect.render(Self.inspectReport(content, escaped: true)))
        if content.architecture == nil { print("architecture: none") }
    }

    /// The report `inspect` prints for a file, built from the catalog: sizes are the
    /// objects' own (shared objects count in full in every version that uses them).
    /// `escaped` makes names safe for a terminal (text output); JSON keeps them raw.
    static func inspectReport(_ content: VersionContent, escaped: Bool = false) -> Inspect.Report {
        let shown: (String) -> String = escaped ? { $0.escapedForDisplay } : { $0 }
        let rows = content.tensors.map {
            Inspect.Row(name: shown($0.name), aliases: $0.aliases.map(shown), dtype: $0.dtype.rawValue, shape: $0.shape,
                        codec: $0.codec.rawValue, stored: $0.storedBytes, raw: $0.rawBytes)
        }
        let raw = rows.reduce(0) { $0 + $1.raw }, stored = rows.reduce(0) { $0 + $1.stored }
        return Inspect.Report(
            file: "\(content.info.reference) (\(content.info.shortHash))", kind: "store version", version: nil, writer: nil,
            tensors: rows, raw: raw, stored: stored, ratio: raw > 0 ? Double(stored) / Double(raw) : nil,
            metadata: content.metadataValue, architecture: content.architectureValue,
            probes: content.probes.map { "\(shown($0.name)) (\($0.origin.rawValue), \($0.inputs.count) in, \($0.outputs.count) out, rtol \($0.rtol))" })
    }
}
