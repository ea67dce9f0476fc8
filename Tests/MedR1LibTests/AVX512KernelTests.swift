import XCTest
import CBLAS
import MedR1AVX512
@testable import MedR1Lib

/// The AVX-512 products (MedR1AVX512) against Double references and against
/// the AVX2 decode kernel. Skipped on processors without AVX-512 (or with
/// MEDR1_AVX512=0), where they are never called.
final class AVX512KernelTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(SIMDLevel.avx512, "no AVX-512 on this processor (or MEDR1_AVX512=0)")
    }

    /// alpha op(A) op(B) + beta C0 in Double, row-major with the given strides.
    func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
                   b: [Float], ldb: Int, beta: Float, c0: [Float], ldc: Int) -> [Double] {
        var out = c0.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for kk in 0..<k {
                    let x = transA ? a[kk * lda + i] : a[i * lda + kk]
                    let y = transB ? b[j * ldb + kk] : b[kk * ldb + j]
                    s += Double(x) * Double(y)
                }
                out[i * ldc + j] = Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j]))
            }
        }
        return out
    }

    /// Every transpose case, row tails (8-, 4- and 1-row tiles), an odd panel
    /// count, k across several k blocks, n across two column blocks (288 >
    /// 256), strided operands, and alpha/beta.
    func testGemmMatchesDoubleReference() {
        var rng = SplitMix64(seed: 31)
        let shapes = [(13, 48, 37), (8, 16, 5), (101, 32, 1100), (3, 64, 513), (96, 80, 64), (19, 288, 530)]
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.5, -0.7)] {
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
                        let a = (0..<((transA ? k : m) * lda)).map { _ in rng.nextFloat() - 0.5 }
                        let b = (0..<((transB ? n : k) * ldb)).map { _ in rng.nextFloat() - 0.5 }
                        let c0 = (0..<(m * ldc)).map { _ in rng.nextFloat() - 0.5 }
                        var c = c0
                        var pack = [Float](repeating: .nan, count: PackedProduct512.packSize(n: n, k: k))
                        PackedProduct512.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                              a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &c, ldc: ldc,
                                              pack: &pack)
                        let ref = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a,
                                            lda: lda, b: b, ldb: ldb, beta: beta, c0: c0, ldc: ldc)
                        let what = "m \(m) n \(n) k \(k) transA \(transA) transB \(transB) alpha \(alpha) beta \(beta)"
                        var worst = 0.0
                        for i in 0..<m {
                            for j in 0..<n { worst = max(worst, abs(Double(c[i * ldc + j]) - ref[i * ldc + j])) }
                            // Columns past n are left alone.
                            for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], what) }
                        }
                        XCTAssertLessThan(worst, 2e-5 * Double(max(k, 1)).squareRoot(), what)
                    }
                }
            }
        }
    }

    /// BLAS.gemm sends products with n % 16 == 0 here: same results as
    /// OpenBLAS within float32 rounding.
    func testBLASGemmDispatchMatchesOpenBLAS() {
        var rng = SplitMix64(seed: 32)
        let (m, n, k) = (200, 128, 300)
        let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
        let b = (0..<(n * k)).map { _ in rng.nextFloat() - 0.5 }
        var ours = [Float](repeating: 0, count: m * n), theirs = ours
        BLAS.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &ours, ldc: n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b,
                    Int32(k), 0, &theirs, Int32(n))
        XCTAssertLessThan(CoreTest.relativeError(ours, theirs), 1e-6)
        XCTAssertNotEqual(ours, [Float](repeating: 0, count: m * n))
    }

    /// On 2 threads BLAS.gemm packs op(B) once and splits the rows: the
    /// same bits as one thread (each output's chain does not depend on the
    /// split), and the Double reference within rounding, for every transpose case.
    func testSplitProductSharesPackingAndMatchesOneThread() {
        var rng = SplitMix64(seed: 34)
        let saved = Parallelism.threads
        defer { Parallelism.setThreads(saved) }
        let (m, n, k) = (600, 64, 300)
        for transA in [false, true] {
            for transB in [false, true] {
                let lda = transA ? m : k, ldb = transB ? k : n
                let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
                let b = (0..<(n * k)).map { _ in rng.nextFloat() - 0.5 }
                let c0 = (0..<(m * n)).map { _ in rng.nextFloat() - 0.5 }
                var results: [[Float]] = []
                for t in [1, 2] {
                    Parallelism.setThreads(t)
                    var c = c0
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b,
                              ldb: ldb, beta: 1, c: &c, ldc: n)
                    results.append(c)
                }
                let what = "transA \(transA) transB \(transB)"
                XCTAssertEqual(results[0], results[1], what)
                let ref = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda,
                                    b: b, ldb: ldb, beta: 1, c0: c0, ldc: n)
                let worst = zip(results[1], ref).map { abs(Double($0) - $1) }.max()!
                XCTAssertLessThan(worst, 2e-5 * Double(k).squareRoot(), what)
            }
        }
    }

    /// The decode product gives the AVX2 kernel's bits exactly: one FMA
    /// chain over k per output either way, so sampling does not depend on
    /// which processor ran it.
    func testDecodeProductBitIdenticalToAVX2() {
        var rng = SplitMix64(seed: 33)
        for (n, inDim, outDim) in [(13, 128, 384), (32, 512, 128), (1, 16, 48), (6, 40, 16)] {
            let w = (0..<(outDim * inDim)).map { _ in rng.nextFloat() - 0.5 }
            var packed = [Float](repeating: 0, count: outDim * inDim)
            PackedLinear.pack(w, into: &packed, outDim: outDim, inDim: inDim)
            let x = (0..<(n * inDim)).map { _ in rng.nextFloat() - 0.5 }
            for accumulate in [false, true] {
                let y0 = (0..<(n * outDim)).map { _ in rng.nextFloat() }
                var wide = y0, narrow = y0
                PackedProduct512.forward(x, ldx: inDim, packed, &wide, ldy: outDim, rows: n, inDim: inDim,
                                         outDim: outDim, accumulate: accumulate)
                PackedLinear.forwardAVX2(x, ldx: inDim, packed, &narrow, ldy: outDim, rows: n, inDim: inDim,
                                         outDim: outDim, accumulate: accumulate)
                XCTAssertEqual(wide, narrow, "n \(n) in \(inDim) out \(outDim) accumulate \(accumulate)")
            }
        }
    }
}

/// When the AVX-512 kernels are used: not without every subset the compiler
/// may use, not with MEDR1_AVX512=0, not under valgrind. Runs on any processor.
final class SIMDLevelTests: XCTestCase {
    func testDetectNeedsAllSubsetsAndRespectsTheEnvironment() {
        let all: Set<Substring> = ["fpu", "avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "amx_tile"]
        XCTAssertTrue(SIMDLevel.detect(flags: all, environment: [:]))
        XCTAssertTrue(SIMDLevel.detect(flags: all, environment: ["MEDR1_AVX512": "1", "LD_PRELOAD": "/usr/lib/libfoo.so"]))
        var noVL = all
        noVL.remove("avx512vl")
        XCTAssertFalse(SIMDLevel.detect(flags: noVL, environment: [:]))
        XCTAssertFalse(SIMDLevel.detect(flags: ["fpu", "avx2", "fma"], environment: [:]))
        XCTAssertFalse(SIMDLevel.detect(flags: all, environment: ["MEDR1_AVX512": "0"]))
        XCTAssertFalse(SIMDLevel.detect(flags: all, environment: [
            "LD_PRELOAD": "/usr/libexec/valgrind/vgpreload_core-amd64-linux.so"]))
    }
}
