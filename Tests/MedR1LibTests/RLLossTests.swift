import XCTest
@testable import MedR1Lib

/// Advantages, the three loss types, every clip case and the KL term against values worked
/// out by hand from docs/model.md's formulas.
final class RLLossTests: XCTestCase {
    func assertClose(_ a: [[Float]], _ b: [[Double]], tol: Double = 1e-6, _ msg: String = "",
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map(\.count), b.map(\.count), "shape " + msg, file: file, line: line)
        var worst = 0.0
        for (x, y) in zip(a, b) { for (u, v) in zip(x, y) { worst = max(worst, abs(Double(u) - v)) } }
        XCTAssertLessThanOrEqual(worst, tol, "largest difference \(worst) \(msg): got \(a), want \(b)", file: file, line: line)
    }

    func testAdvantages() {
        // Group [1, 0, 0, 1]: mean 0.5, N-1 std sqrt(1/3); A = ±0.5 / (0.57735 + 1e-4).
        // Group [2, 2, 2, 2]: std 0, A = 0, counted in frac_reward_zero_std.
        let a = Advantages.compute(rewards: [1, 0, 0, 1, 2, 2, 2, 2], group: 4, scaleRewards: true)
        let k = 0.8658754297607016
        for (x, y) in zip(a.values, [k, -k, -k, k, 0, 0, 0, 0]) { XCTAssertEqual(x, y, accuracy: 1e-12) }
        XCTAssertEqual(a.groupMean, [0.5, 2])
        XCTAssertEqual(a.groupStd[0], (1.0 / 3.0).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(a.fracZeroStd, 0.5)
        // [0, 1, 2]: mean 1, std 1 -> ±1/1.0001.
        let b = Advantages.compute(rewards: [0, 1, 2], group: 3, scaleRewards: true)
        XCTAssertEqual(b.values[0], -0.9999000099990001, accuracy: 1e-12)
        XCTAssertEqual(b.values[2], 0.9999000099990001, accuracy: 1e-12)
        // scale_rewards off: r - mean.
        let c = Advantages.compute(rewards: [0, 1, 2, 3, 3, 3], group: 3, scaleRewards: false)
        XCTAssertEqual(c.values, [-1, 0, 1, 0, 0, 0])
        XCTAssertEqual(c.fracZeroStd, 0.5)
    }

    // logp = [[-1, -2], [-0.5]], ratio 1 (one pass), A = [1, -1], beta 0.
    // Per-token L = -A: completion 0 tokens -1, -1; completion 1 token +1.
    let lp: [[Float]] = [[-1, -2], [-0.5]]

    func testGRPOLossType() {
        let r = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1],
                                 config: GRPOLossConfig(lossType: .grpo, beta: 0))
        // mean_i mean_t: (-1 + 1) / 2 = 0; d = -A / (T_i * n)
        XCTAssertEqual(r.loss, 0, accuracy: 1e-12)
        assertClose(r.dLogProbs, [[-0.25, -0.25], [0.5]])
        XCTAssertEqual(r.tokens, 3)
        XCTAssertEqual(r.kl, 0)
    }

    func testBNPOLossType() {
        let r = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1],
                                 config: GRPOLossConfig(lossType: .bnpo, beta: 0))
        // (-1 - 1 + 1) / 3 tokens
        XCTAssertEqual(r.loss, -1.0 / 3.0, accuracy: 1e-12)
        assertClose(r.dLogProbs, [[-1.0 / 3, -1.0 / 3], [1.0 / 3]])
    }

    func testDrGRPOLossType() {
        let r = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1],
                                 config: GRPOLossConfig(lossType: .drGRPO, beta: 0, maxTokens: 4))
        // -1 / (2 completions * 4)
        XCTAssertEqual(r.loss, -0.125, accuracy: 1e-12)
        assertClose(r.dLogProbs, [[-0.125, -0.125], [0.125]])
    }

    func testEachClipCase() {
        // One token per completion, logp - logp_old = ln(ratio); bnpo over 5 tokens.
        //  ratio 1.5 A +1: min(1.5, 1.2) = 1.2 clipped high -> L -1.2, grad 0
        //  ratio 1.5 A -1: min(-1.5, -1.2) = -1.5 unclipped   -> L  1.5, grad -ratio A = 1.5
        //  ratio 0.5 A -1: min(-0.5, -0.8) = -0.8 clipped low -> L  0.8, grad 0
        //  ratio 0.5 A +1: min(0.5, 0.8) = 0.5 unclipped      -> L -0.5, grad -0.5
        //  ratio 1.1 A +2: inside the range                   -> L -2.2, grad -2.2
        let ratios = [1.5, 1.5, 0.5, 0.5, 1.1], adv = [1.0, -1, -1, 1, 2]
        let old: [[Float]] = ratios.map { _ in [-1] }
        let new: [[Float]] = ratios.map { [Float(-1 + log($0))] }
        let r = GRPOLoss.compute(logProbs: new, oldLogProbs: old, refLogProbs: nil, advantages: adv,
                                 config: GRPOLossConfig(lossType: .bnpo, beta: 0))
        XCTAssertEqual(r.loss, (-1.2 + 1.5 + 0.8 - 0.5 - 2.2) / 5, accuracy: 1e-6)
        assertClose(r.dLogProbs, [[0], [0.3], [0], [-0.1], [-0.44]], tol: 1e-6)
        XCTAssertEqual(r.clipHigh, 0.2, accuracy: 1e-12)
        XCTAssertEqual(r.clipLow, 0.2, accuracy: 1e-12)
        XCTAssertEqual(r.clipRegion, 0.4, accuracy: 1e-12)
    }

    func testTwoSidedClippingCapsTheRatioAtDelta() {
        // One token per completion, logp_old 0, eps 0.2, bnpo over 4 tokens; delta 2:
        //  ratio 3   A -1: min(min(3, 2) (-1), 1.2 (-1)) = -2, capped  -> L  2,   grad 0
        //  ratio 1.5 A -1: min(-1.5, -1.2) = -1.5, below delta         -> L  1.5, grad -ratio A = 1.5
        //  ratio 3   A +1: min(2, 1.2) = 1.2, clipped high             -> L -1.2, grad 0
        //  ratio 0.5 A +1: min(0.5, 0.8) = 0.5                         -> L -0.5, grad -0.5
        // Without delta the first is L 3, grad 3 (the ratio is unbounded for A < 0).
        let ratios = [3.0, 1.5, 3, 0.5], adv = [-1.0, -1, 1, 1]
        let new: [[Float]] = ratios.map { [Float(log($0))] }, old: [[Float]] = ratios.map { _ in [0] }
        let two = GRPOLoss.compute(logProbs: new, oldLogProbs: old, refLogProbs: nil, advantages: adv,
                                   config: GRPOLossConfig(lossType: .bnpo, delta: 2, beta: 0))
        XCTAssertEqual(two.loss, (2 + 1.5 - 1.2 - 0.5) / 4, accuracy: 1e-6)
        assertClose(two.dLogProbs, [[0], [0.375], [0], [-0.125]], tol: 1e-6)
        let one = GRPOLoss.compute(logProbs: new, oldLogProbs: old, refLogProbs: nil, advantages: adv,
                                   config: GRPOLossConfig(lossType: .bnpo, beta: 0))
        XCTAssertEqual(one.loss, (3 + 1.5 - 1.2 - 0.5) / 4, accuracy: 1e-6)
        assertClose(one.dLogProbs, [[0.75], [0.375], [0], [-0.125]], tol: 1e-6)
        // The trainer's setting reaches the loss; off by default, as TRL's delta: None.
        var c = GRPOConfig()
        XCTAssertEqual(c.loss.delta, 0)
        c.delta = 2
        XCTAssertEqual(c.loss, GRPOLossConfig(lossType: .grpo, epsLow: 0.2, epsHigh: 0.2, delta: 2, beta: 0.04, maxTokens: 64))
        XCTAssertEqual(GRPOConfig.optionRules.rule("delta")?.value(in: c), 2)
    }

    func testOptionsNameTheirTRLCounterparts() {
        let grpo = GRPOConfig.optionRules
        XCTAssertEqual(grpo.rule("group")?.trl, "num_generations")
        XCTAssertEqual(grpo.rule("eps_low")?.trl, "epsilon")
        XCTAssertEqual(grpo.rule("max_tokens")?.trl, "max_completion_length")
        XCTAssertEqual(grpo.rule("adam_eps")?.trl, "adam_epsilon")
        XCTAssertNil(grpo.rule("prompts")?.trl, "prompts per step is a product of TRL's batch settings, not one of them")
        let names = grpo.compactMap(\.trl)
        XCTAssertEqual(names.count, Set(names).count, "two options claim the same TRL name")
        XCTAssertEqual(Evaluator.optionRules.rule("top_p")?.trl, "top_p", "a lifted rule keeps its TRL name")
    }

    func testAsymmetricClip() {
        // ratio 1.25, A +1: clipped with eps_high 0.2, inside with eps_high 0.28 (DAPO).
        let new: [[Float]] = [[Float(log(1.25))]], old: [[Float]] = [[0]]
        let tight = GRPOLoss.compute(logProbs: new, oldLogProbs: old, refLogProbs: nil, advantages: [1],
                                     config: GRPOLossConfig(epsLow: 0.2, epsHigh: 0.2, beta: 0))
        XCTAssertEqual(tight.loss, -1.2, accuracy: 1e-6)
        XCTAssertEqual(tight.dLogProbs[0][0], 0)
        let wide = GRPOLoss.compute(logProbs: new, oldLogProbs: old, refLogProbs: nil, advantages: [1],
                                    config: GRPOLossConfig(epsLow: 0.2, epsHigh: 0.28, beta: 0))
        XCTAssertEqual(wide.loss, -1.25, accuracy: 1e-6)
        XCTAssertEqual(Double(wide.dLogProbs[0][0]), -1.25, accuracy: 1e-6)
        XCTAssertEqual(wide.clipHigh, 0)
        // ratio 0.75, A -1: clipped low with eps_low 0.2 (0.75 < 0.8), inside with eps_low 0.3.
        let n2: [[Float]] = [[Float(log(0.75))]]
        let lowTight = GRPOLoss.compute(logProbs: n2, oldLogProbs: old, refLogProbs: nil, advantages: [-1],
                                        config: GRPOLossConfig(epsLow: 0.2, beta: 0))
        XCTAssertEqual(lowTight.loss, 0.8, accuracy: 1e-6)
        XCTAssertEqual(lowTight.clipLow, 1)
        let lowWide = GRPOLoss.compute(logProbs: n2, oldLogProbs: old, refLogProbs: nil, advantages: [-1],
                                       config: GRPOLossConfig(epsLow: 0.3, beta: 0))
        XCTAssertEqual(lowWide.loss, 0.75, accuracy: 1e-6)
        XCTAssertEqual(Double(lowWide.dLogProbs[0][0]), 0.75, accuracy: 1e-6)
    }

    func testKLTerm() {
        // logp -1, ref -1.5, A 0, beta 0.1: kl = e^-0.5 + 0.5 - 1; dL/dlogp = beta (1 - e^-0.5)
        let r = GRPOLoss.compute(logProbs: [[-1]], oldLogProbs: nil, refLogProbs: [[-1.5]], advantages: [0],
                                 config: GRPOLossConfig(beta: 0.1))
        XCTAssertEqual(r.kl, 0.10653065971263342, accuracy: 1e-7)
        XCTAssertEqual(r.loss, 0.010653065971263342, accuracy: 1e-8)
        XCTAssertEqual(Double(r.dLogProbs[0][0]), 0.03934693402873666, accuracy: 1e-8)
        // beta 0 ignores the reference entirely.
        let z = GRPOLoss.compute(logProbs: [[-1]], oldLogProbs: nil, refLogProbs: [[-1.5]], advantages: [0],
                                 config: GRPOLossConfig(beta: 0))
        XCTAssertEqual(z.kl, 0)
        XCTAssertEqual(z.loss, 0)
    }

    func testMaskedCompletionCountsAsZeroInGRPOMean() {
        let r = GRPOLoss.compute(logProbs: lp, oldLogProbs: nil, refLogProbs: nil, advantages: [1, -1],
                                 mask: [true, false], config: GRPOLossConfig(beta: 0))
        // completion 0 mean -1, completion 1 masked (0), mean over 2 completions
        XCTAssertEqual(r.loss, -0.5, accuracy: 1e-12)
        assertClose(r.dLogProbs, [[-0.25, -0.25], [0]])
        XCTAssertEqual(r.tokens, 2)
    }

    /// The analytic dL/dlogp against central differences of the loss, for all loss types,
    /// with clipping and KL active (points chosen away from the clip boundaries).
    func testGradientMatchesFiniteDifferences() {
        let new: [[Double]] = [[-1.0, -2.3, -0.4], [-0.9, -1.6], [-3.0]]
        let old: [[Float]] = [[-1.3, -2.0, -0.45], [-0.5, -1.62], [-2.9]]
        let ref: [[Float]] = [[-1.1, -2.5, -0.3], [-1.0, -1.5], [-3.2]]
        let adv = [0.7, -1.2, 0.4]
        for type in GRPOLossType.allCases {
            let cfg = GRPOLossConfig(lossType: type, beta: 0.3, maxTokens: 5)
            func loss(_ x: [[Double]]) -> Double {
                GRPOLoss.compute(logProbs: x.map { $0.map(Float.init) }, oldLogProbs: old, refLogProbs: ref,
                                 advantages: adv, config: cfg).loss
            }
            let g = GRPOLoss.compute(logProbs: new.map { $0.map(Float.init) }, oldLogProbs: old,
                                     refLogProbs: ref, advantages: adv, config: cfg).dLogProbs
            var fd: [[Double]] = new.map { $0.map { _ in 0 } }
            let h = 1e-2
            for i in new.indices { for t in new[i].indices {
                var p = new, m = new
                p[i][t] += h; m[i][t] -= h
                fd[i][t] = (loss(p) - loss(m)) / (2 * h)
            } }
            // Float inputs and a smooth-but-curved exp: second-order error ~h^2, so 2e-4 is ample.
            assertClose(g, fd, tol: 2e-4, "\(type)")
            // Completion 1 token 0 is clipped low (ratio 0.67, A < 0): only its KL gradient remains.
            XCTAssertNotEqual(g[1][0], 0)
        }
    }
}
