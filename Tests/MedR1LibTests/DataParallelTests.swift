import XCTest
@testable import MedR1Lib

/// The data-parallel passes: a no-grad forward's chunks and a training
/// pass's shards run on different workers, and the numbers must not depend
/// on the thread count (the shards depend only on the batch; gradients are
/// summed in fixed lanes, in a fixed order).
final class DataParallelTests: XCTestCase {
    static let config = ModelConfig(imageSize: 8, channels: 3, patch: 4, dModel: 32, nHeads: 2, visionLayers: 1,
                                    textLayers: 2, mlpRatio: 4, vocabSize: 40, maxSeq: 48, normEps: 1e-5)
    private var savedThreads = 1

    override func setUp() { savedThreads = Parallelism.threads }
    override func tearDown() {
        Parallelism.setThreads(savedThreads)
        MedR1Model.inferenceChunkPositions = 2048
        MedR1Model.trainingChunkPositions = 512
    }

    /// 11 rows: rows 0-2 share image 1 and the prefix [1, 5, 9] (one prefix
    /// group of three continuations), the rest are rows of their own.
    private func batch() -> (images: [[Float]], seqs: [[Int]], starts: [Int]) {
        var images: [[Float]] = [], seqs: [[Int]] = [], starts: [Int] = []
        var rng = SplitMix64(seed: 99)
        for b in 0..<11 {
            let shared = b < 3
            images.append(CoreModelTests.image(shared ? 1 : UInt64(10 + b), Self.config))
            let len = 4 + Int(rng.next() % 20)
            let tail = (0..<len).map { _ in Int(rng.next() % 40) }
            seqs.append(shared ? [1, 5, 9] + tail : tail)
            starts.append(shared ? 3 : Int(rng.next() % 3))
        }
        return (images, seqs, starts)
    }

    /// The same log-probabilities and entropies, bit for bit, on 1, 2 and 3
    /// threads, with the batch in 5+ chunks; and equal (to float32 rounding)
    /// to the batch in one chunk.
    func testForwardIsIdenticalOnOneTwoThreeThreads() throws {
        let m = try MedR1Model(config: Self.config, seed: 3)
        let b = batch()
        let whole = try m.tokenLogProbs(images: b.images, sequences: b.seqs, targetStart: b.starts, withGrad: false,
                                        entropy: true)
        MedR1Model.inferenceChunkPositions = 30
        let plan = PrefixPlan(images: b.images, sequences: b.seqs, targetStart: b.starts, nPatches: 4)
        XCTAssertGreaterThanOrEqual(m.inferenceChunks(plan.positions).count, 5)
        var first: LogProbResult?
        for t in [1, 2, 3] {
            Parallelism.setThreads(t)
            let r = try m.tokenLogProbs(images: b.images, sequences: b.seqs, targetStart: b.starts, withGrad: false,
                                        entropy: true)
            XCTAssertEqual(r.logProbs.map(\.count), b.seqs.indices.map { b.seqs[$0].count - b.starts[$0] })
            if let f = first {
                XCTAssertEqual(r.logProbs, f.logProbs, "log-probs on \(t) threads")
                XCTAssertEqual(r.entropy, f.entropy, "entropies on \(t) threads")
            } else { first = r }
        }
        XCTAssertLessThan(CoreTest.relativeError(first!.logProbs.flatMap { $0 }, whole.logProbs.flatMap { $0 }), 1e-6)
        XCTAssertLessThan(CoreTest.relativeError(first!.entropy.flatMap { $0 }, whole.entropy.flatMap { $0 }), 1e-6)
    }

