import ArgumentParser
import Foundation

/// A size on the command line as Hugging Face writes it (`5GB`, `500MB`, `100KB`: powers of
/// 1000, as `save_pretrained(max_shard_size=...)` reads them; `2GiB`, `512MiB`: powers of
/// 1024), or a plain number of bytes.
struct ByteSize: ExpressibleByArgument, Sendable {
    let bytes: Int

    static let units: [(suffix: String, factor: Int)] = [
        ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
    ]

    init?(argument: String) {
        let text = argument.uppercased()
        let unit = Self.units.first { text.hasSuffix($0.suffix) } ?? ("", 1)
        let number = text.dropLast(unit.suffix.count).trimmingCharacters(in: .whitespaces)
        guard let count = Int(number), count > 0 else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: unit.factor)
        guard !overflow else { return nil }
        self.bytes = bytes
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
