import ArgumentParser

/// Benchmarks that run ckpt and print figures to set beside its peers' (see bench/).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure ckpt's speed (bench/ runs these beside PyTorch, safetensors and numpy).",
        subcommands: [BenchFormat.self, BenchEngine.self, BenchTorch.self, BenchDevices.self])
}
