import Foundation

/// JSON written by hand where the exact bytes matter (safetensors headers, architecture
/// documents laid out for people to read).
public enum JSONText {
    /// A JSON string literal escaped as serde_json escapes it, so safetensors headers match
    /// the Rust writer's byte for byte.
    public static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}" ... "\u{1F}": out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
