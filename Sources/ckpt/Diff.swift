import ArgumentParser
import Catalog
import Foundation
import Format

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two stored versions: tensors added, removed and changed (by how much), architecture and metadata.",
        discussion: "For a changed float tensor: the largest absolute difference and the relative norm ||b - a|| / ||a||.")

    @Argument(help: "The earlier version (REF).")
    var a: String

    @Argument(help: "The later version (REF).")
    var b: String

    @Flag(help: "Also list tensors that did not change.")
    var all = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @Flag(help: "Also give the listed tensors' statistics (mean, std, min, max, L2 norm, zeros, NaN/Inf, histogram) in both versions, side by side.")
    var stats = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let contentA = try store.content(a), contentB = try store.content(b)
        let diff = try store.diff(contentA, contentB)
        let statsRows = stats ? try DiffStats.rows(diff, all: all, store: store, contentA, contentB) : nil
        if json {
            print(try statsRows.map { try Terminal.json(DiffStats.Output(diff: diff, stats: $0)) } ?? Terminal.json(diff))
            return
        }
        Terminal.say("diff \(diff.a) \(diff.b)")
        var rows: [[String]] = []
        for change in diff.tensors where all || change.status != .same {
            rows.append([change.status.rawValue, change.name, Self.what(change),
                         StoreText.number(change.maxAbsDifference), StoreText.number(change.relativeNorm)])
        }
        if !rows.isEmpty {
            Terminal.say(block: Terminal.table(["", "tensor", "dtype / shape", "max |b-a|", "||b-a||/||a||"], rows, rightAligned: [3, 4]))
        }
        Terminal.say("\(Terminal.count(diff.tensors.count, "tensor")): \(diff.count(.changed)) changed, \(diff.count(.added)) added, "
              + "\(diff.count(.removed)) removed, \(diff.count(.same)) same")
        if let statsRows, !statsRows.isEmpty { Terminal.say(block: DiffStats.render(statsRows, labels: (diff.a, diff.b))) }
        for (title, changes) in [("architecture", diff.architecture), ("metadata", diff.metadata)] {
            if changes.isEmpty {
                Terminal.say("\(title): same")
                continue
            }
            Terminal.say("\(title): \(Terminal.count(changes.count, "difference"))")
            for change in changes {
                switch change.kind {
                case .added: Terminal.say("  + \(change.path): \(change.new ?? "")")
                case .removed: Terminal.say("  - \(change.path): \(change.old ?? "")")
                case .changed: Terminal.say("  ~ \(change.path): \(change.old ?? "") -> \(change.new ?? "")")
                }
            }
        }
        for name in diff.probesAdded { Terminal.say("probe added: \(name)") }
        for name in diff.probesRemoved { Terminal.say("probe removed: \(name)") }
        for name in diff.probesChanged { Terminal.say("probe changed: \(name)") }
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
