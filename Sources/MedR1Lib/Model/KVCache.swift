// Decoding with a key/value cache. A prompt's prefix (image tokens + prompt
// tokens) is computed once by `prefill`, shared by reference among the G
// completions made by `expand`, and each `decode` step runs one new token
// per row through the text blocks, attending over prefix + own suffix.

/// Keys and values of a shared prefix, per text layer: (length, d) each.
final class KVPrefix: @unchecked Sendable {
    let length: Int
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    init(length: Int, layers: Int, d: Int) {
        self.length = length
        keys = (0..<layers).map { _ in FloatBuffer(count: length * d, zeroed: false) }
        values = (0..<layers).map { _ in FloatBuffer(count: length * d, zeroed: false) }
    }
}

/// Per-row keys and values of the tokens decoded after the prefix, per
/// text layer. Values are (rows, capacity, d); keys are stored transposed,
/// (rows, d, capacity), so one row's scores against its own keys are dh
/// contiguous axpys instead of many short dot products.
final class KVSuffix: @unchecked Sendable {
    var capacity: Int
    let rows: Int, layers: Int, d: Int
    var keys: [FloatBuffer]
    var values: [FloatBuffer]
    var lengths: [Int]

    init(rows: Int, layers: Int, d: Int, capacity: Int) {
        self.rows = rows; self.layers = layers; self.d = d; self.capacity = max(capacity, 1)
        keys = (0..<layers).map { _ in FloatBuffer(count: rows * max(capacity, 1) * d, zeroed: false) }
        values = (0..<layers).map { _ in FloatBuffer(count: rows * max(capacity, 1) * d, zeroed: false) }
        lengths = [Int](repeating: 0, count: rows)
    }

    /// A copy with the given rows (in order) of this suffix.
    func select(_ rowsWanted: [Int], capacity newCap: Int? = nil) -> KVSuffix {
        let cap = max(newCap ?? capacity, capacity)
        let s = KVSuffix(rows: rowsWanted.count, layers: layers, d: d, capacity: cap)
        for l in 0..<layers {
            for (i, r) in rowsWanted.enumerated() where lengths[r] > 0 {
                for e in 0..<d {
                    (s.keys[l].pointer + (i * d + e) * cap).update(from: keys[l].pointer + (r * d + e) * capacity,
                                                                  count: lengths[r])
                }
                (s.values[l].pointer + i * cap * d).update(from: values[l].pointer + r * capacity * d, count: lengths[r] * d)
            }
        }
        s.lengths = rowsWanted.map { lengths[$0] }
        return s
    }
}

/// The state of several decoding rows: each row has a (shared) prefix and
/// its own decoded suffix. A value type with copy-on-write storage.
public struct KVCache: @unchecked Sendable {
    var prefixes: [KVPrefix]
    /// Index into `prefixes` of each row.
    var rowPrefix: [Int]
    var suffix: KVSuffix
    /// Logits (rows, vocab) at each row's last position: after `prefill` they
    /// predict the first completion token, after `decode` the next one.
    public internal(set) var lastLogits: [[Float]]

    /// Number of rows.
    public var rows: Int { rowPrefix.count }
    /// Positions (image + text tokens) held for a row.
    public func length(row: Int) -> Int { prefixes[rowPrefix[row]].length + suffix.lengths[row] }
    /// Tokens decoded after the prefix, for a row.
    public func decodedCount(row: Int) -> Int { suffix.lengths[row] }
}

/// Reused buffers for one decode step over R rows.
final class DecodeWorkspace {
    let x = FloatBuffer(zeroed: false)       /// (R, d)
    let a = FloatBuffer(zeroed: false)       /// (R, d)
    let r = FloatBuffer(zeroed: false)       /// (R)
    let qkv = FloatBuffer(zeroed: false)     /// (R, 3d)
    let y = FloatBuffer(zeroed: false)       /// (R, d)
    let h = FloatBuffer(zeroed: false)       /// (R, 4d)
    let g = FloatBuffer(zeroed: false)       /// (R, 4d)
    let scores = FloatBuffer(zeroed: false)  /// (workers, maxSeq)
    let logits = FloatBuffer(zeroed: false)  /// (R, V)
}

extension MedR1Model {
    /// Runs image tokens + prompt through the model once and keeps the keys
    /// and values; `lastLogits` predicts the first completion token.
    public func prefill(image: [Float], prompt: [Int]) throws -> KVCache {
        try prefill(images: [image], prompts: [prompt])
    }

