// swift-tools-version:6.0
// medr1: an interactive environment for GRPO training of a tiny vision-language
// model on medical VQA. Layers (see docs/architecture.md):
//   medr1-repl -> Runtime -> (Lang, MedR1Lib) -> C shims (CBLAS, CPNG; CEditLine under medr1-repl)
import PackageDescription

let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
// MedR1Lib's kernels (exp, GELU, norms, softmax) use 8-wide SIMD: let them
// compile to AVX2 on the x86-64 machines this project targets.
let optimiseKernels: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(configuration: .release))]
// MedR1AVX512 holds AVX-512 copies of the hottest kernels, compiled for
// AVX-512 in every configuration; MedR1Lib calls them only on a processor
// that has it (SIMDLevel), so the binaries still run on AVX2-only machines.
let avx512Kernels: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "skylake-avx512"]),
                                     .unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "medr1",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "medr1-repl", targets: ["medr1-repl"]),
        .executable(name: "medr1-bench", targets: ["medr1-bench"]),
        .library(name: "MedR1Lib", targets: ["MedR1Lib"]),
        .library(name: "Lang", targets: ["Lang"]),
        .library(name: "Runtime", targets: ["Runtime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CEditLine", path: "Sources/CEditLine", pkgConfig: "libedit",
                       providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .target(name: "Lang", swiftSettings: optimise),
        .target(name: "MedR1AVX512", swiftSettings: avx512Kernels),
        .target(name: "MedR1Lib", dependencies: ["CBLAS", "CPNG", "MedR1AVX512"], swiftSettings: optimiseKernels),
        .target(name: "Runtime", dependencies: ["Lang", "MedR1Lib"], swiftSettings: optimise),
        .executableTarget(name: "medr1-repl",
                          dependencies: ["Runtime", "MedR1Lib", "CEditLine",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimise),
        .executableTarget(name: "medr1-bench", dependencies: ["MedR1Lib"], swiftSettings: optimise),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "LangTests", dependencies: ["Lang", "TestSupport"],
                    resources: [.copy("Scripts")]),
        .testTarget(name: "MedR1LibTests", dependencies: ["MedR1Lib", "MedR1AVX512", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "TestSupport"],
                    resources: [.copy("Scripts")]),
        .testTarget(name: "ReplTests", dependencies: ["medr1-repl", "TestSupport"]),
    ]
)
