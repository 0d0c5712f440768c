import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Output helpers: one-line errors, aligned tables, JSON, sizes.
///
/// Every string the CLI prints may come from a file (tensor names, dtypes, keys, probe
/// names, messages) and is hostile: a newline would split one line into two, an ANSI
/// escape could repaint the screen. So everything printed goes through `say`, `fail`,
/// `warn` or `table`, which escape control characters (`String.escapedForDisplay`); no
/// verb prints a file-derived string with `print` itself.
enum Terminal {
    /// `ckpt: MESSAGE` on stderr, then exit with `code`.
    static func fail(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data(("ckpt: " + errorText(message) + "\n").utf8))
        exit(code)
    }

    /// `ckpt: MESSAGE` on stderr; the command goes on.
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data(("ckpt: " + errorText(message) + "\n").utf8))
    }

    /// An error message as printed: the line breaks of the message itself are kept (a typed
    /// error listing every mismatch, one a line, whose description escaped each name), and
    /// every other control character is escaped.
    static func errorText(_ message: String) -> String {
        lines(of: message).map { String($0).escapedForDisplay }.joined(separator: "\n")
    }

    /// Prints `line` on stdout as exactly one line: a newline inside it is shown as `\n`.
    static func say(_ line: String) {
        print(line.escapedForDisplay)
    }

    /// Prints each of `lines` on a line of its own, each escaped as `say` escapes it: the
    /// breaks between them are the only ones that reach the terminal.
    static func say<Lines: Sequence>(lines: Lines) where Lines.Element: StringProtocol {
        for line in lines { print(String(line).escapedForDisplay) }
    }

    /// Prints text whose line breaks are meant (a table, a printed tree) one line at a time,
    /// each line escaped as `say` escapes it.
    static func say(block text: String) {
        say(lines: lines(of: text))
    }

    /// Prints `fields` on one line separated by tabs (for `cut` and `awk`), each escaped.
    static func say(fields: [String]) {
        print(fields.map(\.escapedForDisplay).joined(separator: "\t"))
    }

    /// Text that breaks into lines where the library meant it to (a printed tree, a
    /// document), each line escaped; a trailing newline ends the last line.
    static func lines(of text: String) -> [Substring] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.hasSuffix("\n") { lines.removeLast() }
        return lines
    }

    static var stderrIsTerminal: Bool { isatty(2) != 0 }

    /// Columns padded to their widest cell; columns listed in `rightAligned` hug the right.
    /// Every cell is escaped first, so a table is always exactly one line per row.
    static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        let all = ([header] + rows).map { $0.map(\.escapedForDisplay) }
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: max(0, (widths.indices.contains(column) ? widths[column] : 0) - cell.count))
                return rightAligned.contains(column) ? pad + cell : (column == row.count - 1 ? cell : cell + pad)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// "1 tensor", "3 tensors", "0 tensors": the one way a count is printed. Words ending in
    /// s, x, ch or sh take "es" ("1 alias", "2 aliases"); give `plural` for any other irregular word.
    static func count(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
        if n == 1 { return "1 \(singular)" }
        if let plural { return "\(n) \(plural)" }
        let sibilant = ["s", "x", "ch", "sh"].contains { singular.hasSuffix($0) }
        return "\(n) \(singular)\(sibilant ? "es" : "s")"
    }

    /// 1234567 -> "1.2 MB" (decimal units, as file managers show).
    static func bytes(_ count: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func ratio(_ stored: Int, _ raw: Int) -> String {
        raw == 0 ? "-" : String(format: "%.3f", Double(stored) / Double(raw))
    }

    /// Pretty JSON of any Encodable, keys sorted so output is stable for scripts and tests.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return jsonSafe(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// JSON with the characters a terminal acts on written as `\uXXXX` escapes. The encoder
    /// escapes C0 controls already, not DEL, C1 controls or bidirectional overrides; in JSON
    /// they can only stand inside a string, where the escape means the same character.
    static func jsonSafe(_ text: String) -> String {
        func acted(_ scalar: Unicode.Scalar) -> Bool { scalar.value >= 0x7F && scalar.isEscapedForDisplay }
        guard text.unicodeScalars.contains(where: acted) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if acted(scalar) {
                out += String(format: "\\u%04X", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
