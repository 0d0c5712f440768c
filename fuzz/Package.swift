// swift-tools-version:5.9
// libFuzzer targets for ckpt's readers, one executable per reader. A package of its own so
// that the main package's `swift build` / `swift test` never builds them; build and run
// with fuzz/run.sh (see fuzz/README.md). Every target feeds the fuzzer's bytes to the
// library the way the CLI would and treats every thrown error as a pass: only a trap, a
// sanitizer report, a hang or an out-of-memory is a finding.
import PackageDescription

let package = Package(
    name: "ckpt-fuzz",
    dependencies: [
        // SwiftPM names a path dependency after its folder: the checkout must not be called
        // `fuzz` itself, or it collides with this package (fuzz/run.sh copes with that).
        .package(name: "ckpt", path: ".."),
    ],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "Format", package: "ckpt")]),
        .executableTarget(name: "fuzz-ckpt", dependencies: ["FuzzSupport", .product(name: "Format", package: "ckpt")]),
        .executableTarget(name: "fuzz-torch", dependencies: ["FuzzSupport", .product(name: "Format", package: "ckpt")]),
        .executableTarget(name: "fuzz-safetensors", dependencies: ["FuzzSupport", .product(name: "Format", package: "ckpt")]),
        .executableTarget(name: "fuzz-numpy", dependencies: ["FuzzSupport", .product(name: "Format", package: "ckpt")]),
        .executableTarget(name: "fuzz-pt2", dependencies: ["FuzzSupport", .product(name: "Format", package: "ckpt")]),
        .executableTarget(name: "fuzz-arch", dependencies: ["FuzzSupport", .product(name: "Format", package: "ckpt"),
                                                            .product(name: "Engine", package: "ckpt")]),
    ]
)
