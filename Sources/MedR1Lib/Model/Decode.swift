// Decoding with a key/value cache. A prompt's prefix (image tokens + prompt
// tokens) is computed once by `prefill`, shared by reference among the G
// completions made by `expand`, and each `decode` step runs one new token
// per row through the text blocks, attending over prefix + own suffix.
//
// A decode step is 64 rows x 4 small layers in W2, about 1 ms: too short to
// split every product and attention loop over the cores separately (each
// parallel region costs a thread wake-up). So the rows are split once per
// step into one contiguous chunk per thread, and each thread runs its rows
// through all layers and the head on its own (single-threaded products,
// the attention of DecodeKernels.swift); rows never read each other's
// activations, only the shared prefixes. A sampling call's suffix and
// packed-weight buffers are recycled for the next call (DecodeBufferPool):
// fresh ones page-fault on their first write inside the decode loop.

import Foundation

/// Keys and values of a shared prefix, per text layer, per head, in one of
/// two layouts. With the AVX-512 kernels (and a head size that is a multiple
/// of 16), as 16-column panels (`panels`), the layout of PackedProduct512's
/// packed operand: the G rows sharing the prefix attend to it as two small
/// matrix products (`DecodeAttention.attendGroup`). Otherwise in `keys` and
/// `values` for `DecodeAttention.attendRow`: keys in tiles of 8 positions,
/// (heads, stride / 8, dh, 8) with stride = length rounded up to 8 and zero
/// padding (DecodeAttention.scores); values (heads, length, dh). Each head's
/// keys and values are contiguous.
final class KVPrefix: @unchecked Sendable {
    let length: Int
    /// Positions rounded up to 8 (whole key tiles).
    let stride: Int
    /// Empty when `panels` holds the keys and values.
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    let panels: Panels?

    /// Per text layer, per head: keys (length16 / 16, dh, 16), key j's
    /// element e at ((j / 16) dh + e) 16 + j % 16, zero past `length`; values
    /// (dh / 16, length, 16), value j's element e at ((e / 16) length + j) 16 + e % 16.
    struct Panels {
        /// Positions rounded up to 16 (whole key panels).
        let length16: Int
        let keys: [FloatBuffer]
        let values: [FloatBuffer]
    }

    init(length: Int, layers: Int, d: Int, heads: Int) {
        self.length = length
        stride = DecodeAttention.padded(length)
        let s = stride
        if DecodeAttention.groupedPrefix(dh: d / heads) {
            let l16 = (length + 15) & ~15
            panels = Panels(length16: l16,
                            keys: (0..<layers).map { _ in FloatBuffer(count: d * l16, zeroed: true) },
                            values: (0..<layers).map { _ in FloatBuffer(count: length * d, zeroed: false) })
            keys = []; values = []
        } else {
            panels = nil
            keys = (0..<layers).map { _ in FloatBuffer(count: d * s, zeroed: true) }
            values = (0..<layers).map { _ in FloatBuffer(count: length * d, zeroed: false) }
        }
    }

    /// Stores position i's keys and values of one layer, from `k` and `v` (d each, heads in order).
    @inline(__always)
    func write(layer: Int, position i: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, heads: Int, dh: Int) {
        if let p = panels {
            let kp = p.keys[layer].pointer, vp = p.values[layer].pointer
            for hd in 0..<heads {
                let kcol = kp + hd * p.length16 * dh + (i / 16) * dh * 16 + i % 16
                for e in 0..<dh { kcol[e * 16] = k[hd * dh + e] }
                let vrow = vp + hd * length * dh + i * 16
                for q in 0..<(dh / 16) { (vrow + q * length * 16).update(from: v + hd * dh + q * 16, count: 16) }
            }
            return
        }
        let kt = keys[layer].pointer, vt = values[layer].pointer
        for hd in 0..<heads {
            let tile = kt + (hd * stride + (i / 8) * 8) * dh + i % 8
            for e in 0..<dh { tile[e * 8] = k[hd * dh + e] }
            (vt + (hd * length + i) * dh).update(from: v + hd * dh, count: dh)
        }
    }
}

