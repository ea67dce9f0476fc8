// Training passes in chunks: forward with activations, loss gradient,
// backward, a chunk of prefix groups at a time, so only one chunk's
// activations are ever resident (W6: a GRPO step's 64 x 128 positions kept
// whole took ~350 MiB of activations; a chunk of two prompt groups, ~1,150
// packed positions, keeps about a quarter of that). The products stay large
// (1,152 x 128 x 512 and up), so the speed is that of the one-pass backward.

extension MedR1Model {
    /// Packed positions per chunk of `logProbsWithBackward` (two GRPO prompt
    /// groups of 16 + 48 + 8 x 64 positions). A var only so tests can use
    /// tiny chunks.
    nonisolated(unsafe) static var trainingChunkPositions = 1024

    /// Teacher-forced log-probabilities and the backward of a loss that is
    /// a sum of per-row terms with a normalisation known before the forward
    /// (GRPO's three losses, the SFT cross-entropy), chunk by chunk: for
    /// each chunk of rows (whole prefix groups), the forward keeps its
    /// activations, `gradient(rows, logProbs)` returns dL/dlogp for those
    /// rows (same shapes), and the backward adds the parameter gradients.
    /// Gradients equal tokenLogProbs(withGrad: true) + backward up to the
    /// float32 order of the sums over chunks; the log-probabilities are the
    /// same values. Arguments and errors as `tokenLogProbs`.
    /// - Returns: every row's log-probabilities (and entropies when asked).
    public func logProbsWithBackward(images: [[Float]], sequences: [[Int]], targetStart: [Int],
                                     temperature: Float = 1, entropy: Bool = false,
                                     gradient: (_ rows: [Int], _ logProbs: [[Float]]) throws -> [[Float]])
        throws -> (logProbs: [[Float]], entropy: [[Float]]) {
        try checkLogProbArguments(images: images, sequences: sequences, targetStart: targetStart,
                                  temperature: temperature, caller: "logProbsWithBackward")
        let plan = PrefixPlan(images: images, sequences: sequences, targetStart: targetStart, nPatches: config.nPatches)
        let tape = spareTape ?? ForwardTape()
        spareTape = nil
        defer { spareTape = tape }
        tape.withGrad = true
        var out = [[Float]](repeating: [], count: sequences.count)
        var outE = [[Float]](repeating: [], count: sequences.count)
        for chunk in inferenceChunks(plan.positions, size: MedR1Model.trainingChunkPositions) {
            let rows = try packedForward(plan, groups: chunk, images: images, sequences: sequences,
                                         targetStart: targetStart, tape: tape)
            let (lp, ent) = headLogProbs(tape, temperature: temperature, entropy: entropy)
            var rowLP: [[Float]] = []
            var k = 0
            for b in rows {
                let n = sequences[b].count - targetStart[b]
                rowLP.append(Array(lp[k..<(k + n)]))
                if entropy { outE[b] = Array(ent[k..<(k + n)]) }
                out[b] = rowLP.last!
                k += n
            }
            let d = try gradient(rows, rowLP)
            guard d.count == rows.count else {
                throw ModelError("logProbsWithBackward: the gradient has \(d.count) rows for a chunk of \(rows.count)")
            }
            var flat: [Float] = []
            flat.reserveCapacity(lp.count)
            for (i, b) in rows.enumerated() {
                guard d[i].count == rowLP[i].count else {
                    throw ModelError("logProbsWithBackward: row \(b) of the gradient has \(d[i].count) values, the row \(rowLP[i].count) log-probs")
                }
                flat.append(contentsOf: d[i])
            }
            backward(tape, flatDLogProbs: flat)
        }
        return (out, outE)
    }
}
