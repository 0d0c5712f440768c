import ArgumentParser
import Catalog
import Foundation
import Format

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two checkpoints (stored versions or files): tensors added, removed and changed (by how much), architecture, metadata and structure.",
        discussion: "For a changed float tensor: the largest absolute difference and the relative norm ||b - a|| / ||a||. Each of A and B is a stored version or a file (an existing file wins, as verify resolves).")

    @Argument(help: ArgumentHelp("The earlier checkpoint.", valueName: "A: FILE|REF"))
    var a: String

    @Argument(help: ArgumentHelp("The later checkpoint.", valueName: "B: FILE|REF"))
    var b: String

    @Flag(help: "Also list tensors that did not change.")
    var all = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @Flag(help: "Also give the listed tensors' statistics (mean, std, min, max, L2 norm, zeros, NaN/Inf, histogram) in both versions, side by side.")
    var stats = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let (diff, statsRows) = try compare()
        if json {
            print(try statsRows.map { try Terminal.json(DiffStats.Output(diff: diff, stats: $0)) } ?? Terminal.json(diff))
            return
        }
        print("diff \(diff.a) \(diff.b)".escapedForDisplay)
        var rows: [[String]] = []
        for change in diff.tensors where all || change.status != .same {
            rows.append([change.status.rawValue, change.name.escapedForDisplay, Self.what(change).escapedForDisplay,
                         StoreText.number(change.maxAbsDifference), StoreText.number(change.relativeNorm)])
        }
        if !rows.isEmpty {
            print(Terminal.table(["", "tensor", "dtype / shape", "max |b-a|", "||b-a||/||a||"], rows, rightAligned: [3, 4]))
        }
        print("\(StoreText.count(diff.tensors.count, "tensor")): \(diff.count(.changed)) changed, \(diff.count(.added)) added, "
              + "\(diff.count(.removed)) removed, \(diff.count(.same)) same")
        if let statsRows, !statsRows.isEmpty { print(DiffStats.render(statsRows, labels: (diff.a, diff.b))) }
        for (title, changes) in [("architecture", diff.architecture), ("metadata", diff.metadata), ("structure", diff.structure)] {
            if changes.isEmpty {
                print("\(title): same")
                continue
            }
            print("\(title): \(StoreText.count(changes.count, "difference"))")
            for change in changes {
                switch change.kind {
                case .added: print("  + \(change.path): \(change.new ?? "")".escapedForDisplay)
                case .removed: print("  - \(change.path): \(change.old ?? "")".escapedForDisplay)
                case .changed: print("  ~ \(change.path): \(change.old ?? "") -> \(change.new ?? "")".escapedForDisplay)
                }
            }
        }
        for name in diff.probesAdded { print("probe added: \(name.escapedForDisplay)") }
        for name in diff.probesRemoved { print("probe removed: \(name.escapedForDisplay)") }
        for name in diff.probesChanged { print("probe changed: \(name.escapedForDisplay)") }
    }

    /// Two versions of one store compare by their objects (nothing read that is the same);
    /// when either side is a file, both are read whole and compared by bytes.
    private func compare() throws -> (VersionDiff, [DiffStats.Row]?) {
        let files = [a, b].contains { FileManager.default.fileExists(atPath: $0) }
        guard files else {
            let store = try storeOptions.open()
            // Under the shared lock: a concurrent rm + gc cannot delete the objects mid-read.
            return try store.reading {
                let contentA = try store.content(a), contentB = try store.content(b)
                let diff = try store.diff(contentA, contentB)
                return (diff, stats ? try DiffStats.rows(diff, all: all, store: store, contentA, contentB) : nil)
            }
        }
        let x = try InputArgument.checkpoint(a, store: storeOptions.store)
        let y = try InputArgument.checkpoint(b, store: storeOptions.store)
        let diff = VersionDiff.between(x, y, labels: (a, b))
        return (diff, stats ? try DiffStats.rows(diff, all: all, x, y) : nil)
    }

    /// `f32 [384, 384]`, or what changed in dtype and shape.
    static func what(_ change: TensorChange) -> String {
        let dtypes = change.dtype, shapes = change.shape.map(Tensor.describe)
        guard dtypes.count == 2 else { return "\(dtypes[0]) \(shapes[0])" }
        var parts: [String] = []
        parts.append(dtypes[0] == dtypes[1] ? dtypes[0] : "\(dtypes[0]) -> \(dtypes[1])")
        parts.append(shapes[0] == shapes[1] ? shapes[0] : "\(shapes[0]) -> \(shapes[1])")
        var text = parts.joined(separator: " ")
        if let aliases = change.aliases { text += " aliases [\(aliases[0].joined(separator: ", "))] -> [\(aliases[1].joined(separator: ", "))]" }
        if let differing = change.differingElements, change.maxAbsDifference == nil { text += " (\(differing) elements differ)" }
        return text
    }
}
