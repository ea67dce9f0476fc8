import XCTest
@testable import MedR1Lib

/// TRL's further GRPO options against values worked out by hand from the formulas of TRL's
/// GRPOTrainer._compute_loss and _generate_and_score_completions (cited per test).
final class RLLossTypeTests: XCTestCase {
    func assertClose(_ a: [[Float]], _ b: [[Double]], tol: Double = 1e-6, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map(\.count), b.map(\.count), "shape", file: file, line: line)
        for (x, y) in zip(a, b) { for (u, v) in zip(x, y) { XCTAssertEqual(Double(u), v, accuracy: tol, "got \(a), want \(b)", file: file, line: line) } }
    }

    // logp = [[-1, -2], [-0.5]], ratio 1 (one pass), A = [1, -1].
    let lp: [[Float]] = [[-1, -2], [-0.5]]

    /// dapo: loss = sum(per_token_loss * mask) / num_items_in_batch, the active tokens of the
    /// whole accumulated batch. One batch: bnpo's number; a larger global count divides by it.
    func testDAPOLossType() {
        let r = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1],
                                 config: GRPOLossConfig(lossType: .dapo, beta: 0))
        XCTAssertEqual(r.loss, -1.0 / 3.0, accuracy: 1e-12)
        assertClose(r.dLogProbs, [[-1.0 / 3, -1.0 / 3], [1.0 / 3]])
        // This part of a batch of 6 active tokens: (-1 - 1 + 1) / 6.
        let g = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1],
                                 config: GRPOLossConfig(lossType: .dapo, beta: 0, globalTokens: 6))
        XCTAssertEqual(g.loss, -1.0 / 6.0, accuracy: 1e-12)
        assertClose(g.dLogProbs, [[-1.0 / 6, -1.0 / 6], [1.0 / 6]])
    }

    /// cispo: per_token_loss = -clamp(ratio, max=epsilon_high).detach() * A * logp, normalised
    /// as dapo; the gradient wrt logp is the detached coefficient -min(ratio, eps_high) A.
    func testCISPOLossType() {
        // ratio 1 < eps_high 5: coefficient 1. Token losses -A logp: 1*1, 2*1, -0.5; / 3 tokens.
        let r = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1],
                                 config: GRPOLossConfig(lossType: .cispo, epsHigh: 5, beta: 0))
        XCTAssertEqual(r.loss, 2.5 / 3, accuracy: 1e-7)
        assertClose(r.dLogProbs, [[-1.0 / 3, -1.0 / 3], [1.0 / 3]])
        // ratio 2 capped at eps_high 1.5, A 2, logp ln 2 - 1: loss -1.5 * 2 * (ln 2 - 1), gradient -3.
        let x = Float(log(2.0) - 1)
        let c = GRPOLoss.compute(logProbs: [[x]], oldLogProbs: [[-1]], refLogProbs: nil, advantages: [2],
                                 config: GRPOLossConfig(lossType: .cispo, epsHigh: 1.5, beta: 0))
        XCTAssertEqual(c.loss, 0.9205584583201641, accuracy: 1e-6)
        assertClose(c.dLogProbs, [[-3]])
    }

    /// sapo: per_token_loss = -sigmoid(tau (ratio - 1)) * 4 / tau * A, tau = sapo_temperature_pos
    /// for A > 0, _neg otherwise, averaged as grpo; d/dlogp = -A 4 s (1 - s) ratio.
    func testSAPOLossType() {
        // ratio 1: s = 1/2, token loss -2A/tau, gradient -A.
        // Row 0 (A 1, tau 1): -2 per token, mean -2. Row 1 (A -1, tau 1.05): 2/1.05.
        let r = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1],
                                 config: GRPOLossConfig(lossType: .sapo, beta: 0))
        XCTAssertEqual(r.loss, (-2 + 1.9047619047619047) / 2, accuracy: 1e-9)
        assertClose(r.dLogProbs, [[-0.25, -0.25], [0.5]])
        // ratio 2, A 1, tau 1: s = sigmoid(1); loss -4s, gradient -8 s (1 - s).
        let c = GRPOLoss.compute(logProbs: [[Float(log(2.0) - 1)]], oldLogProbs: [[-1]], refLogProbs: nil, advantages: [1],
                                 config: GRPOLossConfig(lossType: .sapo, beta: 0))
        XCTAssertEqual(c.loss, -2.9242343145200196, accuracy: 1e-6)
        assertClose(c.dLogProbs, [[-1.5728954659318548]])
    }

    /// importance_sampling_level "sequence" (GSPO): log_importance_weights =
    /// sum(log_ratio * mask) / mask.sum(), one ratio w per completion, clipped as a token's.
    func testSequenceLevelImportanceSampling() {
        // Token log ratios ln 1.21 and 0: w = exp(ln(1.21) / 2) = 1.1, inside [0.8, 1.2].
        // L = -w A at each token; grpo mean over the tokens -1.1; dw/dlogp_t = w / T, so
        // d(mean_t -w)/dlogp_t = -w / T = -0.55 for each of the two tokens.
        let new: [[Float]] = [[Float(-1 + log(1.21)), -1]], old: [[Float]] = [[-1, -1]]
        var cfg = GRPOLossConfig(lossType: .grpo, beta: 0)
        cfg.importanceSampling = .sequence
        let s = GRPOLoss.compute(logProbs: new, oldLogProbs: old, refLogProbs: nil, advantages: [1], config: cfg)
        XCTAssertEqual(s.loss, -1.1, accuracy: 1e-6)
        assertClose(s.dLogProbs, [[-0.55, -0.55]])
        XCTAssertEqual(s.clipHigh, 0)
        // Token level on the same numbers: ratio 1.21 is clipped (gradient 0), ratio 1 gives -1/2.
        cfg.importanceSampling = .token
        let t = GRPOLoss.compute(logProbs: new, oldLogProbs: old, refLogProbs: nil, advantages: [1], config: cfg)
        XCTAssertEqual(t.loss, (-1.2 - 1) / 2, accuracy: 1e-6)
        assertClose(t.dLogProbs, [[0, -0.5]])
        XCTAssertEqual(t.clipHigh, 0.5)
        // Log ratios ln 1.5 and 0: w = sqrt(1.5) = 1.2247 > 1.2, clipped: loss -1.2, gradient 0;
        // the clip metrics count completions (1 of 1).
        cfg.importanceSampling = .sequence
        let c = GRPOLoss.compute(logProbs: [[Float(-1 + log(1.5)), -1]], oldLogProbs: old, refLogProbs: nil,
                                 advantages: [1], config: cfg)
        XCTAssertEqual(c.loss, -1.2, accuracy: 1e-6)
        assertClose(c.dLogProbs, [[0, 0]])
        XCTAssertEqual(c.clipHigh, 1)
    }

    /// top_entropy_quantile (TRL get_high_entropy_mask): threshold = torch.quantile(entropies of
    /// the kept tokens, 1 - q), linear interpolation; a token counts when entropy >= threshold.
    func testEntropyMask() {
        let e: [[Float]] = [[0.1, 0.5], [0.9], [0.3]]
        // Kept rows' entropies sorted [0.1, 0.5, 0.9]; q 0.5: position 0.5 * 2 = 1 -> 0.5.
        XCTAssertEqual(GRPOLoss.entropyMask(e, mask: [true, true, false], quantile: 0.5), [[false, true], [true], [false]])
        // q 0.2: position 0.8 * 2 = 1.6 -> 0.5 + 0.6 * 0.4 = 0.74.
        XCTAssertEqual(GRPOLoss.entropyMask(e, mask: [true, true, false], quantile: 0.2), [[false, false], [true], [false]])
        // q 1: position 0 -> the smallest, every kept token.
        XCTAssertEqual(GRPOLoss.entropyMask(e, mask: nil, quantile: 1), [[true, true], [true], [true]])
    }

    /// per_token_loss = per_token_loss * entropy_mask, then + beta * per_token_kl: a masked token
    /// keeps its KL term, and the normalisers still count it.
    func testEntropyMaskedLoss() {
        let keep: [[Bool]] = [[false, true], [true]]
        let r = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1], tokenMask: keep,
                                 config: GRPOLossConfig(lossType: .bnpo, beta: 0))
        XCTAssertEqual(r.loss, 0, accuracy: 1e-12)   // (0 - 1 + 1) / 3
        assertClose(r.dLogProbs, [[0, -1.0 / 3], [1.0 / 3]])
        // With beta 0.1 and ref = logp - 0.5 at the masked token: kl = e^-0.5 - 0.5 ... = 0.1065307,
        // its gradient 0.1 (1 - e^-0.5) / 3.
        let k = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: [[-1.5, -2], [-0.5]], advantages: [1, -1],
                                 tokenMask: keep, config: GRPOLossConfig(lossType: .bnpo, beta: 0.1))
        XCTAssertEqual(k.loss, 0.0035510219904211146, accuracy: 1e-9)
        assertClose(k.dLogProbs, [[0.013115644676245554, -1.0 / 3], [1.0 / 3]])
    }

    /// scale_rewards (TRL): "group" divides by the group's std, "batch" by the std of all
    /// rewards (nanstd: N-1), "none" not at all; the mean subtracted is always the group's.
    func testScaleRewardsGroupBatchNone() {
        let rewards: [Double] = [1, 0, 0, 1, 2, 2, 2, 2]
        let g = Advantages.compute(rewards: rewards, group: 4, scaleRewards: .group)
        XCTAssertEqual(g.values[0], 0.8658754297607016, accuracy: 1e-12)
        XCTAssertEqual(g.fracZeroStd, 0.5)
        // Batch: mean 1.25, squared deviations 2 x 0.0625 + 2 x 1.5625 + 4 x 0.5625 = 5.5, std sqrt(5.5/7);
        // A = ±0.5 / (std + 1e-4) in the first group, 0 in the second (its own mean).
        let b = Advantages.compute(rewards: rewards, group: 4, scaleRewards: .batch)
        for (x, y) in zip(b.values, [0.5640124456324701, -0.5640124456324701, -0.5640124456324701, 0.5640124456324701, 0, 0, 0, 0]) {
            XCTAssertEqual(x, y, accuracy: 1e-12)
        }
        XCTAssertEqual(b.fracZeroStd, 0)   // the batch std is not 0
        XCTAssertEqual(b.groupStd[0], (1.0 / 3.0).squareRoot(), accuracy: 1e-12)
        let n = Advantages.compute(rewards: rewards, group: 4, scaleRewards: .none)
        XCTAssertEqual(n.values, [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0])
        XCTAssertEqual(n.fracZeroStd, 0.5)
    }

    /// true and false are accepted for scale_rewards as "group" and "none" (TRL GRPOConfig
    /// __post_init__), in the option table and in a trainer.json written when it was a flag.
    func testScaleRewardsTakesTrueAndFalse() throws {
        var c = GRPOConfig()
        try GRPOConfig.optionRules.apply(["scale_rewards": .flag(false)], to: &c, owner: "grpo")
        XCTAssertEqual(c.scaleRewards, .none)
        try GRPOConfig.optionRules.apply(["scale_rewards": .flag(true)], to: &c, owner: "grpo")
        XCTAssertEqual(c.scaleRewards, .group)
        try GRPOConfig.optionRules.apply(["scale_rewards": .word("batch")], to: &c, owner: "grpo")
        XCTAssertEqual(c.scaleRewards, .batch)
        XCTAssertThrowsError(try GRPOConfig.optionRules.apply(["scale_rewards": .word("all")], to: &c, owner: "grpo")) {
            XCTAssertEqual("\($0)", "grpo: unknown scale_rewards \"all\"; use one of \"group\", \"batch\", \"none\"")
        }
        let old = try JSONDecoder().decode(StoredConfig<GRPOConfig>.self, from: Data(#"{"scaleRewards": false, "group": 4}"#.utf8))
        XCTAssertEqual(old.value.scaleRewards, .none)
        XCTAssertEqual(old.value.group, 4)
        XCTAssertEqual(old.value.importanceSampling, .token)
        XCTAssertEqual(old.value.topEntropyQuantile, 1)
    }

    /// The trainer takes the entropy mask from a forward of the policy before each update:
    /// same rollout (same seed), a different gradient with q 0.5; q 1 is the default step exactly.
    func testTrainerEntropyMaskAndSequenceLevel() throws {
        let spread = Reward(name: "spread") { c in Double(c.groupIndex) }
        func step(_ change: (inout GRPOConfig) -> Void) throws -> (StepMetrics, [[Int]]) {
            var c = RLFixture.grpoConfig()
            change(&c)
            let tok = RLFixture.tokenizer()
            let t = try GRPOTrainer(model: try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1), tokenizer: tok,
                                    dataset: RLFixture.dataset, rewards: [.format, spread], config: c, template: .tiny,
                                    images: RLFixture.images())
            let m = try t.step()
            return (m, t.last!.completions.map(\.tokens))
        }
        let (base, tokens) = try step { _ in }
        let (one, tokens1) = try step { $0.topEntropyQuantile = 1 }
        XCTAssertEqual(tokens1, tokens)
        XCTAssertEqual(one.loss, base.loss)
        XCTAssertEqual(one["grad_norm"], base["grad_norm"])
        let (half, tokensHalf) = try step { $0.topEntropyQuantile = 0.5 }
        XCTAssertEqual(tokensHalf, tokens, "the mask changes the update, not the rollout")
        XCTAssertNotEqual(half["grad_norm"], base["grad_norm"])
        XCTAssertGreaterThan(half["grad_norm"]!, 0)
        let (seq, _) = try step { $0.importanceSampling = .sequence; $0.lossType = .dapo }
        // One pass per rollout: every ratio is 1 at either level; the step runs and updates.
        XCTAssertFalse(seq.loss.isNaN)
        XCTAssertGreaterThan(seq["grad_norm"]!, 0)
    }

    /// dapo with gradient accumulation (TRL: normaliser num_items_in_batch, the active tokens
    /// of the whole accumulated batch, no division by the accumulation steps): two parts
    /// accumulated into one update give the whole rollout's dapo gradient; bnpo, normalised
    /// per part and halved, does not when the parts' token counts differ.
    func testDAPOAccumulatedEqualsWholeBatch() throws {
        let spread = Reward(name: "spread") { c in Double(c.groupIndex) }
        func trainer(_ change: (inout GRPOConfig) -> Void) throws -> GRPOTrainer {
            var c = RLFixture.grpoConfig()
            c.beta = 0
            change(&c)
            let tok = RLFixture.tokenizer()
            return try GRPOTrainer(model: try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1), tokenizer: tok,
                                   dataset: RLFixture.dataset, rewards: [spread], config: c, template: .tiny,
                                   images: RLFixture.images())
        }
        let a = try trainer { $0.lossType = .dapo; $0.stepsPerGeneration = 2; $0.gradientAccumulationSteps = 2 }
        let ma = try a.step()
        let ro = try XCTUnwrap(a.last)
        let b = try trainer { $0.lossType = .dapo }
        let mb = try b.update(with: ro)
        XCTAssertEqual(ma.gradNorm, mb.gradNorm, accuracy: 1e-5 * mb.gradNorm)
        XCTAssertGreaterThan(mb.gradNorm, 0)
        let lengths = ro.completions.map(\.length)
        if lengths[0..<3].reduce(0, +) != lengths[3..<6].reduce(0, +) {
            let c = try trainer { $0.lossType = .bnpo; $0.stepsPerGeneration = 2; $0.gradientAccumulationSteps = 2 }
            let mc = try c.update(with: ro)
            let d = try trainer { $0.lossType = .bnpo }
            XCTAssertNotEqual(mc.gradNorm, try d.update(with: ro).gradNorm, accuracy: 1e-5 * mb.gradNorm)
        }
    }
}
