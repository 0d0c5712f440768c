import Foundation
import XCTest
import Format

/// The progress bar: drawn on stderr when it is a terminal (a pseudo-terminal here),
/// bytes done of the real total, a rate, cleared at the end; nothing at all in a pipe.
final class ProgressTests: CLITestCase {
    /// Five tensors of 8 MiB: the writer encodes 16 MiB batches, so an import reports
    /// several times and the first report is well short of the total.
    func writeSource() throws -> String {
        let count = 2 << 20
        var tensors: [NamedTensor] = []
        for k in 0..<5 {
            var values = [Float](repeating: 0, count: count)
            for i in values.indices { values[i] = Float((i &* 7919 &+ k) % 1000) / 1000 }
            let data = values.withUnsafeBufferPointer { Data(buffer: $0) }
            tensors.append(NamedTensor(name: "layer\(k).weight", tensor: try Tensor(dtype: .f32, shape: [count], data: data)))
        }
        try Safetensors.write(Checkpoint(tensors: tensors), to: work.appendingPathComponent("big.safetensors"))
        return path("big.safetensors")
    }

    /// The frames drawn for `label`, as percentages in the order drawn.
    func frames(_ terminal: String, _ label: String) -> [(percent: Int, text: String)] {
        terminal.split(separator: "\r").compactMap { piece -> (Int, String)? in
            let text = String(piece)
            guard text.hasPrefix(label + "  ") else { return nil }
            let rest = text.dropFirst(label.count).drop(while: { $0 == " " })
            guard let percent = Int(rest.prefix(while: \.isNumber)) else { return nil }
            return (percent, text)
        }
    }

    func assertBar(_ arguments: [String], labels: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try PseudoTerminal.run(arguments, in: work)
        XCTAssertEqual(result.status, 0, "\(arguments): \(result.terminal)", file: file, line: line)
        for label in labels {
            let drawn = frames(result.terminal, label)
            XCTAssertGreaterThanOrEqual(drawn.count, 2, "\(arguments) \(label): \(result.terminal.debugDescription)", file: file, line: line)
            let percents = drawn.map(\.percent)
            XCTAssertEqual(percents, percents.sorted(), "\(label) went back: \(percents)", file: file, line: line)
            XCTAssertLessThan(percents.first ?? 100, 100, "\(label) started full: \(percents)", file: file, line: line)
            XCTAssertEqual(percents.last, 100, "\(label) never reached the end: \(percents)", file: file, line: line)
            // Bytes of the real total, and a rate.
            let last = drawn.last?.text ?? ""
            XCTAssertTrue(last.contains(" of "), last, file: file, line: line)
            XCTAssertNotNil(drawn.first { $0.text.range(of: #"[0-9.]+ [kMGT]?B/s"#, options: .regularExpression) != nil },
                            "no rate in \(drawn.map(\.text))", file: file, line: line)
        }
        // Erased at the end: the last thing on the terminal clears the line.
        XCTAssertTrue(result.terminal.hasSuffix("\r\u{1B}[K"), result.terminal.debugDescription, file: file, line: line)
        XCTAssertFalse(result.stdout.isEmpty, "\(arguments) printed no closing line", file: file, line: line)
        XCTAssertFalse(result.stdout.contains("%") || result.stdout.contains("\u{1B}"), result.stdout, file: file, line: line)
    }

    func testBarOnATerminalForEveryLongVerb() throws {
        let source = try writeSource()
        try assertBar(["import", source, "-o", path("big.ckpt")], labels: ["importing"])
        try assertBar(["verify", path("big.ckpt"), "--no-run"], labels: ["verifying"])
        try assertBar(["export", path("big.ckpt"), "-o", path("copy.ckpt")], labels: ["exporting"])
        try ckpt("init")
        try assertBar(["save", path("big.ckpt"), "--model", "big"], labels: ["saving"])
        try assertBar(["checkout", "big@1", "-o", path("out.ckpt")], labels: ["reading", "writing"])
        try assertBar(["fsck"], labels: ["checking"])
        try assertBar(["gc"], labels: ["collecting"])
    }

    func testNothingOfTheBarInAPipe() throws {
        let source = try writeSource()
        try ckpt("init")
        for arguments in [["import", source, "-o", path("big.ckpt")], ["verify", path("big.ckpt"), "--no-run"],
                          ["save", path("big.ckpt"), "--model", "big"], ["checkout", "big@1", "-o", path("out.ckpt")],
                          ["fsck"], ["gc"]] {
            let result = try CLIRunner.run(arguments, in: work)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr, "", "\(arguments) wrote to a pipe: \(result.stderr.debugDescription)")
            XCTAssertFalse(result.stdout.contains("\u{1B}") || result.stdout.contains("\r"), "\(arguments): \(result.stdout.debugDescription)")
        }
    }
}
