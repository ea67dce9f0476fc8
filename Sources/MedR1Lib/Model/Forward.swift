// The batched forward and backward passes of medr1-tiny.
//
// All tokens of all rows are packed into one (S, d) residual stream, so every
// projection is one sgemm over the whole batch; attention runs per
// (row, head) on strided views (Attention.swift). Activations needed by the
// backward are kept in a ForwardTape whose buffers are reused from call to
// call. Only the logits of the requested positions are computed.

/// Saved activations of one transformer block over S packed rows.
final class BlockTape {
    let x = FloatBuffer(zeroed: false)      /// (S, d) block input (kept only with grad)
    let r1 = FloatBuffer(zeroed: false)     /// (S) 1/rms of x
    let a = FloatBuffer(zeroed: false)      /// (S, d) RMSNorm_1(x) (kept only without grad; recomputed from x, r1)
    let qkv = FloatBuffer(zeroed: false)    /// (S, 3d) q | k | v
    let probs = FloatBuffer(zeroed: false)  /// per (row, head) (L, L) attention probabilities
    let y = FloatBuffer(zeroed: false)      /// (S, d) heads' outputs, concatenated
    let x1 = FloatBuffer(zeroed: false)     /// (S, d) after the attention residual (kept only with grad)
    let r2 = FloatBuffer(zeroed: false)     /// (S) 1/rms of x1
    let m = FloatBuffer(zeroed: false)      /// (S, d) RMSNorm_2(x1) (kept only without grad; recomputed from x1, r2)
    let h = FloatBuffer(zeroed: false)      /// (S, 4d) m W1^T (pre-GELU)
    let t = FloatBuffer(zeroed: false)      /// (S, 4d) tanh(u) of the GELU (kept only with grad; gelu(h) = 0.5 h (1 + t))
}

/// Everything one batched forward keeps for its backward.
final class ForwardTape {
    var visionBlocks: [BlockTape] = []
    var textBlocks: [BlockTape] = []
    var visionLayout = PackedLayout(lengths: [], heads: 1)
    var textLayout = PackedLayout(lengths: [], heads: 1)
    var batch = 0
    /// Distinct images U (rows with identical images share one vision pass).
    var imageCount = 0
    /// (B) index of each row's image among the distinct ones.
    var imageIndex: [Int] = []
    var withGrad = false
    let patches = FloatBuffer(zeroed: false)  /// (U*N, patchDim)
    let visionX = FloatBuffer(zeroed: false)  /// (U*N, d) vision residual stream (ends pre-norm)
    let visionR = FloatBuffer(zeroed: false)  /// (U*N) 1/rms for the vision norm
    let img = FloatBuffer(zeroed: false)      /// (U*N, d) RMSNorm_vision output = image tokens
    let textX = FloatBuffer(zeroed: false)    /// (S, d) text residual stream (ends pre-norm)
    var tokenIDs: [Int] = []                  /// (T_total) text token ids, packed order
    var tokenRows: [Int] = []                 /// (T_total) packed row of each text token
    var needRows: [Int] = []                  /// (P) packed rows whose logits are needed
    var targets: [Int] = []                   /// (P) token predicted at each needed row
    var temperature: Float = 1
    let xF = FloatBuffer(zeroed: false)       /// (P, d) residual at needed rows
    let rF = FloatBuffer(zeroed: false)       /// (P)
    let hn = FloatBuffer(zeroed: false)       /// (P, d) RMSNorm_text at needed rows
    let logits = FloatBuffer(zeroed: false)   /// (P, V)
    // Backward scratch, shared by all layers.
    let dX = FloatBuffer(zeroed: false)       /// (S, d)
    /// (S, max(mlp hidden, 3d)) one scratch for the forward and the backward
    /// (never live at once): forward: the RMSNorm outputs (with grad), then
    /// gelu(h) of the block being computed; backward: dBig, the MLP backward
    /// and the attention dqkv.
    let gelu = FloatBuffer(zeroed: false)
    var dBig: FloatBuffer { gelu }
    /// (S, d) a block's RMSNorm output recomputed for its backward.
    let normOut = FloatBuffer(zeroed: false)
    let dSmall = FloatBuffer(zeroed: false)   /// (S, d)
    let dLogits = FloatBuffer(zeroed: false)  /// (P, V)
    let dHn = FloatBuffer(zeroed: false)      /// (P, d)
    let dVision = FloatBuffer(zeroed: false)  /// (U*N, d)
    let attnScratch = FloatBuffer(zeroed: false)
    let normScratch = FloatBuffer(zeroed: false)

