// The model's teacher-forced entry points: log-probabilities (and
// entropies) of target tokens by one batched forward (Forward.swift), and
// the backward of a loss given dL/dlogp (Backward.swift). Training in
// chunks of rows is in ChunkedBackward.swift.

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
        var out = [[Float]](repeating: [], count: sequences.count)
        var outE = [[Float]](repeating: [], count: sequences.count)
        func collect(_ rows: [Int], _ lp: [Float], _ ent: [Float]) {
            var k = 0
            for b in rows {
                let n = sequences[b].count - targetStart[b]
                out[b] = Array(lp[k..<(k + n)])
                if entropy { outE[b] = Array(ent[k..<(k + n)]) }
                k += n
            }
        }
        if withGrad {
            // One pass that keeps every activation for `backward`.
            let tape = spareTape ?? ForwardTape()
            spareTape = nil
            tape.withGrad = true
            let rows = try packedForward(plan, groups: 0..<plan.groups.count, images: images, sequences: sequences,
                                         targetStart: targetStart, tape: tape)
            let (lp, ent) = headLogProbs(tape, temperature: temperature, entropy: entropy)
            collect(rows, lp, ent)
            return LogProbResult(logProbs: out, entropy: outE, temperature: temperature, tape: tape,
                                 modelID: ObjectIdentifier(self))
        }
        // Without grad nothing outlives a chunk: the groups run in chunks of
        // about `inferenceChunkPositions` packed positions, the chunks spread
        // over the threads, one small inference tape per worker (W6). A chunk
        // runs single-threaded on its worker, and the chunks depend only on
        // the batch, so the numbers are the same on any thread count.
        let chunks = inferenceChunks(plan.positions)
        let tapes = workerTapes(&inferenceTapes, workers: Parallelism.itemWorkers(chunks.count, owners: chunks.count))
        let results = chunks.map { _ in ShardOutput() }
        Parallelism.parallelItems(chunks.count, owners: chunks.count, owner: { $0 }) { w, i in
            let tape = tapes[w], res = results[i]
            tape.withGrad = false
            do {
                res.rows = try packedForward(plan, groups: chunks[i], images: images, sequences: sequences,
                                             targetStart: targetStart, tape: tape)
                (res.logProbs, res.entropy) = headLogProbs(tape, temperature: temperature, entropy: entropy)
            } catch { res.error = error }
        }
        for res in results {
            if let e = res.error { throw e }
            collect(res.rows, res.logProbs, res.entropy)
        }
        return LogProbResult(logProbs: out, entropy: outE, temperature: temperature, tape: nil,
                             modelID: ObjectIdentifier(self))
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
                                          rows: P, vocab: V, scratch: tape.headScratch)
                }
            }
        } }
        return (lp, ent)
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
}
