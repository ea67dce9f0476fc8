import XCTest
@testable import MedR1Lib

/// Rows that share an image and the tokens before targetStart (a prompt's G
/// completions) are packed as one prefix with a continuation per row. The
/// log-probabilities and gradients must be those of computing every row on
/// its own (float32 reordering only), and the continuation attention must
/// match finite differences.
final class PrefixSharingTests: XCTestCase {
    static let config = ModelConfig(imageSize: 8, channels: 3, patch: 4, dModel: 16, nHeads: 2, visionLayers: 1,
                                    textLayers: 2, mlpRatio: 4, vocabSize: 40, maxSeq: 32, normEps: 1e-5)

    /// Two prompts of 3 completions, one lone row, and a row with prompt 0's
    /// tokens but another image (so it shares nothing); rows interleaved.
    private func batch() -> (images: [[Float]], seqs: [[Int]], starts: [Int]) {
        let a = CoreModelTests.image(1, Self.config), b = CoreModelTests.image(2, Self.config)
        let c = CoreModelTests.image(3, Self.config)
        let pa = [1, 5, 9], pb = [1, 7]
        let images = [a, a, b, a, c, b, b, c]
        let seqs = [pa + [3, 39, 0, 2], pa + [4], pb + [11, 12, 13, 14, 15, 16, 17], pa + [3, 38],
                    [1, 2, 3, 4, 5], pb + [2], pb + [20, 21, 22], pa + [3, 39]]
        return (images, seqs, [3, 3, 2, 3, 1, 2, 2, 3])
    }

    func testPlanGroupsRowsWithTheSameImageAndPrefix() {
        let x = batch()
        let plan = PrefixPlan(images: x.images, sequences: x.seqs, targetStart: x.starts, nPatches: 4)
        XCTAssertEqual(plan.groups, [[0, 1, 3], [2, 5, 6], [4], [7]])
        // 4 + 3 + (4 + 1 + 2); 4 + 2 + (7 + 1 + 3); 4 + 5; 4 + 5.
        XCTAssertEqual(plan.positions, [14, 17, 9, 9])
    }

    /// Images that differ only in a value the key's hash does not sample are
    /// still different images (no shared prefix, no shared vision pass).
    func testImagesDifferingInOneUnsampledValueAreNotShared() {
        let a = CoreModelTests.image(1, Self.config)
        var b = a
        b[5] += 0.5  // 192 values: the hash samples 0, 12, 24, ...
        XCTAssertEqual(ImageKey(a).hashValue, ImageKey(b).hashValue)
        XCTAssertNotEqual(ImageKey(a), ImageKey(b))
        let plan = PrefixPlan(images: [a, b, a], sequences: [[1, 2, 3], [1, 2, 4], [1, 2, 5]], targetStart: [2, 2, 2],
                              nPatches: 4)
        XCTAssertEqual(plan.groups, [[0, 2], [1]])
    }

    /// Shared packing == each row alone, for log-probs, entropies and every
    /// parameter gradient; with several causal blocks per continuation.
    func testSharedPrefixMatchesRowsComputedAlone() throws {
        let savedBlock = Attention.causalBlock
        Attention.causalBlock = 2
        defer { Attention.causalBlock = savedBlock }
        let m = try MedR1Model(config: Self.config, seed: 4)
        for p in m.parameters where !p.name.hasSuffix("weight") || p.name.contains("attn") || p.name.contains("mlp") {
            for i in 0..<p.count { p.value[i] *= 5 }  // larger weights: attention far from uniform
        }
        let x = batch()
        let wts = x.seqs.indices.map { CoreTest.random(x.seqs[$0].count - x.starts[$0], seed: UInt64(40 + $0)) }
        m.zeroGrad()
        let shared = try m.tokenLogProbs(images: x.images, sequences: x.seqs, targetStart: x.starts, temperature: 0.9,
                                         withGrad: true, entropy: true)
        try m.backward(shared, dLogProbs: wts)
        let sharedGrads = m.flatGrads
        m.zeroGrad()
        var alone: [[Float]] = [], aloneE: [[Float]] = []
        for b in x.seqs.indices {
            let r = try m.tokenLogProbs(images: [x.images[b]], sequences: [x.seqs[b]], targetStart: [x.starts[b]],
                                        temperature: 0.9, withGrad: true, entropy: true)
            try m.backward(r, dLogProbs: [wts[b]])
            alone.append(r.logProbs[0]); aloneE.append(r.entropy[0])
        }
        XCTAssertEqual(shared.logProbs.map(\.count), [4, 1, 7, 2, 4, 1, 3, 2])
        XCTAssertLessThan(CoreTest.relativeError(shared.logProbs.flatMap { $0 }, alone.flatMap { $0 }), 1e-6)
        XCTAssertLessThan(CoreTest.relativeError(shared.entropy.flatMap { $0 }, aloneE.flatMap { $0 }), 1e-6)
        XCTAssertLessThan(CoreTest.relativeError(sharedGrads, m.flatGrads), 1e-5)
        // Without grad (chunked into groups or not) the same values.
        MedR1Model.inferenceChunkPositions = 15
        defer { MedR1Model.inferenceChunkPositions = 2048 }
        let chunked = try m.tokenLogProbs(images: x.images, sequences: x.seqs, targetStart: x.starts, temperature: 0.9,
                                          withGrad: false)
        XCTAssertLessThan(CoreTest.relativeError(chunked.logProbs.flatMap { $0 }, alone.flatMap { $0 }), 1e-6)
    }

