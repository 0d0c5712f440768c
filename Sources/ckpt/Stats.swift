import ArgumentParser
import Catalog
import Foundation
import Format

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-tensor statistics: mean, std, min, max, L2 norm, zeros, NaN/Inf counts and a histogram.",
        discussion: """
            One streaming pass over every chunk on every core. mean, std (population, numpy's \
            default), min, max and the L2 norm are over the finite elements; NaN and Inf are \
            counted apart. Tensors holding NaN or Inf, or only zeros, are flagged. FILE|REF is a \
            file (.ckpt, .safetensors, .npz, .npy, torch .pt) or a stored version (NAME@N, \
            NAME, a tag or a hash prefix).
            """)

    @Argument(help: ArgumentHelp("A checkpoint file or a stored version.", valueName: "FILE|REF"))
    var source: String

    @Argument(help: ArgumentHelp("Only tensors whose name (or an alias) matches a shell pattern ('*' spans dots: 'encoder.*.weight').",
                                 valueName: "NAME-GLOB"))
    var globs: [String] = []

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    struct Report: Encodable {
        var source: String
        var kind: String
        var tensors: [TensorStats]
        var elements: Int
        /// Names of the flagged tensors.
        var flagged: [String]
    }

    func run() throws {
        let checkpoint = try CheckpointSource.open(source, store: storeOptions.store)
        let inputs = try checkpoint.selecting(globs)
        let progress = ProgressBar("stats")
        let stats: [TensorStats]
        do {
            defer { progress.finish() }
            stats = try TensorStatistics.compute(inputs, progress: progress.callback)
        }
        let report = Report(source: checkpoint.label, kind: checkpoint.kind, tensors: stats,
                            elements: stats.reduce(0) { $0 + $1.elements }, flagged: stats.filter(\.isFlagged).map(\.name))
        if json {
            print(try Terminal.json(report))
            return
        }
        Terminal.say("\(report.source): \(checkpoint.kind), \(Terminal.count(stats.count, "tensor")), "
              + "\(ArchitecturePrinter.grouped(report.elements)) elements")
        Terminal.say(block: StatsText.table(stats))
        for tensor in stats where tensor.isFlagged {
            Terminal.say("flagged: \(tensor.name): \(StatsText.flagText(tensor))")
        }
        if report.flagged.isEmpty { Terminal.say("flagged: none") }
    }
}

/// How statistics read in a terminal.
enum StatsText {
    static let histogramWidth = 16

    /// `digits` significant digits (4 unless told); "-" when unknown.
    static func number(_ value: Double?, digits: Int = 4) -> String {
        guard let value else { return "-" }
        if value == 0 { return "0" }
        return String(format: "%.\(digits)g", value)
    }

    /// Significant digits enough to tell `lo` from `hi` apart (4 at least): a tensor of
    /// values near 10000 that spread by 0.001 shows 9999.997 and 10000 rather than 1e+04 twice.
    static func digits(lo: Double?, hi: Double?) -> Int {
        guard let lo, let hi, lo != hi else { return 4 }
        for digits in 4...17 where number(lo, digits: digits) != number(hi, digits: digits) { return digits }
        return 17
    }

    static func share(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == 0 { return "0%" }
        if value < 0.001 { return "<0.1%" }
        if value == 1 { return "100%" }
        return String(format: "%.1f%%", value * 100)
    }

    static func flagText(_ stats: TensorStats) -> String {
        stats.flags.map { flag -> String in
            switch flag {
            case .nan: return "\(stats.nan) NaN"
            case .inf: return "\(stats.inf) Inf"
            case .allZeros: return "all zeros"
            }
        }.joined(separator: ", ")
    }

    static let header = ["mean", "std", "min", "max", "L2 norm", "zeros", "NaN", "Inf", "histogram"]

