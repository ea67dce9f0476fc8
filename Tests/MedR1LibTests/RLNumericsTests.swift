import XCTest
import TestSupport
@testable import MedR1Lib

/// Option ranges checked when a trainer, sampler or evaluation is made, and steps whose
/// numbers would stop being finite reported and not applied.
final class RLNumericsTests: XCTestCase {
    let tok = RLFixture.tokenizer()

    func model(seed: UInt64 = 1, dModel: Int = 16) throws -> MedR1Model {
        var c = RLFixture.config(vocab: tok.vocabSize)
        c.dModel = dModel
        return try MedR1Model(config: c, seed: seed)
    }

    func grpo(_ change: (inout GRPOConfig) -> Void = { _ in }, rewards: [Reward] = [.format, .accuracy],
              model m: MedR1Model? = nil, reference: MedR1Model? = nil) throws -> GRPOTrainer {
        var c = RLFixture.grpoConfig()
        change(&c)
        return try GRPOTrainer(model: m ?? model(), reference: reference, tokenizer: tok, dataset: RLFixture.dataset,
                               rewards: rewards, config: c, template: .tiny, images: RLFixture.images())
    }

    func sft(_ change: (inout SFTConfig) -> Void = { _ in }) throws -> SFTTrainer {
        var c = SFTConfig()
        c.batchSize = 4
        c.learningRate = 1e-2
        change(&c)
        return try SFTTrainer(model: model(), tokenizer: tok, dataset: RLFixture.dataset, config: c, template: .tiny,
                              images: RLFixture.images())
    }

    func assertMessage<T>(_ body: @autoclosure () throws -> T, _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { XCTAssertEqual(String(describing: $0), expected, line: line) }
    }

    /// Settings that would train to all-NaN weights are refused when the trainer is built.
    func testOutOfRangeOptionsAreRefusedWhenTheTrainerIsBuilt() throws {
        assertMessage(try grpo { $0.learningRate = exp(1000) }, "grpo: lr must be in [0, 1], got inf")
        assertMessage(try grpo { $0.adamEps = 0 }, "grpo: adam_eps must be in [1e-30, 1], got 0")
        assertMessage(try grpo { $0.beta = .nan }, "grpo: beta must be in [0, 100], got nan")
        assertMessage(try grpo { $0.adamBeta1 = 1 }, "grpo: adam_beta1 must be in [0, 1), got 1")
        assertMessage(try grpo(rewards: [.format, Reward.accuracy.weighted(1e308)]),
                      "grpo: the weight of reward 'accuracy' must be in [-1e6, 1e6], got 1e308")
        assertMessage(try grpo { $0.schedule = .cosine(warmup: 0, total: 10, minFactor: -0.5) },
                      "grpo: min_lr_rate must be in [0, 1], got -0.5")
        assertMessage(try sft { $0.adamBeta2 = -0.1 }, "sft: adam_beta2 must be in [0, 1), got -0.1")
        assertMessage(try sft { $0.batchSize = 0 }, "sft: batch must be a whole number in [1, 4096], got 0")
        // Between steps too, and the trainer keeps its settings.
        let t = try grpo()
        assertMessage(try t.update { $0.adamBeta2 = 1 }, "grpo: adam_beta2 must be in [0, 1), got 1")
        XCTAssertEqual(t.config.adamBeta2, 0.999)
        // A change that is allowed reaches the optimiser.
        try t.update { $0.weightDecay = 0.5; $0.adamBeta1 = 0.5 }
        XCTAssertEqual(t.optimizer.config.weightDecay, 0.5)
        XCTAssertEqual(t.optimizer.config.beta1, 0.5)
        // Other construction errors name the builtin and say what is wrong, without Swift names.
        let empty = Dataset(name: "empty", root: URL(fileURLWithPath: "/nonexistent"), samples: [])
        assertMessage(try GRPOTrainer(model: model(), tokenizer: tok, dataset: empty),
                      "grpo: the data set 'empty' has no samples to train on")
        assertMessage(try grpo(rewards: []), "grpo: rewards is empty; give at least one, e.g. [format(), accuracy()]")
        assertMessage(try SFTTrainer(model: MedR1Model(config: RLFixture.config(vocab: tok.vocabSize - 1), seed: 1),
                                     tokenizer: tok, dataset: RLFixture.dataset),
                      "sft: the tokenizer has \(tok.vocabSize) tokens but the model's vocab_size is \(tok.vocabSize - 1); "
                      + "make the model with this tokenizer")
        // Every default is inside its own range.
        try GRPOConfig().validate()
        try SFTConfig().validate()
        try SamplerConfig().validate()
        try Evaluator(tokenizer: tok).validate()
    }