/// Per-row keys and values of the tokens decoded after the prefix, per
/// text layer, in the prefix's layout per (row, head): keys
/// (rows, heads, capacity / 8, dh, 8) in 8-position tiles, values
/// (rows, heads, capacity, dh). Capacity is a multiple of 8; a row's key
/// tile is zeroed when its first position is written, so the columns from
/// the row's length to the tile's end read as zero.
final class KVSuffix: @unchecked Sendable {
    let capacity: Int
    let rows: Int, layers: Int, d: Int, heads: Int
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    var lengths: [Int]

    /// Memory is only touched as tokens are written (no zero fill of the
    /// whole capacity), so an exact-capacity suffix costs what it holds.
    init(rows: Int, layers: Int, d: Int, heads: Int, capacity: Int) {
        let cap = DecodeAttention.padded(max(capacity, 1))
        self.rows = rows; self.layers = layers; self.d = d; self.heads = heads; self.capacity = cap
        keys = (0..<layers).map { _ in DecodeBufferPool.take(rows * cap * d) }
        values = (0..<layers).map { _ in DecodeBufferPool.take(rows * cap * d) }
        lengths = [Int](repeating: 0, count: rows)
    }

    deinit { DecodeBufferPool.give(keys + values) }

    /// A copy with the given rows (in order) of this suffix, with room for at least `newCap` tokens per row.
    func select(_ rowsWanted: [Int], capacity newCap: Int? = nil) -> KVSuffix {
        let s = KVSuffix(rows: rowsWanted.count, layers: layers, d: d, heads: heads,
                         capacity: max(newCap ?? capacity, capacity))
        let cap = s.capacity, dh = d / heads
        for l in 0..<layers {
            for (i, r) in rowsWanted.enumerated() where lengths[r] > 0 {
                let n = lengths[r]
                for hd in 0..<heads {
                    // Whole tiles (the last one's unused columns are zero).
                    (s.keys[l].pointer + (i * heads + hd) * cap * dh)
                        .update(from: keys[l].pointer + (r * heads + hd) * capacity * dh,
                                count: DecodeAttention.padded(n) * dh)
                    (s.values[l].pointer + (i * heads + hd) * cap * dh)
                        .update(from: values[l].pointer + (r * heads + hd) * capacity * dh, count: n * dh)
                }
            }
        }
        s.lengths = rowsWanted.map { lengths[$0] }
        return s
    }
}

/// Buffers of decodes that are gone, kept for the next ones: suffix keys
/// and values (KVSuffix) and the packed decode weights (PackedWeights). A
/// sampling call writes megabytes of them (W2: 16 MiB of suffix, 3.3 MiB of
/// weights); fresh buffers page-fault on every first write, inside the decode
/// loop for the suffix, recycled ones are already mapped. Holds at most
/// `maxFloats` floats; contents are stale (a suffix zeroes each key tile as
/// it starts it and writes every value before reading it; the weights are
/// packed whole).
enum DecodeBufferPool {
    /// 32 MiB: a W1/W2-sized suffix (64 rows x 64 tokens x 4 layers, keys
    /// and values, 16 MiB) and the packed weights, with room to spare.
    static let maxFloats = 8 << 20
    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [FloatBuffer] = []

    /// The smallest pooled buffer that holds `count` floats and is not more
    /// than twice that (a prefill's one-token suffix must not take the
    /// megabytes the sampler's suffix is about to ask for), or a new one.
    static func take(_ count: Int) -> FloatBuffer {
        lock.lock(); defer { lock.unlock() }
        var best: Int? = nil
        for (i, b) in free.enumerated() where b.capacity >= count && b.capacity <= 2 * max(count, 1) {
            if best == nil || b.capacity < free[best!].capacity { best = i }
        }
        if let i = best { return free.remove(at: i) }
        return FloatBuffer(count: count, zeroed: false)
    }

    /// Lets every pooled buffer go.
    static func drain() {
        lock.lock(); defer { lock.unlock() }
        free = []
    }

