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
            Init.self, Save.self, Log.self, Show.self, Diff.self, Checkout.self, Tag.self, Rm.self, Prune.self, Gc.self, Fsck.self,
            Stats.self, ReportCommand.self,
            Transplant.self,
        ]
    )

    /// Exit codes: 0 success, 1 a file is bad or an operation failed, 2 usage error.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as FormatError {
            Terminal.fail(error.description)
        } catch let error as CatalogError {
            Terminal.fail(error.description)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch let error as CLIError {
            Terminal.fail(error.message, code: error.code)
        } catch {
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

/// An error for the command line itself: a message and the exit code it means.
struct CLIError: Error {
    var message: String
    var code: Int32 = 1

    static func usage(_ message: String) -> CLIError { CLIError(message: message, code: 2) }
}
