import ArgumentParser

@main
struct Ckpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Store, version, operate on and prove neural-network checkpoints.",
        version: "0.1.0",
        subcommands: [
        ]
    )
}
