import XCTest
import TestSupport
@testable import MedR1Lib

/// The Trainer protocol and its loop, rollout assembly and rescoring, changing a live
/// trainer's rewards, training on a rescored rollout, steps_per_generation and the
/// reference sync: all without the language.
final class TrainerLoopTests: XCTestCase {
    let tok = RLFixture.tokenizer()

    func model(seed: UInt64 = 1) throws -> MedR1Model {
        try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: seed)
    }

    func grpo(rewards: [Reward] = [.format, .accuracy], _ change: (inout GRPOConfig) -> Void = { _ in }) throws -> GRPOTrainer {
        var c = RLFixture.grpoConfig()
        change(&c)
        return try GRPOTrainer(model: try model(), tokenizer: tok, dataset: RLFixture.dataset, rewards: rewards, config: c,
                               template: .tiny, images: RLFixture.images())
    }

    func sft() throws -> SFTTrainer {
        var c = SFTConfig()
        c.batchSize = 4
        return try SFTTrainer(model: try model(), tokenizer: tok, dataset: RLFixture.dataset, config: c, template: .tiny,
                              images: RLFixture.images())
    }

    /// Group p's rewards [1, 0, 0] from the first completion of every group.
    let first = Reward(name: "first") { c in c.groupIndex == 0 ? 1 : 0 }

    // MARK: - Trainer protocol and loop

    func testLoopStopsOnTheHookForEitherKind() throws {
        for t in [try sft(), try grpo()] as [any Trainer] {
            var polls = 0, seen: [Int] = [], progress: [String] = []
            let done = try t.train(steps: 5, hooks: TrainingHooks(shouldStop: { polls += 1; return polls > 2 },
                                                                 onStep: { seen.append($0.step) },
                                                                 progress: { progress.append("\($0)/\($1)") }))
            XCTAssertEqual(done.map(\.step), [1, 2], t.mode)
            XCTAssertEqual(seen, [1, 2])
            XCTAssertEqual(progress, ["1/5", "2/5"])
            XCTAssertEqual(polls, 3)
            XCTAssertEqual(t.stepCount, 2)
            XCTAssertEqual(t.history.count, 2)
            XCTAssertEqual(done.map(\.mode), [t.mode, t.mode])
        }
    }

    func testLoopPassesOnAHookErrorAfterItsStep() throws {
        struct Full: Error {}
        let t = try sft()
        XCTAssertThrowsError(try t.train(steps: 3, hooks: TrainingHooks(onStep: { _ in throw Full() }))) { XCTAssertTrue($0 is Full) }
        XCTAssertEqual(t.stepCount, 1)
    }

    /// A step abandoned between the shards of its training pass (the loop's shouldAbort,
    /// a second Ctrl-C) throws `RLError.aborted` and changes nothing: the next steps give
    /// what a trainer that never aborted gives, weights bit for bit.
    func testAbortMidStepChangesNothingForEitherKind() throws {
        for (t, twin) in [(try sft(), try sft()), (try grpo(), try grpo())] as [(any Trainer, any Trainer)] {
            try t.train(steps: 1); try twin.train(steps: 1)
            var polls = 0
            XCTAssertThrowsError(try t.train(steps: 3, hooks: TrainingHooks(shouldAbort: { polls += 1; return true }))) {
                XCTAssertEqual($0 as? RLError, .aborted("\(t.mode): step 2 aborted; nothing was applied"))
            }
            XCTAssertEqual(polls, 1, "the pass stops at the first shard that sees the abort")
            XCTAssertEqual(t.stepCount, 1)
            XCTAssertEqual(t.history.count, 1)
            XCTAssertEqual(t.model.flatValues, twin.model.flatValues, t.mode)
            XCTAssertFalse(t.abortStep(), "the loop's hook is not kept after it")
            try t.train(steps: 2); try twin.train(steps: 2)
            XCTAssertEqual(t.model.flatValues, twin.model.flatValues, t.mode)
            for key in ["loss", "grad_norm"] {
                XCTAssertEqual(t.history.last?[key], twin.history.last?[key], "\(t.mode) \(key)")
            }
        }
    }

    func testOptionsAreReadAndSetByKeyword() throws {
        for t in [try sft(), try grpo()] as [any Trainer] {
            try t.set(options: ["lr": .number(0.5)], owner: t.mode)
            XCTAssertEqual(t.options.first { $0.keyword == "lr" }?.value, .number(0.5))
            XCTAssertThrowsError(try t.set(options: ["lr": .number(5), "max_grad_norm": .number(2)], owner: t.mode)) {
                XCTAssertEqual("\($0)", "\(t.mode): lr must be in [0, 1], got 5")
            }
            XCTAssertEqual(t.options.first { $0.keyword == "lr" }?.value, .number(0.5), "a refused set changes nothing")
            XCTAssertEqual(t.options.first { $0.keyword == "max_grad_norm" }?.value, .number(1))
        }
    }

    func testCheckpointResumeGivesTheSavedKind() throws {
        let s = try sft(), g = try grpo()
        try s.step(); try g.train(steps: 2)
        let dir = try TestSupport.temporaryDirectory("medr1-trainer-kind")
        try s.save(to: dir.appendingPathComponent("s"))
        try g.save(to: dir.appendingPathComponent("g"))
        let rs = try TrainerCheckpoint.resume(from: dir.appendingPathComponent("s"), dataset: RLFixture.dataset,
                                              images: { _ in RLFixture.images() })
        let rg = try TrainerCheckpoint.resume(from: dir.appendingPathComponent("g"), dataset: RLFixture.dataset,
                                              images: { _ in RLFixture.images() })
        XCTAssertTrue(rs is SFTTrainer)
        XCTAssertTrue(rg is GRPOTrainer)
        XCTAssertEqual([rs.stepCount, rg.stepCount], [1, 2])
        XCTAssertEqual(try rg.step().withoutTiming, try g.step().withoutTiming)
    }

    // MARK: - Rollouts

    /// The trainer's rollout is the one assembled by hand from the same draws: completions
    /// prompt-major with their indices, rewards per completion, group advantages.
    func testRolloutAssemblyMatchesTheSamplerByHand() throws {
        let spread = Reward(name: "spread") { c in Double(c.groupIndex) }
        let t = try grpo(rewards: [.format, spread])
        let initial = try model()
        try t.step()
        let ro = try XCTUnwrap(t.last)
        var order = SampleOrder(count: RLFixture.dataset.count, seed: t.config.seed)
        let picked = order.next(t.config.promptsPerStep).map { RLFixture.dataset.samples[$0] }
        var sampler = Sampler(config: GRPOTrainer.samplerConfig(t.config), seed: t.config.seed)
        let images = RLFixture.images()
        let outs = try sampler.sampleBatch(model: initial, images: try picked.map { try images.image(for: $0) },
                                           prompts: picked.map { t.encoder.tokens(for: $0).prompt }, count: 3, eos: tok.eos)
        var texts: [String] = [], where_: [[Int]] = [], totals: [Double] = []
        for (p, s) in picked.enumerated() {
            for (k, o) in outs[p].enumerated() {
                let text = t.encoder.text(of: o.tokens)
                texts.append(text)
                where_.append([p, k])
                totals.append(try Reward.format.function(Completion(text: text, sample: s, tokens: o.tokens)) + Double(k))
            }
        }
        XCTAssertEqual(ro.completions.map(\.text), texts)
        XCTAssertEqual(ro.completions.map { [$0.promptIndex, $0.groupIndex] }, where_)
        XCTAssertEqual(ro.completions.map(\.sample.id), picked.flatMap { [$0.id, $0.id, $0.id] })
        XCTAssertEqual(ro.rewards.totals, totals)
        XCTAssertEqual(ro.advantages, Advantages.compute(rewards: totals, group: 3, scaleRewards: true).values)
        XCTAssertEqual(ro.scaleRewards, .group)
    }

    func testRescoreRecomputesRewardsAndAdvantages() throws {
        let t = try grpo()
        try t.step()
        let ro = try XCTUnwrap(t.last)
        let r = try ro.rescored(with: [first])
        // [1, 0, 0]: mean 1/3, sample std sqrt(((2/3)^2 + 2 (1/3)^2) / 2) = sqrt(1/3).
        let mean = (1.0 + 0 + 0) / 3
        let s = (((1 - mean) * (1 - mean) + 2 * mean * mean) / 2).squareRoot() + 1e-4
        XCTAssertEqual(s, (1.0 / 3).squareRoot() + 1e-4, accuracy: 1e-15)
        let byHand = [(1 - mean) / s, (0 - mean) / s, (0 - mean) / s]
        XCTAssertEqual(r.advantages, byHand + byHand)
        XCTAssertEqual(r.rewards.names, ["first"])
        XCTAssertEqual(r.completions.map(\.text), ro.completions.map(\.text))
        XCTAssertEqual(r.groupMean(1), 1.0 / 3)
        XCTAssertEqual(r.groupStd(1), (1.0 / 3).squareRoot(), accuracy: 1e-15, "shown std: N-1, the one the advantages use")
        let plain = try ro.rescored(with: [first.weighted(3)], scaleRewards: RewardScaling.none)
        XCTAssertEqual(plain.advantages, [2, -1, -1, 2, -1, -1])
        XCTAssertEqual(plain.scaleRewards, RewardScaling.none)
        let one = r.prompts(1..<2)
        XCTAssertEqual(one.completions.map(\.promptIndex), [1, 1, 1])
        XCTAssertEqual(one.advantages, byHand)
        XCTAssertEqual(one.rewards.values, [[1, 0, 0]])
    }

    // MARK: - Changing rewards and training on a rescored rollout

    func testSetRewardsKeepsReferenceAndOptimiserAndIsSaved() throws {
        let t = try grpo(rewards: [first]) { $0.beta = 0.04 }
        try t.step()
        let ref = t.reference, refValues = t.reference.flatValues, m = t.optimizer.m, steps = t.optimizer.stepCount
        try t.set(rewards: [.format, first.weighted(0.5)])
        XCTAssertTrue(t.reference === ref)
        XCTAssertTrue(t.reference.flatValues == refValues)
        XCTAssertTrue(t.optimizer.m == m)
        XCTAssertEqual(t.optimizer.stepCount, steps)
        XCTAssertThrowsError(try t.set(rewards: [])) {
            XCTAssertEqual("\($0)", "grpo: rewards is empty; give at least one, e.g. [format(), accuracy()]")
        }
        XCTAssertThrowsError(try t.set(rewards: [first.weighted(.infinity)])) {
            XCTAssertEqual("\($0)", "grpo: the weight of reward 'first' must be in [-1e6, 1e6], got inf")
        }
        XCTAssertEqual(t.rewards.map(\.name), ["format", "first"], "a refused set changes nothing")
        try t.step()
        XCTAssertEqual(t.last?.rewards.names, ["format", "first"])
        XCTAssertEqual(t.last?.rewards.weights, [1, 0.5])
        XCTAssertGreaterThan(t.history.last!.kl, 0, "the KL is to the first reference, not to a fresh copy")

        let dir = try TestSupport.temporaryDirectory("medr1-set-rewards")
        try t.save(to: dir)
        let resumed = try GRPOTrainer.resume(from: dir, dataset: RLFixture.dataset, rewards: [.format, first.weighted(0.5)],
                                             images: RLFixture.images())
        XCTAssertEqual(try resumed.step().withoutTiming, try t.step().withoutTiming)
        XCTAssertThrowsError(try GRPOTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())) {
            XCTAssertTrue("\($0)".hasSuffix("was trained with rewards [\"format\", \"first\"], resume was given [\"format\", \"accuracy\"]: "
                                            + "pass the same rewards in the same order (then t.set(rewards: [...]) to change them)"), "\($0)")
        }
        XCTAssertThrowsError(try GRPOTrainer.resume(from: dir, dataset: RLFixture.dataset, rewards: [.format, first],
                                                    images: RLFixture.images())) {
            XCTAssertTrue("\($0)".hasSuffix("was trained with weights [1, 0.5], resume was given [1, 1]: "
                                            + "pass the same weights (then t.set(weights: [...]) to change them)"), "\($0)")
        }
    }

    func testUpdateOnARescoredRollout() throws {
        let t = try grpo { $0.beta = 0 }
        try t.step()
        let ro = try XCTUnwrap(t.last)
        let r = try ro.rescored(with: [first])
        let m = try t.update(with: r)
        XCTAssertEqual(t.stepCount, 2)
        XCTAssertEqual(m.step, 2)
        XCTAssertEqual(m["reward"], 2.0 / 6)
        XCTAssertEqual(m["rewards/first/mean"], 2.0 / 6)
        XCTAssertEqual(t.last?.advantages, r.advantages)
        XCTAssertEqual(t.last?.rewards.names, ["first"])
        XCTAssertEqual(t.rewards.map(\.name), ["format", "accuracy"], "the trainer's own rewards stay")
        // All-equal rewards: every advantage is 0, so (beta 0) the loss and its gradient are 0.
        let flat = try ro.rescored(with: [Reward(name: "flat") { _ in 1 }])
        XCTAssertEqual(flat.advantages, [0, 0, 0, 0, 0, 0])
        let m0 = try t.update(with: flat)
        XCTAssertEqual(m0.loss, 0)
        XCTAssertEqual(m0.gradNorm, 0)
        XCTAssertEqual(m0["frac_reward_zero_std"], 1)
        var foreign = flat
        foreign.completions[4].tokens.append(tok.vocabSize + 3)
        XCTAssertThrowsError(try t.update(with: foreign)) {
            XCTAssertTrue("\($0)".hasPrefix("grpo: completion 4 of the rollout does not fit this model (a token id outside vocab_size"), "\($0)")
        }
        XCTAssertEqual(t.stepCount, 3)
    }

    // MARK: - steps_per_generation and the reference sync

    /// Two updates per rollout: the first on group 0 alone (as a trainer updating on that
    /// group would), the second on group 1, whose equal rewards give a zero gradient (beta 0),
    /// so it is AdamW's step on its moments alone. The metrics average the two updates.
    func testStepsPerGenerationSplitsTheRolloutInOrder() throws {
        let r = Reward(name: "r") { c in c.promptIndex == 0 ? Double(c.groupIndex) : 1 }
        let a = try grpo(rewards: [r]) { $0.beta = 0; $0.stepsPerGeneration = 2 }
        let ma = try a.step()
        XCTAssertEqual(a.optimizer.stepCount, 2)
        let b = try grpo(rewards: [r]) { $0.beta = 0 }
        let mb = try b.update(with: try XCTUnwrap(a.last).prompts(0..<1))
        b.model.zeroGrad()
        b.optimizer.step(b.model, lr: Float(b.config.learningRate))
        XCTAssertTrue(a.model.flatValues == b.model.flatValues)
        XCTAssertEqual(ma.gradNorm, mb.gradNorm / 2)
        XCTAssertEqual(ma.loss, mb.loss / 2)
        XCTAssertEqual(ma["reward"], (0 + 1 + 2 + 3.0) / 6)
        // num_iterations x steps_per_generation optimiser steps, each at its scheduled lr.
        let w = try grpo(rewards: [r]) { $0.stepsPerGeneration = 3; $0.numIterations = 2; $0.schedule = .warmup(steps: 8) }
        let mw = try w.step()
        XCTAssertEqual(w.optimizer.stepCount, 6)
        XCTAssertEqual(mw.learningRate, 1e-2 * 6 / 8, accuracy: 1e-15)
        XCTAssertThrowsError(try grpo { $0.stepsPerGeneration = 4 }) {
            XCTAssertEqual("\($0)", "grpo: steps_per_generation 4 must divide the 6 completions of a rollout (prompts 2 x group 3) into equal updates")
        }
    }

    /// Gradient accumulation: the two parts' gradients, each halved, make one update, so
    /// with the second part's gradient 0 the gradient norm is half the first part's alone.
    func testGradientAccumulationSumsPartsIntoOneUpdate() throws {
        let r = Reward(name: "r") { c in c.promptIndex == 0 ? Double(c.groupIndex) : 1 }
        let a = try grpo(rewards: [r]) { $0.beta = 0; $0.stepsPerGeneration = 2; $0.gradientAccumulationSteps = 2 }
        let ma = try a.step()
        XCTAssertEqual(a.optimizer.stepCount, 1)
        let b = try grpo(rewards: [r]) { $0.beta = 0 }
        let mb = try b.update(with: try XCTUnwrap(a.last).prompts(0..<1))
        XCTAssertGreaterThan(mb.gradNorm, 0)
        XCTAssertEqual(ma.gradNorm, mb.gradNorm / 2)
        XCTAssertEqual(ma.loss, mb.loss / 2, "the mean of the parts' losses")
        XCTAssertThrowsError(try grpo { $0.stepsPerGeneration = 2; $0.gradientAccumulationSteps = 3 }) {
            XCTAssertEqual("\($0)", "grpo: gradient_accumulation_steps 3 must divide steps_per_generation 2: each update sums whole parts of one rollout")
        }
    }

    func testReferenceSyncMixesEveryNSteps() throws {
        let whole = try grpo(rewards: [first]) { $0.syncRefModel = true; $0.refModelMixupAlpha = 1; $0.refModelSyncSteps = 1 }
        try whole.step()
        XCTAssertTrue(whole.reference.flatValues == whole.model.flatValues, "alpha 1: the reference becomes the policy")
        XCTAssertFalse(whole.model.flatValues == (try model()).flatValues, "the step moved the policy")
        let t = try grpo(rewards: [first]) { $0.syncRefModel = true; $0.refModelMixupAlpha = 0.25; $0.refModelSyncSteps = 2 }
        let r0 = t.reference.flatValues
        try t.step()
        XCTAssertTrue(t.reference.flatValues == r0, "no sync before step 2")
        try t.step()
        let p = t.model.flatValues, r = t.reference.flatValues
        let byHand = zip(p, r0).map { Float(0.25) * $0 + Float(0.75) * $1 }
        XCTAssertTrue(r == byHand, "ref = 0.25 x policy + 0.75 x ref")
        XCTAssertEqual(r[0], 0.25 * p[0] + 0.75 * r0[0], accuracy: 1e-6)
        XCTAssertFalse(r == r0)
        let off = try grpo(rewards: [first])
        let o0 = off.reference.flatValues
        try off.train(steps: 2)
        XCTAssertTrue(off.reference.flatValues == o0, "sync_ref_model off: the reference stays")
    }
}
