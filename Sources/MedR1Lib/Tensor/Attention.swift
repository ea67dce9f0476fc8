// Multi-head self-attention over a packed batch of sequences of different
// lengths (causal or bidirectional), with its backward. Each (sequence, head)
// pair is independent; pairs are spread over the cores, each pair's two
// products are single-threaded sgemm calls on strided views of the packed
// q/k/v buffer, so no head is ever copied out.

/// Where each sequence sits in a packed (S, ...) buffer.
struct PackedLayout: Equatable {
    /// First packed row of each sequence.
    var starts: [Int]
    /// Number of rows (tokens) of each sequence.
    var lengths: [Int]
    /// Offset of each sequence's attention-probability block (nHeads * L * L floats).
    var probOffsets: [Int]
    /// Total rows S.
    var total: Int
    /// Total attention-probability floats (sum of nHeads * L^2).
    var probTotal: Int

    init(lengths: [Int], heads: Int) {
        self.lengths = lengths
        starts = []; probOffsets = []
        var s = 0, p = 0
        for l in lengths { starts.append(s); probOffsets.append(p); s += l; p += heads * l * l }
        total = s; probTotal = p
    }
}

enum Attention {
    /// Forward: for each sequence b and head h (head dim dh = d / heads),
    ///   P = softmax(Q_h K_h^T / sqrt(dh) + mask),   y_h = P V_h
    /// - qkv: (S, 3d) with q | k | v side by side per row.
    /// - y: (S, d), heads concatenated.
    /// - probs: layout.probTotal floats, P per (b, h) as (L, L), zero above
    ///   the diagonal when causal; kept for the backward.
    static func forward(qkv: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                        probs: UnsafeMutablePointer<Float>, layout: PackedLayout,
                        heads: Int, d: Int, causal: Bool) {
        let dh = d / heads, ld = 3 * d
        let scale = 1 / Float(dh).squareRoot()
        let items = layout.lengths.count * heads
        Parallelism.parallelFor(items) { item in
            let b = item / heads, h = item % heads
            let L = layout.lengths[b]
            if L == 0 { return }
            let base = layout.starts[b]
            let q = qkv + base * ld + h * dh, k = q + d, v = q + 2 * d
            let p = probs + layout.probOffsets[b] + h * L * L
            BLAS.gemm(transB: true, m: L, n: L, k: dh, alpha: scale, a: q, lda: ld, b: k, ldb: ld, c: p, ldc: L)
            for i in 0..<L {
                let row = p + i * L
                let n = causal ? i + 1 : L
                Softmax.rowInPlace(row, n)
                if n < L { (row + n).update(repeating: 0, count: L - n) }
            }
            BLAS.gemm(m: L, n: dh, k: L, a: p, lda: L, b: v, ldb: ld, c: y + base * d + h * dh, ldc: d)
        }
    }

    /// Backward, writing dqkv (S, 3d) (not accumulating). Differentiates
    ///   `y_h = P V_h`:            dP = dy_h V_h^T,  dV_h = P^T dy_h
    ///   `P = softmax(S)`:         dS = P * (dP - rowsum(dP * P))
    ///   `S = Q_h K_h^T * scale`:  dQ_h = scale dS K_h,  dK_h = scale dS^T Q_h
    /// Masked entries have P = 0, hence dS = 0: the mask needs no special case.
    static func backward(qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dqkv: UnsafeMutablePointer<Float>, layout: PackedLayout, heads: Int, d: Int,
                         scratch: FloatBuffer) {
        let dh = d / heads, ld = 3 * d
        let scale = 1 / Float(dh).squareRoot()
        let items = layout.lengths.count * heads
        let maxL = layout.lengths.max() ?? 0
        let workers = Parallelism.workers(items)
        let scr = scratch.reserve(workers * maxL * maxL)
        Parallelism.parallelFor(items) { worker, item in
            let b = item / heads, h = item % heads
            let L = layout.lengths[b]
            if L == 0 { return }
            let base = layout.starts[b]
            let q = qkv + base * ld + h * dh, k = q + d, v = q + 2 * d
            let dq = dqkv + base * ld + h * dh, dk = dq + d, dv = dq + 2 * d
            let p = probs + layout.probOffsets[b] + h * L * L
            let dyh = dy + base * d + h * dh
            let dp = scr + worker * maxL * maxL
            BLAS.gemm(transB: true, m: L, n: L, k: dh, a: dyh, lda: d, b: v, ldb: ld, c: dp, ldc: L)
            BLAS.gemm(transA: true, m: L, n: dh, k: L, a: p, lda: L, b: dyh, ldb: d, c: dv, ldc: ld)
            for i in 0..<L {
                let pr = p + i * L, dr = dp + i * L
                let s = VectorMath.dot(pr, dr, L)
                for j in 0..<L { dr[j] = pr[j] * (dr[j] - s) }
            }
            BLAS.gemm(m: L, n: dh, k: L, alpha: scale, a: dp, lda: L, b: k, ldb: ld, c: dq, ldc: ld)
            BLAS.gemm(transA: true, m: L, n: dh, k: L, alpha: scale, a: dp, lda: L, b: q, ldb: ld, c: dk, ldc: ld)
        }
    }
}
