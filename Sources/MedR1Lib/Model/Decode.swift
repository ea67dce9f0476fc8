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
    /// the text blocks (TransformerBlock.swift) with the cache's attention,
    /// the final norm and the head. Writes only these rows of the buffers,
    /// the suffix and the logits.
    private func decodeRows(_ rows: Range<Int>, tokens: [Int], positions: [Int], prefixes: [KVPrefix],
                            rowPrefix: [Int], suffix: KVSuffix, packed: PackedWeights?, buffers b: DecodeBuffers,
                            logits: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let c = config, d = c.dModel, hid = c.mlpHidden
        let n = rows.count, lo = rows.lowerBound
        if n == 0 { return }
        let w = values.pointer
        // x = embed[t] + text_pos[position].
        for r in rows {
            let xr = b.x + r * d, e = w + embed + tokens[r] * d, p = w + textPos + positions[r] * d
            var i = 0
            while i + 8 <= d { VectorMath.store(VectorMath.load(e + i) + VectorMath.load(p + i), xr + i); i += 8 }
            while i < d { xr[i] = e[i] + p[i]; i += 1 }
        }
        // One (n, d) buffer for both norm outputs (each is dead once its product ran).
        let x = b.x + lo * d, a = b.a + lo * d, rInv = b.r + lo
        let act = BlockActivations(a: a, r1: rInv, qkv: b.qkv + lo * 3 * d, y: b.y + lo * d, m: a, r2: rInv,
                                   h: b.h + lo * hid, g: b.g + lo * hid)
        for (l, o) in textBlocks.enumerated() {
            // (act.qkv and act.y are rows `rows` of b.qkv and b.y, indexed here by the global row.)
            transformerBlock(blockWeights(o, packed: packed, layer: l), x: x, rows: n, act) { _, _ in
                suffix.append(layer: l, rows: rows, qkv: b.qkv)
                decodeAttention(layer: l, rows: rows, qkv: b.qkv, y: b.y, prefixes: prefixes, rowPrefix: rowPrefix,
                                suffix: suffix, scratch: scratch)
            }
        }
        headLogits(x, rows: n, head: headWeights(packed: packed), normOut: a, rInv: rInv,
                   logits: logits + lo * c.vocabSize)
    }

    /// The heads' outputs y of rows `rows` (their new token's query in qkv)
    /// over the row's prefix and its suffix (the new token's key and value
    /// included). qkv (R, 3d) and y (R, d) are all rows' buffers.
    /// Rows sharing a prefix (consecutive: a prompt's G completions) attend
    /// to it together, up to DecodeAttention.groupRows at a time.
    @inline(__always)
    private func decodeAttention(layer l: Int, rows: Range<Int>, qkv: UnsafePointer<Float>,
                                 y: UnsafeMutablePointer<Float>, prefixes: [KVPrefix], rowPrefix: [Int],
                                 suffix: KVSuffix, scratch: UnsafeMutablePointer<Float>) {
        let c = config, d = c.dModel, heads = c.nHeads, dh = c.headDim
        let cap = suffix.capacity
        let scale = 1 / Float(dh).squareRoot()
        let sk = suffix.keys[l].pointer, sv = suffix.values[l].pointer
        var r0 = rows.lowerBound
        while r0 < rows.upperBound {
            var r1 = r0 + 1
            while r1 < rows.upperBound && r1 - r0 < DecodeAttention.groupRows && rowPrefix[r1] == rowPrefix[r0] {
                r1 += 1
            }
            let p = prefixes[rowPrefix[r0]]
            for hd in 0..<heads {
                if p.panels != nil {
                    DecodeAttention.attendGroup(
                        q: qkv + r0 * 3 * d + hd * dh, ldq: 3 * d, rows: r1 - r0, scale: scale, dh: dh,
                        prefix: p, layer: l, head: hd,
                        sk: sk + (r0 * heads + hd) * cap * dh, sv: sv + (r0 * heads + hd) * cap * dh,
                        ldsuffix: heads * cap * dh, suffixLengths: suffix.lengths, firstRow: r0,
                        out: y + r0 * d + hd * dh, ldout: d, scratch: scratch)
                    continue
                }
                for r in r0..<r1 {
                    let rh = r * heads + hd
                    DecodeAttention.attendRow(
                        q: qkv + r * 3 * d + hd * dh, scale: scale, dh: dh,
                        pk: p.keys[l].pointer + hd * p.stride * dh, pv: p.values[l].pointer + hd * p.length * dh,
                        lp: p.length, sk: sk + rh * cap * dh, sv: sv + rh * cap * dh, ls: suffix.lengths[r] + 1,
                        out: y + r * d + hd * dh, scratch: scratch)
                }
            }
            r0 = r1
        }
    }
}
