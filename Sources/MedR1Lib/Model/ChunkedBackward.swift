// Training passes in chunks (shards), spread over the threads: each shard of
// whole prefix groups runs its own forward with activations, its loss
// gradient and its backward on one worker, single-threaded, with a tape of
// its own (W6: only one shard's activations per worker are resident; a GRPO
// step's 64 x 128 positions kept whole took ~350 MiB). Independent shards on
// the two cores scale where splitting each d_model-128 product over them did
// not (docs/performance.md).
//
// Determinism: the shards depend only on the batch, never on the thread
// count. Shard s adds its parameter gradients to lane s % gradientLanes
// (lane 0 is the model's own gradients, the others are buffers of the
// model's), each lane's shards in shard order on one worker, and the lanes
// are added to the model's gradients in lane order at the end. The loss
// callback is called once per shard in shard order. So gradients, and
// everything after them, are bit-identical on 1, 2, 3, ... threads.

import Foundation

/// What one shard of a data-parallel pass hands back to the caller's thread.
final class ShardOutput {
    var rows: [Int] = []
    var logProbs: [Float] = []
    var entropy: [Float] = []
    var error: Error?
}

extension MedR1Model {
    /// Packed positions per shard of `logProbsWithBackward` (a GRPO prompt
    /// group of 16 + 48 + 8 x 64 positions, or 4 SFT rows of 128, per
    /// shard). A var only so tests can use tiny shards.
    nonisolated(unsafe) static var trainingChunkPositions = 512

    /// Gradient accumulators of a data-parallel backward: fixed, so that the
    /// order of the float sums does not depend on the thread count; it also
    /// bounds the workers of one pass.
    static let gradientLanes = 4

    /// Teacher-forced log-probabilities and the backward of a loss that is
    /// a sum of per-row terms with a normalisation known before the forward
    /// (GRPO's three losses, the SFT cross-entropy), shard by shard, the
    /// shards spread over the threads: for each shard of rows (whole prefix
    /// groups), the forward keeps its activations, `gradient(rows, logProbs)`
    /// returns dL/dlogp for those rows (same shapes), and the backward adds
    /// the parameter gradients. `gradient` is called once per shard, one call
    /// at a time, in shard order (possibly from a worker thread).
    /// Gradients equal tokenLogProbs(withGrad: true) + backward up to the
    /// float32 order of the sums over shards, which is fixed (see the top of
    /// this file); the log-probabilities are the same values. Arguments and
    /// errors as `tokenLogProbs`; after an error the model's gradients are
    /// partial (callers zero them).
    /// - Returns: every row's log-probabilities (and entropies when asked).
    public func logProbsWithBackward(images: [[Float]], sequences: [[Int]], targetStart: [Int],
                                     temperature: Float = 1, entropy: Bool = false,
                                     gradient: (_ rows: [Int], _ logProbs: [[Float]]) throws -> [[Float]])
        throws -> (logProbs: [[Float]], entropy: [[Float]]) {
        try checkLogProbArguments(images: images, sequences: sequences, targetStart: targetStart,
                                  temperature: temperature, caller: "logProbsWithBackward")
        let plan = PrefixPlan(images: images, sequences: sequences, targetStart: targetStart, nPatches: config.nPatches)
        let shards = inferenceChunks(plan.positions, size: MedR1Model.trainingChunkPositions)
        let lanes = min(MedR1Model.gradientLanes, shards.count)
        let tapes = workerTapes(&trainingTapes, workers: Parallelism.itemWorkers(shards.count, owners: lanes))
        while laneGrads.count < lanes - 1 { laneGrads.append(FloatBuffer(count: parameterCount)) }
        let lanePointers = [grads.pointer] + laneGrads.prefix(max(0, lanes - 1)).map { $0.pointer }
        let results = shards.map { _ in ShardOutput() }
        let gate = TurnGate()
        let failed = FailureFlag()
        Parallelism.parallelItems(shards.count, owners: lanes, owner: { $0 % lanes }) { w, s in
            let tape = tapes[w], res = results[s]
            tape.withGrad = true
            var rowLP: [[Float]] = []
            do {
                res.rows = try packedForward(plan, groups: shards[s], images: images, sequences: sequences,
                                             targetStart: targetStart, tape: tape)
                (res.logProbs, res.entropy) = headLogProbs(tape, temperature: temperature, entropy: entropy)
                var k = 0
                for b in res.rows {
                    let n = sequences[b].count - targetStart[b]
                    rowLP.append(Array(res.logProbs[k..<(k + n)]))
                    k += n
                }
            } catch { res.error = error }
            // The caller's loss gradient: one shard at a time, in shard order.
            let d: [[Float]]? = gate.run(s) {
                if res.error != nil || failed.value { failed.value = true; return nil }
                do { return try gradient(res.rows, rowLP) } catch {
                    res.error = error; failed.value = true; return nil
                }
            }
            guard let d else { return }
            do {
                guard d.count == res.rows.count else {
                    throw ModelError("logProbsWithBackward: the gradient has \(d.count) rows for a chunk of \(res.rows.count)")
                }
                var flat: [Float] = []
                flat.reserveCapacity(res.logProbs.count)
                for (i, b) in res.rows.enumerated() {
                    guard d[i].count == rowLP[i].count else {
                        throw ModelError("logProbsWithBackward: row \(b) of the gradient has \(d[i].count) values, the row \(rowLP[i].count) log-probs")
                    }
                    flat.append(contentsOf: d[i])
                }
                backward(tape, flatDLogProbs: flat, into: lanePointers[s % lanes])
            } catch { res.error = error }
        }
        addLanes(lanePointers.dropFirst())
        var out = [[Float]](repeating: [], count: sequences.count)
        var outE = [[Float]](repeating: [], count: sequences.count)
        for res in results {
            if let e = res.error { throw e }
            var k = 0
            for b in res.rows {
                let n = sequences[b].count - targetStart[b]
                out[b] = Array(res.logProbs[k..<(k + n)])
                if entropy { outE[b] = Array(res.entropy[k..<(k + n)]) }
                k += n
            }
        }
        return (out, outE)
    }

    /// grads += lane 1, then lane 2, ... (elementwise, in lane order), and
    /// zeroes the lanes for the next pass.
    func addLanes(_ lanes: ArraySlice<UnsafeMutablePointer<Float>>) {
        if lanes.isEmpty { return }
        let g = grads.pointer, n = parameterCount
        let lanes = Array(lanes)
        Parallelism.parallelRanges(n, minChunk: 1 << 15) { range in
            for l in lanes {
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    VectorMath.store(VectorMath.load(g + i) + VectorMath.load(l + i), g + i); i += 8
                }
                while i < range.upperBound { g[i] += l[i]; i += 1 }
                (l + range.lowerBound).update(repeating: 0, count: range.count)
            }
        }
    }

    /// The first `workers` tapes of a pool, growing it (the pool's tapes
    /// keep their buffers from call to call).
    func workerTapes(_ pool: inout [ForwardTape], workers: Int) -> [ForwardTape] {
        while pool.count < workers { pool.append(ForwardTape()) }
        return Array(pool.prefix(workers))
    }
}

/// Set inside TurnGate turns only (so reads and writes are ordered).
final class FailureFlag: @unchecked Sendable {
    var value = false
}