    /// The figure cells of one tensor, in `header`'s order; `counts` overrides the histogram.
    static func cells(_ stats: TensorStats, histogram counts: [Double]? = nil) -> [String] {
        guard stats.computed else { return ["-", "-", "-", "-", "-", "-", "-", "-", "(no figures for \(stats.dtype.rawValue))"] }
        let line = counts.map(Histogram.sparkline) ?? stats.histogram.sparkline(width: histogramWidth)
        let digits = digits(lo: stats.min, hi: stats.max)
        return [number(stats.mean, digits: digits), number(stats.std), number(stats.min, digits: digits), number(stats.max, digits: digits),
                number(stats.l2Norm),
                share(stats.zeroShare), String(stats.nan), String(stats.inf), line]
    }

    static func table(_ stats: [TensorStats]) -> String {
        let rows = stats.map { tensor in
            [tensor.name, tensor.dtype.rawValue, Tensor.describe(tensor.shape), ArchitecturePrinter.grouped(tensor.elements)]
                + cells(tensor) + [tensor.isFlagged ? "! " + flagText(tensor) : ""]
        }
        return Terminal.table(["name", "dtype", "shape", "elements"] + header + [""], rows,
                              rightAligned: [3, 4, 5, 6, 7, 8, 9, 10, 11])
    }
}

/// A checkpoint named on the command line: a file, or else a version in the store.
/// Tensors are read lazily: `.ckpt` files and store objects chunk by chunk.
struct CheckpointSource {
    /// How reports name it: the path, or `mlp@2 (1a2b3c4d5e6f)`.
    var label: String
    var kind: String
    var inputs: [StatsInput]
    var architecture: Data?
    /// Set for a stored version.
    var version: VersionInfo?
    var store: Store?
    private var load: (StatsInput) throws -> Tensor

    /// Opens `text` as a file if one exists there, else as a reference in the store
    /// (`--store`, `$CKPT_STORE`, or found from the current directory).
    static func open(_ text: String, store explicit: String?) throws -> CheckpointSource {
        do {
            switch try CheckpointResolver(store: explicit).locate(text) {
            case .file: return try file(text)
            case .version(let content, let store): return try version(content, in: store)
            }
        } catch let error as CheckpointResolverError {
            throw CLIError.unresolved(error)
        }
    }

    static func file(_ path: String) throws -> CheckpointSource {
        let url = URL(fileURLWithPath: path)
        let kind = try FileKind.detect(url)
        if kind == .ckpt {
            let reader = try ContainerReader(contentsOf: url)
            return CheckpointSource(label: path, kind: kind.rawValue, inputs: StatsInput.all(of: reader),
                                    architecture: try reader.architectureText(), version: nil, store: nil,
                                    load: { input in
                                        guard case .container(let reader, let record) = input.source else { throw FormatError("not in this file") }
                                        return try reader.tensor(record)
                                    })
        }
        let checkpoint = try Importer.load(contentsOf: url)
        return CheckpointSource(label: path, kind: kind.rawValue, inputs: StatsInput.all(of: checkpoint),
                                architecture: checkpoint.architecture?.text, version: nil, store: nil,
                                load: { input in
                                    guard case .memory(let tensor) = input.source else { throw FormatError("not in this file") }
                                    return tensor
                                })
    }

    /// A stored version: each tensor is an object, a one-tensor `.ckpt`, read chunk by chunk.
    static func version(_ content: VersionContent, in store: Store) throws -> CheckpointSource {
        let info = content.info
        var entries: [String: TensorEntry] = [:]
        let inputs = try content.tensors.map { entry -> StatsInput in
            entries[entry.name] = entry
            let url = store.objects.url(for: entry.object)
            do {
                let reader = try ContainerReader(contentsOf: url)
                guard reader.manifest.tensors.count == 1, let record = reader.manifest.tensors.first,
                      record.dtype == entry.dtype, record.shape == entry.shape else {
                    throw FormatError("object \(entry.object.prefix(16)) does not hold \(entry.dtype.rawValue)\(Tensor.describe(entry.shape))")
                }
                return StatsInput(name: entry.name, aliases: entry.aliases, source: .container(reader, record))
            } catch {
                let reason = (error as? FormatError)?.message ?? "\(error)"
                throw FormatError("\(info.reference) tensor '\(entry.name)': \(reason)", file: store.path)
            }
        }
        return CheckpointSource(label: "\(info.reference) (\(info.shortHash))", kind: "store version", inputs: inputs,
                                architecture: content.architecture, version: info, store: store,
                                load: { input in
                                    guard let entry = entries[input.name] else { throw FormatError("no tensor '\(input.name)' in \(info.reference)") }
                                    return try store.tensor(entry, of: info)
                                })
    }

