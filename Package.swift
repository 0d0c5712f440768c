// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "ckpt",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ckpt", targets: ["ckpt"]),
        .library(name: "Format", targets: ["Format"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        // Thin module maps over Debian's libzstd-dev and libxxhash-dev.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CXXHash", path: "Sources/CXXHash", pkgConfig: "libxxhash",
                       providers: [.apt(["libxxhash-dev"])]),
        .target(
            name: "Format",
            dependencies: ["CZstd", "CXXHash", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        .executableTarget(
            name: "ckpt",
            dependencies: ["Format", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "FormatTests", dependencies: ["Format"]),
        .testTarget(name: "CLITests", dependencies: ["Format"]),
    ]
)
