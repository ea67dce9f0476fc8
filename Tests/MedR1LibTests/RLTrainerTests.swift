import XCTest
import TestSupport
@testable import MedR1Lib

/// A tiny world for trainer tests: a 2-layer d_model 16 model, a byte-level tokenizer with
/// a few merges, a handful of 2-option questions and generated (not PNG) images.
enum RLFixture {
    static let modalities: [Modality] = [.ct, .mri, .xray, .ultrasound]

    static func samples(_ n: Int = 8) -> [Sample] {
        (0..<n).map { i in
            let m = modalities[i % modalities.count]
            let opts = i % 2 == 0 ? ["ct", "mr"] : ["mr", "ct"]
            return Sample(imagePath: "synthetic/\(i).png", question: "m?", options: opts,
                          answerIndex: m == .ct ? opts.firstIndex(of: "ct")! : opts.firstIndex(of: "mr")!,
                          modality: m, questionType: i % 3 == 0 ? .modality : .anatomy,
                          dataset: "Fixture", id: "f\(i)", reasoning: "r")
        }
    }

    static var dataset: Dataset {
        Dataset(name: "Fixture", root: URL(fileURLWithPath: "/nonexistent"), samples: samples())
    }

    static func tokenizer() -> Tokenizer {
        let ds = dataset
        return Tokenizer.train(corpus: ds.corpus(template: .tiny), vocabSize: Tokenizer.firstMergeId + 8)
    }

    static func config(vocab: Int) -> ModelConfig {
        ModelConfig(imageSize: 8, channels: 3, patch: 4, dModel: 16, nHeads: 2, visionLayers: 1, textLayers: 1,
                    mlpRatio: 4, vocabSize: vocab, maxSeq: 64)
    }

    /// Images depend only on the sample's path, so they are the same in every trainer.
    static func images() -> ImageCache {
        ImageCache(imageSize: 8, channels: 3) { s in
            var rng = SplitMix64(seed: UInt64(abs(s.imagePath.hashValue % 1) + s.imagePath.count * 7919
                                             + Int(s.id.dropFirst())! * 104729))
            return (0..<(8 * 8 * 3)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        }
    }

    static func grpoConfig() -> GRPOConfig {
        var c = GRPOConfig()
        c.group = 3
        c.promptsPerStep = 2
        c.maxTokens = 5
        c.learningRate = 1e-2
        c.seed = 7
        return c
    }
}

final class RLTrainerTests: XCTestCase {
    func model(_ tok: Tokenizer, seed: UInt64 = 1) throws -> MedR1Model {
        try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: seed)
    }

    // MARK: - Sampler

    func testSamplerIsDeterministicAndPrefixSharingChangesNothing() throws {
        let tok = RLFixture.tokenizer()
        let m = try model(tok)
        let img = try RLFixture.images().image(for: RLFixture.samples()[0])
        let prompt = RLFixture.dataset.samples[0]
        let p = PromptTemplate.tiny.tokens(for: prompt, tokenizer: tok).prompt
        let cfg = SamplerConfig(temperature: 1, maxTokens: 12)
        var a = Sampler(config: cfg, seed: 42), b = Sampler(config: cfg, seed: 42), c = Sampler(config: cfg, seed: 43)
        let x = try a.sample(model: m, image: img, prompt: p, count: 4, eos: tok.eos)
        let y = try b.sample(model: m, image: img, prompt: p, count: 4, eos: tok.eos, sharePrefix: false)
        let z = try c.sample(model: m, image: img, prompt: p, count: 4, eos: tok.eos)
        XCTAssertEqual(x.map(\.tokens), y.map(\.tokens), "shared prefix vs per-row prefill")
        var worst: Float = 0
        for (u, v) in zip(x, y) { for (p, q) in zip(u.logProbs, v.logProbs) { worst = max(worst, abs(p - q)) } }
        XCTAssertLessThan(worst, 1e-5, "log-probs differ by \(worst)")
        XCTAssertNotEqual(x.map(\.tokens), z.map(\.tokens), "another seed, other completions")
        XCTAssertEqual(a.rng.state, b.rng.state)
        // A random tiny model rarely says eos: rows run to the cap.
        for s in x {
            if s.finishReason == .eos { XCTAssertEqual(s.tokens.last, tok.eos) } else { XCTAssertEqual(s.tokens.count, 12) }
            XCTAssertEqual(s.tokens.dropLast().filter { $0 == tok.eos }.count, 0)
        }
        // Sampled log-probs equal the teacher-forced ones (same temperature).
        let tf = try m.tokenLogProbs(images: x.map { _ in img }, sequences: x.map { p + $0.tokens },
                                     targetStart: x.map { _ in p.count }, temperature: 1, withGrad: false)
        var worstTF: Float = 0
        for (u, v) in zip(x, tf.logProbs) { for (p, q) in zip(u.logProbs, v) { worstTF = max(worstTF, abs(p - q)) } }
        XCTAssertLessThan(worstTF, 1e-4, "sampler vs tokenLogProbs differ by \(worstTF)")
    }

