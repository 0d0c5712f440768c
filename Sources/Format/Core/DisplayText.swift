import Foundation

extension String {
    /// The text with every control character written as a visible escape, for messages and
    /// tables a terminal shows.
    ///
    /// Names, dtypes and keys come from files and are hostile: a newline would make one error
    /// read as two lines, and an ANSI escape could repaint the screen (a fake "OK"). C0 and C1
    /// controls, DEL, and the bidirectional overrides and isolates (which reorder what is
    /// shown) become `\u{XX}`; `\n`, `\r` and `\t` keep their short forms. Nothing else changes,
    /// so applying it twice gives the same text.
    public var escapedForDisplay: String {
        guard unicodeScalars.contains(where: \.isEscapedForDisplay) else { return self }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            guard scalar.isEscapedForDisplay else { out.unicodeScalars.append(scalar); continue }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }
}

extension Unicode.Scalar {
    /// Whether `String.escapedForDisplay` writes this scalar as an escape: C0 and C1
    /// controls, DEL, and the bidirectional marks, overrides and isolates.
    public var isEscapedForDisplay: Bool {
        switch value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
