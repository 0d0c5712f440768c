import Foundation
import Format

/// The page `ckpt report` writes: one self-contained HTML file, inline CSS and inline SVG
/// only (no script, no font, no link to anything), so that it opens in any browser offline.
struct ReportPage {
    /// What the page says about the architecture.
    enum Architecture {
        /// `ArchitecturePrinter`'s tree, with shapes and parameter counts.
        case tree(String)
        /// The document is there but cannot be read.
        case invalid(String)
        /// No document: an outline of the tensor names stands in.
        case none(outline: String)
    }

    /// One tensor's change against the other checkpoint.
    struct Change {
        enum Status: String { case changed, same, added, removed, reshaped }
        var name: String
        var status: Status
        var relative: Double?
        var maxAbs: Double?
        var note: String?
    }

    /// A line of the lineage drawing: the graph, the version, and which side it is.
    struct LineageLine {
        var graph: String
        var text: String
        var mark: String?
    }

    var source: String
    var kind: String
    var architecture: Architecture
    var stats: [TensorStats]
    /// The other checkpoint, with --against.
    var against: String?
    var againstStats: [String: TensorStats] = [:]
    var changes: [Change] = []
    /// Both versions' history when both are stored versions; else nil (the names are shown).
    var lineage: [LineageLine]?
    var lineageNote: String?

    static let histogramWidth = 260.0
    static let histogramHeight = 80.0