    /// The block tape for a layer: one per layer with grad, one shared otherwise.
    func block(vision: Bool, _ layer: Int, layers: Int) -> BlockTape {
        let n = withGrad ? layers : min(layers, 1)
        if vision { while visionBlocks.count < n { visionBlocks.append(BlockTape()) } } else {
            while textBlocks.count < n { textBlocks.append(BlockTape()) }
        }
        let i = withGrad ? layer : 0
        return vision ? visionBlocks[i] : textBlocks[i]
    }
}

/// Log-probabilities of target tokens from `MedR1Model.tokenLogProbs`, and
/// what `backward` needs to turn dL/dlogp into parameter gradients.
public final class LogProbResult {
    /// logProbs[b][j - targetStart[b]] = log p(t_j | image, t_<j) at temperature T.
    public let logProbs: [[Float]]
    /// Per-token entropy of softmax(logits / T), same layout (empty rows unless asked).
    public let entropy: [[Float]]
    /// The temperature the log-probabilities were computed at.
    public let temperature: Float
    var tape: ForwardTape?
    let modelID: ObjectIdentifier

    init(logProbs: [[Float]], entropy: [[Float]], temperature: Float, tape: ForwardTape?, modelID: ObjectIdentifier) {
        self.logProbs = logProbs; self.entropy = entropy; self.temperature = temperature
        self.tape = tape; self.modelID = modelID
    }

    /// Number of returned log-probabilities over all rows.
    public var tokenCount: Int { logProbs.reduce(0) { $0 + $1.count } }
}

extension MedR1Model {
    // MARK: - Public entry points

    /// Teacher-forced log-probabilities of text tokens j >= targetStart[b]
    /// of each row: softmax(logits / temperature) gathered at t_j, where the
    /// logits at sequence position N-1+j predict t_j (N = image tokens).
    /// - images[b]: imageSize*imageSize*channels floats, (H, W, C), in [-1, 1].
    /// - sequences[b]: the row's text tokens (prompt + completion).
    /// - withGrad: keep activations so `backward` can follow.
    /// - entropy: also return each position's entropy.
    /// Throws ModelError naming the row for wrong image sizes, token ids out of
    /// range, rows longer than max_seq, or a bad targetStart.
    public func tokenLogProbs(images: [[Float]], sequences: [[Int]], targetStart: [Int], temperature: Float = 1,
                              withGrad: Bool, entropy: Bool = false) throws -> LogProbResult {
        try checkLogProbArguments(images: images, sequences: sequences, targetStart: targetStart,
                                  temperature: temperature, caller: "tokenLogProbs")
        let plan = PrefixPlan(images: images, sequences: sequences, targetStart: targetStart, nPatches: config.nPatches)
        let tape: ForwardTape
        if withGrad { tape = spareTape ?? ForwardTape(); spareTape = nil } else { tape = inferenceTape }
        tape.withGrad = withGrad
        // Without grad nothing outlives a chunk: run the groups in chunks of
        // about `inferenceChunkPositions` packed positions so the one shared
        // inference tape stays small (W6). Every row is computed by the same
        // row-wise kernels, so the numbers do not depend on the chunking
        // beyond sgemm's own blocking. With grad, one pass keeps everything.
        let chunks = withGrad ? [0..<plan.groups.count] : inferenceChunks(plan.positions)
        var out = [[Float]](repeating: [], count: sequences.count)
        var outE = [[Float]](repeating: [], count: sequences.count)
        for chunk in chunks {
            let rows = try packedForward(plan, groups: chunk, images: images, sequences: sequences,
                                         targetStart: targetStart, tape: tape)
            let (lp, ent) = headLogProbs(tape, temperature: temperature, entropy: entropy)
            var k = 0
            for b in rows {
                let n = sequences[b].count - targetStart[b]
                out[b] = Array(lp[k..<(k + n)])
                if entropy { outE[b] = Array(ent[k..<(k + n)]) }
                k += n
            }
        }
        return LogProbResult(logProbs: out, entropy: outE, temperature: temperature,
                             tape: withGrad ? tape : nil, modelID: ObjectIdentifier(self))
    }