    func testSamplerStopsWhenEveryRowEmittedEOS() throws {
        let tok = RLFixture.tokenizer()
        let m = try model(tok)
        let img = try RLFixture.images().image(for: RLFixture.samples()[0])
        let p = PromptTemplate.tiny.tokens(for: RLFixture.dataset.samples[0], tokenizer: tok).prompt
        // Greedy and top-k 1 pick the same argmax tokens.
        var g = Sampler(config: SamplerConfig(greedy: true, maxTokens: 6), seed: 1)
        var k1 = Sampler(config: SamplerConfig(temperature: 0.7, topK: 1, maxTokens: 6), seed: 99)
        let greedy = try g.sample(model: m, image: img, prompt: p, count: 2, eos: tok.eos)
        let top1 = try k1.sample(model: m, image: img, prompt: p, count: 2, eos: tok.eos)
        XCTAssertEqual(greedy[0].tokens, top1[0].tokens)
        XCTAssertEqual(greedy[0].tokens, greedy[1].tokens)
        // Declare the greedy first token to be "eos": every row stops after one token.
        let first = greedy[0].tokens[0]
        var s = Sampler(config: SamplerConfig(greedy: true, maxTokens: 6), seed: 1)
        let stopped = try s.sample(model: m, image: img, prompt: p, count: 3, eos: first)
        XCTAssertEqual(stopped.map(\.tokens), [[first], [first], [first]])
        XCTAssertEqual(stopped.map(\.finishReason), [.eos, .eos, .eos])
        // stopAtEOS off samples exactly maxTokens.
        var w = Sampler(config: SamplerConfig(greedy: true, maxTokens: 6, stopAtEOS: false), seed: 1)
        XCTAssertEqual(try w.sample(model: m, image: img, prompt: p, count: 1, eos: first)[0].tokens.count, 6)
        // top-p tiny keeps only the most likely token.
        var tp = Sampler(config: SamplerConfig(topP: 1e-6, maxTokens: 6), seed: 5)
        XCTAssertEqual(try tp.sample(model: m, image: img, prompt: p, count: 1, eos: -1)[0].tokens, greedy[0].tokens)
    }

    // MARK: - GRPO loss through the model

