// The end-to-end check that training really learns ("it must really
// learn"): generate SynthMed, train a tokenizer, SFT warm-up, then GRPO, and
// measure reward and test accuracy (greedy and sampled) before and after. Run it
// in a release build (`medr1-bench learn-check`); it takes a few minutes on 2 cores.
import Foundation

/// Settings of the learn check. Defaults: docs/training.md (a moderate warm-up, so that
/// GRPO has room to sharpen sampled answers), sized to finish in minutes on 2 cores.
public struct LearnCheckConfig: Codable, Sendable {
    /// SynthMed questions generated (80% train, 20% test).
    public var samples = 2000
    /// Share kept for training.
    public var trainFraction = 0.8
    /// Test questions evaluated (a seeded subset of the test split; ~±0.03 standard error at 300).
    public var testQuestions = 300
    /// Supervised warm-up steps (batch 64, lr 1e-3: docs/training.md). 200 leaves the model
    /// moderate (greedy ~0.53, sampled ~0.38), so GRPO has something to sharpen.
    public var sftSteps = 200
    public var sft = SFTConfig()
    /// GRPO steps (16 prompts x G 8, lr 1e-4: docs/training.md).
    public var grpoSteps = 100
    public var grpo: GRPOConfig = {
        var c = GRPOConfig()
        c.maxTokens = 48  // SynthMed targets are ~10-20 tokens; leaves room
        return c
    }()
    /// Log every n-th GRPO step, with the mean over the n steps before it.
    public var logEvery = 25
    /// BPE vocabulary size (docs/model.md: 512 by default).
    public var vocabSize = 512
    public var seed: UInt64 = 0
    /// Where SynthMed is written (nil: a fresh temporary directory).
    public var dataRoot: String?
    /// Samples per question for the sampled (temperature 1) accuracy.
    public var sampledPerQuestion = 2
    /// Save the warmed-up SFT trainer here (to rerun GRPO variants without redoing SFT).
    public var saveSFT: String?
    /// Resume this saved SFT trainer (same samples/seed) instead of training from scratch;
    /// `sftSteps` more steps are still run (0 for none).
    public var loadSFT: String?

    public init() {}
}

/// What the learn check measured.
public struct LearnCheckReport: Sendable, CustomStringConvertible {
    public var lines: [String] = []
    public var sftSecondsPerStep = 0.0
    public var grpoSecondsPerStep = 0.0
    /// (step, reward, frac_reward_zero_std, kl) at logged GRPO steps, each the mean over the
    /// steps since the previous logged one.
    public var rewardCurve: [(step: Int, reward: Double, zeroStd: Double, kl: Double)] = []
    public var greedyBefore = 0.0, greedyAfter = 0.0
    public var sampledBefore = 0.0, sampledAfter = 0.0
    public var formatBefore = 0.0, formatAfter = 0.0
    public var sampledFormatBefore = 0.0, sampledFormatAfter = 0.0
    public var description: String { lines.joined(separator: "\n") }
}

