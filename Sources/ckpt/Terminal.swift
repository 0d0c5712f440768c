import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Output helpers: one-line errors, aligned tables, JSON, sizes.
enum Terminal {
    static func fail(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data(("ckpt: " + message + "\n").utf8))
        exit(code)
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data(("ckpt: " + message + "\n").utf8))
    }

    static var stderrIsTerminal: Bool { isatty(2) != 0 }

    /// Columns padded to their widest cell; columns listed in `rightAligned` hug the right.
    static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? pad + cell : (column == row.count - 1 ? cell : cell + pad)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
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
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