    /// d(GRPO loss)/d(weights) from tokenLogProbs + backward against central differences along
    /// the gradient direction and on the largest single coordinates; clipping and KL active.
    func testGRPOLossGradientMatchesFiniteDifferences() throws {
        let cfg = RLFixture.config(vocab: 40)
        let m = try MedR1Model(config: cfg, seed: 3)
        let ref = try MedR1Model(config: cfg, seed: 4)
        let imgs: [[Float]] = (0..<4).map { r in (0..<(8 * 8 * 3)).map { Float(sin(Double($0 * (r + 1)))) } }
        let seqs = [[1, 5, 9, 12, 7, 2], [1, 5, 9, 30, 31], [1, 8, 8, 3, 4, 5, 2], [1, 6, 11]]
        let starts = [3, 3, 3, 2]
        let adv = [1.1, -0.7, 0.4, -1.3]
        let base = try m.tokenLogProbs(images: imgs, sequences: seqs, targetStart: starts, withGrad: false).logProbs
        // logp_old: shifted so ratios are 1.35, 0.74, 1.05, 0.9... (some clipped, none near a boundary)
        let shifts: [Float] = [-0.3, 0.3, -0.05, 0.1]
        let old = base.enumerated().map { i, row in row.map { $0 + shifts[i] } }
        let refLP = try ref.tokenLogProbs(images: imgs, sequences: seqs, targetStart: starts, withGrad: false).logProbs
        for type in GRPOLossType.allCases {
            let lc = GRPOLossConfig(lossType: type, beta: 0.2, maxTokens: 5)
            func lossAt() throws -> Double {
                let lp = try m.tokenLogProbs(images: imgs, sequences: seqs, targetStart: starts, withGrad: false).logProbs
                return GRPOLoss.compute(logProbs: lp, oldLogProbs: old, refLogProbs: refLP, advantages: adv, config: lc).loss
            }
            m.zeroGrad()
            let res = try m.tokenLogProbs(images: imgs, sequences: seqs, targetStart: starts, withGrad: true)
            let l = GRPOLoss.compute(logProbs: res.logProbs, oldLogProbs: old, refLogProbs: refLP, advantages: adv, config: lc)
            XCTAssertGreaterThan(l.clipRegion, 0, "some tokens are clipped")
            try m.backward(res, dLogProbs: l.dLogProbs)
            let g = m.flatGrads
            let norm = Double(g.reduce(0) { $0 + $1 * $1 }).squareRoot()
            XCTAssertGreaterThan(norm, 0)
            let w0 = m.flatValues
            let p = m.parameters[0].values.pointer
            // Directional derivative along g/|g|: should equal |g|.
            let h = 1e-2
            for i in 0..<w0.count { p[i] = w0[i] + Float(h * Double(g[i]) / norm) }
            let lPlus = try lossAt()
            for i in 0..<w0.count { p[i] = w0[i] - Float(h * Double(g[i]) / norm) }
            let lMinus = try lossAt()
            for i in 0..<w0.count { p[i] = w0[i] }
            let fd = (lPlus - lMinus) / (2 * h)
            XCTAssertEqual(fd, norm, accuracy: 2e-2 * norm, "\(type): directional FD \(fd) vs |g| \(norm)")
            // The three largest coordinates one by one.
            let top = g.indices.sorted { abs(g[$0]) > abs(g[$1]) }.prefix(3)
            for i in top {
                let hh: Float = 1e-2
                p[i] = w0[i] + hh; let a = try lossAt()
                p[i] = w0[i] - hh; let b = try lossAt()
                p[i] = w0[i]
                let fdi = (a - b) / Double(2 * hh)
                XCTAssertEqual(fdi, Double(g[i]), accuracy: 3e-2 * abs(Double(g[i])) + 1e-5,
                               "\(type): coordinate \(i): FD \(fdi) vs analytic \(g[i])")
            }
        }
    }

    // MARK: - GRPO trainer

    func makeGRPO(rewards: [Reward] = [.format, .accuracy], config: GRPOConfig = RLFixture.grpoConfig(),
                  tok: Tokenizer? = nil) throws -> GRPOTrainer {
        let tok = tok ?? RLFixture.tokenizer()
        return try GRPOTrainer(model: try model(tok), tokenizer: tok, dataset: RLFixture.dataset, rewards: rewards,
                               config: config, template: .tiny, images: RLFixture.images())
    }

