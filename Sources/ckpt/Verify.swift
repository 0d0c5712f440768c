import ArgumentParser
import Foundation
import Format

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum and structural rule of a checkpoint.",
        discussion: "Exit status: 0 the checkpoint is good, 1 it is bad (each problem is named with where it is), 2 usage error.")

    @Argument(help: "A .ckpt, .safetensors, .npz or .npy file.")
    var file: String

    @Flag(help: "Print JSON for scripts.")
    var json = false

    struct Report: Encodable {
        var file: String
        var ok: Bool
        var problems: [String]
        var tensors: Int
        var chunks: Int
        var bytes: Int
    }

    func run() throws {
        let url = URL(fileURLWithPath: file)
        guard FileManager.default.fileExists(atPath: file) else {
            // Not a file: a version in the store (NAME@N, a tag, a hash prefix), checked alike.
            guard let stored = try StoreVerification.report(for: file) else { throw CLIError.usage("\(file): no such file or stored version") }
            try emit(stored)
            return
        }
        var report = Report(file: file, ok: true, problems: [], tensors: 0, chunks: 0, bytes: 0)
        do {
            if try FileKind.detect(url) == .ckpt {
                let found = try ContainerReader(contentsOf: url).verify()
                report.problems = found.problems
                report.tensors = found.tensorsChecked
                report.chunks = found.chunksChecked
                report.bytes = found.bytesDecoded
            } else {
                // Other formats have no checksums: reading them checks their structure.
                let checkpoint = try Importer.load(contentsOf: url)
                report.tensors = checkpoint.tensors.count
                report.bytes = checkpoint.tensors.reduce(0) { $0 + $1.tensor.data.count }
            }
        } catch let error as FormatError {
            report.problems.append(error.message)
        }
        report.ok = report.problems.isEmpty
        try emit(report)
    }

    private func emit(_ report: Report) throws {
        if json {
            print(try Terminal.json(report))
        } else if report.ok {
            print("\(report.file): ok (\(report.tensors) tensors, \(report.chunks) chunks, \(Terminal.bytes(report.bytes)) checked)")
        } else {
            for problem in report.problems { print("\(report.file): \(problem)") }
            print("\(report.file): BAD (\(report.problems.count) problem\(report.problems.count == 1 ? "" : "s"))")
        }
        if !report.ok { throw ExitCode(1) }
    }
}
