import CXXHash

/// xxh3-64 of stored bytes, written in the index as 16 lowercase hex digits.
public enum Checksum {
    public static func xxh3(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
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
