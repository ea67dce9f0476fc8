// Multi-head self-attention over a packed batch of sequences of different
// lengths (causal or bidirectional), with its backward. A sequence may
// continue a shared prefix (PackedLayout): it then attends to the prefix's
// keys and values too, which are computed once for all its continuations.
// Each (root sequence, head) pair, with the continuations of that root, is
// independent; pairs are spread over the cores, and every product is a
// single-threaded sgemm call on strided views of the packed q/k/v buffer,
// so no head is ever copied out.

/// Where each sequence sits in a packed (S, ...) buffer, and which
/// sequences continue a shared prefix.
///
/// A sequence with a parent is a *continuation*: its rows come after the
/// parent's rows in position (its row i sits at position parentLength + i)
/// and attend to all of the parent's rows and causally to its own. The G
/// completions of one prompt are packed this way as continuations of one
/// prefix (image + prompt), so the prefix is computed once for all G.
struct PackedLayout: Equatable {
    /// First packed row of each sequence.
    var starts: [Int]
    /// Number of rows (tokens) of each sequence.
    var lengths: [Int]
    /// The sequence each one continues, or -1 (a root). Parents are roots.
    var parents: [Int]
    /// For each sequence, the continuations of it, in order (empty for all but roots).
    var children: [[Int]]
    /// The sequences without a parent, in order.
    var roots: [Int]
    /// Offset of each sequence's attention-probability block (nHeads * L * (Lp + L) floats,
    /// Lp the parent's length or 0).
    var probOffsets: [Int]
    /// Total rows S.
    var total: Int
    /// Total attention-probability floats.
    var probTotal: Int

    init(lengths: [Int], heads: Int, parents: [Int]? = nil) {
        self.lengths = lengths
        self.parents = parents ?? [Int](repeating: -1, count: lengths.count)
        precondition(self.parents.count == lengths.count, "PackedLayout: one parent per sequence")
        children = [[Int]](repeating: [], count: lengths.count)
        roots = []
        starts = []; probOffsets = []
        var s = 0, p = 0
        for (b, l) in lengths.enumerated() {
            let parent = self.parents[b]
            if parent < 0 { roots.append(b) } else {
                precondition(parent < b && self.parents[parent] < 0, "PackedLayout: a parent must be an earlier root")
                children[parent].append(b)
            }
            starts.append(s); probOffsets.append(p)
            s += l; p += heads * l * (l + (parent < 0 ? 0 : lengths[parent]))
        }
        total = s; probTotal = p
    }

    /// Position of a sequence's first row: its parent's length, or 0.
    func positionOffset(_ b: Int) -> Int { parents[b] < 0 ? 0 : lengths[parents[b]] }