    func testGRPOStepUpdatesModelAndReportsTRLMetrics() throws {
        let lengthReward = Reward(name: "short") { c in -Double(c.length) / 5 }
        let spread = Reward(name: "spread") { c in Double(c.groupIndex) }   // always a reward spread
        let t = try makeGRPO(rewards: [.format, .accuracy, lengthReward, spread])
        let before = t.model.flatValues
        let m = try t.step()
        XCTAssertEqual(m.step, 1)
        for name in ["loss", "reward", "reward_std", "rewards/format/mean", "rewards/accuracy/std", "rewards/short/mean",
                     "frac_reward_zero_std", "kl", "completions/mean_length", "completions/min_length",
                     "completions/max_length", "completions/clipped_ratio", "clip_ratio/low_mean",
                     "clip_ratio/high_mean", "clip_ratio/region_mean", "entropy", "grad_norm", "learning_rate", "seconds"] {
            XCTAssertNotNil(m[name], "metric \(name)")
            XCTAssertFalse(m[name]!.isNaN, "metric \(name) is NaN")
        }
        let ro = try XCTUnwrap(t.last)
        XCTAssertEqual(ro.completions.count, 6)
        XCTAssertEqual(ro.promptCount, 2)
        XCTAssertEqual(ro.rewards.names, ["format", "accuracy", "short", "spread"])
        XCTAssertEqual(m.meanLength, Double(ro.lengths.reduce(0, +)) / 6, accuracy: 1e-12)
        XCTAssertEqual(m["rewards/short/mean"]!, -m.meanLength / 5, accuracy: 1e-12)
        XCTAssertEqual(m["clip_ratio/low_min"]!, m["clip_ratio/low_mean"]!)
        XCTAssertEqual(m["clip_ratio/high_max"]!, m["clip_ratio/high_mean"]!)
        XCTAssertEqual(m.kl, 0, accuracy: 1e-12, "first step: policy == reference")
        XCTAssertEqual(m.learningRate, 1e-2, accuracy: 1e-15)
        let grp = ro.groupOf(1)
        XCTAssertEqual(grp.completions.map(\.promptIndex), [1, 1, 1])
        XCTAssertEqual(grp.advantages.reduce(0, +), 0, accuracy: 1e-9)   // advantages centre each group
        XCTAssertTrue(t.model.flatValues != before, "a step with a reward spread changes the weights")
        XCTAssertEqual(t.history.count, 1)
        let m2 = try t.step()
        XCTAssertGreaterThan(m2.kl, 0, "after an update the policy has left the reference")
        // TRL's terminated lengths: over the completions that ended with <|eos|> (here
        // the last rollout with completions 1 and 4 marked as ended).
        var marked = try XCTUnwrap(t.last)
        marked.completions[1].finishReason = .eos
        marked.completions[4].finishReason = .eos
        for i in [0, 2, 3, 5] { marked.completions[i].finishReason = .length }
        let m3 = try t.update(with: marked)
        let ended = [marked.completions[1].length, marked.completions[4].length].map(Double.init)
        XCTAssertEqual(m3["completions/mean_terminated_length"]!, (ended[0] + ended[1]) / 2, accuracy: 1e-12)
        XCTAssertEqual(m3["completions/min_terminated_length"]!, ended.min()!)
        XCTAssertEqual(m3["completions/max_terminated_length"]!, ended.max()!)
        XCTAssertEqual(m3["completions/clipped_ratio"]!, 4.0 / 6, accuracy: 1e-12)
    }