    /// A training pass in 6+ shards (more than the 4 gradient lanes): the
    /// gradients are bit-identical on 1, 2 and 3 threads (and on 3 where the
    /// system starts none or one of the extra threads), the callback sees
    /// the same shards in the same order, and the gradients equal the
    /// one-pass backward's to float32 rounding.
    func testTrainingPassIsIdenticalOnOneTwoThreeThreads() throws {
        let b = batch()
        // dL/dlogp: a function of the row and the log-prob (not a constant), as GRPO's is.
        func gradient(_ rows: [Int], _ lps: [[Float]]) -> [[Float]] {
            var out: [[Float]] = []
            for (r, lp) in zip(rows, lps) {
                let scale = Float(r + 1) * 0.01
                out.append(lp.map { (x: Float) -> Float in scale * (Float(exp(Double(x))) - 0.3) })
            }
            return out
        }
        let reference = try MedR1Model(config: Self.config, seed: 3)
        let one = try reference.tokenLogProbs(images: b.images, sequences: b.seqs, targetStart: b.starts, withGrad: true)
        try reference.backward(one, dLogProbs: gradient(Array(b.seqs.indices), one.logProbs))

        MedR1Model.trainingChunkPositions = 30
        let plan = PrefixPlan(images: b.images, sequences: b.seqs, targetStart: b.starts, nPatches: 4)
        XCTAssertGreaterThan(reference.inferenceChunks(plan.positions, size: 30).count, MedR1Model.gradientLanes)
        var firstGrads: [Float]?, firstCalls: [[Int]]?, firstLP: [[Float]]?
        defer { Parallelism.threadStartLimit = .max }
        // The last pass on 3 threads where the system refuses every thread: it runs on one.
        for (t, limit) in [(1, Int.max), (2, Int.max), (3, Int.max), (3, 0), (3, 1)] {
            Parallelism.setThreads(t)
            Parallelism.threadStartLimit = limit
            let m = try MedR1Model(config: Self.config, seed: 3)
            var calls: [[Int]] = []
            let lp = try m.logProbsWithBackward(images: b.images, sequences: b.seqs, targetStart: b.starts) { rows, lps in
                calls.append(rows)
                return gradient(rows, lps)
            }.logProbs
            XCTAssertEqual(calls.flatMap { $0 }.sorted(), Array(b.seqs.indices))
            if let g = firstGrads {
                XCTAssertTrue(m.flatGrads == g, "gradients on \(t) threads differ")
                XCTAssertEqual(calls, firstCalls, "callback order on \(t) threads")
                XCTAssertEqual(lp, firstLP)
            } else {
                firstGrads = m.flatGrads; firstCalls = calls; firstLP = lp
                XCTAssertLessThan(CoreTest.relativeError(m.flatGrads, reference.flatGrads), 1e-5)
                XCTAssertLessThan(CoreTest.relativeError(lp.flatMap { $0 }, one.logProbs.flatMap { $0 }), 1e-6)
            }
        }
    }

    /// A callback that throws in a later shard: the error comes out, later
    /// shards are not called back, and the next pass starts from clean lanes
    /// (its gradients equal a fresh model's).
    func testCallbackErrorStopsThePassAndLeavesTheNextOneClean() throws {
        let b = batch()
        MedR1Model.trainingChunkPositions = 30
        Parallelism.setThreads(2)
        let m = try MedR1Model(config: Self.config, seed: 3)
        var calls = 0
        XCTAssertThrowsError(try m.logProbsWithBackward(images: b.images, sequences: b.seqs, targetStart: b.starts) { _, lps in
            calls += 1
            if calls == 3 { throw ModelError("stop here") }
            return lps.map { $0.map { _ in 0.1 } }
        }) { XCTAssertEqual($0 as? ModelError, ModelError("stop here")) }
        XCTAssertEqual(calls, 3)
        m.zeroGrad()
        let fresh = try MedR1Model(config: Self.config, seed: 3)
        for model in [m, fresh] {
            _ = try model.logProbsWithBackward(images: b.images, sequences: b.seqs, targetStart: b.starts) { _, lps in
                lps.map { $0.map { _ in 0.1 } }
            }
        }
        XCTAssertTrue(m.flatGrads == fresh.flatGrads)
    }

    /// SFT steps (loss, grad norm, weights) are bit-identical on 1, 2 and 3
    /// threads with the batch in several shards.
    func testSFTStepsAreIdenticalOnOneTwoThreeThreads() throws {
        let tok = RLFixture.tokenizer()
        MedR1Model.trainingChunkPositions = 20
        var first: ([Double], [Double], [Float])?
        for t in [1, 2, 3] {
            Parallelism.setThreads(t)
            var c = SFTConfig()
            c.batchSize = 8
            c.learningRate = 1e-2
            let trainer = try SFTTrainer(model: MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1),
                                         tokenizer: tok, dataset: RLFixture.dataset, config: c, template: .tiny,
                                         images: RLFixture.images())
            let steps = try trainer.train(steps: 2)
            let got = (steps.map(\.loss), steps.map { $0["grad_norm"]! }, trainer.model.flatValues)
            if let f = first {
                XCTAssertEqual(got.0, f.0, "losses on \(t) threads")
                XCTAssertEqual(got.1, f.1, "grad norms on \(t) threads")
                XCTAssertTrue(got.2 == f.2, "weights on \(t) threads differ")
            } else {
                first = got
                XCTAssertLessThan(got.0[1], got.0[0])
            }
        }
    }
}