    /// Floats held by the pool.
    static var heldFloats: Int {
        lock.lock(); defer { lock.unlock() }
        return free.reduce(0) { $0 + $1.capacity }
    }

    /// Returns buffers to the pool; past `maxFloats` the smallest are let go.
    static func give(_ buffers: [FloatBuffer]) {
        lock.lock(); defer { lock.unlock() }
        free += buffers
        free.sort { $0.capacity > $1.capacity }
        var total = 0, keep = 0
        while keep < free.count && total + free[keep].capacity <= maxFloats { total += free[keep].capacity; keep += 1 }
        free.removeSubrange(keep...)
    }
}

/// The state of several decoding rows: each row has a (shared) prefix and
/// its own decoded suffix. A value type with copy-on-write storage.
public struct KVCache: @unchecked Sendable {
    var prefixes: [KVPrefix]
    /// Index into `prefixes` of each row.
    var rowPrefix: [Int]
    var suffix: KVSuffix
    let vocab: Int
    /// (rows, vocab) logits at each row's last position, flat.
    var logits: [Float]
    /// The model's text-block and head weights as of `prefill`, packed for
    /// the decode products (nil, or a nil head, for dimensions that are not
    /// multiples of 16: BLAS then). A cache decodes with the weights it was prefilled with,
    /// like its keys and values; prefill again after changing the weights.
    let packed: PackedWeights?

    /// Logits (rows, vocab) at each row's last position: after `prefill` they
    /// predict the first completion token, after `decode` the next one.
    public var lastLogits: [[Float]] {
        (0..<rows).map { Array(logits[($0 * vocab)..<(($0 + 1) * vocab)]) }
    }
    /// Number of rows.
    public var rows: Int { rowPrefix.count }
    /// Positions (image + text tokens) held for a row.
    public func length(row: Int) -> Int { prefixes[rowPrefix[row]].length + suffix.lengths[row] }
    /// Tokens decoded after the prefix, for a row.
    public func decodedCount(row: Int) -> Int { suffix.lengths[row] }
}

