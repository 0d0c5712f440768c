import ArgumentParser
import Catalog
import Foundation
import Format

/// `--store DIR`, shared by every verb that works on a store. Without it, `$CKPT_STORE`,
/// then the first `.ckpt/` found walking up from the current directory, as git does.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("store"), help: ArgumentHelp("The store: a directory holding .ckpt/ (default: $CKPT_STORE, else found from the current directory upwards).", valueName: "DIR"))
    var store: String?

    func open() throws -> Store {
        try Self.open(explicit: store)
    }

    static func open(explicit: String?) throws -> Store {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        return try Store.open(Store.locate(explicit: explicit, environment: ProcessInfo.processInfo.environment, start: cwd))
    }
}

/// Formatting shared by the store verbs.
enum StoreText {
    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    /// `(tag: best, tag: v1)` after a version, as git decorates commits.
    static func decoration(_ info: VersionInfo) -> String {
        info.tags.isEmpty ? "" : " (" + info.tags.map { "tag: \($0)" }.joined(separator: ", ") + ")"
    }

    static func number(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == 0 { return "0" }
        return String(format: abs(value) >= 1e-3 && abs(value) < 1e4 ? "%.4g" : "%.3e", value)
    }
}

/// `ckpt verify REF`: a store version checked as a file is, in the same report.
enum StoreVerification {
    /// The report for `reference`, or nil when no store is found (the caller then says the
    /// file does not exist).
    static func report(for reference: String) throws -> Verify.Report? {
        guard let store = try? StoreOptions.open(explicit: nil) else { return nil }
        let content: VersionContent
        do { content = try store.content(reference) } catch let error as CatalogError {
            throw CLIError.usage("\(reference.escapedForDisplay): no such file, nor a version in \(store.path.escapedForDisplay) (\(error))")
        }
        let found = store.verify(content)
        return Verify.Report(file: "\(content.info.reference) (\(content.info.shortHash))", ok: found.ok, problems: found.problems,
                             tensors: found.tensorsChecked, chunks: found.chunksChecked, bytes: found.bytesDecoded)
    }
}
