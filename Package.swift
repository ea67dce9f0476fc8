// swift-tools-version:6.0
// medr1: an interactive environment for GRPO training of a tiny vision-language
// model on medical VQA. Layers (see docs/architecture.md):
//   medr1-repl -> Runtime -> (Lang, MedR1Lib) -> C shims (CBLAS, CPNG, CZlib; CEditLine under medr1-repl)
import PackageDescription

// Everything builds with Swift's checks on (plain -O in release): an index
// out of range stops the program instead of reading memory. The kernels that
// work on raw pointers check the ids they index with at entry
// (MedR1Lib/Tensor); docs/performance.md measures what the checks cost
// against a build with them off.
//
// Processor tuning: MedR1Lib's 8-wide SIMD kernels compile for AVX2 (haswell)
// in release builds, and MedR1AVX512 holds AVX-512 copies of the hottest
// kernels, compiled for skylake-avx512 and called only on a processor that has
// it (SIMDLevel), so the binaries still run on AVX2-only machines. Swift has
// no per-function target attribute, so this takes `-target-cpu`, which
// SwiftPM counts as an unsafe flag; SwiftPM before 6.2 refuses a versioned
// dependency whose library products contain one. So the tuning is off when
// this package is another package's dependency checkout (it then lives in a
// `checkouts` directory) or when MEDR1_PORTABLE=1: the package then has no
// unsafe flags, the kernels compile for baseline x86-64 (slower) and the
// AVX-512 copies are never called (MEDR1_PORTABLE_KERNELS).
let portable = Context.environment["MEDR1_PORTABLE"] == "1"
    || Context.packageDirectory.split(separator: "/").contains("checkouts")
let optimiseKernels: [SwiftSetting] = portable
    ? [.define("MEDR1_PORTABLE_KERNELS")]
    : [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))]
let avx512Kernels: [SwiftSetting] = portable ? [] : [.unsafeFlags(["-target-cpu", "skylake-avx512"])]

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
        .package(url: "https://github.com/JohnSundell/Ink", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CEditLine", path: "Sources/CEditLine", pkgConfig: "libedit",
                       providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Lang"),
        .target(name: "MedR1AVX512", swiftSettings: avx512Kernels),
        .target(name: "MedR1Lib", dependencies: ["CBLAS", "CPNG", "CZlib", "MedR1AVX512"], swiftSettings: optimiseKernels),
        .target(name: "Runtime", dependencies: ["Lang", "MedR1Lib", .product(name: "Ink", package: "Ink")]),
        .executableTarget(name: "medr1-repl",
                          dependencies: ["Runtime", "MedR1Lib", "CEditLine",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "medr1-bench", dependencies: ["MedR1Lib"]),
        .executableTarget(name: "medr1-fuzz", dependencies: ["Lang", "MedR1Lib", "Runtime"]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "LangTests", dependencies: ["Lang", "TestSupport"],
                    resources: [.copy("Scripts")]),
        .testTarget(name: "MedR1LibTests", dependencies: ["MedR1Lib", "MedR1AVX512", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "TestSupport"],
                    resources: [.copy("Scripts")]),
        .testTarget(name: "ReplTests", dependencies: ["medr1-repl", "MedR1Lib", "TestSupport"]),
        .testTarget(name: "FuzzTests", dependencies: ["medr1-fuzz"], resources: [.copy("Regressions")]),
    ]
)