    /// Whether any sequence continues another.
    var hasContinuations: Bool { roots.count < lengths.count }
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
        precondition(causal || !layout.hasContinuations, "Attention: continuations need causal attention")
        // One item per (root, head): a root's continuations read its keys and
        // values, so they run in the same item, after it.
        let items = layout.roots.count * heads
        Parallelism.parallelFor(items) { item in
            let b = layout.roots[item / heads], h = item % heads
            let L = layout.lengths[b]
            if L == 0 { return }
            let base = layout.starts[b]
            let q = qkv + base * ld + h * dh, k = q + d, v = q + 2 * d
            let p = probs + layout.probOffsets[b] + h * L * L
            for (i0, i1) in blocks(L, causal: causal) {
                BLAS.gemm(transB: true, m: i1 - i0, n: i1, k: dh, alpha: scale, a: q + i0 * ld, lda: ld,
                          b: k, ldb: ld, c: p + i0 * L, ldc: L)
                for i in i0..<i1 { softmaxRow(p + i * L, valid: causal ? i + 1 : L, through: i1) }
                BLAS.gemm(m: i1 - i0, n: dh, k: i1, a: p + i0 * L, lda: L, b: v, ldb: ld,
                          c: y + (base + i0) * d + h * dh, ldc: d)
            }
            for c in layout.children[b] {
                let Lc = layout.lengths[c]
                if Lc == 0 { continue }
                let qc = qkv + layout.starts[c] * ld + h * dh
                continuationForward(q: qc, prefixK: k, prefixV: v, prefixLength: L, length: Lc,
                                    probs: probs + layout.probOffsets[c] + h * Lc * (L + Lc),
                                    y: y + layout.starts[c] * d + h * dh, ld: ld, d: d, dh: dh, scale: scale)
            }
        }
    }

    /// One head of a continuation of Lc rows over a prefix of Lp rows:
    /// scores (Lc, Lp + Lc) = scale [Q K_p^T | Q K^T], causal on the own part
    /// (row i sees the whole prefix and own keys 0...i), P = softmax,
    /// y = P[:, :Lp] V_p + P[:, Lp:] V. q/k/v and the prefix's k/v are strided
    /// views (leading dimension ld) of packed q|k|v rows; probs is (Lc, Lp + Lc).
    @inline(__always)
    static func continuationForward(q: UnsafePointer<Float>, prefixK kp: UnsafePointer<Float>,
                                    prefixV vp: UnsafePointer<Float>, prefixLength Lp: Int, length Lc: Int,
                                    probs p: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                                    ld: Int, d: Int, dh: Int, scale: Float) {
        let k = q + d, v = q + 2 * d
        let ldp = Lp + Lc
        for (i0, i1) in blocks(Lc, causal: true) {
            let m = i1 - i0
            BLAS.gemm(transB: true, m: m, n: Lp, k: dh, alpha: scale, a: q + i0 * ld, lda: ld, b: kp, ldb: ld,
                      c: p + i0 * ldp, ldc: ldp)
            BLAS.gemm(transB: true, m: m, n: i1, k: dh, alpha: scale, a: q + i0 * ld, lda: ld, b: k, ldb: ld,
                      c: p + i0 * ldp + Lp, ldc: ldp)
            for i in i0..<i1 { softmaxRow(p + i * ldp, valid: Lp + i + 1, through: Lp + i1) }
            BLAS.gemm(m: m, n: dh, k: Lp, a: p + i0 * ldp, lda: ldp, b: vp, ldb: ld, c: y + i0 * d, ldc: d)
            BLAS.gemm(m: m, n: dh, k: i1, a: p + i0 * ldp + Lp, lda: ldp, b: v, ldb: ld, beta: 1,
                      c: y + i0 * d, ldc: d)
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
        let items = layout.roots.count * heads
        // Per-worker dP scratch: (L, L) for a root, (Lc, Lp + Lc) for a continuation.
        var scratchPer = 0
        for b in 0..<layout.lengths.count {
            scratchPer = max(scratchPer, layout.lengths[b] * (layout.lengths[b] + layout.positionOffset(b)))
        }
        let workers = Parallelism.workers(items)
        let scr = scratch.reserve(workers * scratchPer)
        Parallelism.parallelFor(items) { worker, item in
            let b = layout.roots[item / heads], h = item % heads
            let L = layout.lengths[b]
            if L == 0 { return }
            let base = layout.starts[b]
            let q = qkv + base * ld + h * dh, k = q + d, v = q + 2 * d
            let dq = dqkv + base * ld + h * dh, dk = dq + d, dv = dq + 2 * d
            let p = probs + layout.probOffsets[b] + h * L * L
            let dyh = dy + base * d + h * dh
            let dp = scr + worker * scratchPer
            var first = true
            for (i0, i1) in blocks(L, causal: causal).reversed() {
                let m = i1 - i0
                let pb = p + i0 * L
                BLAS.gemm(transB: true, m: m, n: i1, k: dh, a: dyh + i0 * d, lda: d, b: v, ldb: ld, c: dp, ldc: L)
                BLAS.gemm(transA: true, m: i1, n: dh, k: m, a: pb, lda: L, b: dyh + i0 * d, ldb: d,
                          beta: first ? 0 : 1, c: dv, ldc: ld)
                softmaxBackwardInPlace(probs: pb, dp: dp, rows: m, cols: i1, ld: L)
                BLAS.gemm(m: m, n: dh, k: i1, alpha: scale, a: dp, lda: L, b: k, ldb: ld, c: dq + i0 * ld, ldc: ld)
                BLAS.gemm(transA: true, m: i1, n: dh, k: m, alpha: scale, a: dp, lda: L, b: q + i0 * ld, ldb: ld,
                          beta: first ? 0 : 1, c: dk, ldc: ld)
                first = false
            }
            // Continuations add their share to the prefix's dK, dV (in order: deterministic).
            for c in layout.children[b] {
                let Lc = layout.lengths[c]
                if Lc == 0 { continue }
                let off = layout.starts[c]
                continuationBackward(q: qkv + off * ld + h * dh, prefixK: k, prefixV: v, prefixLength: L, length: Lc,
                                     probs: probs + layout.probOffsets[c] + h * Lc * (L + Lc),
                                     dy: dy + off * d + h * dh, dq: dqkv + off * ld + h * dh, prefixDK: dk, prefixDV: dv,
                                     dp: dp, ld: ld, d: d, dh: dh, scale: scale)
            }
        }
    }

    /// Backward of `continuationForward`: writes the continuation's dQ, dK,
    /// dV and adds to the prefix's dK, dV. Blocks run last to first: the
    /// last covers all own keys, so it writes the own dK, dV (beta 0) and
    /// earlier blocks add. dp: (Lc, Lp + Lc) scratch.
    @inline(__always)
    static func continuationBackward(q: UnsafePointer<Float>, prefixK kp: UnsafePointer<Float>,
                                     prefixV vp: UnsafePointer<Float>, prefixLength Lp: Int, length Lc: Int,
                                     probs p: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                     dq: UnsafeMutablePointer<Float>, prefixDK dkp: UnsafeMutablePointer<Float>,
                                     prefixDV dvp: UnsafeMutablePointer<Float>, dp: UnsafeMutablePointer<Float>,
                                     ld: Int, d: Int, dh: Int, scale: Float) {
        let k = q + d, v = q + 2 * d
        let dk = dq + d, dv = dq + 2 * d
        let ldp = Lp + Lc
        var first = true
        for (i0, i1) in blocks(Lc, causal: true).reversed() {
            let m = i1 - i0, cols = Lp + i1
            let pb = p + i0 * ldp, dyb = dy + i0 * d, qb = q + i0 * ld
            // dP = dy [V_p | V]^T.
            BLAS.gemm(transB: true, m: m, n: Lp, k: dh, a: dyb, lda: d, b: vp, ldb: ld, c: dp, ldc: ldp)
            BLAS.gemm(transB: true, m: m, n: i1, k: dh, a: dyb, lda: d, b: v, ldb: ld, c: dp + Lp, ldc: ldp)
            // dV_p += P[:, :Lp]^T dy;  dV = P[:, Lp:]^T dy.
            BLAS.gemm(transA: true, m: Lp, n: dh, k: m, a: pb, lda: ldp, b: dyb, ldb: d, beta: 1, c: dvp, ldc: ld)
            BLAS.gemm(transA: true, m: i1, n: dh, k: m, a: pb + Lp, lda: ldp, b: dyb, ldb: d,
                      beta: first ? 0 : 1, c: dv, ldc: ld)
            // dS = P * (dP - rowsum(dP * P)).
            softmaxBackwardInPlace(probs: pb, dp: dp, rows: m, cols: cols, ld: ldp)
            // dQ = scale (dS[:, :Lp] K_p + dS[:, Lp:] K).
            BLAS.gemm(m: m, n: dh, k: Lp, alpha: scale, a: dp, lda: ldp, b: kp, ldb: ld, c: dq + i0 * ld, ldc: ld)
            BLAS.gemm(m: m, n: dh, k: i1, alpha: scale, a: dp + Lp, lda: ldp, b: k, ldb: ld, beta: 1,
                      c: dq + i0 * ld, ldc: ld)
            // dK_p += scale dS[:, :Lp]^T Q;  dK = scale dS[:, Lp:]^T Q.
            BLAS.gemm(transA: true, m: Lp, n: dh, k: m, alpha: scale, a: dp, lda: ldp, b: qb, ldb: ld, beta: 1,
                      c: dkp, ldc: ld)
            BLAS.gemm(transA: true, m: i1, n: dh, k: m, alpha: scale, a: dp + Lp, lda: ldp, b: qb, ldb: ld,
                      beta: first ? 0 : 1, c: dk, ldc: ld)
            first = false
        }
    }

    /// Softmax of a score row's first `valid` entries in place, zeros from
    /// there up to `through` (the masked part its block's products read).
    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, valid n: Int, through end: Int) {
        Softmax.rowInPlace(row, n)
        var j = n
        while j < end { row[j] = 0; j += 1 }
    }

    /// dS = P * (dP - rowsum(dP * P)) in place over dp, for `rows` rows of
    /// `cols` entries with leading dimension ld. Masked entries have P = 0.
    @inline(__always)
    static func softmaxBackwardInPlace(probs p: UnsafePointer<Float>, dp: UnsafeMutablePointer<Float>,
                                       rows: Int, cols: Int, ld: Int) {
        for i in 0..<rows {
            let pr = p + i * ld, dr = dp + i * ld
            let s = VectorMath.dot(pr, dr, cols)
            for j in 0..<cols { dr[j] = pr[j] * (dr[j] - s) }
        }
    }
}
