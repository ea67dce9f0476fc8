// Which vector instructions the project's own kernels may use on this
// processor. MedR1Lib's kernels are compiled for AVX2 (Package.swift); the
// AVX-512 copies of the decode and packed products live in MedR1AVX512 and
// are called only when `SIMDLevel.avx512` is true.
//
// The AVX-512 products give the same bits as the AVX2 ones (same fused
// multiply-add chain per output), so the choice changes speed, never numbers.

import Foundation

public enum SIMDLevel {
    /// True when the processor and the kernel support the AVX-512 subsets
    /// the compiler may use for skylake-avx512 code (F, CD, BW, DQ, VL), as
    /// listed in /proc/cpuinfo's flags, unless MEDR1_AVX512 is "0" or the
    /// process runs under valgrind (which does not emulate AVX-512 although
    /// /proc/cpuinfo lists it). Set MEDR1_AVX512=0 to compare with the AVX2
    /// kernels. Always false in a portable build (Package.swift).
    public static let avx512: Bool = detect(flags: cpuFlags(), environment: ProcessInfo.processInfo.environment)

    /// The decision of `avx512` from the processor's flags and the environment.
    static func detect(flags: Set<Substring>, environment: [String: String]) -> Bool {
        #if MEDR1_PORTABLE_KERNELS
        // MedR1AVX512 was built without AVX-512 code generation (Package.swift).
        return false
        #else
        if environment["MEDR1_AVX512"] == "0" { return false }
        // valgrind preloads its core library (vgpreload_core-...) into the program it runs.
        if environment["LD_PRELOAD"]?.contains("vgpreload") == true { return false }
        return flags.isSuperset(of: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"])
        #endif
    }

    /// The first "flags" line of /proc/cpuinfo as a set (empty where there is none).
    static func cpuFlags() -> Set<Substring> {
        #if arch(x86_64) && os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " "))
        }
        #endif
        return []
    }

    /// A short name of the kernels in use, for benchmark output.
    public static var name: String { avx512 ? "avx512" : "avx2" }
}