    func html() -> String {
        var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>ckpt report: \(htmlEscape(source))</title>
        <style>\(Self.css)</style>
        </head>
        <body>

        """
        let elements = stats.reduce(0) { $0 + $1.elements }
        let flagged = stats.filter(\.isFlagged)
        out += "<header><h1>\(htmlEscape(source))</h1>\n<p class=\"summary\">\(htmlEscape(kind)) · \(Terminal.count(stats.count, "tensor")) · "
            + "\(ArchitecturePrinter.grouped(elements)) elements"
        if let against { out += " · compared with <code>\(htmlEscape(against))</code>" }
        out += " · \(flagged.isEmpty ? "nothing flagged" : "<span class=\"flag\">\(flagged.count) flagged</span>")</p>\n"
        out += "<nav><a href=\"#architecture\">architecture</a>"
        if against != nil { out += " · <a href=\"#change\">change</a> · <a href=\"#lineage\">lineage</a>" }
        out += " · <a href=\"#histograms\">histograms</a> · <a href=\"#stats\">statistics</a></nav></header>\n"

        out += architectureSection()
        if against != nil {
            out += changeSection()
            out += lineageSection()
        }
        out += histogramSection()
        out += statsSection()
        out += "<footer>written by ckpt \(htmlEscape(ckptVersion))</footer>\n</body>\n</html>\n"
        return out
    }

    // MARK: - Sections

    private func architectureSection() -> String {
        var out = "<section id=\"architecture\"><h2>Architecture</h2>\n"
        /// A long tree starts folded (a native <details>, no script needed).
        func block(_ text: String, class name: String, summary: String) -> String {
            let lines = text.split(separator: "\n").count
            return "<details\(lines <= 60 ? " open" : "")><summary>\(htmlEscape(summary)) (\(Terminal.count(lines, "line")))</summary>\n"
                + "<pre class=\"\(name)\">\(htmlEscape(text))</pre></details>\n"
        }
        switch architecture {
        case .tree(let text):
            out += block(text, class: "tree", summary: "module tree")
        case .invalid(let message):
            out += "<p class=\"note\">The architecture document cannot be read: \(htmlEscape(message))</p>\n"
        case .none(let outline):
            out += "<p class=\"note\">This checkpoint carries no architecture document.</p>\n"
            out += block(outline, class: "tree outline", summary: "tensors grouped by name")
        }
        return out + "</section>\n"
    }

    private func changeSection() -> String {
        var out = "<section id=\"change\"><h2>Change against \(htmlEscape(against ?? ""))</h2>\n"
        out += "<p class=\"note\">Per tensor: ||a − b|| / ||a||, with a = <code>\(htmlEscape(source))</code> and b = <code>\(htmlEscape(against ?? ""))</code>.</p>\n"
        let rowHeight = 18.0, barWidth = 360.0
        let longest = changes.map(\.name.count).max() ?? 10
        let labelWidth = min(Double(longest) * 6.7 + 12, 520)
        let top = changes.compactMap(\.relative).max() ?? 0
        let width = labelWidth + barWidth + 110
        let height = Double(changes.count) * rowHeight + 4
        out += "<svg class=\"change\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" role=\"img\" aria-label=\"relative change per tensor\">\n"
        for (k, change) in changes.enumerated() {
            let y = Double(k) * rowHeight + 2
            out += "<text class=\"label\" x=\"\(fmt(labelWidth - 8))\" y=\"\(fmt(y + 13))\" text-anchor=\"end\">\(htmlEscape(change.name))</text>"
            switch change.status {
            case .changed, .same:
                let value = change.relative ?? 0
                let length = top > 0 ? max(value / top * barWidth, value > 0 ? 1 : 0) : 0
                out += "<rect class=\"bar \(change.status.rawValue)\" x=\"\(fmt(labelWidth))\" y=\"\(fmt(y + 3))\" width=\"\(fmt(length))\" height=\"12\"><title>\(htmlEscape(change.name)): \(StatsText.number(change.relative))</title></rect>"
                let text = change.relative.map { StatsText.number($0) } ?? "undefined"
                out += "<text class=\"value\" x=\"\(fmt(labelWidth + length + 6))\" y=\"\(fmt(y + 13))\">\(htmlEscape(change.status == .same ? "0 (same)" : text))</text>\n"
            case .added, .removed, .reshaped:
                out += "<text class=\"value status\" x=\"\(fmt(labelWidth))\" y=\"\(fmt(y + 13))\">\(htmlEscape(change.note ?? change.status.rawValue))</text>\n"
            }
        }
        out += "</svg>\n"
        let counts = Dictionary(grouping: changes, by: \.status).mapValues(\.count)
        out += "<p class=\"note\">\(Terminal.count(changes.count, "tensor")): " + [ReportPage.Change.Status.changed, .same, .added, .removed, .reshaped]
            .map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ") + "</p>\n"
        return out + "</section>\n"
    }

    private func lineageSection() -> String {
        var out = "<section id=\"lineage\"><h2>Lineage</h2>\n"
        if let lineage, !lineage.isEmpty {
            out += "<pre class=\"lineage\">"
            for line in lineage {
                out += htmlEscape(line.graph)
                if !line.text.isEmpty { out += " " + htmlEscape(line.text) }
                if let mark = line.mark { out += " <span class=\"mark\">◀ \(htmlEscape(mark))</span>" }
                out += "\n"
            }
            out += "</pre>\n"
        }
        if let lineageNote { out += "<p class=\"note\">\(htmlEscape(lineageNote))</p>\n" }
        return out + "</section>\n"
    }

    private func histogramSection() -> String {
        var out = "<section id=\"histograms\"><h2>Weight histograms</h2>\n"
        if against != nil {
            out += "<p class=\"note\"><span class=\"key a\"></span> \(htmlEscape(source)) &nbsp; <span class=\"key b\"></span> \(htmlEscape(against ?? "")) (both on one range)</p>\n"
        }
        out += "<div class=\"grid\">\n"
        for tensor in stats {
            out += "<figure class=\"hist\(tensor.isFlagged ? " flagged" : "")\"><figcaption><code>\(htmlEscape(tensor.name))</code> "
                + "<span>\(tensor.dtype.rawValue) \(Tensor.describe(tensor.shape))</span></figcaption>\n"
            out += histogramSVG(tensor, other: againstStats[tensor.name])
            out += "</figure>\n"
        }
        return out + "</div>\n</section>\n"
    }

    /// One histogram: bars as one filled path; with a second version, its histogram as an
    /// outline over the same range.
    func histogramSVG(_ tensor: TensorStats, other: TensorStats?) -> String {
        let width = Self.histogramWidth, height = Self.histogramHeight
        let total = height + 22
        var out = "<svg class=\"histogram\" width=\"\(fmt(width))\" height=\"\(fmt(total))\" viewBox=\"0 0 \(fmt(width)) \(fmt(total))\" role=\"img\" aria-label=\"histogram of \(htmlEscape(tensor.name))\">"
        guard tensor.computed, tensor.histogram.total > 0 else {
            let why = !tensor.computed ? "no figures for \(tensor.dtype.rawValue)" : tensor.elements == 0 ? "empty tensor" : "no finite value"
            return out + "<text class=\"empty\" x=\"\(fmt(width / 2))\" y=\"\(fmt(height / 2))\" text-anchor=\"middle\">\(htmlEscape(why))</text></svg>\n"
        }
        var lo = tensor.histogram.lo, hi = tensor.histogram.hi
        var counts = tensor.histogram.counts.map(Double.init)
        var otherCounts: [Double]?
        if let other, other.computed, other.histogram.total > 0 {
            lo = Swift.min(lo, other.histogram.lo)
            hi = Swift.max(hi, other.histogram.hi)
            counts = tensor.histogram.rebinned(lo: lo, hi: hi, bins: counts.count)
            otherCounts = other.histogram.rebinned(lo: lo, hi: hi, bins: counts.count)
        }
        let top = Swift.max(counts.max() ?? 0, otherCounts?.max() ?? 0)
        let step = width / Double(counts.count)
        if lo < 0, hi > 0 {
            let x = (0 - lo) / (hi - lo) * width
            out += "<line class=\"zero\" x1=\"\(fmt(x))\" y1=\"0\" x2=\"\(fmt(x))\" y2=\"\(fmt(height))\"/>"
        }
        var bars = ""
        for (k, count) in counts.enumerated() where count > 0 {
            let h = Swift.max(count / top * height, 1)
            bars += "M\(fmt(Double(k) * step)),\(fmt(height))v-\(fmt(h))h\(fmt(step))v\(fmt(h))z"
        }
        out += "<path class=\"bars\" d=\"\(bars)\"/>"
        if let otherCounts {
            var line = "M0,\(fmt(height))"
            for (k, count) in otherCounts.enumerated() {
                let h = count > 0 ? Swift.max(count / top * height, 1) : 0
                line += "V\(fmt(height - h))H\(fmt(Double(k + 1) * step))"
            }
            line += "V\(fmt(height))"
            out += "<path class=\"outline\" d=\"\(line)\"/>"
        }
        out += "<line class=\"axis\" x1=\"0\" y1=\"\(fmt(height))\" x2=\"\(fmt(width))\" y2=\"\(fmt(height))\"/>"
        let digits = StatsText.digits(lo: lo, hi: hi)
        out += "<text x=\"0\" y=\"\(fmt(height + 15))\">\(htmlEscape(StatsText.number(lo, digits: digits)))</text>"
        out += "<text x=\"\(fmt(width))\" y=\"\(fmt(height + 15))\" text-anchor=\"end\">\(htmlEscape(StatsText.number(hi, digits: digits)))</text>"
        out += "<text x=\"\(fmt(width / 2))\" y=\"\(fmt(height + 15))\" text-anchor=\"middle\" class=\"dim\">μ \(htmlEscape(StatsText.number(tensor.mean, digits: digits))) σ \(htmlEscape(StatsText.number(tensor.std)))</text>"
        return out + "</svg>\n"
    }

    private func statsSection() -> String {
        var out = "<section id=\"stats\"><h2>Statistics</h2>\n"
        out += "<p class=\"note\">mean, std (population), min, max and L2 norm over the finite elements; NaN and Inf counted apart.</p>\n"
        out += "<table class=\"stats\">\n<thead><tr>"
        for title in ["tensor", "dtype", "shape", "elements", "mean", "std", "min", "max", "L2 norm", "zeros", "NaN", "Inf", "flags"] {
            out += "<th>\(title)</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        for tensor in stats {
            out += "<tr\(tensor.isFlagged ? " class=\"flagged\"" : "")><td><code>\(htmlEscape(tensor.name))</code>"
            if !tensor.aliases.isEmpty { out += "<br><small>also \(htmlEscape(tensor.aliases.joined(separator: ", ")))</small>" }
            out += "</td><td>\(tensor.dtype.rawValue)</td><td>\(Tensor.describe(tensor.shape))</td>"
            out += "<td class=\"n\">\(ArchitecturePrinter.grouped(tensor.elements))</td>"
            let digits = StatsText.digits(lo: tensor.min, hi: tensor.max)
            for (value, precise) in [(tensor.mean, true), (tensor.std, false), (tensor.min, true), (tensor.max, true), (tensor.l2Norm, false)] {
                out += "<td class=\"n\">\(htmlEscape(StatsText.number(value, digits: precise ? digits : 4)))</td>"
            }
            out += "<td class=\"n\">\(htmlEscape(StatsText.share(tensor.zeroShare)))</td><td class=\"n\">\(tensor.nan)</td><td class=\"n\">\(tensor.inf)</td>"
            out += "<td>\(htmlEscape(StatsText.flagText(tensor)))</td></tr>\n"
        }
        return out + "</tbody>\n</table>\n</section>\n"
    }

    // MARK: - Helpers

    /// An outline of dotted tensor names with element counts, for files without a document.
    static func outline(_ stats: [TensorStats]) -> String {
        final class Node {
            var children: [(String, Node)] = []
            var tensor: TensorStats?
            var elements = 0
            func child(_ name: String) -> Node {
                if let found = children.first(where: { $0.0 == name }) { return found.1 }
                let node = Node()
                children.append((name, node))
                return node
            }
        }
        let root = Node()
        for tensor in stats {
            var node = root
            node.elements += tensor.elements
            for part in tensor.name.split(separator: ".", omittingEmptySubsequences: false) {
                node = node.child(String(part))
                node.elements += tensor.elements
            }
            node.tensor = tensor
        }
        var lines: [(String, String)] = []
        func walk(_ node: Node, name: String, depth: Int) {
            // A module with one child and no tensor of its own is shown joined with it.
            var name = name, node = node
            while node.tensor == nil, node.children.count == 1 {
                name += "." + node.children[0].0
                node = node.children[0].1
            }
            let indent = String(repeating: "  ", count: depth)
            if let tensor = node.tensor, node.children.isEmpty {
                lines.append((indent + name, "\(tensor.dtype.rawValue) \(Tensor.describe(tensor.shape))"))
            } else {
                lines.append((indent + name, ArchitecturePrinter.grouped(node.elements) + " elements"))
                for (childName, child) in node.children { walk(child, name: childName, depth: depth + 1) }
            }
        }
        for (name, child) in root.children { walk(child, name: name, depth: 0) }
        let width = min(lines.map(\.0.count).max() ?? 0, 72)
        var out = lines.map { $0.0.padding(toLength: max(width, $0.0.count), withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
        out += "\n\(ArchitecturePrinter.grouped(root.elements)) elements in \(Terminal.count(stats.count, "tensor"))"
        return out
    }

    static let css = """
    :root { color-scheme: light; }
    body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; margin: 0 auto; padding: 0 24px 40px; max-width: 1400px; color: #1d2330; background: #fbfbfd; }
    header { border-bottom: 1px solid #d9dce3; margin-bottom: 8px; }
    h1 { font-size: 22px; margin: 20px 0 4px; word-break: break-all; }
    h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 1px solid #e4e6eb; padding-bottom: 4px; }
    nav, .summary { color: #555d6e; margin: 4px 0 10px; }
    a { color: #2459c4; }
    code, pre, td.n { font-family: "DejaVu Sans Mono", ui-monospace, monospace; }
    code { font-size: 12.5px; }
    pre { background: #f1f3f7; border: 1px solid #e0e3ea; border-radius: 6px; padding: 10px 12px; font-size: 12px; overflow-x: auto; }
    .note { color: #555d6e; }
    .flag, tr.flagged td, figure.flagged figcaption { color: #b3261e; }
    .grid { display: flex; flex-wrap: wrap; gap: 12px; }
    figure.hist { margin: 0; padding: 8px 10px 4px; background: #fff; border: 1px solid #e0e3ea; border-radius: 6px; width: 262px; }
    figure.hist.flagged { border-color: #e8a29c; }
    figcaption { font-size: 12px; margin-bottom: 4px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    figcaption span { color: #6b7385; }
    svg text { font: 10px "DejaVu Sans", sans-serif; fill: #3d4455; }
    svg text.dim { fill: #7a8294; }
    svg text.empty { font-size: 12px; fill: #7a8294; }
    path.bars { fill: #3b6fd8; }
    path.outline { fill: none; stroke: #e07b00; stroke-width: 1.4; }
    line.axis { stroke: #9aa1b0; stroke-width: 1; }
    line.zero { stroke: #c2c7d2; stroke-width: 1; stroke-dasharray: 3 3; }
    svg.change text { font: 11px "DejaVu Sans Mono", monospace; }
    svg.change rect.bar { fill: #3b6fd8; }
    svg.change text.status { fill: #7a8294; font-style: italic; }
    .key { display: inline-block; width: 12px; height: 10px; vertical-align: middle; }
    .key.a { background: #3b6fd8; }
    .key.b { border: 2px solid #e07b00; height: 6px; width: 8px; }
    .mark { color: #b35c00; font-weight: bold; }
    table.stats { border-collapse: collapse; font-size: 12.5px; background: #fff; }
    table.stats th, table.stats td { border: 1px solid #e0e3ea; padding: 3px 7px; text-align: left; vertical-align: top; }
    table.stats th { background: #eef1f6; position: sticky; top: 0; }
    table.stats td.n { text-align: right; white-space: nowrap; }
    summary { cursor: pointer; color: #555d6e; margin: 4px 0; }
    footer { margin-top: 30px; color: #8a91a0; font-size: 12px; }
    """
}

/// Text made safe for HTML content and attribute values.
func htmlEscape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}

/// A coordinate with at most two decimals, no trailing zeros.
private func fmt(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    if rounded == rounded.rounded() { return String(Int(rounded)) }
    var text = String(format: "%.2f", rounded)
    while text.hasSuffix("0") { text.removeLast() }
    return text
}
