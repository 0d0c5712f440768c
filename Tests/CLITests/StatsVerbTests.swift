import Foundation
import XCTest
import Format

/// `ckpt stats`, `ckpt report` and `ckpt diff --stats`, driven through the binary; figures
/// against numpy (fixtures/stats/expected.json), the page in a real headless browser.
final class StatsVerbTests: CLITestCase {
    struct Expected: Decodable {
        var elements: Int
        var finite: Int
        var zeros: Int
        var nan: Int
        var inf: Int
        var mean: Double?
        var std: Double?
        var min: Double?
        var max: Double?
        var l2: Double?
    }

    struct Report: Decodable {
        var source: String
        var kind: String
        var tensors: [TensorStats]
        var elements: Int
        var flagged: [String]
    }

    func fixture(_ path: String) -> String { CLIRunner.fixture(path).path }

    func expected(_ file: String) throws -> [String: Expected] {
        let data = try Data(contentsOf: CLIRunner.fixture("stats/expected.json"))
        return try XCTUnwrap(try JSONDecoder().decode([String: [String: Expected]].self, from: data)[file], file)
    }

    func statsJSON(_ arguments: String...) throws -> Report {
        let result = try CLIRunner.run(["stats"] + arguments + ["--json"], in: work)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
    }

    func assertAgrees(_ report: Report, with expected: [String: Expected], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(report.tensors.map(\.name)), Set(expected.keys), label, file: file, line: line)
        func close(_ a: Double?, _ e: Double?, _ what: String) {
            guard let e else { return XCTAssertNil(a, what, file: file, line: line) }
            guard let a else { return XCTFail("\(what): missing", file: file, line: line) }
            XCTAssertLessThanOrEqual(abs(a - e), 1e-6 * abs(e) + 1e-12, "\(what): \(a) vs numpy \(e)", file: file, line: line)
        }
        for tensor in report.tensors {
            guard let truth = expected[tensor.name] else { continue }
            let what = "\(label) '\(tensor.name)'"
            XCTAssertEqual([tensor.elements, tensor.finite, tensor.zeros, tensor.nan, tensor.inf],
                           [truth.elements, truth.finite, truth.zeros, truth.nan, truth.inf], what, file: file, line: line)
            close(tensor.mean, truth.mean, "\(what) mean")
            close(tensor.std, truth.std, "\(what) std")
            close(tensor.min, truth.min, "\(what) min")
            close(tensor.max, truth.max, "\(what) max")
            close(tensor.l2Norm, truth.l2, "\(what) L2 norm")
            XCTAssertEqual(tensor.histogram.total, truth.finite, what, file: file, line: line)
        }
    }

    // MARK: - stats

    func testStatsAgreeWithNumpyFromEveryKindOfSource() throws {
        let truth = try expected("torch/lenet/model.safetensors")
        assertAgrees(try statsJSON(fixture("torch/lenet/model.safetensors")), with: truth, "safetensors")
        try ckpt("import", fixture("torch/lenet/model.safetensors"), "-o", path("lenet.ckpt"))
        let fromCkpt = try statsJSON(path("lenet.ckpt"))
        assertAgrees(fromCkpt, with: truth, "ckpt")
        XCTAssertEqual(fromCkpt.kind, "ckpt")
        XCTAssertEqual(fromCkpt.elements, truth.values.reduce(0) { $0 + $1.elements })
        XCTAssertEqual(fromCkpt.flagged, [])
        assertAgrees(try statsJSON(fixture("torch/lenet/state_dict.pt")), with: truth, "torch .pt")

        // A stored version reads its objects chunk by chunk, with the same figures.
        try ckpt("init", work.path)
        try ckpt("save", path("lenet.ckpt"), "--model", "lenet", "--store", work.path)
        let stored = try statsJSON("lenet@1", "--store", work.path)
        assertAgrees(stored, with: truth, "stored version")
        XCTAssertEqual(stored.kind, "store version")
        XCTAssertTrue(stored.source.hasPrefix("lenet@1 ("), stored.source)
        XCTAssertEqual(stored.tensors, fromCkpt.tensors)
    }

    func testJSONShape() throws {
        let result = try ckpt("stats", fixture("torch/mlp/model.safetensors"), "--json")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["source", "kind", "tensors", "elements", "flagged"])
        let tensors = try XCTUnwrap(object["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.count, 4)
        XCTAssertEqual(Set(tensors[0].keys), ["name", "aliases", "dtype", "shape", "elements", "computed", "finite", "mean", "std",
                                              "min", "max", "l2Norm", "zeros", "zeroShare", "nan", "inf", "flags", "histogram"])
        let histogram = try XCTUnwrap(tensors[0]["histogram"] as? [String: Any])
        XCTAssertEqual(Set(histogram.keys), ["lo", "hi", "counts"])
        XCTAssertEqual((histogram["counts"] as? [Int])?.count, 64)
    }

    func testTableHistogramsGlobsAndFlags() throws {
        let text = try ckpt("stats", fixture("stats/synthetic.safetensors")).stdout
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].contains("14 tensors, 21,537 elements"), lines[0])
        for header in ["mean", "std", "min", "max", "L2 norm", "zeros", "NaN", "Inf", "histogram"] {
            XCTAssertTrue(lines[1].contains(header), lines[1])
        }
        let drift = try XCTUnwrap(lines.first { $0.hasPrefix("drift ") })
        XCTAssertTrue(drift.contains("█") && drift.contains("▁"), drift)
        XCTAssertTrue(text.contains("flagged: with_nan: 3 NaN, 2 Inf"), text)
        XCTAssertTrue(text.contains("flagged: zeros: all zeros"), text)
        XCTAssertTrue(text.contains("flagged: half: 1 Inf"), text)
        XCTAssertTrue(try XCTUnwrap(lines.first { $0.hasPrefix("with_nan ") }).contains("! 3 NaN, 2 Inf"))

        try ckpt("import", fixture("torch/nested/model.safetensors"), "-o", path("nested.ckpt"))
        let all = try statsJSON(path("nested.ckpt")).tensors.map(\.name)
        let biases = try statsJSON(path("nested.ckpt"), "*.bias").tensors.map(\.name)
        XCTAssertEqual(biases, all.filter { $0.hasSuffix(".bias") })
        XCTAssertFalse(biases.isEmpty)
        XCTAssertEqual(try statsJSON(path("nested.ckpt"), "0.*", "*.bias").tensors.map(\.name),
                       all.filter { $0.hasPrefix("0.") || $0.hasSuffix(".bias") })
        let shown = try ckpt("stats", path("nested.ckpt"), "*.bias").stdout
        XCTAssertFalse(shown.contains(".weight"), shown)
        XCTAssertTrue(try ckpt("stats", path("nested.ckpt"), "nothing*", expect: 1).stderr.contains("no tensor matches 'nothing*'"))
        XCTAssertTrue(try ckpt("stats", path("absent.ckpt"), "--store", work.path, expect: 1).stderr.contains("no ckpt store"))
        try ckpt("init", work.path)
        XCTAssertTrue(try ckpt("stats", "absent@1", "--store", work.path, expect: 2).stderr.contains("no such file, nor a version"))
    }

    // MARK: - diff --stats

    /// Saves the mlp fixture as mlp@1 and a copy with `2.weight` scaled by 1.5 as mlp@2
    /// (and mlp@1 again, as a branch, as mlp@3).
    func makeHistory() throws {
        try ckpt("init", work.path)
        try ckpt("import", fixture("torch/mlp/module.pt"), "-o", path("a.ckpt"))
        var checkpoint = try CheckpointFile.read(contentsOf: work.appendingPathComponent("a.ckpt"))
        let index = try XCTUnwrap(checkpoint.tensors.firstIndex { $0.name == "2.weight" })
        let weight = checkpoint.tensors[index].tensor
        let scaled = weight.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }.map { $0 * 1.5 }
        checkpoint.tensors[index].tensor = try Tensor(dtype: .f32, shape: weight.shape, data: scaled.withUnsafeBufferPointer { Data(buffer: $0) })
        try CheckpointFile.write(checkpoint, to: work.appendingPathComponent("b.ckpt"))
        try ckpt("save", path("a.ckpt"), "--model", "mlp", "-m", "first", "--store", work.path)
        try ckpt("save", path("b.ckpt"), "--model", "mlp", "-m", "head scaled", "--store", work.path)
        try ckpt("save", path("a.ckpt"), "--model", "mlp", "--parent", "mlp@1", "-m", "branch", "--store", work.path)
    }

    func testDiffStatsSideBySide() throws {
        try makeHistory()
        let plain = try ckpt("diff", "mlp@1", "mlp@2", "--store", work.path).stdout
        XCTAssertFalse(plain.contains("histogram"), plain)
        let text = try ckpt("diff", "mlp@1", "mlp@2", "--stats", "--store", work.path).stdout
        XCTAssertTrue(text.hasPrefix(plain.components(separatedBy: "architecture:")[0]), "diff --stats keeps diff's own lines first:\n\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("tensor ") && $0.contains("histogram") }, text)
        XCTAssertTrue(lines[header + 1].hasPrefix("2.weight") && lines[header + 1].contains("mlp@1"), text)
        XCTAssertTrue(lines[header + 2].trimmingCharacters(in: .whitespaces).hasPrefix("mlp@2"), text)
        XCTAssertFalse(text.contains("0.weight  mlp@1"), "only changed tensors without --all:\n\(text)")
        XCTAssertTrue(try ckpt("diff", "mlp@1", "mlp@2", "--stats", "--all", "--store", work.path).stdout.contains("0.weight  mlp@1"))

        let json = try ckpt("diff", "mlp@1", "mlp@2", "--stats", "--json", "--store", work.path).stdout
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let plainObject = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try ckpt("diff", "mlp@1", "mlp@2", "--json", "--store", work.path).stdout.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), Set(plainObject.keys).union(["stats"]))
        struct Row: Decodable { var name: String; var a: TensorStats?; var b: TensorStats? }
        struct Output: Decodable { var stats: [Row] }
        let rows = try JSONDecoder().decode(Output.self, from: Data(json.utf8)).stats
        XCTAssertEqual(rows.map(\.name), ["2.weight"])
        let a = try XCTUnwrap(rows[0].a), b = try XCTUnwrap(rows[0].b)
        XCTAssertEqual(b.std! / a.std!, 1.5, accuracy: 1e-6)
        XCTAssertEqual(b.l2Norm! / a.l2Norm!, 1.5, accuracy: 1e-6)
    }

    // MARK: - report

    /// Every histogram path of a page: the `d` of each `<path class="bars">`.
    func barPaths(_ html: String) -> [String] {
        html.components(separatedBy: "<path class=\"bars\" d=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    func assertSelfContained(_ html: String, file: StaticString = #filePath, line: UInt = #line) {
        for forbidden in ["http:", "https:", "<script", "<link", "src=", "url(", "@import"] {
            XCTAssertFalse(html.contains(forbidden), "the page refers outside itself: \(forbidden)", file: file, line: line)
        }
    }

    func testReportHoldsTreeHistogramsAndTable() throws {
        try ckpt("import", fixture("torch/mlp/module.pt"), "-o", path("mlp.ckpt"))
        let said = try ckpt("report", path("mlp.ckpt"), "-o", path("mlp.html")).stdout
        XCTAssertTrue(said.contains("4 tensors, 0 flagged"), said)
        let html = try String(contentsOf: work.appendingPathComponent("mlp.html"), encoding: .utf8)
        assertSelfContained(html)
        for expected in ["<pre class=\"tree\">Sequential(", "(0): Linear(in_features=20, out_features=256, bias=True)", "5,376 params",
                         "parameters: 7,946", "<table class=\"stats\">"] {
            XCTAssertTrue(html.contains(expected), "report lacks \(expected)")
        }
        XCTAssertEqual(html.components(separatedBy: "<svg class=\"histogram\"").count - 1, 4)
        let paths = barPaths(html)
        XCTAssertEqual(paths.count, 4)
        for d in paths { XCTAssertTrue(d.hasPrefix("M") && d.contains("v-") && d.count > 20, d) }
        XCTAssertEqual(html.components(separatedBy: "<tr><td><code>").count - 1, 4, "one table row per tensor")
        XCTAssertFalse(html.contains("id=\"change\""))

        // No document: said so, and an outline of the names stands in.
        try ckpt("report", fixture("stats/synthetic.safetensors"), "-o", path("synthetic.html"))
        let synthetic = try String(contentsOf: work.appendingPathComponent("synthetic.html"), encoding: .utf8)
        XCTAssertTrue(synthetic.contains("carries no architecture document"))
        XCTAssertTrue(synthetic.contains("<pre class=\"tree outline\">with_nan  f32 [4, 5]\n"), "an outline of the names stands in")
        XCTAssertEqual(synthetic.components(separatedBy: "<svg class=\"histogram\"").count - 1, 14)
        XCTAssertEqual(barPaths(synthetic).count, 13, "every tensor with a finite value has bars (not 'empty')")
        XCTAssertTrue(synthetic.contains(">empty tensor</text>"))
        XCTAssertTrue(synthetic.contains("<tr class=\"flagged\"><td><code>with_nan</code>"))
        XCTAssertTrue(synthetic.contains("3 flagged"))
    }

    func testReportAgainstFilesAndStoredVersions() throws {
        try makeHistory()
        try ckpt("report", path("a.ckpt"), "--against", path("b.ckpt"), "-o", path("files.html"))
        let files = try String(contentsOf: work.appendingPathComponent("files.html"), encoding: .utf8)
        assertSelfContained(files)
        XCTAssertTrue(files.contains("<svg class=\"change\""))
        XCTAssertEqual(files.components(separatedBy: "<rect class=\"bar changed\"").count - 1, 1)
        XCTAssertEqual(files.components(separatedBy: "<rect class=\"bar same\"").count - 1, 3)
        XCTAssertTrue(files.contains(">0.5</text>"), "2.weight changed by exactly 0.5")
        XCTAssertEqual(files.components(separatedBy: "<path class=\"outline\"").count - 1, 4, "b's histograms drawn over a's")
        XCTAssertTrue(files.contains("a: \(path("a.ckpt"))") && files.contains("b: \(path("b.ckpt"))"), "lineage names both files")

        try ckpt("report", "mlp@2", "--against", "mlp@3", "-o", path("refs.html"), "--store", work.path)
        let refs = try String(contentsOf: work.appendingPathComponent("refs.html"), encoding: .utf8)
        let lineage = try XCTUnwrap(refs.components(separatedBy: "<pre class=\"lineage\">").dropFirst().first?.components(separatedBy: "</pre>").first)
        let lines = lineage.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, lineage)
        XCTAssertTrue(lines[0].hasPrefix("* ") && lines[0].contains("mlp@3") && lines[0].contains("◀ b (--against)"), lineage)
        XCTAssertTrue(lines[1].hasPrefix("| * ") && lines[1].contains("mlp@2") && lines[1].contains("◀ a (this report)"), lineage)
        XCTAssertTrue(lines[3].hasPrefix("* ") && lines[3].contains("mlp@1") && lines[3].contains("first"), lineage)
        XCTAssertTrue(refs.contains("<pre class=\"tree\">Sequential("), "a stored version's architecture is shown")
    }

    // MARK: - the page in a browser

    /// chromium (Debian's package, as scripts/install-deps.sh installs it), or $CHROMIUM.
    static func browser() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let given = environment["CHROMIUM"], FileManager.default.isExecutableFile(atPath: given) { return given }
        let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init) + ["/usr/bin", "/snap/bin"]
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            for directory in directories where FileManager.default.isExecutableFile(atPath: directory + "/" + name) {
                return directory + "/" + name
            }
        }
        return nil
    }

    /// Runs the browser headless on `page`, giving (stdout, stderr); killed after 60 s.
    func headless(_ browser: String, _ arguments: [String], page: URL) throws -> (String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        process.arguments = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
                             "--disable-extensions", "--hide-scrollbars", "--user-data-dir=" + path("profile"),
                             "--enable-logging=stderr", "--v=0"] + arguments + [page.absoluteString]
        let out = work.appendingPathComponent("browser-\(UUID().uuidString).out"), err = work.appendingPathComponent("browser-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            XCTFail("\(browser) did not finish within 60 s")
        }
        process.waitUntilExit()
        return (try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
    }

    /// Lines in which the page's console said anything (the page has no script, so any
    /// message is an error: a blocked or missing resource, bad markup reported, ...).
    func consoleMessages(_ log: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
    }

    func testReportRendersInHeadlessChromium() throws {
        guard let browser = Self.browser() else { throw XCTSkip("chromium not installed (scripts/install-deps.sh installs it)") }
        try ckpt("import", fixture("torch/mlp/module.pt"), "-o", path("mlp.ckpt"))
        try ckpt("report", path("mlp.ckpt"), "-o", path("mlp.html"))
        try ckpt("report", fixture("stats/synthetic.safetensors"), "--against", fixture("stats/synthetic.safetensors"), "-o", path("synthetic.html"))

        // The screenshot: the right size, and the histograms' bars are on it.
        let shot = work.appendingPathComponent("mlp.png")
        let (_, shotLog) = try headless(browser, ["--screenshot=" + shot.path, "--window-size=1200,2000"],
                                        page: work.appendingPathComponent("mlp.html"))
        XCTAssertEqual(consoleMessages(shotLog), [])
        let image = try PNGImage(Data(contentsOf: shot))
        XCTAssertEqual([image.width, image.height], [1200, 2000])
        // Bars are #3b6fd8 and nothing else on this page is: 4 histograms of 260 x 80 px
        // hold thousands of such pixels; a page without them holds none.
        let bars = image.count { abs($0 - 0x3B) <= 12 && abs($1 - 0x6F) <= 12 && abs($2 - 0xD8) <= 12 }
        XCTAssertGreaterThan(bars, 8000, "the screenshot shows no histogram bars")
        let background = image.count { $0 == 0xFB && $1 == 0xFB && $2 == 0xFD }
        XCTAssertGreaterThan(background, image.width * image.height / 3)
        XCTAssertLessThan(background, image.width * image.height, "the screenshot is one colour")

        // The DOM the browser built: one histogram per tensor, every path drawn.
        let (dom, domLog) = try headless(browser, ["--dump-dom"], page: work.appendingPathComponent("synthetic.html"))
        XCTAssertEqual(consoleMessages(domLog), [])
        XCTAssertTrue(dom.contains("<svg class=\"change\""), String(dom.prefix(500)))
        XCTAssertEqual(dom.components(separatedBy: "<svg class=\"histogram\"").count - 1, 14)
        let paths = barPaths(dom)
        XCTAssertEqual(paths.count, 13)
        XCTAssertTrue(paths.allSatisfy { $0.hasPrefix("M") && $0.count > 10 }, "\(paths)")
    }
}