    /// Batched prefill: one row per (image, prompt), each its own prefix, all
    /// in one packed forward.
    public func prefill(images: [[Float]], prompts: [[Int]]) throws -> KVCache {
        let c = config, d = c.dModel, N = c.nPatches
        let tape = inferenceTape
        tape.withGrad = false
        let prefixes = prompts.map { KVPrefix(length: N + $0.count, layers: c.textLayers, d: d) }
        var layout = PackedLayout(lengths: [], heads: 1)
        try forwardTrunk(images: images, sequences: prompts, tape: tape) { layer, qkv in
            layout = tape.textLayout
            for (b, p) in prefixes.enumerated() {
                let start = layout.starts[b]
                for i in 0..<p.length {
                    let src = qkv + (start + i) * 3 * d
                    (p.keys[layer].pointer + i * d).update(from: src + d, count: d)
                    (p.values[layer].pointer + i * d).update(from: src + 2 * d, count: d)
                }
            }
        }
        layout = tape.textLayout
        tape.needRows = (0..<prompts.count).map { layout.starts[$0] + layout.lengths[$0] - 1 }
        headForward(tape)
        let V = c.vocabSize
        let logits = (0..<prompts.count).map { tape.logits.array(V, from: $0 * V) }
        return KVCache(prefixes: prefixes, rowPrefix: Array(0..<prompts.count),
                       suffix: KVSuffix(rows: prompts.count, layers: c.textLayers, d: d, capacity: 0),
                       lastLogits: logits)
    }

    /// G rows per input row, sharing its prefix (and copying any decoded
    /// suffix): rows come out as row 0's copies, then row 1's, ...
    public func expand(_ cache: KVCache, copies: Int) -> KVCache {
        let g = max(copies, 1)
        var rowsWanted: [Int] = []
        for r in 0..<cache.rows { rowsWanted += [Int](repeating: r, count: g) }
        return KVCache(prefixes: cache.prefixes, rowPrefix: rowsWanted.map { cache.rowPrefix[$0] },
                       suffix: cache.suffix.select(rowsWanted), lastLogits: rowsWanted.map { cache.lastLogits[$0] })
    }