    /// Throws ModelError for mismatched counts, a bad temperature or
    /// targetStart, and (naming the row of the whole batch) bad images or tokens.
    func checkLogProbArguments(images: [[Float]], sequences: [[Int]], targetStart: [Int], temperature: Float,
                               caller: String) throws {
        guard targetStart.count == sequences.count else {
            throw ModelError("\(caller): \(sequences.count) sequences but \(targetStart.count) targetStart values: give one per row")
        }
        guard temperature > 0, temperature.isFinite else {
            throw ModelError("\(caller): temperature \(temperature) must be a positive number")
        }
        for (b, s) in targetStart.enumerated() where s < 0 || s > sequences[b].count {
            throw ModelError("\(caller): row \(b): targetStart \(s) is outside 0...\(sequences[b].count) (the row's token count)")
        }
        try validateInputs(images: images, sequences: sequences)
    }

    /// Logits at the needed rows of a packed forward, then the log-probs of
    /// the targets (and entropies): (P) each, in needRows order.
    func headLogProbs(_ tape: ForwardTape, temperature: Float, entropy: Bool) -> (logp: [Float], entropy: [Float]) {
        tape.temperature = temperature
        let P = tape.needRows.count, V = config.vocabSize
        headForward(tape)
        var lp = [Float](repeating: 0, count: P)
        var ent = [Float](repeating: 0, count: entropy ? P : 0)
        if P > 0 { tape.targets.withUnsafeBufferPointer { t in
            lp.withUnsafeMutableBufferPointer { lpb in
                ent.withUnsafeMutableBufferPointer { eb in
                    TokenLogProbs.forward(logits: tape.logits.pointer, targets: t.baseAddress!, temperature: temperature,
                                          logp: lpb.baseAddress!, entropy: entropy ? eb.baseAddress! : nil,
                                          rows: P, vocab: V, scratch: scratch)
                }
            }
        } }
        return (lp, ent)
    }

    /// Packs the rows of `groups` (a range of plan.groups) and runs the
    /// trunk: a group of rows sharing (image, tokens before targetStart) is
    /// one root sequence (image + shared tokens) with one continuation per
    /// row (its tokens from targetStart on); a row alone is a root of its
    /// own. Fills tape.needRows/targets for the rows in ascending order
    /// (position N-1+j predicts token j) and returns those rows.
    func packedForward(_ plan: PrefixPlan, groups: Range<Int>, images: [[Float]], sequences: [[Int]],
                       targetStart: [Int], tape: ForwardTape) throws -> [Int] {
        let N = config.nPatches
        var pImages: [[Float]] = [], pSeqs: [[Int]] = [], parents: [Int] = []
        // Per row: (packed root, packed continuation or -1).
        var place: [Int: (root: Int, cont: Int)] = [:]
        for g in groups {
            let members = plan.groups[g]
            let root = pSeqs.count
            if members.count >= 2 {
                let b0 = members[0], ts = targetStart[b0]
                pImages.append(images[b0]); pSeqs.append(Array(sequences[b0][0..<ts])); parents.append(-1)
                for b in members {
                    place[b] = (root, pSeqs.count)
                    pImages.append(images[b0]); pSeqs.append(Array(sequences[b][ts...])); parents.append(root)
                }
            } else {
                let b = members[0]
                place[b] = (root, -1)
                pImages.append(images[b]); pSeqs.append(sequences[b]); parents.append(-1)
            }
        }
        try forwardTrunk(images: pImages, sequences: pSeqs, parents: parents, tape: tape, layerHook: nil)
        let layout = tape.textLayout
        let rows = place.keys.sorted()
        tape.needRows.removeAll(keepingCapacity: true)
        tape.targets.removeAll(keepingCapacity: true)
        for b in rows {
            let (root, cont) = place[b]!
            let rootStart = layout.starts[root], ts = targetStart[b]
            for j in ts..<sequences[b].count {
                // Continuations: token ts is predicted by the prefix's last row,
                // token j > ts by the continuation's row j - ts - 1.
                tape.needRows.append(cont < 0 || j == ts ? rootStart + N - 1 + (cont < 0 ? j : ts)
                                                         : layout.starts[cont] + j - ts - 1)
                tape.targets.append(sequences[b][j])
            }
        }
        return rows
    }

