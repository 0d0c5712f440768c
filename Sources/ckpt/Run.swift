import ArgumentParser
import Engine
import Foundation
import Format

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a checkpoint's network on an input (.npy) and write the output (.npy, float32).")

    @Argument(help: "A .ckpt that carries an architecture document.")
    var file: String

    @Option(help: "The input, a .npy of any float dtype, batch axis included.")
    var input: String

    @Option(help: "Where to write the output (.npy).")
    var output: String

    @Option(help: ArgumentHelp("Where the network runs: \(DeviceChoice.help).", valueName: "device"))
    var device: DeviceChoice = .cpu

    func run() throws {
        let backend = try device.backend()
        let checkpoint = try Importer.load(contentsOf: URL(fileURLWithPath: file))
        let x = try Npy.read(contentsOf: URL(fileURLWithPath: input))
        let y: Tensor
        let started = Date()
        do {
            y = try Network(checkpoint: checkpoint, backend: backend).run(x)
        } catch let error as EngineError {
            throw error.naming(file)
        } catch {
            throw error.attributed(to: file)
        }
        let seconds = Date().timeIntervalSince(started)
        try Npy.write(y, to: URL(fileURLWithPath: output))
        Terminal.say("\(output): f32\(Tensor.describe(y.shape)) from \(Tensor.describe(x.shape)) on \(backend.name) in \(String(format: "%.2f", seconds * 1000)) ms (load included)")
    }
}