    /// The inputs whose name or an alias matches one of `globs` (all when none is given);
    /// a pattern that matches nothing is an error.
    func selecting(_ globs: [String]) throws -> [StatsInput] {
        guard !globs.isEmpty else { return inputs }
        let patterns = globs.map(NameGlob.init)
        for pattern in patterns where !inputs.contains(where: { pattern.matches(any: $0.allNames) }) {
            throw CLIError.noTensorMatches(source: label, pattern: "\(pattern)")
        }
        return inputs.filter { input in patterns.contains { $0.matches(any: input.allNames) } }
    }

    /// The whole tensor (for comparisons), checked as any read is.
    func tensor(_ input: StatsInput) throws -> Tensor { try load(input) }

    func input(named name: String) -> StatsInput? { inputs.first { $0.name == name } }
}

/// `ckpt diff --stats`: the figures of both versions, side by side.
enum DiffStats {
    struct Row: Encodable {
        var name: String
        var a: TensorStats?
        var b: TensorStats?
    }

    /// `diff`'s JSON with a `stats` array added.
    struct Output: Encodable {
        var diff: VersionDiff
        var stats: [Row]

        enum Key: String, CodingKey { case stats }

        func encode(to encoder: Encoder) throws {
            try diff.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(stats, forKey: .stats)
        }
    }

    /// Figures of the tensors `diff` lists (changed, added and removed; every one with
    /// `all`) in both versions, a side missing where the tensor is.
    static func rows(_ diff: VersionDiff, all: Bool, store: Store, _ contentA: VersionContent, _ contentB: VersionContent) throws -> [Row] {
        let names = diff.tensors.filter { all || $0.status != .same }.map(\.name)
        return try rows(names, a: try CheckpointSource.version(contentA, in: store), b: try CheckpointSource.version(contentB, in: store))
    }

    /// Figures of the named tensors of both checkpoints (a side missing where the tensor is).
    static func rows(_ names: [String], a: CheckpointSource, b: CheckpointSource) throws -> [Row] {
        let wanted = Set(names)
        let left = a.inputs.filter { wanted.contains($0.name) }, right = b.inputs.filter { wanted.contains($0.name) }
        let stats = try TensorStatistics.compute(left + right)
        let before = Dictionary(zip(left.map(\.name), stats.prefix(left.count)), uniquingKeysWith: { first, _ in first })
        let after = Dictionary(zip(right.map(\.name), stats.dropFirst(left.count)), uniquingKeysWith: { first, _ in first })
        return names.map { Row(name: $0, a: before[$0], b: after[$0]) }
    }

    /// Two lines per tensor, one per version; both histograms drawn over the union of the
    /// two ranges so that a shift shows.
    static func render(_ rows: [Row], labels: (String, String)) -> String {
        var table: [[String]] = []
        for row in rows {
            let lo = [row.a?.histogram, row.b?.histogram].compactMap { $0 }.filter { $0.total > 0 }.map(\.lo).min()
            let hi = [row.a?.histogram, row.b?.histogram].compactMap { $0 }.filter { $0.total > 0 }.map(\.hi).max()
            for (k, side) in [(labels.0, row.a), (labels.1, row.b)].enumerated() {
                let name = k == 0 ? row.name : ""
                guard let stats = side.1 else {
                    table.append([name, side.0, "-", "-", "-", "-", "-", "-", "-", "-", "(absent)", ""])
                    continue
                }
                let counts = lo.flatMap { lo in hi.map { stats.histogram.rebinned(lo: lo, hi: $0, bins: StatsText.histogramWidth) } }
                table.append([name, side.0] + StatsText.cells(stats, histogram: counts)
                             + [stats.isFlagged ? "! " + StatsText.flagText(stats) : ""])
            }
        }
        return Terminal.table(["tensor", "version"] + StatsText.header + [""], table, rightAligned: [2, 3, 4, 5, 6, 7, 8, 9])
    }
}