    /// Appends one token per row and returns the logits (rows, vocab) at the
    /// new position (they predict the following token). Throws if a row would
    /// pass max_seq or a token is outside the vocabulary.
    public func decode(_ cache: inout KVCache, tokens: [Int]) throws -> [[Float]] {
        let c = config, d = c.dModel, hid = c.mlpHidden, V = c.vocabSize, R = cache.rows
        guard tokens.count == R else {
            throw ModelError("decode: \(tokens.count) tokens for \(R) cache rows: give one token per row")
        }
        for (r, t) in tokens.enumerated() {
            if t < 0 || t >= V { throw ModelError("decode: row \(r): token id \(t) is outside the vocabulary 0..<\(V)") }
            if cache.length(row: r) >= c.maxSeq {
                throw ModelError("decode: row \(r) already holds \(cache.length(row: r)) positions, max_seq is \(c.maxSeq): stop decoding earlier")
            }
        }
        // Copy-on-write, and room for one more token per row.
        let need = (cache.suffix.lengths.max() ?? 0) + 1
        if !isKnownUniquelyReferenced(&cache.suffix) || need > cache.suffix.capacity {
            let cap = need > cache.suffix.capacity ? max(need, min(2 * cache.suffix.capacity, c.maxSeq), 16) : cache.suffix.capacity
            cache.suffix = cache.suffix.select(Array(0..<R), capacity: cap)
        }
        let suffix = cache.suffix
        let cap = suffix.capacity
        let w = values.pointer, ws = decodeWork
        let x = ws.x.reserve(R * d), a = ws.a.reserve(R * d), rr = ws.r.reserve(R)
        // x = embed[t] + text_pos[position].
        for r in 0..<R {
            let pos = cache.length(row: r)
            for i in 0..<d { x[r * d + i] = w[embed + tokens[r] * d + i] + w[textPos + pos * d + i] }
        }
        let qkv = ws.qkv.reserve(R * 3 * d), y = ws.y.reserve(R * d)
        let h = ws.h.reserve(R * hid), g = ws.g.reserve(R * hid)
        let heads = c.nHeads, dh = c.headDim
        let scale = 1 / Float(dh).squareRoot()
        // Rows grouped by shared prefix (expand makes each group contiguous).
        var groupIndex: [Int: Int] = [:]
        var groups: [[Int]] = []
        for r in 0..<R {
            let p = cache.rowPrefix[r]
            if let g = groupIndex[p] { groups[g].append(r) } else { groupIndex[p] = groups.count; groups.append([r]) }
        }
        let maxGroup = groups.map(\.count).max() ?? 1
        let scoreStride = maxGroup * (2 * dh + c.maxSeq + cap)
        let scores = ws.scores.reserve(Parallelism.workers(groups.count * heads) * scoreStride)
        for (l, o) in textBlocks.enumerated() {
            RMSNorm.forward(x, w + o.norm1, a, rr, rows: R, d: d, eps: c.normEps)
            Linear.forward(a, w + o.qkv, nil, qkv, rows: R, inDim: d, outDim: 3 * d)
            let sk = suffix.keys[l].pointer, sv = suffix.values[l].pointer
            for r in 0..<R {
                let len = suffix.lengths[r]
                let kr = qkv + r * 3 * d + d
                for e in 0..<d { sk[(r * d + e) * cap + len] = kr[e] }
                (sv + (r * cap + len) * d).update(from: qkv + r * 3 * d + 2 * d, count: d)
            }
            // Attention per (prefix group, head): the rows sharing a prefix
            // score it with one sgemm, S_prefix (G, Lp) = Q_g K_p^T, and read
            // it with another, P_prefix V_p; each row's own suffix (short)
            // is done with SIMD loops.
            let prefixes = cache.prefixes
            Parallelism.parallelFor(groups.count * heads) { worker, item in
                let rowsOf = groups[item / heads], hd = item % heads
                let G = rowsOf.count
                let p = prefixes[cache.rowPrefix[rowsOf[0]]]
                let lp = p.length, ldS = lp + cap
                let base = scores + worker * scoreStride
                let qg = base, og = base + maxGroup * dh, sc = base + 2 * maxGroup * dh
                for (i, r) in rowsOf.enumerated() { (qg + i * dh).update(from: qkv + r * 3 * d + hd * dh, count: dh) }
                let pk = p.keys[l].pointer + hd * dh, pv = p.values[l].pointer + hd * dh
                BLAS.gemm(transB: true, m: G, n: lp, k: dh, alpha: scale, a: qg, lda: dh, b: pk, ldb: d,
                          c: sc, ldc: ldS)
                for (i, r) in rowsOf.enumerated() {
                    let ls = suffix.lengths[r] + 1
                    let rk = sk + (r * d + hd * dh) * cap  // (dh, cap) transposed keys
                    let row = sc + i * ldS, q = qg + i * dh
                    (row + lp).update(repeating: 0, count: ls)
                    for e in 0..<dh { VectorMath.axpy(q[e] * scale, rk + e * cap, row + lp, ls) }
                    Softmax.rowInPlace(row, lp + ls)
                }
                BLAS.gemm(m: G, n: dh, k: lp, a: sc, lda: ldS, b: pv, ldb: d, c: og, ldc: dh)
                for (i, r) in rowsOf.enumerated() {
                    let ls = suffix.lengths[r] + 1
                    let rv = sv + r * cap * d + hd * dh, out = og + i * dh, row = sc + i * ldS
                    for j in 0..<ls { VectorMath.axpy(row[lp + j], rv + j * d, out, dh) }
                    (y + r * d + hd * dh).update(from: out, count: dh)
                }
            }
            BLAS.gemm(transB: true, m: R, n: d, k: d, a: y, lda: d, b: w + o.o, ldb: d, beta: 1, c: x, ldc: d)
            RMSNorm.forward(x, w + o.norm2, a, rr, rows: R, d: d, eps: c.normEps)
            Linear.forward(a, w + o.fc1, nil, h, rows: R, inDim: d, outDim: hid)
            GELU.forward(h, g, R * hid)
            BLAS.gemm(transB: true, m: R, n: d, k: hid, a: g, lda: hid, b: w + o.fc2, ldb: hid, beta: 1, c: x, ldc: d)
        }
        for r in 0..<R { suffix.lengths[r] += 1 }
        RMSNorm.forward(x, w + textNorm, a, rr, rows: R, d: d, eps: c.normEps)
        let logits = ws.logits.reserve(R * V)
        Linear.forward(a, w + embed, nil, logits, rows: R, inDim: d, outDim: V)
        let out = (0..<R).map { ws.logits.array(V, from: $0 * V) }
        cache.lastLogits = out
        return out
    }
}
