import Foundation
import CXXHash

/// xxh3-64 of stored bytes, written in the index as 16 lowercase hex digits.
public enum Checksum {
    public static func xxh3(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    /// xxh3-64 of the concatenation of `parts`, without concatenating them (xxh3's
    /// streaming form, which gives the same value as the one-shot hash of the whole).
    static func xxh3(parts: [UnsafeRawBufferPointer]) -> UInt64 {
        if parts.count == 1 { return xxh3(parts[0]) }
        guard let state = XXH3_createState() else {
            // Out of memory for 576 bytes of state: hash a contiguous copy instead.
            var whole = Data()
            for part in parts { whole.append(contentsOf: part) }
            return whole.withUnsafeBytes { xxh3($0) }
        }
        defer { XXH3_freeState(state) }
        XXH3_64bits_reset(state)
        for part in parts { XXH3_64bits_update(state, part.baseAddress, part.count) }
        return XXH3_64bits_digest(state)
    }

    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Parses exactly 16 lowercase hex digits, the only spelling `hex` writes and
    /// FORMAT.md allows (`UInt64(_:radix:)` alone would also take upper case and a `+`).
    public static func parse(_ text: String) -> UInt64? {
        let digits = text.utf8
        guard digits.count == 16, digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return UInt64(text, radix: 16)
    }
}