public enum LearnCheck {
    /// CPU seconds used by this process so far (user + system, all threads): on a shared
    /// machine the honest measure of work, where wall time depends on other load.
    public static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6
            + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    /// Runs the whole check, reporting progress lines through `log`.
    public static func run(_ c: LearnCheckConfig, log: (String) -> Void = { print($0) }) throws -> LearnCheckReport {
        var rep = LearnCheckReport()
        func say(_ s: String) { rep.lines.append(s); log(s) }
        let t0 = Date()
        let root = c.dataRoot.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("medr1-learn-check-\(c.seed)")
        var sm = SynthMedConfig(count: c.samples, seed: c.seed)
        sm.threads = Parallelism.threads
        let samples = try SynthMed.generate(sm, to: root)
        let all = Dataset(name: "SynthMed", root: root, samples: samples)
        let (train, testAll) = all.split(train: c.trainFraction, seed: c.seed, stratified: true)
        // A seeded random subset of the test split (the split keeps data-set order).
        var pick = SampleOrder(count: testAll.count, seed: c.seed &+ 99)
        let test = Dataset(name: "SynthMed test", root: root,
                           samples: pick.next(min(c.testQuestions, testAll.count)).map { testAll.samples[$0] })
        say("SynthMed: \(all.count) questions (\(train.count) train, \(test.count) test) in "
            + String(format: "%.1f s", Date().timeIntervalSince(t0)) + " at \(root.path)")
        var mc = ModelConfig()
        let images = ImageCache(config: mc)
        var sc = c.sft
        sc.seed = c.seed
        let sft: SFTTrainer
        if let dir = c.loadSFT {
            sft = try SFTTrainer.resume(from: URL(fileURLWithPath: dir), dataset: train, images: images)
            say("resumed SFT after \(sft.stepCount) steps from \(dir)")
        } else {
            let tok = train.trainTokenizer(vocabSize: c.vocabSize, template: .tiny)
            mc.vocabSize = max(mc.vocabSize, tok.vocabSize)
            sft = try SFTTrainer(model: try MedR1Model(config: mc, seed: c.seed), tokenizer: tok, dataset: train,
                                 config: sc, template: .tiny, images: images)
        }
        let model = sft.model, tok = sft.encoder.tokenizer
        say("model: \(model.parameterCount) parameters, tokenizer \(tok.vocabSize) tokens, threads \(Parallelism.threads)")

        let greedy = Evaluator(tokenizer: tok, template: .tiny, sampler: SamplerConfig(greedy: true, maxTokens: 48))
        let sampled = Evaluator(tokenizer: tok, template: .tiny,
                                sampler: SamplerConfig(temperature: c.grpo.temperature, maxTokens: 48),
                                samplesPerQuestion: c.sampledPerQuestion, seed: c.seed &+ 1)

        // Supervised warm-up.
        let ts = Date(), cs = cpuSeconds()
        for i in 0..<c.sftSteps {
            let m = try sft.step()
            if (i + 1) % 100 == 0 || i == 0 { say("sft " + m.summary) }
        }
        if let dir = c.saveSFT { try sft.save(to: URL(fileURLWithPath: dir)) }
        rep.sftSecondsPerStep = Date().timeIntervalSince(ts) / Double(max(c.sftSteps, 1))
        say(String(format: "SFT: %d steps, %.3f s/step wall, %.3f CPU s/step", c.sftSteps, rep.sftSecondsPerStep,
                   (cpuSeconds() - cs) / Double(max(c.sftSteps, 1))))

        /// Greedy and sampled test evaluation, printed; `when` is "before GRPO" or "after GRPO".
        func evaluateBoth(_ when: String) throws -> (greedy: EvalReport, sampled: EvalReport) {
            let g = try greedy.evaluate(model, on: test, images: images, name: "test greedy, \(when)")
            let s = try sampled.evaluate(model, on: test, images: images, name: "test sampled, \(when)")
            say(g.description)
            say(String(format: "sampled (T=%.1f, %d per question): accuracy %.3f, format %.3f (%.1f s)",
                       c.grpo.temperature, c.sampledPerQuestion, s.accuracy.rate, s.format.rate, s.seconds))
            return (g, s)
        }
        let (g0, s0) = try evaluateBoth("before GRPO")
        rep.greedyBefore = g0.accuracy.rate; rep.sampledBefore = s0.accuracy.rate
        rep.formatBefore = g0.format.rate; rep.sampledFormatBefore = s0.format.rate

        // GRPO.
        var gc = c.grpo
        gc.seed = c.seed
        let grpo = try GRPOTrainer(model: model, tokenizer: tok, dataset: train, rewards: [.format, .accuracy],
                                   config: gc, template: .tiny, images: images)
        let tg = Date(), cg = cpuSeconds()
        var window: [StepMetrics] = []
        for i in 0..<c.grpoSteps {
            let m = try grpo.step()
            window.append(m)
            if i == 0 || (i + 1) % c.logEvery == 0 {
                // Single steps are noisy (16 prompts): also show the mean since the last line.
                func mean(_ k: String) -> Double { window.map { $0[k] ?? .nan }.reduce(0, +) / Double(window.count) }
                rep.rewardCurve.append((m.step, mean("reward"), mean("frac_reward_zero_std"), mean("kl")))
                say("grpo " + m.summary + String(format: ", format %.3f, accuracy %.3f (rollout %.2f s, ref %.2f s, policy %.2f s)",
                                                  m["rewards/format/mean"] ?? .nan, m["rewards/accuracy/mean"] ?? .nan,
                                                  grpo.phaseSeconds.rollout, grpo.phaseSeconds.reference,
                                                  grpo.phaseSeconds.policyUpdate))
                say(String(format: "  mean of steps %d-%d: reward %.3f, format %.3f, accuracy %.3f, frac_reward_zero_std %.3f, kl %.4f",
                           window.first!.step, m.step, mean("reward"), mean("rewards/format/mean"),
                           mean("rewards/accuracy/mean"), mean("frac_reward_zero_std"), mean("kl")))
                window.removeAll()
            }
        }
        rep.grpoSecondsPerStep = Date().timeIntervalSince(tg) / Double(max(c.grpoSteps, 1))
        say(String(format: "GRPO: %d steps, %.3f s/step wall, %.3f CPU s/step", c.grpoSteps, rep.grpoSecondsPerStep,
                   (cpuSeconds() - cg) / Double(max(c.grpoSteps, 1))))
        let (g1, s1) = try evaluateBoth("after GRPO")
        rep.greedyAfter = g1.accuracy.rate; rep.sampledAfter = s1.accuracy.rate
        rep.formatAfter = g1.format.rate; rep.sampledFormatAfter = s1.format.rate
        say(String(format: "summary: GRPO reward %.3f (step 1) -> %.3f (mean of the last %d steps), "
                   + "greedy accuracy %.3f -> %.3f, sampled accuracy %.3f -> %.3f, "
                   + "sampled format %.3f -> %.3f; total %.0f s",
                   rep.rewardCurve.first?.reward ?? .nan, rep.rewardCurve.last?.reward ?? .nan, c.logEvery,
                   rep.greedyBefore, rep.greedyAfter, rep.sampledBefore, rep.sampledAfter,
                   rep.sampledFormatBefore, rep.sampledFormatAfter, Date().timeIntervalSince(t0)))
        return rep
    }
}
