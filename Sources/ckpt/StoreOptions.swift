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

    /// `1 tensor`, `2 tensors`: a count with its noun in the right number.
    static func count(_ value: Int, _ noun: String, plural: String? = nil) -> String {
        Terminal.count(value, noun, plural)
    }

    /// `m@5 now descends from m@2 (pruned between: m@3, m@4)`.
    static func reparented(_ version: VersionInfo) -> String {
        let parents = version.parents.isEmpty ? "no parent (a root)" : version.parents.map(\.reference).joined(separator: ", ")
        return "\(version.reference) now descends from \(parents)\(pruned(version))"
    }

    /// ` (pruned between: m@3, m@4)` for a version whose history was pruned, else empty.
    static func pruned(_ version: VersionInfo) -> String {
        guard !version.prunedAncestors.isEmpty else { return "" }
        let shown = version.prunedAncestors.prefix(6).joined(separator: ", ")
        let more = version.prunedAncestors.count > 6 ? " and \(version.prunedAncestors.count - 6) more" : ""
        return " (pruned between: \(shown)\(more))"
    }

    static func number(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == 0 { return "0" }
        return String(format: abs(value) >= 1e-3 && abs(value) < 1e4 ? "%.4g" : "%.3e", value)
    }
}