    /// Accumulates parameter gradients of a loss L given dL/dlogp for every
    /// returned log-probability (same layout as `result.logProbs`). The
    /// result must come from this model with `withGrad: true`; a result can
    /// be back-propagated once (its activations are then recycled).
    public func backward(_ result: LogProbResult, dLogProbs: [[Float]]) throws {
        guard result.modelID == ObjectIdentifier(self) else {
            throw ModelError("backward: this result was computed by another model")
        }
        guard let tape = result.tape else {
            throw ModelError("backward: the result has no activations: compute it with withGrad: true, and call backward once")
        }
        guard dLogProbs.count == result.logProbs.count else {
            throw ModelError("backward: dLogProbs has \(dLogProbs.count) rows, the result \(result.logProbs.count)")
        }
        var flat: [Float] = []
        flat.reserveCapacity(result.tokenCount)
        for (b, row) in dLogProbs.enumerated() {
            guard row.count == result.logProbs[b].count else {
                throw ModelError("backward: row \(b) of dLogProbs has \(row.count) values, the result \(result.logProbs[b].count)")
            }
            flat.append(contentsOf: row)
        }
        result.tape = nil
        backward(tape, flatDLogProbs: flat)
        spareTape = tape
    }

    /// dL/dlogp of every needed row of the tape (flat, in needRows order) ->
    /// dlogits -> every parameter gradient (accumulated).
    func backward(_ tape: ForwardTape, flatDLogProbs flat: [Float]) {
        let P = tape.needRows.count, V = config.vocabSize
        let dLogits = tape.dLogits.reserve(P * V)
        if P > 0 {
            tape.targets.withUnsafeBufferPointer { t in
                TokenLogProbs.backward(logits: tape.logits.pointer, targets: t.baseAddress!,
                                       temperature: tape.temperature, dlogp: flat, dlogits: dLogits, rows: P, vocab: V)
            }
        }
        backwardFromLogits(tape)
    }

    /// Positions per chunk of a no-grad `tokenLogProbs` call: large enough
    /// that every projection stays one big sgemm (2048 x 128 x 512 and up).
    /// (A var only so tests can chunk tiny batches.)
    nonisolated(unsafe) static var inferenceChunkPositions = 2048

