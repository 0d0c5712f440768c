import ArgumentParser
import Foundation
import Catalog
import Format

@main
struct Ckpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Store, version, operate on and prove neural-network checkpoints.",
        version: ckptVersion,
        subcommands: [
            Import.self,
            Export.self,
            Inspect.self,
            Verify.self,
            Cat.self,
            Bench.self,
            New.self,
            Run.self,
            Devices.self,
            Arch.self,
            ProbeCommand.self,
            Init.self, Save.self, Models.self, Log.self, Show.self, Diff.self, Checkout.self, Tag.self, Rm.self, Prune.self, Gc.self, Fsck.self,
            Stats.self, ReportCommand.self,
            Transplant.self,
        ]
    )

    /// Exit codes (`ExitStatus`): 0 success, 1 a file is bad or an operation failed, 2 usage error.
    static func main() {
        BLASReexec.ifNeeded()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            if let code = ExitStatus.code(for: error) { Terminal.fail("\(error)", code: code) }
            // ArgumentParser's own: help and version (exit 0), usage errors (exit 2).
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = fullMessage(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(2)
            }
            Terminal.fail(message, code: code.rawValue)
        }
    }
}
