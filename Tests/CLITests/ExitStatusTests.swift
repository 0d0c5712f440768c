import Foundation
import XCTest

/// Each error's exit code follows from what went wrong: 2 a command line that cannot work
/// as given, 1 a file or store that says no, each with a one-line message naming the thing.
final class ExitStatusTests: CLITestCase {
    func testUsageErrorsExitTwoAndFileErrorsExitOne() throws {
        let mlp = CLIRunner.fixture("torch/mlp/model.safetensors").path
        // CLIError cases.
        let pdf = try ckpt("export", mlp, "-o", path("x.pdf"), expect: 2)
        XCTAssertEqual(pdf.stderr, "ckpt: \(path("x.pdf")): cannot tell the format from the extension '.pdf' (use .ckpt, .safetensors, .npz, .pt, .pth, .bin)\n")
        try ckpt("init")
        XCTAssertEqual(try ckpt("save", path("absent.ckpt"), expect: 2).stderr, "ckpt: \(path("absent.ckpt")): no such file\n")
        XCTAssertEqual(try ckpt("stats", mlp, "nothing.*", expect: 1).stderr, "ckpt: \(mlp): no tensor matches 'nothing.*'\n")
        XCTAssertEqual(try ckpt("arch", mlp, expect: 1).stderr,
                       "ckpt: \(mlp): has no architecture document (attach one with `ckpt import SRC --arch ARCH -o OUT`)\n")
        // FormatError: a file that is not what it claims.
        try Data("not a checkpoint at all".utf8).write(to: work.appendingPathComponent("junk.safetensors"))
        let junk = try ckpt("inspect", path("junk.safetensors"), expect: 1)
        XCTAssertEqual(junk.stderr.filter { $0 == "\n" }.count, 1, junk.stderr)
        XCTAssertTrue(junk.stderr.hasPrefix("ckpt: \(path("junk.safetensors")): "), junk.stderr)
        // CatalogError: a malformed name is usage whatever the store holds; a missing version is the store's answer.
        try ckpt("save", mlp, "--model", "mlp")
        XCTAssertTrue(try ckpt("tag", "mlp@1", "has space", expect: 2).stderr.contains("tag name 'has space' may not contain"))
        XCTAssertTrue(try ckpt("show", "mlp@9", expect: 1).stderr.contains("no version 9"))
        // EngineError: a document that does not fit the tensors, every mismatch on a line of its own.
        let mismatch = try ckpt("import", mlp, "--arch", CLIRunner.fixture("arch/nested.json").path, "-o", path("x.ckpt"), expect: 1)
        XCTAssertTrue(mismatch.stderr.hasPrefix("ckpt: \(mlp): the tensors do not match the architecture (12 mismatches):\n  missing '0.net.0.weight'"),
                      mismatch.stderr)
    }
}