    /// Contiguous ranges of groups of about `size` packed positions each
    /// (a chunk closes once it reaches the size).
    func inferenceChunks(_ positions: [Int], size: Int = MedR1Model.inferenceChunkPositions) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var lo = 0, total = 0
        for (g, n) in positions.enumerated() {
            total += n
            if total >= size { out.append(lo..<(g + 1)); lo = g + 1; total = 0 }
        }
        if lo < positions.count { out.append(lo..<positions.count) }
        return out
    }

    // MARK: - Forward

    /// Throws ModelError naming the row for a count mismatch, a wrong image
    /// size, a row longer than max_seq or a token id outside the vocabulary.
    func validateInputs(images: [[Float]], sequences: [[Int]]) throws {
        let c = config
        guard images.count == sequences.count else {
            throw ModelError("\(images.count) images but \(sequences.count) token sequences: give one image per row")
        }
        for (b, im) in images.enumerated() where im.count != c.imageFloats {
            throw ModelError("row \(b): image has \(im.count) floats, the model expects \(c.imageSize)x\(c.imageSize)x\(c.channels) = \(c.imageFloats) (preprocess it to the model's size)")
        }
        for (b, seq) in sequences.enumerated() {
            if c.nPatches + seq.count > c.maxSeq {
                throw ModelError("row \(b): \(c.nPatches) image tokens + \(seq.count) text tokens exceed max_seq \(c.maxSeq): shorten the prompt or completion")
            }
            for (j, t) in seq.enumerated() where t < 0 || t >= c.vocabSize {
                throw ModelError("row \(b), token \(j): id \(t) is outside the vocabulary 0..<\(c.vocabSize)")
            }
        }
    }

    /// Checks the inputs, runs the vision tower and the text blocks, leaving
    /// the final (pre-norm) residual stream in tape.textX. `layerHook(l, qkv)`
    /// sees each text block's (S, 3d) q|k|v (prefill copies the keys and values).
    /// parents[b] >= 0 makes row b a continuation of the earlier root row
    /// parents[b] (see PackedLayout): it has no image tokens (images[b] must
    /// be the root's image) and its tokens take the positions after the root's.
    func forwardTrunk(images: [[Float]], sequences: [[Int]], parents: [Int]? = nil, tape: ForwardTape,
                      layerHook: ((Int, UnsafePointer<Float>) -> Void)?) throws {
        try validateInputs(images: images, sequences: sequences)
        let parents = parents ?? [Int](repeating: -1, count: sequences.count)
        let c = config
        let B = images.count, N = c.nPatches, d = c.dModel
        tape.batch = B
        let w = values.pointer
        for (b, p) in parents.enumerated() where p >= 0 {
            precondition(p < b && parents[p] < 0, "forwardTrunk: row \(b) must continue an earlier root row")
        }
        // Rows with the same image (a prompt's G completions) share one vision pass.
        var seen: [ImageKey: Int] = [:]
        var distinct: [Int] = []
        tape.imageIndex = images.enumerated().map { b, im in
            if parents[b] >= 0 { return -1 }  // continuations have no image tokens
            if let u = seen[ImageKey(im)] { return u }
            seen[ImageKey(im)] = distinct.count; distinct.append(b)
            return distinct.count - 1
        }
        let U = distinct.count
        tape.imageCount = U

        // Vision: h = patches W_patch^T + b_patch + vision_pos.
        tape.visionLayout = PackedLayout(lengths: [Int](repeating: N, count: U), heads: c.nHeads)
        let patches = tape.patches.reserve(U * N * c.patchDim)
        for (u, b) in distinct.enumerated() { extractPatches(images[b], into: patches + u * N * c.patchDim) }
        let vx = tape.visionX.reserve(U * N * d)
        Linear.forward(patches, w + patchW, w + patchB, vx, rows: U * N, inDim: c.patchDim, outDim: d)
        for u in 0..<U { PositionAdd.forward(vx + u * N * d, w + visionPos, rows: N, d: d) }
        for (l, o) in visionBlocks.enumerated() {
            blockForward(o, x: vx, tape: tape.block(vision: true, l, layers: c.visionLayers),
                         layout: tape.visionLayout, causal: false, save: tape.withGrad, gelu: tape.gelu)
        }
        let img = tape.img.reserve(U * N * d)
        RMSNorm.forward(vx, w + visionNorm, img, tape.visionR.reserve(U * N), rows: U * N, d: d, eps: c.normEps)

        // Text: s = [img_1..img_N, embed[t_1]..embed[t_T]] + text_pos[0 ..< N+T].
        tape.textLayout = PackedLayout(lengths: sequences.enumerated().map { b, s in (parents[b] < 0 ? N : 0) + s.count },
                                       heads: c.nHeads, parents: parents)
        let S = tape.textLayout.total
        let tx = tape.textX.reserve(S * d)
        tape.tokenIDs.removeAll(keepingCapacity: true)
        tape.tokenRows.removeAll(keepingCapacity: true)
        for b in 0..<B {
            let start = tape.textLayout.starts[b]
            let n0 = parents[b] < 0 ? N : 0  // image tokens of this packed sequence
            if n0 > 0 { (tx + start * d).update(from: img + tape.imageIndex[b] * N * d, count: N * d) }
            for (j, t) in sequences[b].enumerated() {
                tape.tokenIDs.append(t); tape.tokenRows.append(start + n0 + j)
                (tx + (start + n0 + j) * d).update(from: w + embed + t * d, count: d)
            }
            PositionAdd.forward(tx + start * d, w + textPos + tape.textLayout.positionOffset(b) * d,
                                rows: tape.textLayout.lengths[b], d: d)
        }
        for (l, o) in textBlocks.enumerated() {
            let bt = tape.block(vision: false, l, layers: c.textLayers)
            blockForward(o, x: tx, tape: bt, layout: tape.textLayout, causal: true, save: tape.withGrad, gelu: tape.gelu)
            layerHook?(l, bt.qkv.pointer)
        }
    }

    /// Copies one image's patches in row-major patch order, each flattened
    /// in (row, column, channel) order: (nPatches, patch*patch*channels).
    func extractPatches(_ image: [Float], into out: UnsafeMutablePointer<Float>) {
        let c = config, p = c.patch, C = c.channels, W = c.imageSize, grid = c.imageSize / p
        image.withUnsafeBufferPointer { src in
            var k = 0
            for pr in 0..<grid {
                for pc in 0..<grid {
                    for i in 0..<p {
                        let rowStart = ((pr * p + i) * W + pc * p) * C
                        (out + k).update(from: src.baseAddress! + rowStart, count: p * C)
                        k += p * C
                    }
                }
            }
        }
    }

    /// One block, updating the residual stream x (S, d) in place:
    ///   x = x + attn(RMSNorm_1(x)) Wo^T;  x = x + gelu(RMSNorm_2(x) W1^T) W2^T
    func blockForward(_ o: BlockOffsets, x: UnsafeMutablePointer<Float>, tape t: BlockTape,
                      layout: PackedLayout, causal: Bool, save: Bool, gelu: FloatBuffer) {
        let c = config, S = layout.total, d = c.dModel, hid = c.mlpHidden
        let w = values.pointer
        if save { t.x.reserve(S * d).update(from: x, count: S * d) }
        // With grad the norm outputs live in the gelu scratch (dead before
        // GELU writes it) and the backward recomputes them: 2 x (S, d) less per block.
        let scratchOut = save ? gelu.reserve(S * max(hid, d)) : nil
        let a = scratchOut ?? t.a.reserve(S * d), r1 = t.r1.reserve(S)
        RMSNorm.forward(x, w + o.norm1, a, r1, rows: S, d: d, eps: c.normEps)
        let qkv = t.qkv.reserve(S * 3 * d)
        Linear.forward(a, w + o.qkv, nil, qkv, rows: S, inDim: d, outDim: 3 * d)
        let y = t.y.reserve(S * d)
        Attention.forward(qkv: qkv, y: y, probs: t.probs.reserve(layout.probTotal), layout: layout,
                          heads: c.nHeads, d: d, causal: causal)
        BLAS.gemm(transB: true, m: S, n: d, k: d, a: y, lda: d, b: w + o.o, ldb: d, beta: 1, c: x, ldc: d)
        if save { t.x1.reserve(S * d).update(from: x, count: S * d) }
        let m = scratchOut ?? t.m.reserve(S * d), r2 = t.r2.reserve(S)
        RMSNorm.forward(x, w + o.norm2, m, r2, rows: S, d: d, eps: c.normEps)
        let h = t.h.reserve(S * hid)
        // Without grad h is not kept: gelu(h) overwrites it (one pass less over (S, 4d)).
        let g = save ? gelu.reserve(S * hid) : h
        Linear.forward(m, w + o.fc1, nil, h, rows: S, inDim: d, outDim: hid)
        GELU.forward(h, g, S * hid, tanhOut: save ? t.t.reserve(S * hid) : nil)
        BLAS.gemm(transB: true, m: S, n: d, k: hid, a: g, lda: hid, b: w + o.fc2, ldb: hid, beta: 1, c: x, ldc: d)
    }

    /// logits (P, V) = RMSNorm_text(x at needed rows) embed^T.
    func headForward(_ tape: ForwardTape) {
        let d = config.dModel, V = config.vocabSize, P = tape.needRows.count
        let w = values.pointer
        let xF = tape.xF.reserve(P * d)
        for (i, r) in tape.needRows.enumerated() { (xF + i * d).update(from: tape.textX.pointer + r * d, count: d) }
        let hn = tape.hn.reserve(P * d)
        RMSNorm.forward(xF, w + textNorm, hn, tape.rF.reserve(P), rows: P, d: d, eps: config.normEps)
        Linear.forward(hn, w + embed, nil, tape.logits.reserve(P * V), rows: P, inDim: d, outDim: V)
    }

    // MARK: - Backward

    /// From dlogits (in tape.dLogits) down to every parameter gradient.
    func backwardFromLogits(_ tape: ForwardTape) {
        let c = config, d = c.dModel, V = c.vocabSize, P = tape.needRows.count
        let B = tape.batch, U = tape.imageCount, N = c.nPatches, S = tape.textLayout.total
        let w = values.pointer, gw = grads.pointer

        // `logits = hn embed^T`: d embed += dlogits^T hn; dhn = dlogits embed.
        let dHn = tape.dHn.reserve(P * d)
        Linear.backward(tape.hn.pointer, w + embed, tape.dLogits.pointer, dx: dHn, dw: gw + embed, db: nil,
                        rows: P, inDim: d, outDim: V)
        // `hn = RMSNorm_text(xF)`, xF gathered from the needed rows of textX.
        let dX = tape.dX.reserve(S * d)
        dX.update(repeating: 0, count: S * d)
        let dxF = tape.dSmall.reserve(max(P, S) * d)
        RMSNorm.backward(tape.xF.pointer, w + textNorm, tape.rF.pointer, dHn, dxF, gw + textNorm,
                         rows: P, d: d, accumulate: false, scratch: tape.normScratch)
        for (i, r) in tape.needRows.enumerated() { VectorMath.axpy(1, dxF + i * d, dX + r * d, d) }

        for l in stride(from: c.textLayers - 1, through: 0, by: -1) {
            blockBackward(textBlocks[l], dx: dX, tape: tape.textBlocks[l], layout: tape.textLayout, causal: true,
                          scratch: tape)
        }
        // `s = [img, embed[t]] + text_pos`.
        let dImg = tape.dVision.reserve(U * N * d)
        dImg.update(repeating: 0, count: U * N * d)
        for b in 0..<B {
            let start = tape.textLayout.starts[b]
            PositionAdd.backward(dX + start * d, gw + textPos + tape.textLayout.positionOffset(b) * d,
                                 rows: tape.textLayout.lengths[b], d: d)
            if tape.imageIndex[b] >= 0 { VectorMath.axpy(1, dX + start * d, dImg + tape.imageIndex[b] * N * d, N * d) }
        }
        for (k, t) in tape.tokenIDs.enumerated() { VectorMath.axpy(1, dX + tape.tokenRows[k] * d, gw + embed + t * d, d) }

        // `img = RMSNorm_vision(h)`: dh written into dX's first U*N rows.
        let dV = dX
        RMSNorm.backward(tape.visionX.pointer, w + visionNorm, tape.visionR.pointer, dImg, dV, gw + visionNorm,
                         rows: U * N, d: d, accumulate: false, scratch: tape.normScratch)
        for l in stride(from: c.visionLayers - 1, through: 0, by: -1) {
            blockBackward(visionBlocks[l], dx: dV, tape: tape.visionBlocks[l], layout: tape.visionLayout, causal: false,
                          scratch: tape)
        }
        // `h = patches W_patch^T + b_patch + vision_pos`.
        for u in 0..<U { PositionAdd.backward(dV + u * N * d, gw + visionPos, rows: N, d: d) }
        Linear.backward(tape.patches.pointer, w + patchW, dV, dx: nil, dw: gw + patchW, db: gw + patchB,
                        rows: U * N, inDim: c.patchDim, outDim: d)
    }

    /// Backward of one block: dx (S, d) holds dL/d(block output) and is
    /// turned into dL/d(block input) in place; weight gradients accumulate.
    func blockBackward(_ o: BlockOffsets, dx: UnsafeMutablePointer<Float>, tape t: BlockTape,
                       layout: PackedLayout, causal: Bool, scratch: ForwardTape) {
        let c = config, S = layout.total, d = c.dModel, hid = c.mlpHidden
        let w = values.pointer, gw = grads.pointer
        let dBig = scratch.dBig.reserve(S * max(hid, 3 * d)), dSmall = scratch.dSmall.reserve(S * d)
        // `x = x1 + g W2^T`: dW2 += dx^T g (g rebuilt from h and the saved
        // tanh); then dg = dx W2 overwrites it (dx1 = dx passes through).
        GELU.recompute(x: t.h.pointer, tanh: t.t.pointer, dBig, S * hid)
        BLAS.gemm(transA: true, m: d, n: hid, k: S, a: dx, lda: d, b: dBig, ldb: hid, beta: 1, c: gw + o.fc2, ldc: hid)
        BLAS.gemm(m: S, n: hid, k: d, a: dx, lda: d, b: w + o.fc2, ldb: hid, c: dBig, ldc: hid)
        // `g = gelu(h)`.
        GELU.backward(x: t.h.pointer, tanh: t.t.pointer, dy: dBig, dx: dBig, S * hid)
        // `h = m W1^T`, m = RMSNorm_2(x1) recomputed exactly as the forward did.
        let normOut = scratch.normOut.reserve(S * d)
        RMSNorm.apply(t.x1.pointer, w + o.norm2, t.r2.pointer, normOut, rows: S, d: d)
        Linear.backward(normOut, w + o.fc1, dBig, dx: dSmall, dw: gw + o.fc1, db: nil, rows: S, inDim: d, outDim: hid)
        // `m = RMSNorm_2(x1)`: dx1 += ...
        RMSNorm.backward(t.x1.pointer, w + o.norm2, t.r2.pointer, dSmall, dx, gw + o.norm2,
                         rows: S, d: d, accumulate: true, scratch: scratch.normScratch)
        // `x1 = x + y Wo^T`: dWo += dx1^T y; dy = dx1 Wo.
        Linear.backward(t.y.pointer, w + o.o, dx, dx: dSmall, dw: gw + o.o, db: nil, rows: S, inDim: d, outDim: d)
        // attention: dqkv (S, 3d) into dBig.
        Attention.backward(qkv: t.qkv.pointer, probs: t.probs.pointer, dy: dSmall, dqkv: dBig, layout: layout,
                           heads: c.nHeads, d: d, causal: causal, scratch: scratch.attnScratch)
        // `qkv = a Wqkv^T`, a = RMSNorm_1(x) recomputed.
        RMSNorm.apply(t.x.pointer, w + o.norm1, t.r1.pointer, normOut, rows: S, d: d)
        Linear.backward(normOut, w + o.qkv, dBig, dx: dSmall, dw: gw + o.qkv, db: nil, rows: S, inDim: d, outDim: 3 * d)
        // `a = RMSNorm_1(x)`: dx += ...
        RMSNorm.backward(t.x.pointer, w + o.norm1, t.r1.pointer, dSmall, dx, gw + o.norm1,
                         rows: S, d: d, accumulate: true, scratch: scratch.normScratch)
    }
}
