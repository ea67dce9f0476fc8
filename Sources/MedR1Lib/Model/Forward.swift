// The batched forward of medr1-tiny.
//
// All tokens of all rows are packed into one (S, d) residual stream, so every
// projection is one sgemm over the whole batch; attention runs per
// (row, head) on strided views (Attention.swift). Activations needed by the
// backward are kept in a ForwardTape (ForwardTape.swift). Only the logits of
// the requested positions are computed.

extension MedR1Model {
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

    /// One block (TransformerBlock.swift) over the packed rows of `layout`,
    /// updating the residual stream x (S, d) in place, with attention per
    /// packed sequence (causal in the text tower). With `save`, the tape
    /// keeps what the backward needs.
    func blockForward(_ o: BlockOffsets, x: UnsafeMutablePointer<Float>, tape t: BlockTape,
                      layout: PackedLayout, causal: Bool, save: Bool, gelu: FloatBuffer) {
        let c = config, S = layout.total, d = c.dModel, hid = c.mlpHidden
        // With grad the norm outputs live in the gelu scratch (dead before
        // GELU writes it) and the backward recomputes them: 2 x (S, d) less
        // per block. Without grad h is not kept: gelu(h) overwrites it (one
        // pass less over (S, 4d)).
        let scratchOut = save ? gelu.reserve(S * max(hid, d)) : nil
        let h = t.h.reserve(S * hid)
        let act = BlockActivations(
            input: save ? t.x.reserve(S * d) : nil,
            a: scratchOut ?? t.a.reserve(S * d), r1: t.r1.reserve(S), qkv: t.qkv.reserve(S * 3 * d),
            y: t.y.reserve(S * d), mid: save ? t.x1.reserve(S * d) : nil,
            m: scratchOut ?? t.m.reserve(S * d), r2: t.r2.reserve(S), h: h, g: scratchOut ?? h,
            tanh: save ? t.t.reserve(S * hid) : nil)
        let probs = t.probs.reserve(layout.probTotal)
        transformerBlock(blockWeights(o), x: x, rows: S, act) { qkv, y in
            Attention.forward(qkv: qkv, y: y, probs: probs, layout: layout, heads: c.nHeads, d: d, causal: causal)
        }
    }

    /// logits (P, V) = RMSNorm_text(x at needed rows) embed^T.
    func headForward(_ tape: ForwardTape) {
        let d = config.dModel, V = config.vocabSize, P = tape.needRows.count
        let xF = tape.xF.reserve(P * d)
        for (i, r) in tape.needRows.enumerated() { (xF + i * d).update(from: tape.textX.pointer + r * d, count: d) }
        headLogits(xF, rows: P, head: headWeights(), normOut: tape.hn.reserve(P * d), rInv: tape.rF.reserve(P),
                   logits: tape.logits.reserve(P * V))
    }
}