    /// A sampler, GRPO's sampling and an evaluation say the same thing about the same option.
    func testSamplingOptionsGiveOneMessageWhereverTheyAreSet() throws {
        assertMessage(try grpo { $0.temperature = 0 }, "grpo: temperature must be in [0.001, 100], got 0")
        assertMessage(try SamplerConfig(temperature: 0).validate(), "sampler: temperature must be in [0.001, 100], got 0")
        var s = Sampler(config: SamplerConfig(topP: 1.5), seed: 1)
        let m = try model()
        assertMessage(try s.sampleBatch(model: m, images: [[Float](repeating: 0, count: 192)], prompts: [[tok.bos]], count: 1,
                                        eos: tok.eos),
                      "sampler: top_p must be in (0, 1], got 1.5")
        var ev = Evaluator(tokenizer: tok, sampler: SamplerConfig(temperature: 0.5, greedy: false), samplesPerQuestion: 0)
        assertMessage(try ev.evaluate(m, on: RLFixture.dataset, images: RLFixture.images()),
                      "eval: samples must be a whole number in [1, 1024], got 0")
        ev.samplesPerQuestion = 1
        ev.sampler.maxTokens = 0
        assertMessage(try ev.evaluate(m, on: RLFixture.dataset, images: RLFixture.images()),
                      "eval: max_tokens must be a whole number in [1, 65536], got 0")
    }

    /// A reward of +-1e308 is finite but overflows the group statistics: it is a bad reward,
    /// reported at the step, which changes nothing.
    func testHugeRewardIsReportedAndTheStepIsNotApplied() throws {
        for value in [1e308, -1e308, 2e6] {
            let huge = Reward(name: "huge") { c in c.groupIndex == 1 ? value : 0 }
            let t = try grpo(rewards: [.format, huge])
            let w = t.model.flatValues
            XCTAssertThrowsError(try t.step()) { e in
                XCTAssertEqual((e as? RewardError)?.reason,
                               "returned \(OptionRange.format(value)), outside the allowed [-1e6, 1e6]")
            }
            XCTAssertTrue(t.model.flatValues == w)
            XCTAssertTrue(t.model.flatValues.allSatisfy(\.isFinite))
            XCTAssertEqual(t.stepCount, 0)
            XCTAssertEqual(t.optimizer.stepCount, 0)
        }
        // The bound itself is allowed and trains to finite weights.
        let edge = Reward(name: "edge") { c in c.groupIndex == 1 ? 1e6 : -1e6 }
        let t = try grpo(rewards: [edge.weighted(1e6)])
        let m = try t.step()
        XCTAssertTrue(m.loss.isFinite && m["reward"]!.isFinite)
        XCTAssertTrue(t.model.flatValues.allSatisfy(\.isFinite))
    }

    /// adam_beta1 0.99999999 is inside [0, 1) but rounds to 1 in the float optimiser: its
    /// bias correction divides by zero. The update is refused, naming the first weight it
    /// would make NaN; the model, the optimiser and the data order are as before.
    func testUpdateThatWouldMakeWeightsNonFiniteIsNotApplied() throws {
        let t = try sft { $0.adamBeta1 = 0.99999999 }
        let w = t.model.flatValues, m = t.optimizer.m, v = t.optimizer.v
        XCTAssertThrowsError(try t.step()) { e in
            XCTAssertEqual(String(describing: e),
                           "sft step 1 was not applied: the update would make the weight of "
                           + "\(t.model.parameters[0].name)[0] non-finite; the model, the optimiser and the data order "
                           + "are as before it (lr 0.01). Lower lr, check the rewards, or save and inspect the model.")
        }
        XCTAssertTrue(t.model.flatValues == w)
        XCTAssertTrue(t.optimizer.m == m && t.optimizer.v == v)
        XCTAssertEqual(t.optimizer.stepCount, 0)
        XCTAssertEqual(t.stepCount, 0)
        XCTAssertEqual(t.history.count, 0)
        XCTAssertTrue(t.model.flatGrads.allSatisfy { $0 == 0 })
        // Fixed, the step is the one a fresh trainer takes (the batch order was rewound).
        try t.update { $0.adamBeta1 = 0.9 }
        let a = try t.step()
        let fresh = try sft()
        let b = try fresh.step()
        XCTAssertEqual(a.withoutTiming, b.withoutTiming)
        XCTAssertTrue(t.model.flatValues == fresh.model.flatValues)
    }

