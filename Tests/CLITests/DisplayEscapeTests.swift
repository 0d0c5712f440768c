import Foundation
import XCTest
import Format

/// Names and dtypes come from files: a newline or an ANSI escape in one must reach the
/// terminal as visible text, never as a line break or a control sequence.
final class DisplayEscapeTests: CLITestCase {
    static let hostile = "a\u{1B}[32mOK\nb"
    /// How the name reads once escaped (`String.escapedForDisplay`).
    static let shown = #"a\u{1B}[32mOK\nb"#

    func writeHostile() throws -> String {
        let values: [Float] = [1, -2, 0, 4]
        let data = values.withUnsafeBufferPointer { Data(buffer: $0) }
        let checkpoint = Checkpoint(tensors: [NamedTensor(name: Self.hostile, tensor: try Tensor(dtype: .f32, shape: [4], data: data))])
        try Safetensors.write(checkpoint, to: work.appendingPathComponent("hostile.safetensors"))
        return path("hostile.safetensors")
    }

    /// No escape character anywhere, and the fragment after the embedded newline never
    /// starts a line of its own.
    func assertClean(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(text.unicodeScalars.contains("\u{1B}"), "\(what): raw ESC in \(text.debugDescription)", file: file, line: line)
        for row in text.split(separator: "\n") {
            XCTAssertFalse(row.hasPrefix("b ") || row == "b" || row.hasPrefix("b\t"), "\(what): the name broke the line: \(text.debugDescription)",
                           file: file, line: line)
        }
    }

    func testHostileTensorNameIsEscapedInInspectCatAndStats() throws {
        let file = try writeHostile()
        let inspect = try ckpt("inspect", file)
        assertClean(inspect.stdout, "inspect")
        let row = try XCTUnwrap(inspect.stdout.split(separator: "\n").first { $0.contains(Self.shown) }, inspect.stdout)
        XCTAssertTrue(row.contains("f32") && row.contains("[4]"), String(row))

        let json = try ckpt("inspect", file, "--json")
        assertClean(json.stdout, "inspect --json")
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((report["tensors"] as? [[String: Any]])?.first?["name"] as? String, Self.hostile, "JSON keeps the name itself")

        // A miss suggests the hostile name: one line on stderr, escaped.
        let miss = try ckpt("cat", file, "a", "-o", path("t.npy"), expect: 1)
        assertClean(miss.stderr, "cat error")
        XCTAssertEqual(miss.stderr.filter { $0 == "\n" }.count, 1, miss.stderr)
        XCTAssertTrue(miss.stderr.contains("did you mean '\(Self.shown)'"), miss.stderr)

        let cat = try ckpt("cat", file, Self.hostile, "-o", path("t.npy"))
        assertClean(cat.stdout, "cat")
        XCTAssertEqual(cat.stdout.filter { $0 == "\n" }.count, 1, cat.stdout)

        let stats = try ckpt("stats", file)
        assertClean(stats.stdout, "stats")
        XCTAssertTrue(stats.stdout.split(separator: "\n").contains { $0.hasPrefix(Self.shown) && $0.contains("f32") }, stats.stdout)

        // Through a .ckpt and the store, the same.
        try ckpt("import", file, "-o", path("hostile.ckpt"))
        assertClean(try ckpt("inspect", path("hostile.ckpt")).stdout, "inspect .ckpt")
        assertClean(try ckpt("stats", path("hostile.ckpt")).stdout, "stats .ckpt")
        try ckpt("init")
        assertClean(try ckpt("save", path("hostile.ckpt"), "--model", "h").stdout, "save")
        assertClean(try ckpt("show", "h@1").stdout, "show")
    }

    /// A dtype is echoed in the error that refuses it: one line, escaped.
    func testHostileDTypeMakesOneEscapedLine() throws {
        let header = #"{"w":{"dtype":"X\u001b[2J\nY","shape":[1],"data_offsets":[0,4]}}"#
        var bytes = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
        bytes.append(Data(header.utf8))
        bytes.append(Data(count: 4))
        try bytes.write(to: work.appendingPathComponent("dtype.safetensors"))
        for verb in ["inspect", "stats"] {
            let result = try ckpt(verb, path("dtype.safetensors"), expect: 1)
            assertClean(result.stderr, verb)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr)
            XCTAssertFalse(result.stderr.contains("\nY"), result.stderr)
        }
    }
}