/// Reused buffers for one decode step over R rows (each worker uses its own rows' part).
final class DecodeWorkspace {
    let x = FloatBuffer(zeroed: false)       /// (R, d)
    let a = FloatBuffer(zeroed: false)       /// (R, d)
    let r = FloatBuffer(zeroed: false)       /// (R)
    let qkv = FloatBuffer(zeroed: false)     /// (R, 3d)
    let y = FloatBuffer(zeroed: false)       /// (R, d)
    let h = FloatBuffer(zeroed: false)       /// (R, 4d)
    let g = FloatBuffer(zeroed: false)       /// (R, 4d)
    let scratch = FloatBuffer(zeroed: false) /// (workers, DecodeAttention.scratchSize)
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
        let prefixes = prompts.map { KVPrefix(length: N + $0.count, layers: c.textLayers, d: d, heads: c.nHeads) }
        var layout = PackedLayout(lengths: [], heads: 1)
        try forwardTrunk(images: images, sequences: prompts, tape: tape) { layer, qkv in
            layout = tape.textLayout
            for (b, p) in prefixes.enumerated() {
                let start = layout.starts[b]
                for i in 0..<p.length {
                    let src = qkv + (start + i) * 3 * d
                    p.write(layer: layer, position: i, k: src + d, v: src + 2 * d, heads: c.nHeads, dh: c.headDim)
                }
            }
        }
        layout = tape.textLayout
        tape.needRows = (0..<prompts.count).map { layout.starts[$0] + layout.lengths[$0] - 1 }
        headForward(tape)
        let V = c.vocabSize
        return KVCache(prefixes: prefixes, rowPrefix: Array(0..<prompts.count),
                       suffix: KVSuffix(rows: prompts.count, layers: c.textLayers, d: d, heads: c.nHeads, capacity: 0),
                       vocab: V, logits: tape.logits.array(prompts.count * V), packed: PackedWeights(model: self))
    }

    /// G rows per input row, sharing its prefix (and copying any decoded
    /// suffix): rows come out as row 0's copies, then row 1's, ...
    public func expand(_ cache: KVCache, copies: Int) -> KVCache {
        expand(cache, copies: copies, capacity: 0)
    }

    /// `expand` with room for `capacity` decoded tokens per row allocated up
    /// front (the sampler knows its cap: no regrowth copies while decoding).
    func expand(_ cache: KVCache, copies: Int, capacity: Int) -> KVCache {
        let g = max(copies, 1), V = cache.vocab
        var rowsWanted: [Int] = []
        for r in 0..<cache.rows { rowsWanted += [Int](repeating: r, count: g) }
        var logits = [Float](repeating: 0, count: rowsWanted.count * V)
        for (i, r) in rowsWanted.enumerated() {
            for k in 0..<V { logits[i * V + k] = cache.logits[r * V + k] }
        }
        return KVCache(prefixes: cache.prefixes, rowPrefix: rowsWanted.map { cache.rowPrefix[$0] },
                       suffix: cache.suffix.select(rowsWanted, capacity: capacity), vocab: V, logits: logits,
                       packed: cache.packed)
    }

    /// Appends one token per row and returns the logits (rows, vocab) at the
    /// new position (they predict the following token). Throws if a row would
    /// pass max_seq or a token is outside the vocabulary.
    public func decode(_ cache: inout KVCache, tokens: [Int]) throws -> [[Float]] {
        try decodeStep(&cache, tokens: tokens)
        return cache.lastLogits
    }

    /// `decode` leaving the logits only in `cache.logits` (rows, vocab), flat
    /// (the sampler reads them there, no per-row arrays). `then(rows, logits,
    /// worker)`, if given, runs on each worker right after its rows' logits
    /// (logits: all rows, (rows, vocab)) are written, inside the same
    /// parallel region: the sampler draws those rows' tokens there, saving a
    /// second wake-up of the threads per step. It must touch only those rows'
    /// outputs; `worker` < Parallelism.workers(rows) indexes per-worker scratch.
    func decodeStep(_ cache: inout KVCache, tokens: [Int],
                    then: ((Range<Int>, UnsafePointer<Float>, Int) -> Void)? = nil) throws {
        let c = config, d = c.dModel, V = c.vocabSize, R = cache.rows
        guard tokens.count == R else {
            throw ModelError("decode: \(tokens.count) tokens for \(R) cache rows: give one token per row")
        }
        for (r, t) in tokens.enumerated() {
            if t < 0 || t >= V { throw ModelError("decode: row \(r): token id \(t) is outside the vocabulary 0..<\(V)") }
            if cache.length(row: r) >= c.maxSeq {
                throw ModelError("decode: row \(r) already holds \(cache.length(row: r)) positions, max_seq is \(c.maxSeq): stop decoding earlier")
            }
        }
        if R == 0 { return }
        // Copy-on-write, and room for one more token per row.
        let need = (cache.suffix.lengths.max() ?? 0) + 1
        if !isKnownUniquelyReferenced(&cache.suffix) || need > cache.suffix.capacity {
            let cap = need > cache.suffix.capacity ? max(need, min(2 * cache.suffix.capacity, c.maxSeq), 16) : cache.suffix.capacity
            cache.suffix = cache.suffix.select(Array(0..<R), capacity: cap)
        }
        let ws = decodeWork
        let hid = c.mlpHidden
        let x = ws.x.reserve(R * d), a = ws.a.reserve(R * d), rr = ws.r.reserve(R)
        let qkv = ws.qkv.reserve(R * 3 * d), y = ws.y.reserve(R * d)
        let h = ws.h.reserve(R * hid), g = ws.g.reserve(R * hid)
        let workers = Parallelism.workers(R)
        let scratchSize = DecodeAttention.scratchSize(dh: c.headDim, maxLength: c.maxSeq)
        let scratch = ws.scratch.reserve(workers * scratchSize)
        let prefixes = cache.prefixes, rowPrefix = cache.rowPrefix, suffix = cache.suffix, packed = cache.packed
        let positions = (0..<R).map { prefixes[rowPrefix[$0]].length + suffix.lengths[$0] }
        var logits = cache.logits
        cache.logits = []  // unique, so written in place
        logits.withUnsafeMutableBufferPointer { lg in
            let out = UncheckedSendable(lg.baseAddress!)
            let bufs = DecodeBuffers(x: x, a: a, r: rr, qkv: qkv, y: y, h: h, g: g)
            Parallelism.parallelFor(workers) { w in
                let lo = R * w / workers, hi = R * (w + 1) / workers
                decodeRows(lo..<hi, tokens: tokens, positions: positions, prefixes: prefixes, rowPrefix: rowPrefix,
                           suffix: suffix, packed: packed, buffers: bufs, logits: out.value,
                           scratch: scratch + w * scratchSize)
                then?(lo..<hi, UnsafePointer(out.value), w)
            }
        }
        cache.logits = logits
        for r in 0..<R { suffix.lengths[r] += 1 }
    }

    /// One decode step for rows `rows` (one worker's chunk): embedding,
    /// the text blocks with the KV writes, the final norm and the head.
    /// Writes only these rows of the buffers, the suffix and the logits.
    private func decodeRows(_ rows: Range<Int>, tokens: [Int], positions: [Int], prefixes: [KVPrefix],
                            rowPrefix: [Int], suffix: KVSuffix, packed: PackedWeights?, buffers b: DecodeBuffers,
                            logits: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let c = config, d = c.dModel, hid = c.mlpHidden, V = c.vocabSize
        let heads = c.nHeads, dh = c.headDim
        let n = rows.count, lo = rows.lowerBound
        if n == 0 { return }
        let w = values.pointer
        let x = b.x + lo * d, a = b.a + lo * d, rr = b.r + lo, qkv = b.qkv + lo * 3 * d
        let y = b.y + lo * d, h = b.h + lo * hid, g = b.g + lo * hid
        // x = embed[t] + text_pos[position].
        for r in rows {
            let xr = b.x + r * d, e = w + embed + tokens[r] * d, p = w + textPos + positions[r] * d
            var i = 0
            while i + 8 <= d { VectorMath.store(VectorMath.load(e + i) + VectorMath.load(p + i), xr + i); i += 8 }
            while i < d { xr[i] = e[i] + p[i]; i += 1 }
        }
        let cap = suffix.capacity
        let scale = 1 / Float(dh).squareRoot()
        for (l, o) in textBlocks.enumerated() {
            RMSNorm.forward(x, w + o.norm1, a, rr, rows: n, d: d, eps: c.normEps)
            if let pw = packed {
                PackedLinear.forward(a, ldx: d, pw.pointer(pw.blocks[l].qkv), qkv, ldy: 3 * d, rows: n, inDim: d,
                                     outDim: 3 * d, accumulate: false)
            } else {
                Linear.forward(a, w + o.qkv, nil, qkv, rows: n, inDim: d, outDim: 3 * d)
            }
            // The new token's key and value into the row's suffix, per head.
            let sk = suffix.keys[l].pointer, sv = suffix.values[l].pointer
            for r in rows {
                let len = suffix.lengths[r]
                let kr = b.qkv + r * 3 * d + d, vr = kr + d
                for hd in 0..<heads {
                    let rh = r * heads + hd
                    let tile = sk + (rh * cap + (len / 8) * 8) * dh
                    // A new tile: zero it (the score kernel reads whole tiles).
                    if len % 8 == 0 { tile.update(repeating: 0, count: 8 * dh) }
                    let col = tile + len % 8, kh = kr + hd * dh
                    for e in 0..<dh { col[e * 8] = kh[e] }
                    let vdst = sv + (rh * cap + len) * dh, vh = vr + hd * dh
                    for e in 0..<dh { vdst[e] = vh[e] }
                }
            }
            // Rows sharing a prefix (consecutive: a prompt's G completions)
            // attend to it together, up to DecodeAttention.groupRows at a time.
            var r0 = lo
            while r0 < rows.upperBound {
                var r1 = r0 + 1
                while r1 < rows.upperBound && r1 - r0 < DecodeAttention.groupRows && rowPrefix[r1] == rowPrefix[r0] {
                    r1 += 1
                }
                let p = prefixes[rowPrefix[r0]]
                for hd in 0..<heads {
                    if p.panels != nil {
                        DecodeAttention.attendGroup(
                            q: b.qkv + r0 * 3 * d + hd * dh, ldq: 3 * d, rows: r1 - r0, scale: scale, dh: dh,
                            prefix: p, layer: l, head: hd,
                            sk: sk + (r0 * heads + hd) * cap * dh, sv: sv + (r0 * heads + hd) * cap * dh,
                            ldsuffix: heads * cap * dh, suffixLengths: suffix.lengths, firstRow: r0,
                            out: b.y + r0 * d + hd * dh, ldout: d, scratch: scratch)
                        continue
                    }
                    for r in r0..<r1 {
                        let rh = r * heads + hd
                        DecodeAttention.attendRow(
                            q: b.qkv + r * 3 * d + hd * dh, scale: scale, dh: dh,
                            pk: p.keys[l].pointer + hd * p.stride * dh, pv: p.values[l].pointer + hd * p.length * dh,
                            lp: p.length, sk: sk + rh * cap * dh, sv: sv + rh * cap * dh, ls: suffix.lengths[r] + 1,
                            out: b.y + r * d + hd * dh, scratch: scratch)
                    }
                }
                r0 = r1
            }
            if let pw = packed {
                PackedLinear.forward(y, ldx: d, pw.pointer(pw.blocks[l].o), x, ldy: d, rows: n, inDim: d, outDim: d,
                                     accumulate: true)
            } else {
                BLAS.gemm(transB: true, m: n, n: d, k: d, a: y, lda: d, b: w + o.o, ldb: d, beta: 1, c: x, ldc: d)
            }
            RMSNorm.forward(x, w + o.norm2, a, rr, rows: n, d: d, eps: c.normEps)
            if let pw = packed {
                PackedLinear.forward(a, ldx: d, pw.pointer(pw.blocks[l].fc1), h, ldy: hid, rows: n, inDim: d,
                                     outDim: hid, accumulate: false)
            } else {
                Linear.forward(a, w + o.fc1, nil, h, rows: n, inDim: d, outDim: hid)
            }
            // GELU in pieces below its own parallel threshold (this already runs on one worker).
            var i = 0
            while i < n * hid {
                let m = min(1 << 14, n * hid - i)
                GELU.forward(h + i, g + i, m)
                i += m
            }
            if let pw = packed {
                PackedLinear.forward(g, ldx: hid, pw.pointer(pw.blocks[l].fc2), x, ldy: d, rows: n, inDim: hid,
                                     outDim: d, accumulate: true)
            } else {
                BLAS.gemm(transB: true, m: n, n: d, k: hid, a: g, lda: hid, b: w + o.fc2, ldb: hid, beta: 1, c: x, ldc: d)
            }
        }
        RMSNorm.forward(x, w + textNorm, a, rr, rows: n, d: d, eps: c.normEps)
        if let pw = packed, let head = pw.head {
            PackedLinear.forward(a, ldx: d, pw.pointer(head), logits + lo * V, ldy: V, rows: n, inDim: d,
                                 outDim: V, accumulate: false)
        } else {
            Linear.forward(a, w + embed, nil, logits + lo * V, rows: n, inDim: d, outDim: V)
        }
    }
}

/// The decode workspace's pointers for one step (all rows; workers offset by their rows).
struct DecodeBuffers: @unchecked Sendable {
    let x: UnsafeMutablePointer<Float>    /// (R, d)
    let a: UnsafeMutablePointer<Float>    /// (R, d)
    let r: UnsafeMutablePointer<Float>    /// (R)
    let qkv: UnsafeMutablePointer<Float>  /// (R, 3d)
    let y: UnsafeMutablePointer<Float>    /// (R, d)
    let h: UnsafeMutablePointer<Float>    /// (R, 4d)
    let g: UnsafeMutablePointer<Float>    /// (R, 4d)
}

