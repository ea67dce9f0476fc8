// The backward of the batched forward (Forward.swift): from dL/dlogp of the
// scored positions down to every parameter gradient, block by block in
// reverse, recomputing the norm outputs the forward did not keep.

extension MedR1Model {
    /// dL/dlogp of every needed row of the tape (flat, in needRows order) ->
    /// dlogits -> every parameter gradient, accumulated into `gw` (the
    /// model's gradients when nil; parameterCount floats in parameter order).
    func backward(_ tape: ForwardTape, flatDLogProbs flat: [Float], into gw: UnsafeMutablePointer<Float>? = nil) {
        let P = tape.needRows.count, V = config.vocabSize
        let dLogits = tape.dLogits.reserve(P * V)
        if P > 0 {
            tape.targets.withUnsafeBufferPointer { t in
                TokenLogProbs.backward(logits: tape.logits.pointer, targets: t.baseAddress!,
                                       temperature: tape.temperature, dlogp: flat, dlogits: dLogits, rows: P, vocab: V)
            }
        }
        backwardFromLogits(tape, into: gw ?? grads.pointer)
    }

    /// From dlogits (in tape.dLogits) down to every parameter gradient, accumulated into gw.
    func backwardFromLogits(_ tape: ForwardTape, into gw: UnsafeMutablePointer<Float>) {
        let c = config, d = c.dModel, V = c.vocabSize, P = tape.needRows.count
        let B = tape.batch, U = tape.imageCount, N = c.nPatches, S = tape.textLayout.total
        let w = values.pointer

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
                          scratch: tape, into: gw)
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
                          scratch: tape, into: gw)
        }
        // `h = patches W_patch^T + b_patch + vision_pos`.
        for u in 0..<U { PositionAdd.backward(dV + u * N * d, gw + visionPos, rows: N, d: d) }
        Linear.backward(tape.patches.pointer, w + patchW, dV, dx: nil, dw: gw + patchW, db: gw + patchB,
                        rows: U * N, inDim: c.patchDim, outDim: d)
    }

    /// Backward of one block: dx (S, d) holds dL/d(block output) and is
    /// turned into dL/d(block input) in place; weight gradients accumulate into gw.
    func blockBackward(_ o: BlockOffsets, dx: UnsafeMutablePointer<Float>, tape t: BlockTape,
                       layout: PackedLayout, causal: Bool, scratch: ForwardTape, into gw: UnsafeMutablePointer<Float>) {
        let c = config, S = layout.total, d = c.dModel, hid = c.mlpHidden
        let w = values.pointer
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