    /// Whole-model gradient of a shared batch against finite differences.
    func testSharedPrefixGradientMatchesFiniteDifferences() throws {
        let m = try MedR1Model(config: Self.config, seed: 3)
        for p in m.parameters where !p.name.hasSuffix("norm1.weight") && !p.name.hasSuffix("norm2.weight") && !p.name.hasSuffix("norm.weight") {
            for i in 0..<p.count { p.value[i] *= 5 }
        }
        let x = batch()
        let wts = x.seqs.indices.map { CoreTest.random(x.seqs[$0].count - x.starts[$0], seed: UInt64(60 + $0)) }
        func loss() -> Double {
            let r = try! m.tokenLogProbs(images: x.images, sequences: x.seqs, targetStart: x.starts, temperature: 0.9,
                                         withGrad: false)
            return CoreTest.dot(r.logProbs.flatMap { $0 }, wts.flatMap { $0 })
        }
        m.zeroGrad()
        let r = try m.tokenLogProbs(images: x.images, sequences: x.seqs, targetStart: x.starts, temperature: 0.9,
                                    withGrad: true)
        try m.backward(r, dLogProbs: wts)
        let analytic = m.flatGrads
        var indices: [Int] = []
        var rng = SplitMix64(seed: 98)
        for p in m.parameters { for _ in 0..<3 { indices.append(p.offset + Int(rng.next() % UInt64(p.count))) } }
        // text.pos rows reached only through continuation rows: 10 (rows 0 and 2), 12 (row 2).
        let pos = m.parameter(named: "text.pos")!
        indices += [pos.offset + 10 * 16 + 2, pos.offset + 12 * 16 + 7]
        let x0 = m.flatValues
        CoreTest.checkGradient("shared prefix", x: x0, analytic: analytic, indices: indices, eps: 5e-3, tolerance: 2e-3) { v in
            m.values.pointer.update(from: v, count: v.count)
            return loss()
        }
    }