    /// The trainer's forward + backward runs in chunks of prompt groups; one
    /// group per chunk gives the same loss, KL and gradient norm as the whole
    /// batch in one chunk (float32 order of the gradient sums only).
    func testGRPOChunkedBackwardMatchesOneChunk() throws {
        let spread = Reward(name: "spread") { c in Double(c.groupIndex) }
        let whole = try makeGRPO(rewards: [.format, spread])
        let m1 = try whole.step()
        MedR1Model.trainingChunkPositions = 1
        defer { MedR1Model.trainingChunkPositions = 512 }
        let chunked = try makeGRPO(rewards: [.format, spread])
        let m2 = try chunked.step()
        XCTAssertEqual(chunked.last?.completions.map(\.tokens), whole.last?.completions.map(\.tokens))
        XCTAssertEqual(m2.loss, m1.loss, accuracy: 1e-6 * abs(m1.loss) + 1e-9)
        XCTAssertEqual(m2["grad_norm"]!, m1["grad_norm"]!, accuracy: 1e-5 * m1["grad_norm"]!)
        XCTAssertGreaterThan(m1["grad_norm"]!, 0)
    }

    func testThrowingRewardLeavesModelUnchanged() throws {
        var fail = true
        let flaky = Reward(name: "flaky") { c in
            if fail && c.groupIndex == 2 { throw RLError.invalidConfig("nope") }
            return Double(c.length)
        }
        let t = try makeGRPO(rewards: [.format, flaky])
        let w = t.model.flatValues, moments = t.optimizer.m
        XCTAssertThrowsError(try t.step()) { e in
            XCTAssertTrue(String(describing: e).hasPrefix("reward 'flaky' failed on completion 2 (prompt 0, sample f"),
                          String(describing: e))
        }
        XCTAssertTrue(t.model.flatValues == w)
        XCTAssertTrue(t.optimizer.m == moments)
        XCTAssertEqual(t.stepCount, 0)
        XCTAssertEqual(t.history.count, 0)
        XCTAssertNil(t.last)
        // Fixed, the step is the one a fresh trainer would take (sampler and order rewound).
        fail = false
        let a = try t.step()
        let fresh = try makeGRPO(rewards: [.format, flaky])
        let b = try fresh.step()
        XCTAssertEqual(a.withoutTiming, b.withoutTiming)
        XCTAssertTrue(t.model.flatValues == fresh.model.flatValues)
    }

