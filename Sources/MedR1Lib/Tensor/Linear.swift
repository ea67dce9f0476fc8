import CBLAS
import MedR1AVX512

// Matrix products, and the ops built on them: linear layers (with and
// without bias), embedding lookup and position add. Weights are stored
// [out, in] row-major, as in the checkpoint. A product runs on the project's
// AVX-512 kernel (MedR1AVX512) when the processor has AVX-512 and n is a
// multiple of 16, otherwise on OpenBLAS's sgemm.

enum BLAS {
    /// C (M, N) = alpha * op(A) op(B) + beta * C, row-major, with leading
    /// dimensions given (so strided views such as one head's columns work).
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let t = Parallelism.threads
        if t > 1, Parallelism.splitProducts, !Parallelism.inParallelRegion, m * n * k >= 1 << 18 {
            // Split C's longer side over the workers in multiples of 16
            // (whole kernel tiles); each part is an ordinary single-threaded
            // sgemm on a view, so every element is computed as without the split.
            let alongM = m >= n
            let len = alongM ? m : n
            let parts = min(t, len / 16)
            if parts > 1, alongM, avx512(n: n, m: m, k: k) {
                // op(B) packed once for all parts (each part would pack all of it).
                let packed = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
                defer { packed.deallocate() }
                PackedProduct512.packB(transB: transB, n: n, k: k, b: b, ldb: ldb, into: packed)
                Parallelism.parallelFor(parts) { w in
                    let lo = w == 0 ? 0 : (len * w / parts) / 16 * 16
                    let hi = w == parts - 1 ? len : (len * (w + 1) / parts) / 16 * 16
                    let pack = UnsafeMutablePointer<Float>.allocate(capacity: PackedProduct512.packSize(n: n, k: k))
                    defer { pack.deallocate() }
                    PackedProduct512.gemm(transA: transA, m: hi - lo, n: n, k: k, alpha: alpha,
                                          a: a + (transA ? lo : lo * lda), lda: lda, packedB: packed, beta: beta,
                                          c: c + lo * ldc, ldc: ldc, pack: pack)
                }
                return
            }
            if parts > 1 {
                Parallelism.parallelFor(parts) { w in
                    let lo = w == 0 ? 0 : (len * w / parts) / 16 * 16
                    let hi = w == parts - 1 ? len : (len * (w + 1) / parts) / 16 * 16
                    if alongM {
                        single(transA, transB, hi - lo, n, k, alpha, a + (transA ? lo : lo * lda), lda, b, ldb,
                               beta, c + lo * ldc, ldc)
                    } else {
                        single(transA, transB, m, hi - lo, k, alpha, a, lda, b + (transB ? lo * ldb : lo), ldb,
                               beta, c + lo, ldc)
                    }
                }
                return
            }
        }
        single(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// Whether a product goes to the AVX-512 kernel: on such a processor,
    /// for n a multiple of 16 and products big enough to pay for packing.
    @inline(__always)
    private static func avx512(n: Int, m: Int, k: Int) -> Bool {
        SIMDLevel.avx512 && n % 16 == 0 && m * n * k >= 1 << 15
    }

    @inline(__always)
    private static func single(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                               _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                               _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if avx512(n: n, m: m, k: k) {
            // The project's AVX-512 kernel (MedR1AVX512): faster than
            // OpenBLAS's Haswell kernels at these shapes, see docs/performance.md.
            let pack = UnsafeMutablePointer<Float>.allocate(capacity: PackedProduct512.packSize(n: n, k: k))
            defer { pack.deallocate() }
            PackedProduct512.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                  b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, pack: pack)
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

enum Linear {
    /// y (rows, out) = x (rows, in) W^T + b, W (out, in), b (out) or nil.
    static func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                        _ y: UnsafeMutablePointer<Float>, rows: Int, inDim: Int, outDim: Int) {
        if let bias {
            for r in 0..<rows { (y + r * outDim).update(from: bias, count: outDim) }
        }
        BLAS.gemm(transB: true, m: rows, n: outDim, k: inDim, a: x, lda: inDim, b: w, ldb: inDim,
                  beta: bias == nil ? 0 : 1, c: y, ldc: outDim)
    }

    /// Backward of `y = x W^T + b`:
    ///   dW (out, in) += dy^T x;   db (out) += sum_rows dy;   dx (rows, in) (+)= dy W.
    /// dx may be nil when the input needs no gradient (e.g. image patches).
    static func backward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                         db: UnsafeMutablePointer<Float>?, rows: Int, inDim: Int, outDim: Int,
                         accumulateDx: Bool = false) {
        BLAS.gemm(transA: true, m: outDim, n: inDim, k: rows, a: dy, lda: outDim, b: x, ldb: inDim,
                  beta: 1, c: dw, ldc: inDim)
        if let db {
            for r in 0..<rows { VectorMath.axpy(1, dy + r * outDim, db, outDim) }
        }
        if let dx {
            BLAS.gemm(m: rows, n: inDim, k: outDim, a: dy, lda: outDim, b: w, ldb: inDim,
                      beta: accumulateDx ? 1 : 0, c: dx, ldc: inDim)
        }
    }
}

enum Embedding {
    /// y[r] = table[ids[r]], y (rows, d), table (vocab, d).
    static func forward(_ ids: UnsafePointer<Int>, _ table: UnsafePointer<Float>,
                        _ y: UnsafeMutablePointer<Float>, rows: Int, d: Int, vocab: Int) {
        precondition(ids: ids, count: rows, below: vocab, "Embedding.forward")
        for r in 0..<rows { (y + r * d).update(from: table + ids[r] * d, count: d) }
    }

    /// Backward of `y[r] = table[ids[r]]`: dtable[ids[r]] += dy[r], in row
    /// order (a fixed order, so repeated ids sum deterministically).
    static func backward(_ ids: UnsafePointer<Int>, _ dy: UnsafePointer<Float>,
                         _ dtable: UnsafeMutablePointer<Float>, rows: Int, d: Int, vocab: Int) {
        precondition(ids: ids, count: rows, below: vocab, "Embedding.backward")
        for r in 0..<rows { VectorMath.axpy(1, dy + r * d, dtable + ids[r] * d, d) }
    }
}

enum PositionAdd {
    /// x[r] += pos[r] for r in 0..<rows: one sequence's tokens get positions
    /// 0..<rows (x (rows, d), pos (maxPositions, d)).
    static func forward(_ x: UnsafeMutablePointer<Float>, _ pos: UnsafePointer<Float>, rows: Int, d: Int) {
        VectorMath.add(pos, into: x, rows * d)
    }

    /// Backward of `x[r] += pos[r]`: dpos[r] += dx[r] (dx passes through unchanged).
    static func backward(_ dx: UnsafePointer<Float>, _ dpos: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
        VectorMath.add(dx, into: dpos, rows * d)
    }
}

/// Public access to the library's matrix product (for benchmarks: the sgemm
/// peak must be measured through the same threading as the model's products).
public enum MatrixProduct {
    /// c (m, n) = a (m, k) b (k, n), row-major, on `Parallelism.threads` threads.
    public static func multiply(_ a: [Float], _ b: [Float], into c: inout [Float], m: Int, n: Int, k: Int) {
        precondition(a.count >= m * k && b.count >= k * n && c.count >= m * n, "MatrixProduct: arrays too small")
        BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n)
    }
}