    /// The continuation attention alone: outputs against a naive softmax
    /// over [prefix keys, own keys 0...i], and its gradient (including the
    /// prefix's dK, dV summed over two continuations) against finite differences.
    func testContinuationAttention() {
        let savedBlock = Attention.causalBlock
        Attention.causalBlock = 2
        defer { Attention.causalBlock = savedBlock }
        let d = 8, heads = 2, dh = 4
        // A plain row (2), a root (3) with continuations of 5 and 1 rows, another plain row (2).
        let layout = PackedLayout(lengths: [2, 3, 5, 1, 2], heads: heads, parents: [-1, -1, 1, 1, -1])
        XCTAssertEqual(layout.roots, [0, 1, 4])
        XCTAssertEqual(layout.children, [[], [2, 3], [], [], []])
        XCTAssertEqual(layout.probTotal, heads * (4 + 9 + 5 * 8 + 1 * 4 + 4))
        let S = layout.total
        let qkv = CoreTest.random(S * 3 * d, seed: 21, scale: 2)
        let r = CoreTest.random(S * d, seed: 22)
        func run(_ qkv: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: S * d), p = [Float](repeating: 0, count: layout.probTotal)
            Attention.forward(qkv: qkv, y: &y, probs: &p, layout: layout, heads: heads, d: d, causal: true)
            return y
        }
        let y = run(qkv)
        // Continuation 2 (rows 5..<10), its row i = 3, head 1: keys = root rows 2, 3, 4 and own rows 5...8.
        let h = 1, qRow = 5 + 3
        let keyRows = [2, 3, 4, 5, 6, 7, 8]
        var s: [Double] = []
        for j in keyRows {
            var dot = 0.0
            for k in 0..<dh { dot += Double(qkv[qRow * 3 * d + h * dh + k] * qkv[j * 3 * d + d + h * dh + k]) }
            s.append(dot / 2)
        }
        let mx = s.max()!
        let e = s.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
        for k in 0..<dh {
            var o = 0.0
            for (n, j) in keyRows.enumerated() { o += e[n] / z * Double(qkv[j * 3 * d + 2 * d + h * dh + k]) }
            XCTAssertEqual(Double(y[qRow * d + h * dh + k]), o, accuracy: 1e-5, "output \(k)")
        }
        var p = [Float](repeating: 0, count: layout.probTotal), yy = [Float](repeating: 0, count: S * d)
        Attention.forward(qkv: qkv, y: &yy, probs: &p, layout: layout, heads: heads, d: d, causal: true)
        var dq = [Float](repeating: .nan, count: S * 3 * d)  // every entry must be written
        Attention.backward(qkv: qkv, probs: p, dy: r, dqkv: &dq, layout: layout, heads: heads, d: d, causal: true,
                           scratch: FloatBuffer())
        XCTAssertFalse(dq.contains { $0.isNaN })
        CoreTest.checkGradient("continuation attention", x: qkv, analytic: dq, eps: 1e-3) { CoreTest.dot(run($0), r) }
    }

    /// logProbsWithBackward in chunks of whole groups (here 4 chunks) gives
    /// the log-probs and gradients of one tokenLogProbs + backward pass;
    /// the gradient callback sees each row once, in chunks of whole groups.
    func testChunkedBackwardMatchesOnePass() throws {
        let m = try MedR1Model(config: Self.config, seed: 6)
        let x = batch()
        let wts = x.seqs.indices.map { CoreTest.random(x.seqs[$0].count - x.starts[$0], seed: UInt64(80 + $0)) }
        m.zeroGrad()
        let one = try m.tokenLogProbs(images: x.images, sequences: x.seqs, targetStart: x.starts, temperature: 1.1,
                                      withGrad: true, entropy: true)
        try m.backward(one, dLogProbs: wts)
        let oneGrads = m.flatGrads
        MedR1Model.trainingChunkPositions = 9
        defer { MedR1Model.trainingChunkPositions = 512 }
        m.zeroGrad()
        var seen: [[Int]] = []
        let chunked = try m.logProbsWithBackward(images: x.images, sequences: x.seqs, targetStart: x.starts,
                                                 temperature: 1.1, entropy: true) { rows, lps in
            seen.append(rows)
            XCTAssertEqual(lps.map(\.count), rows.map { x.seqs[$0].count - x.starts[$0] })
            return rows.map { wts[$0] }
        }
        XCTAssertEqual(seen, [[0, 1, 3], [2, 5, 6], [4], [7]])
        XCTAssertLessThan(CoreTest.relativeError(chunked.logProbs.flatMap { $0 }, one.logProbs.flatMap { $0 }), 1e-6)
        XCTAssertLessThan(CoreTest.relativeError(chunked.entropy.flatMap { $0 }, one.entropy.flatMap { $0 }), 1e-6)
        XCTAssertLessThan(CoreTest.relativeError(m.flatGrads, oneGrads), 1e-5)
        // A gradient of the wrong shape is an error naming the row.
        XCTAssertThrowsError(try m.logProbsWithBackward(images: x.images, sequences: x.seqs, targetStart: x.starts) { rows, lps in
            lps.map { [Float](repeating: 0, count: $0.count + 1) }
        }) { error in
            XCTAssertEqual(error as? ModelError,
                           ModelError("logProbsWithBackward: row 0 of the gradient has 5 values, the row 4 log-probs"))
        }
    }
}