    func testResumeEqualsUninterrupted() throws {
        var cfg = RLFixture.grpoConfig()
        cfg.numIterations = 2
        cfg.schedule = .warmup(steps: 3)
        let whole = try makeGRPO(config: cfg)
        try whole.train(steps: 3)
        let first = try makeGRPO(config: cfg)
        try first.step()
        let dir = try TestSupport.temporaryDirectory("medr1-rl-resume")
        try first.save(to: dir)
        let resumed = try GRPOTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())
        try resumed.train(steps: 2)
        XCTAssertEqual(resumed.stepCount, 3)
        XCTAssertEqual(resumed.history.steps.map(\.withoutTiming), whole.history.steps.map(\.withoutTiming))
        XCTAssertTrue(resumed.model.flatValues == whole.model.flatValues)
        XCTAssertTrue(resumed.reference.flatValues == whole.reference.flatValues)
        XCTAssertTrue(resumed.optimizer.v == whole.optimizer.v)
        XCTAssertThrowsError(try GRPOTrainer.resume(from: dir, dataset: RLFixture.dataset, rewards: [.format])) { e in
            XCTAssertTrue(String(describing: e).contains("was trained with rewards [\"format\", \"accuracy\"]"), "\(e)")
        }
        XCTAssertThrowsError(try SFTTrainer.resume(from: dir, dataset: RLFixture.dataset)) { e in
            XCTAssertTrue(String(describing: e).hasSuffix("holds a grpo trainer; resume it with GRPOTrainer.resume"), "\(e)")
        }
    }

    func testMaskTruncatedAndShouldStop() throws {
        var cfg = RLFixture.grpoConfig()
        cfg.maskTruncatedCompletions = true
        cfg.maxTokens = 2   // random model: all truncated -> everything masked, no gradient
        let t = try makeGRPO(config: cfg)
        let w = t.model.flatValues
        let m = try t.step()
        XCTAssertEqual(m["completions/clipped_ratio"], 1)
        XCTAssertEqual(m.gradNorm, 0)
        XCTAssertEqual(m.loss, 0)
        XCTAssertTrue(t.model.flatValues == w, "masked completions give no update (AdamW with zero gradient, no decay)")
        var polls = 0
        var seen: [Int] = [], progress: [String] = []
        let ran = try t.train(steps: 10, hooks: TrainingHooks(shouldStop: { polls += 1; return polls > 2 },
                                                              onStep: { seen.append($0.step) },
                                                              progress: { progress.append("\($0)/\($1)") }))
        XCTAssertEqual(ran.count, 2)
        XCTAssertEqual(seen, [2, 3])
        XCTAssertEqual(progress, ["1/10", "2/10"])
    }

    // MARK: - SFT and evaluation

    func testSFTLearnsTheTargetsAndResumes() throws {
        let tok = RLFixture.tokenizer()
        var cfg = SFTConfig()
        cfg.batchSize = 8
        cfg.learningRate = 1e-2
        let t = try SFTTrainer(model: try model(tok), tokenizer: tok, dataset: RLFixture.dataset, config: cfg,
                               template: .tiny, images: RLFixture.images())
        let l0 = try t.loss(on: RLFixture.samples())
        try t.train(steps: 30)
        let l1 = try t.loss(on: RLFixture.samples())
        XCTAssertLessThan(l1, 0.5 * l0, "SFT loss \(l0) -> \(l1)")
        XCTAssertEqual(t.history.series("loss").count, 30)
        var eval = Evaluator(tokenizer: tok, template: .tiny, sampler: SamplerConfig(greedy: true, maxTokens: 12))
        eval.batch = 3
        nonisolated(unsafe) var progress: [String] = []
        eval.onProgress = { done, total, _ in progress.append("\(done)/\(total)") }
        let rep = try eval.evaluate(t.model, on: RLFixture.dataset, images: RLFixture.images())
        XCTAssertEqual(progress, ["3/8", "6/8", "8/8"])
        XCTAssertEqual(rep.accuracy.total, 8)
        XCTAssertEqual(rep.format.total, 8)
        XCTAssertGreaterThanOrEqual(rep.format.rate, 0.75, "\(rep.completions.map(\.text))")
        XCTAssertEqual(rep.byModality.values.reduce(0) { $0 + $1.total }, 8)
        // Save / resume continues identically.
        let dir = try TestSupport.temporaryDirectory("medr1-rl-sft")
        try t.save(to: dir)
        let r = try SFTTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())
        let a = try t.step(), b = try r.step()
        XCTAssertEqual(a.withoutTiming, b.withoutTiming)
        XCTAssertTrue(t.model.flatValues == r.model.flatValues)
    }

    func testAccuracyTables() {
        var a = EvalReport(name: "test", greedy: true, temperature: 1)
        a.byModality = [.ct: Tally(correct: 3, total: 4), .mri: Tally(correct: 1, total: 4)]
        a.byQuestionType = [.modality: Tally(correct: 4, total: 8)]
        a.cells = [.ct: [.modality: Tally(correct: 3, total: 4)], .mri: [.modality: Tally(correct: 1, total: 4)]]
        a.accuracy = Tally(correct: 4, total: 8)
        XCTAssertEqual(a.table.description, """
            test accuracy
                     Modality all     
            CT       0.750    0.750   
            MRI      0.250    0.250   
            all      0.500    0.500   
            """)
        var b = a
        b.byModality = [.xray: Tally(correct: 1, total: 2)]
        let x = AccuracyTable.crossModality([("CT+MRI", a), ("X-Ray", b)])
        XCTAssertEqual(x.columnLabels, ["CT", "MRI", "X-Ray", "mean"])
        XCTAssertEqual(x["CT+MRI", "mean"], 0.5)
        XCTAssertEqual(x["X-Ray", "X-Ray"], 0.5)
        XCTAssertTrue(x["X-Ray", "CT"]!.isNaN)
    }
}
