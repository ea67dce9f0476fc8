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
    /// Causal rows are processed in blocks of this many queries; a block
    /// only scores the keys up to its last row, so the upper triangle
    /// (beyond the block diagonal) is neither computed nor ever read.
    /// (A var only so tests can use small blocks on short sequences.)
    nonisolated(unsafe) static var causalBlock = 64

    /// Row blocks [i0, i1) of an L-row sequence.
    @inline(__always)
    static func blocks(_ L: Int, causal: Bool) -> [(Int, Int)] {
        if !causal { return [(0, L)] }
        return stride(from: 0, to: L, by: causalBlock).map { ($0, min(L, $0 + causalBlock)) }
    }

    /// Forward: for each sequence b and head h (head dim dh = d / heads),
    ///   P = softmax(Q_h K_h^T / sqrt(dh) + mask),   y_h = P V_h
    /// - qkv: (S, 3d) with q | k | v side by side per row.
    /// - y: (S, d), heads concatenated.
    /// - probs: layout.probTotal floats, P per (b, h) as (L, L); when causal,
    ///   row i is valid for columns below its block's end (zero above the
    ///   diagonal there) and the rest is never written or read.
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
            for (i0, i1) in blocks(L, causal: causal) {
                BLAS.gemm(transB: true, m: i1 - i0, n: i1, k: dh, alpha: scale, a: q + i0 * ld, lda: ld,
                          b: k, ldb: ld, c: p + i0 * L, ldc: L)
                for i in i0..<i1 {
                    let row = p + i * L
                    let n = causal ? i + 1 : L
                    Softmax.rowInPlace(row, n)
                    var j = n
                    while j < i1 { row[j] = 0; j += 1 }
                }
                BLAS.gemm(m: i1 - i0, n: dh, k: i1, a: p + i0 * L, lda: L, b: v, ldb: ld,
                          c: y + (base + i0) * d + h * dh, ldc: d)
            }
        }
    }

    /// Backward, writing dqkv (S, 3d) (not accumulating). Differentiates
    ///   `y_h = P V_h`:            dP = dy_h V_h^T,  dV_h = P^T dy_h
    ///   `P = softmax(S)`:         dS = P * (dP - rowsum(dP * P))
    ///   `S = Q_h K_h^T * scale`:  dQ_h = scale dS K_h,  dK_h = scale dS^T Q_h
    /// Masked entries have P = 0, hence dS = 0: the mask needs no special case.
    /// Causal row blocks run last to first: the last block covers every key,
    /// so its products write dK, dV (beta 0) and earlier blocks add to them.
    static func backward(qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dqkv: UnsafeMutablePointer<Float>, layout: PackedLayout, heads: Int, d: Int,
                         causal: Bool, scratch: FloatBuffer) {
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
            var first = true
            for (i0, i1) in blocks(L, causal: causal).reversed() {
                let m = i1 - i0
                let pb = p + i0 * L
                BLAS.gemm(transB: true, m: m, n: i1, k: dh, a: dyh + i0 * d, lda: d, b: v, ldb: ld, c: dp, ldc: L)
                BLAS.gemm(transA: true, m: i1, n: dh, k: m, a: pb, lda: L, b: dyh + i0 * d, ldb: d,
                          beta: first ? 0 : 1, c: dv, ldc: ld)
                for i in 0..<m {
                    let pr = pb + i * L, dr = dp + i * L
                    let s = VectorMath.dot(pr, dr, i1)
                    for j in 0..<i1 { dr[j] = pr[j] * (dr[j] - s) }
                }
                BLAS.gemm(m: m, n: dh, k: i1, alpha: scale, a: dp, lda: L, b: k, ldb: ld, c: dq + i0 * ld, ldc: ld)
                BLAS.gemm(transA: true, m: i1, n: dh, k: m, alpha: scale, a: dp, lda: L, b: q + i0 * ld, ldb: ld,
                          beta: first ? 0 : 1, c: dk, ldc: ld)
                first = false
            }
        }
    }
}
