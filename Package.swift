// swift-tools-version:5.9
import PackageDescription

// Strict concurrency checking (Swift 6's data-race rules) as warnings in Swift 5 mode, on
// every target of ours. An upcoming-feature setting, not an unsafe flag, so the package
// stays usable as a dependency (fuzz/ depends on it by path).
let strictConcurrency: [SwiftSetting] = [.enableUpcomingFeature("StrictConcurrency")]

// No `platforms:` claim: the code calls Glibc (mmap, fstat, sysconf) and builds on Linux only.
let package = Package(
    name: "ckpt",
    products: [
        .executable(name: "ckpt", targets: ["ckpt"]),
        .library(name: "Format", targets: ["Format"]),
        // For fuzz/, whose architecture target drives the plan builder.
        .library(name: "Engine", targets: ["Engine"]),
        // The C ABI the Python package (python/) loads with ctypes: spec/ABI.md.
        .library(name: "CkptABI", type: .dynamic, targets: ["CkptABI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Thin module maps over Debian's libzstd-dev and libxxhash-dev.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CXXHash", path: "Sources/CXXHash", pkgConfig: "libxxhash",
                       providers: [.apt(["libxxhash-dev"])]),
        // Thin module maps over Debian's libopenblas-dev and libkissfft-dev (the engine's BLAS and FFT).
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // No pkgConfig for KissFFT: its .pc file carries -D flags SwiftPM refuses (the shim defines them).
        .systemLibrary(name: "CKissFFT", path: "Sources/CKissFFT", providers: [.apt(["libkissfft-dev"])]),
        // Thin module maps over the OpenCL ICD loader and CLBlast (the engine's OpenCL backend).
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL", providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]),
        .systemLibrary(name: "CCLBlast", path: "Sources/CCLBlast", pkgConfig: "clblast", providers: [.apt(["libclblast-dev"])]),
        .target(
            name: "Format",
            dependencies: ["CZstd", "CXXHash", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: strictConcurrency
        ),
        .target(name: "Engine", dependencies: ["Format", "COpenBLAS", "CKissFFT", "COpenCL", "CCLBlast"],
                swiftSettings: strictConcurrency),
        // The store: content-addressed tensor objects and a SQLite catalog. Never depends on Engine.
        .target(name: "Catalog", dependencies: ["Format", .product(name: "GRDB", package: "GRDB.swift"),
                                                .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: strictConcurrency),
        // `@_cdecl` entry points over Format and Catalog (spec/ABI.md); no Swift type crosses the boundary.
        .target(name: "CkptABI", dependencies: ["Format", "Catalog"], swiftSettings: strictConcurrency),
        .executableTarget(
            name: "ckpt",
            dependencies: ["Format", "Engine", "Catalog", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictConcurrency
        ),
        .testTarget(name: "FormatTests", dependencies: ["Format"], swiftSettings: strictConcurrency),
        .testTarget(name: "CLITests", dependencies: ["Format", "ckpt"], swiftSettings: strictConcurrency),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Format", "Catalog"], swiftSettings: strictConcurrency),
        .testTarget(name: "CkptABITests", dependencies: ["CkptABI", "Format"], swiftSettings: strictConcurrency),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "Format", "ckpt"], swiftSettings: strictConcurrency),
    ]
)