    /// A weight so large that the forward overflows gives a NaN loss: GRPO refuses the
    /// update and rewinds its sampler and prompt order.
    func testNonFiniteLossIsReportedAndGRPOStepIsNotApplied() throws {
        let spread = Reward(name: "spread") { c in Double(c.groupIndex) }
        let t = try grpo(rewards: [spread])
        let norm = try XCTUnwrap(t.model.parameter(named: "text.norm.weight"))
        let saved = Array(norm.value)
        for i in norm.value.indices { norm.value[i] = .greatestFiniteMagnitude }
        let w = t.model.flatValues
        XCTAssertThrowsError(try t.step()) { e in
            let text = String(describing: e)
            XCTAssertTrue(text.hasPrefix("grpo step 1 was not applied: the loss is nan; the model, the optimiser"), text)
        }
        XCTAssertTrue(t.model.flatValues.elementsEqual(w) { $0.bitPattern == $1.bitPattern })
        XCTAssertEqual(t.optimizer.stepCount, 0)
        XCTAssertEqual(t.stepCount, 0)
        XCTAssertNil(t.last)
        for (i, x) in saved.enumerated() { norm.value[i] = x }
        let a = try t.step()
        let fresh = try grpo(rewards: [spread])
        let b = try fresh.step()
        XCTAssertEqual(a.withoutTiming, b.withoutTiming)
        XCTAssertTrue(t.model.flatValues == fresh.model.flatValues)
    }

    /// The check reads the same arithmetic as the update: it finds the first value that
    /// would overflow and names its tensor, and a finite update leaves it silent.
    func testNonFiniteAfterStepNamesTheValue() throws {
        let m = try model()
        let p = m.parameters[2]
        p.value[3] = .greatestFiniteMagnitude
        m.parameters[2].grad[3] = -1
        let opt = AdamW(model: m, config: AdamWConfig(lr: 1e38))
        let bad = try XCTUnwrap(opt.nonFiniteAfterStep(m))
        XCTAssertEqual(bad.what, "weight")
        XCTAssertEqual(parameterName(m, bad.index), "\(p.name)[3]")
        opt.config.lr = 1e-3
        XCTAssertNil(opt.nonFiniteAfterStep(m))
        XCTAssertEqual(opt.stepCount, 0)
        m.parameters[2].grad[3] = .greatestFiniteMagnitude
        XCTAssertEqual(opt.nonFiniteAfterStep(m)?.what, "second moment")
    }

    /// With num_iterations > 1 a later update of the step may fail after an earlier one was
    /// applied: the step undoes the earlier one bit for bit.
    func testUndoOfAnEarlierUpdateRestoresModelAndOptimiser() throws {
        let m = try model()
        let opt = AdamW(model: m, config: AdamWConfig(lr: 1e-2))
        for (i, p) in m.parameters.enumerated() { for k in p.grad.indices { p.grad[k] = Float(i + k % 7) * 1e-3 } }
        opt.step(m)
        let w = m.flatValues, mm = opt.m, vv = opt.v
        let undo = UpdateUndo(m, opt)
        opt.step(m)
        XCTAssertFalse(m.flatValues == w)
        undo.restore(m, opt)
        XCTAssertTrue(m.flatValues.elementsEqual(w) { $0.bitPattern == $1.bitPattern })
        XCTAssertTrue(opt.m == mm && opt.v == vv)
        XCTAssertEqual(opt.stepCount, 1)
    }

    func testReferenceMustBeASeparateModelOfTheSameArchitecture() throws {
        let policy = try model()
        assertMessage(try grpo(model: policy, reference: try model(dModel: 32)),
                      "grpo: the reference model's architecture differs from the policy's (d_model: reference 32, policy 16); "
                      + "give a copy of the policy's model")
        assertMessage(try grpo(model: policy, reference: policy),
                      "grpo: the reference is the policy itself, so the KL would always be 0; "
                      + "give a copy of the model, or no reference for a frozen copy made now")
        let t = try grpo(model: policy, reference: policy.copy())
        XCTAssertTrue(t.reference !== policy)
    }

    /// An evaluation that cannot read an image says so (not "trainer state: ...").
    func testUnreadableImageIsReportedAsSuch() throws {
        struct Missing: Error, CustomStringConvertible { var description: String { "no such file" } }
        let images = ImageCache(imageSize: 8, channels: 3) { _ in throw Missing() }
        let ev = Evaluator(tokenizer: tok, template: .tiny)
        assertMessage(try ev.evaluate(try model(), on: RLFixture.dataset, images: images),
                      "cannot read the image of sample f0 (synthetic/0.png): no such file")
    }
}