/// Just enough of PNG to look at a screenshot: 8-bit RGB or RGBA, not interlaced, the
/// zlib stream inflated by a small decoder (after zlib's puff.c).
struct PNGImage {
    var width = 0
    var height = 0
    var channels = 0
    var pixels: [UInt8] = []

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw Failure(description: "not a PNG") }
        var position = 8
        var compressed: [UInt8] = []
        func u32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        while position + 8 <= bytes.count {
            let length = u32(position)
            let type = String(decoding: bytes[(position + 4)..<(position + 8)], as: UTF8.self)
            let body = (position + 8)..<(position + 8 + length)
            guard body.upperBound <= bytes.count else { throw Failure(description: "truncated chunk \(type)") }
            switch type {
            case "IHDR":
                width = u32(body.lowerBound)
                height = u32(body.lowerBound + 4)
                let depth = bytes[body.lowerBound + 8], colour = bytes[body.lowerBound + 9], interlace = bytes[body.lowerBound + 12]
                guard depth == 8, colour == 2 || colour == 6, interlace == 0 else {
                    throw Failure(description: "unsupported PNG (depth \(depth), colour type \(colour), interlace \(interlace))")
                }
                channels = colour == 6 ? 4 : 3
            case "IDAT":
                compressed += bytes[body]
            default:
                break
            }
            position = body.upperBound + 4
        }
        guard compressed.count > 2 else { throw Failure(description: "no image data") }
        var inflater = Inflater(Array(compressed.dropFirst(2)))
        let raw = try inflater.run()
        let stride = width * channels
        guard raw.count >= height * (stride + 1) else { throw Failure(description: "image data too short") }
        pixels = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            let row = y * (stride + 1) + 1
            for x in 0..<stride {
                let a = x >= channels ? Int(pixels[y * stride + x - channels]) : 0
                let b = y > 0 ? Int(pixels[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(pixels[(y - 1) * stride + x - channels]) : 0
                let value = Int(raw[row + x])
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw Failure(description: "bad filter \(filter)")
                }
                pixels[y * stride + x] = UInt8((value + predicted) & 0xFF)
            }
        }
    }

    /// Pixels whose (r, g, b) satisfy `test`.
    func count(_ test: (Int, Int, Int) -> Bool) -> Int {
        var total = 0
        var k = 0
        while k + 2 < pixels.count {
            if test(Int(pixels[k]), Int(pixels[k + 1]), Int(pixels[k + 2])) { total += 1 }
            k += channels
        }
        return total
    }

    /// Raw deflate (RFC 1951).
    struct Inflater {
        let input: [UInt8]
        var position = 0
        var buffer = 0
        var available = 0
        var output: [UInt8] = []

        init(_ input: [UInt8]) { self.input = input }

        struct Huffman {
            var counts: [Int]
            var symbols: [Int]
            init(_ lengths: [Int]) {
                counts = [Int](repeating: 0, count: 16)
                for length in lengths { counts[length] += 1 }
                var offsets = [Int](repeating: 0, count: 16)
                for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
                symbols = [Int](repeating: 0, count: lengths.count)
                for (symbol, length) in lengths.enumerated() where length != 0 {
                    symbols[offsets[length]] = symbol
                    offsets[length] += 1
                }
            }
        }

        mutating func bits(_ count: Int) throws -> Int {
            while available < count {
                guard position < input.count else { throw Failure(description: "deflate stream ends early") }
                buffer |= Int(input[position]) << available
                position += 1
                available += 8
            }
            let value = buffer & ((1 << count) - 1)
            buffer >>= count
            available -= count
            return value
        }

        mutating func decode(_ table: Huffman) throws -> Int {
            var code = 0, first = 0, index = 0
            for length in 1...15 {
                code |= try bits(1)
                let count = table.counts[length]
                if code - first < count { return table.symbols[index + code - first] }
                index += count
                first = (first + count) << 1
                code <<= 1
            }
            throw Failure(description: "bad Huffman code")
        }

        static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                   4097, 6145, 8193, 12289, 16385, 24577]
        static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

        mutating func codes(_ lengths: Huffman, _ distances: Huffman) throws {
            while true {
                var symbol = try decode(lengths)
                if symbol < 256 {
                    output.append(UInt8(symbol))
                } else if symbol == 256 {
                    return
                } else {
                    symbol -= 257
                    guard symbol < 29 else { throw Failure(description: "bad length symbol") }
                    let length = Self.lengthBase[symbol] + (try bits(Self.lengthExtra[symbol]))
                    let d = try decode(distances)
                    guard d < 30 else { throw Failure(description: "bad distance symbol") }
                    let distance = Self.distanceBase[d] + (try bits(Self.distanceExtra[d]))
                    guard distance <= output.count else { throw Failure(description: "distance too far back") }
                    let start = output.count - distance
                    for k in 0..<length { output.append(output[start + k]) }
                }
            }
        }

        mutating func run() throws -> [UInt8] {
            var last = 0
            repeat {
                last = try bits(1)
                switch try bits(2) {
                case 0:
                    buffer = 0
                    available = 0
                    guard position + 4 <= input.count else { throw Failure(description: "stored block ends early") }
                    let length = Int(input[position]) | Int(input[position + 1]) << 8
                    position += 4
                    guard position + length <= input.count else { throw Failure(description: "stored block ends early") }
                    output += input[position..<(position + length)]
                    position += length
                case 1:
                    let lengths = (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 }
                    try codes(Huffman(lengths), Huffman([Int](repeating: 5, count: 30)))
                case 2:
                    let literals = try bits(5) + 257, distances = try bits(5) + 1, codeCount = try bits(4) + 4
                    let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
                    var codeLengths = [Int](repeating: 0, count: 19)
                    for k in 0..<codeCount { codeLengths[order[k]] = try bits(3) }
                    let codeTable = Huffman(codeLengths)
                    var lengths: [Int] = []
                    while lengths.count < literals + distances {
                        let symbol = try decode(codeTable)
                        switch symbol {
                        case 0..<16: lengths.append(symbol)
                        case 16:
                            guard let previous = lengths.last else { throw Failure(description: "repeat with nothing before") }
                            lengths += [Int](repeating: previous, count: 3 + (try bits(2)))
                        case 17: lengths += [Int](repeating: 0, count: 3 + (try bits(3)))
                        default: lengths += [Int](repeating: 0, count: 11 + (try bits(7)))
                        }
                    }
                    try codes(Huffman(Array(lengths[0..<literals])), Huffman(Array(lengths[literals..<(literals + distances)])))
                default:
                    throw Failure(description: "bad block type")
                }
            } while last == 0
            return output
        }
    }
}
