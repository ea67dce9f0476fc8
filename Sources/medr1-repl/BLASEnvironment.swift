// OpenBLAS picks its kernels once, when the library loads, from the CPU it
// detects or from OPENBLAS_CORETYPE. OpenBLAS 0.3.21 (Debian 12) does not
// recognise the Xeons of these machines and falls back to its generic
// kernels, about 4-6x slower (measured by scripts/bench; see
// docs/performance.md). So when the variable is unset and the CPU has AVX2,
// the REPL sets OPENBLAS_CORETYPE=Haswell and re-executes itself once, before
// any work. A value the user set is never changed.

import Foundation

enum BLASEnvironment {
    /// Re-executes the process with OPENBLAS_CORETYPE=Haswell when that helps;
    /// returns normally when nothing needs doing (or the exec fails).
    static func ensureFastKernels() {
        guard getenv("OPENBLAS_CORETYPE") == nil, getenv("MEDR1_NO_BLAS_REEXEC") == nil,
              cpuHasAVX2() else { return }
        setenv("OPENBLAS_CORETYPE", "Haswell", 1)
        setenv("MEDR1_NO_BLAS_REEXEC", "1", 1)   // never loop
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returned: carry on with the kernels OpenBLAS chose.
    }

    /// True when /proc/cpuinfo lists the avx2 flag (Linux; false elsewhere).
    private static func cpuHasAVX2() -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        guard let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        return flags.split(separator: " ").contains("avx2")
    }
}
