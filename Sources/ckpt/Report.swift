import ArgumentParser
import Catalog
import Foundation
import Format

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page: architecture, weight histograms, statistics; with --against, the change per tensor and the lineage.",
        discussion: """
            The page has inline CSS and SVG only (no script, nothing fetched), so it opens in any \
            browser, offline. FILE|REF is a checkpoint file or a stored version (NAME@N, NAME, a \
            tag or a hash prefix). With --against, each tensor gets a bar of ||a - b|| / ||a||, \
            the histograms of both are drawn on one range, and when both are stored versions \
            their lineage is drawn as `ckpt log` draws it.
            """)

    @Argument(help: ArgumentHelp("A checkpoint file or a stored version.", valueName: "FILE|REF"))
    var source: String

    @Option(help: ArgumentHelp("Compare with this checkpoint or stored version.", valueName: "FILE|REF"))
    var against: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Where to write the page.", valueName: "REPORT.html"))
    var output: String

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let a = try CheckpointSource.open(source, store: storeOptions.store)
        let b = try against.map { try CheckpointSource.open($0, store: storeOptions.store) }
        let progress = ProgressBar("report")
        let stats: [TensorStats]
        do {
            defer { progress.finish() }
            stats = try TensorStatistics.compute(a.inputs + (b?.inputs ?? []), progress: progress.callback)
        }
        var page = ReportPage(source: a.label, kind: a.kind, architecture: Self.architecture(a, stats: Array(stats.prefix(a.inputs.count))),
                              stats: Array(stats.prefix(a.inputs.count)))
        if let b {
            page.against = b.label
            page.againstStats = Dictionary(stats.dropFirst(a.inputs.count).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            page.changes = try Self.changes(a, b)
            if let va = a.version, let vb = b.version, let store = a.store {
                page.lineage = try Self.lineage(store: store, a: va, b: vb)
            } else {
                page.lineageNote = "a: \(a.label)\(Self.parents(a)) · b: \(b.label)\(Self.parents(b)) (lineage is drawn when both are stored versions)"
            }
        }
        let html = page.html()
        try AtomicFile.write(Data(html.utf8), to: URL(fileURLWithPath: output))
        let flagged = page.stats.filter(\.isFlagged).count
        Terminal.say("\(output): \(Terminal.count(page.stats.count, "tensor")), \(flagged) flagged\(b.map { ", compared with \($0.label)" } ?? ""), \(Terminal.bytes(html.utf8.count))")
    }

    static func parents(_ source: CheckpointSource) -> String {
        guard let version = source.version, !version.parents.isEmpty else { return "" }
        return " (parent \(version.parents.map(\.reference).joined(separator: ", ")))"
    }

    static func architecture(_ source: CheckpointSource, stats: [TensorStats]) -> ReportPage.Architecture {
        guard let data = source.architecture else { return .none(outline: ReportPage.outline(stats)) }
        do {
            let architecture = try Architecture.parse(data)
            if let graph = architecture.graph { return .tree(try GraphPrinter.render(graph)) }
            return .tree(try ArchitecturePrinter.render(try architecture.moduleTree()))
        } catch {
            return .invalid((error as? FormatError)?.message ?? "\(error)")
        }
    }

    /// Every tensor of either side: ||a - b|| / ||a|| where dtype and shape agree.
    static func changes(_ a: CheckpointSource, _ b: CheckpointSource) throws -> [ReportPage.Change] {
        var changes: [ReportPage.Change] = []
        var matched = Set<String>()
        for input in a.inputs {
            guard let other = b.input(named: input.name) else {
                changes.append(.init(name: input.name, status: .removed, note: "only in a"))
                continue
            }
            matched.insert(other.name)
            guard input.dtype == other.dtype, input.shape == other.shape else {
                changes.append(.init(name: input.name, status: .reshaped,
                                     note: "\(input.dtype.rawValue) \(Tensor.describe(input.shape)) → \(other.dtype.rawValue) \(Tensor.describe(other.shape))"))
                continue
            }
            let difference = TensorDifference.compare(try a.tensor(input), try b.tensor(other))
            let same = difference?.normDifference == 0
            changes.append(.init(name: input.name, status: same ? .same : .changed, relative: difference?.relative,
                                 maxAbs: difference?.maxAbs, note: difference == nil ? "no figures for \(input.dtype.rawValue)" : nil))
        }
        for other in b.inputs where !matched.contains(other.name) {
            changes.append(.init(name: other.name, status: .added, note: "only in b"))
        }
        return changes
    }

    /// The history of both versions (each one's ancestors, and the versions themselves),
    /// drawn as `ckpt log` draws it.
    static func lineage(store: Store, a: VersionInfo, b: VersionInfo) throws -> [ReportPage.LineageLine] {
        let history = try store.history()
        let byID = Dictionary(history.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var keep = Set<Int64>()
        var stack = [a.id, b.id]
        while let id = stack.popLast() {
            guard keep.insert(id).inserted, let version = byID[id] else { continue }
            stack += version.parents.map(\.id)
        }
        let shown = history.filter { keep.contains($0.id) }
        let nodes = shown.map { LineageGraph.Node(id: $0.id, parents: $0.parents.map(\.id).filter(keep.contains)) }
        return LineageGraph.draw(nodes).map { line in
            guard let index = line.node else { return ReportPage.LineageLine(graph: line.graph, text: "", mark: nil) }
            let version = shown[index]
            var text = "\(version.shortHash) \(version.reference)\(StoreText.decoration(version))  \(StoreText.date(version.created))"
            if !version.message.isEmpty { text += "  \(version.message)" }
            let mark: String? = version.id == a.id && version.id == b.id ? "a and b" : version.id == a.id ? "a (this report)"
                : version.id == b.id ? "b (--against)" : nil
            return ReportPage.LineageLine(graph: line.graph, text: text, mark: mark)
        }
    }
}
