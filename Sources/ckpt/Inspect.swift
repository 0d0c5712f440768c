import ArgumentParser
import Foundation
import Format

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint holds: format, tensors, aliases, metadata, architecture, probes.")

    @Argument(help: "A .ckpt, .safetensors, .npz, .npy or torch .pt file.")
    var file: String

    @Flag(help: "Print JSON for scripts.")
    var json = false

    struct Row: Encodable {
        var name: String
        var aliases: [String]
        var dtype: String
        var shape: [Int]
        var codec: String
        var stored: Int
        var raw: Int
    }

    struct Report: Encodable {
        var file: String
        var kind: String
        var version: String?
        var writer: String?
        var tensors: [Row]
        var raw: Int
        var stored: Int
        var ratio: Double?
        var metadata: JSONValue?
        var architecture: JSONValue?
        var probes: [String]
        /// A torch file's outline: what its pickle holds, one value a line.
        var tree: String?
    }

    func run() throws {
        let report = try Self.report(for: file)
        if json {
            print(try Terminal.json(report))
        } else {
            Terminal.say(lines: Self.render(report))
        }
    }

    static func report(for file: String) throws -> Report {
        let url = URL(fileURLWithPath: file)
        // Detected once: a torch zip's mapping and directory serve both the load and the outline.
        let detected = try DetectedFile(url)
        let kind = detected.kind
        var report: Report
        if kind == .ckpt {
            let reader = try ContainerReader(contentsOf: url)
            let rows = reader.manifest.tensors.map {
                Row(name: $0.name, aliases: $0.aliases, dtype: $0.dtype.rawValue, shape: $0.shape,
                    codec: $0.codec.rawValue, stored: $0.storedCount, raw: $0.byteCount)
            }
            report = Report(file: file, kind: kind.rawValue, version: reader.version.description, writer: reader.manifest.writer,
                            tensors: rows, raw: 0, stored: 0, metadata: try reader.metadata(),
                            architecture: try reader.architectureText().flatMap { try? JSONValue.parse($0) },
                            probes: reader.manifest.probes.map { "\($0.name) (\($0.origin.rawValue), \($0.inputs.count) in, \($0.outputs.count) out, rtol \($0.rtol))" })
        } else {
            let checkpoint = try Importer.load(detected)
            let rows = checkpoint.tensors.map {
                Row(name: $0.name, aliases: $0.aliases, dtype: $0.tensor.dtype.rawValue, shape: $0.tensor.shape,
                    codec: "raw", stored: $0.tensor.data.count, raw: $0.tensor.data.count)
            }
            report = Report(file: file, kind: kind.rawValue, version: nil, writer: nil, tensors: rows, raw: 0, stored: 0,
                            metadata: checkpoint.metadata, architecture: checkpoint.architecture.flatMap { try? JSONValue.parse($0.text) },
                            probes: [])
            if kind == .torch { report.tree = try TorchFile.tree(detected) }
        }
        report.raw = report.tensors.reduce(0) { $0 + $1.raw }
        report.stored = report.tensors.reduce(0) { $0 + $1.stored }
        report.ratio = report.raw > 0 ? Double(report.stored) / Double(report.raw) : nil
        return report
    }

    /// The report as lines to print with `Terminal.say(lines:)` (which escapes each one).
    static func render(_ report: Report) -> [String] {
        var lines: [String] = []
        var title = "\(report.file): \(report.kind)"
        if let version = report.version { title += " format \(version)" }
        if let writer = report.writer { title += ", written by \(writer)" }
        lines.append(title)
        let rows = report.tensors.map { row in
            [row.name, row.dtype, Tensor.describe(row.shape), row.codec, Terminal.bytes(row.stored), Terminal.bytes(row.raw),
             Terminal.ratio(row.stored, row.raw), row.aliases.joined(separator: ", ")]
        }
        lines += Terminal.lines(of: Terminal.table(["name", "dtype", "shape", "codec", "stored", "raw", "ratio", "aliases"], rows,
                                                   rightAligned: [4, 5, 6])).map(String.init)
        let aliasCount = report.tensors.reduce(0) { $0 + $1.aliases.count }
        lines.append("\(Terminal.count(report.tensors.count, "tensor"))\(aliasCount > 0 ? " (+\(Terminal.count(aliasCount, "alias")))" : ""), "
                     + "\(Terminal.bytes(report.raw)) raw, \(Terminal.bytes(report.stored)) stored, ratio \(Terminal.ratio(report.stored, report.raw))")
        if let architecture = report.architecture {
            lines.append("architecture: \(ArchitectureSummary.describe(architecture))")
        } else if report.kind == "ckpt" {
            lines.append("architecture: none")
        }
        if let metadata = report.metadata, let text = try? String(decoding: metadata.serialized(), as: UTF8.self) {
            lines.append("metadata: \(text)")
        }
        for probe in report.probes { lines.append("probe: \(probe)") }
        if let tree = report.tree {
            // The outline's own line breaks are kept; everything else in a line is escaped.
            for (k, line) in Terminal.lines(of: tree).enumerated() { lines.append((k == 0 ? "tree: " : "  ") + line) }
        }
        return lines
    }
}

/// A one-line description of an architecture document: root type and module count.
enum ArchitectureSummary {
    static func describe(_ document: JSONValue) -> String {
        if document["version"] == .number(Double(GraphDocument.version)), case .array(let nodes)? = document["nodes"] {
            let ops = Set(nodes.compactMap { $0["op"]?.stringValue })
            let modules = document["modules"].map { if case .array(let items) = $0 { return items.count } else { return 0 } } ?? 0
            return "graph, \(nodes.count) nodes, \(ops.count) ops, \(modules) modules"
        }
        var counts: [String: Int] = [:]
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let object):
                if let type = object["type"]?.stringValue { counts[type, default: 0] += 1 }
                object.values.forEach(walk)
            case .array(let array): array.forEach(walk)
            default: break
            }
        }
        walk(document)
        let root = document["type"]?.stringValue ?? document["module"]?["type"]?.stringValue ?? document["root"]?["type"]?.stringValue ?? "document"
        let total = counts.values.reduce(0, +)
        let top = counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(6)
            .map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
        return "\(root), \(total) modules (\(top))"
    }
}
