import Foundation

/// The zip `torch.export.save` writes (`torch/export/pt2_archive`): one folder named after
/// the file holding `archive_format` ("pt2"), `byteorder`, `models/NAME.json` (the
/// serialized program), `data/weights/` and `data/constants/` (raw tensor bytes with a
/// `*_config.json` naming each), and `data/sample_inputs/NAME.pt` (a torch.save pickle).
/// Records are stored, as torch.save's are, and read through the same zip reader.
struct ExportArchive {
    let data: Data
    let zip: TorchZip
    private(set) var bigEndian: Bool

    /// The parsed directory when `data` is a zip whose folder says it is a pt2 archive (an
    /// `archive_format` record, or a `models/` folder), else nil.
    static func zip(_ data: Data) -> TorchZip? {
        guard TorchArchive.isZip(data) else { return nil }
        return data.withUnsafeBytes { bytes in
            guard let zip = try? TorchZip.parse(ByteView(bytes: bytes)) else { return nil }
            if zip.record("data.pkl") != nil { return nil } // torch.save's
            return zip.record("archive_format") != nil || zip.byName.keys.contains(where: { $0.hasPrefix("models/") }) ? zip : nil
        }
    }

    init(data: Data, zip parsed: TorchZip?) throws {
        self.data = data
        if let parsed { zip = parsed } else {
            zip = try data.withUnsafeBytes { try TorchZip.parse(ByteView(bytes: $0)) }
        }
        bigEndian = false // until byteorder is read
        if let format = try text("archive_format") {
            guard format == "pt2" else {
                throw Fault.refused("archive_format '\(format)'", "ckpt reads the 'pt2' archives torch.export.save writes")
            }
        }
        if zip.record("serialized_exported_program.json") != nil {
            throw Fault.refused("an archive of torch < 2.6 (serialized_exported_program.json)", "re-save it with torch.export.save from torch 2.6 or later")
        }
        switch try text("byteorder") {
        case nil, "little"?: bigEndian = false
        case "big"?: bigEndian = true
        case let other?: throw Fault.invalid("'\(zip.prefix)/byteorder'", "'\(other)'", expected: "'little' or 'big'")
        }
    }

    /// The bytes of record `local` (a path inside the archive's folder), nil when absent:
    /// a slice of the mapped file, never a copy.
    func record(_ local: String) throws -> Data? {
        guard let record = zip.record(local) else { return nil }
        let range = try data.withUnsafeBytes { try zip.dataRange(of: record, in: ByteView(bytes: $0)) }
        return data[(data.startIndex + range.lowerBound) ..< (data.startIndex + range.upperBound)]
    }

    /// The record's bytes, or a typed error naming it.
    func required(_ local: String) throws -> Data {
        guard let bytes = try record(local) else { throw FormatError(.notFound(kind: "zip entry", name: "\(zip.prefix)/\(local)")) }
        return bytes
    }

    /// A small text record with surrounding whitespace removed.
    func text(_ local: String) throws -> String? {
        guard let bytes = try record(local) else { return nil }
        guard bytes.count <= 4096, let text = String(data: bytes, encoding: .utf8) else {
            throw Fault.malformed("'\(zip.prefix)/\(local)'", "not a short UTF-8 text")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The names of the programs in `models/`, sorted.
    var modelNames: [String] {
        zip.byName.keys.filter { $0.hasPrefix("models/") && $0.hasSuffix(".json") && !$0.dropFirst(7).contains("/") }
            .map { String($0.dropFirst(7).dropLast(5)) }.sorted()
    }
}
