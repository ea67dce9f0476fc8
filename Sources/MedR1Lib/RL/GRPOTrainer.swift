// One GRPO step (docs/model.md, "GRPO loss"):
//   rollout  : promptsPerStep prompts x G completions, sampled with a shared-prefix KV cache
//   rewards  : each reward on each completion, weighted sum (a failure aborts the step)
//   advantage: group-normalised
//   reference: log-probs of the completions under the frozen reference (when beta != 0)
//   policy   : teacher-forced log-probs with gradient, dL/dlogp from GRPOLoss, backward
//   update   : clip the global grad norm, AdamW at the scheduled lr (numIterations times)
// The step is all-or-nothing: if a reward throws or returns a bad value, or an update would
// make the loss, the gradient norm, a weight or a moment non-finite, neither the model, the
// optimiser, the RNG nor the prompt order moves.
import Foundation

/// Everything sampled and scored in one step, kept for inspection.
public struct Rollout: Sendable {
    /// G completions per prompt, prompt-major (prompt p, completion g at p*group+g).
    public var completions: [Completion]
    /// Every reward's value per completion and the weighted totals.
    public var rewards: RewardTable
    /// One per completion.
    public var advantages: [Double]
    public var group: Int

    public var promptCount: Int { group == 0 ? 0 : completions.count / group }
    public var lengths: [Int] { completions.map(\.length) }
    public var finishReasons: [FinishReason] { completions.map(\.finishReason) }

    /// The completions, totals and advantages of prompt p's group.
    public func groupOf(_ p: Int) -> (completions: [Completion], rewards: [Double], advantages: [Double]) {
        let r = (p * group)..<((p + 1) * group)
        return (Array(completions[r]), Array(rewards.totals[r]), Array(advantages[r]))
    }
}

/// GRPO training of a policy against a frozen reference copy taken at construction.
public final class GRPOTrainer {
    public let model: MedR1Model
    /// Frozen copy of the policy when the trainer was made (the KL anchor).
    public let reference: MedR1Model
    public let dataset: Dataset
    public let encoder: ExampleEncoder
    public let images: ImageCache
    public var rewards: [Reward]
    public private(set) var config: GRPOConfig
    public let optimizer: AdamW
    /// Rollouts done (trainer steps); each does `numIterations` optimiser updates.
    public internal(set) var stepCount = 0
    public internal(set) var history: MetricsHistory
    /// The most recent rollout (nil before the first step).
    public private(set) var last: Rollout?
    /// Polled between steps by `train`; return true to stop early (e.g. Ctrl-C).
    public var shouldStop: () -> Bool = { false }
    /// Called after every step with its metrics (progress display).
    public var onStep: ((StepMetrics) -> Void)?

    var sampler: Sampler
    var order: SampleOrder
    /// Where the saved history.jsonl's lines end (TrainerState.swift: saves append to it).
    var historyLog = HistoryLog()
    var rolloutSeconds = 0.0
    /// Wall seconds of the last step's phases: sampling + rewards, reference log-probs, policy
    /// forward/backward + optimiser. Kept out of the metrics so that recorded runs replay exactly.
    public private(set) var phaseSeconds: (rollout: Double, reference: Double, policyUpdate: Double) = (0, 0, 0)

    /// - Parameters:
    ///   - model: the policy, trained in place.
    ///   - reference: the KL anchor; nil makes a deep copy of `model` now.
    ///   - metricsFile: when set, each step's metrics are appended there as a JSON line.
    public init(model: MedR1Model, reference: MedR1Model? = nil, tokenizer: Tokenizer, dataset: Dataset,
                rewards: [Reward] = [.format, .accuracy], config: GRPOConfig = GRPOConfig(),
                template: PromptTemplate = .default, answerStyle: AnswerStyle = .text,
                images: ImageCache? = nil, metricsFile: URL? = nil) throws {
        try config.validate()
        guard !dataset.isEmpty else { throw RLError.emptyDataset("grpo: the data set '\(dataset.name)' has no samples to train on") }
        guard !rewards.isEmpty else { throw RLError.invalidOption("grpo: rewards is empty; give at least one, e.g. [format(), accuracy()]") }
        try Reward.checkWeights(rewards, owner: "grpo")
        try checkVocabulary(tokenizer, model, owner: "grpo")
        if let reference { try GRPOTrainer.checkReference(reference, policy: model) }
        self.model = model
        self.reference = reference ?? model.copy()
        self.dataset = dataset
        self.encoder = ExampleEncoder(tokenizer: tokenizer, template: template, answerStyle: answerStyle)
        self.images = images ?? ImageCache(config: model.config)
        self.rewards = rewards
        self.config = config
        self.optimizer = AdamW(model: model, config: config.adamW)
        self.history = MetricsHistory(fileURL: metricsFile)
        self.sampler = Sampler(config: GRPOTrainer.samplerConfig(config), seed: config.seed)
        self.order = SampleOrder(count: dataset.count, seed: config.seed)
    }

    /// The reference must be a separate model of the policy's architecture (the KL compares
    /// their log-probs token by token, and a shared object would move with the policy).
    static func checkReference(_ reference: MedR1Model, policy: MedR1Model) throws {
        guard reference !== policy else {
            throw RLError.invalidOption("grpo: the reference is the policy itself, so the KL would always be 0; "
                                        + "give a copy of the model, or no reference for a frozen copy made now")
        }
        guard reference.config == policy.config else {
            let diff = ModelConfig.differences(reference: reference.config, policy: policy.config)
            throw RLError.invalidOption("grpo: the reference model's architecture differs from the policy's ("
                                        + diff.joined(separator: ", ") + "); give a copy of the policy's model")
        }
    }

    static func samplerConfig(_ c: GRPOConfig) -> SamplerConfig {
        SamplerConfig(temperature: c.temperature, topK: c.topK, topP: c.topP, greedy: false,
                      maxTokens: c.maxTokens, stopAtEOS: true, minP: c.minP, repetitionPenalty: c.repetitionPenalty, stop: c.stop)
    }

    /// Changes settings between steps (e.g. lr, beta); group and seed-dependent state stay.
    public func update(_ change: (inout GRPOConfig) -> Void) throws {
        var c = config
        change(&c)
        try c.validate()
        config = c
        optimizer.config = c.adamW
        sampler.config = GRPOTrainer.samplerConfig(c)
    }

    /// Runs up to `steps` steps, stopping early when `shouldStop()` turns true.
    @discardableResult
    public func train(steps: Int) throws -> [StepMetrics] {
        var out: [StepMetrics] = []
        for _ in 0..<steps {
            if shouldStop() { break }
            out.append(try step())
        }
        return out
    }

    // MARK: - Rollout

    /// Samples G completions for each of `samples` and scores them. Does not touch the model;
    /// advances the sampler's RNG.
    public func rollout(_ samples: [Sample]) throws -> Rollout {
        let g = config.group
        try Reward.checkWeights(rewards, owner: "grpo")
        var completions: [Completion] = []
        completions.reserveCapacity(samples.count * g)
        let imgs = try samples.map { try images.image(for: $0) }
        let prompts = samples.map { encoder.tokens(for: $0).prompt }
        let outs = try sampler.sampleBatch(model: model, images: imgs, prompts: prompts, count: g,
                                           eos: encoder.tokenizer.eos, decode: encoder.text(of:))
        for (p, s) in samples.enumerated() {
            for (k, o) in outs[p].enumerated() {
                completions.append(Completion(text: encoder.text(of: o.tokens), sample: s, tokens: o.tokens,
                                              logProbs: o.logProbs, finishReason: o.finishReason,
                                              promptIndex: p, groupIndex: k))
            }
        }
        let table = try RewardTable.evaluate(rewards, on: completions)
        let adv = Advantages.compute(rewards: table.totals, group: g, scaleRewards: config.scaleRewards)
        return Rollout(completions: completions, rewards: table, advantages: adv.values, group: g)
    }

    // MARK: - Step

    /// One rollout and update. Throws (leaving model, optimiser, RNG and counters as they
    /// were) when a reward throws or returns a bad value, or when the update would make the
    /// loss, the gradient norm, a weight or a moment non-finite (`RLError.nonFiniteUpdate`).
    @discardableResult
    public func step() throws -> StepMetrics {
        let t0 = Date()
        let savedSampler = sampler, savedOrder = order
        do {
            let picked = order.next(config.promptsPerStep).map { dataset.samples[$0] }
            let ro = try rollout(picked)
            rolloutSeconds = Date().timeIntervalSince(t0)
            return try update(with: ro, started: t0)
        } catch {
            sampler = savedSampler
            order = savedOrder
            rolloutSeconds = 0
            throw error
        }
    }

    /// The optimisation half of a step on a given rollout (public so a caller can score a
    /// rollout itself, e.g. from the language). Throws `RLError.nonFiniteUpdate`, with the
    /// model, optimiser and counters as before, when an update would make the loss, the
    /// gradient norm, a weight or a moment non-finite.
    public func update(with ro: Rollout, started t0: Date = Date()) throws -> StepMetrics {
        let n = ro.completions.count
        var imgs: [[Float]] = [], seqs: [[Int]] = [], starts: [Int] = []
        imgs.reserveCapacity(n); seqs.reserveCapacity(n); starts.reserveCapacity(n)
        for c in ro.completions {
            let prompt = encoder.tokens(for: c.sample).prompt
            imgs.append(try images.image(for: c.sample))
            seqs.append(prompt + c.tokens)
            starts.append(prompt.count)
        }
        let temp = Float(config.temperature)
        let mask: [Bool]? = config.maskTruncatedCompletions ? ro.completions.map { $0.finishReason != .length } : nil
        let tRef = Date()
        var refLP: [[Float]]? = nil
        if config.beta != 0 {
            refLP = try reference.tokenLogProbs(images: imgs, sequences: seqs, targetStart: starts, temperature: temp,
                                                withGrad: false, entropy: false).logProbs
        }
        let refSeconds = Date().timeIntervalSince(tRef)
        let tPolicy = Date()
        var old: [[Float]]? = nil
        var lossSum = 0.0, klSum = 0.0, low = 0.0, high = 0.0, region = 0.0, gnSum = 0.0, entropy = 0.0
        var lr = 0.0
        // Several updates per rollout: keep what the first changes, to undo it if a later one fails.
        let undo = config.numIterations > 1 ? UpdateUndo(model, optimizer) : nil
        for it in 0..<config.numIterations {
            model.zeroGrad()
            // Forward, loss gradient and backward a chunk of prompt groups at a
            // time (only one chunk's activations resident); the loss is per
            // completion with batch-wide normalisers, so this is the whole
            // batch's gradient.
            let keep = try config.entropyMask(model: model, images: imgs, sequences: seqs, targetStart: starts, mask: mask)
            var acc = GRPOLossAccumulator(tokenCounts: seqs.indices.map { seqs[$0].count - starts[$0] },
                                          advantages: ro.advantages, mask: mask, withReference: refLP != nil,
                                          config: config.loss, tokenMask: keep)
            let oldLP = old
            let res = try model.logProbsWithBackward(images: imgs, sequences: seqs, targetStart: starts,
                                                     temperature: temp, entropy: it == 0) { rows, lps in
                zip(rows, lps).map { b, lp in acc.gradient(row: b, logProbs: lp, old: oldLP?[b], reference: refLP?[b]) }
            }
            let loss = acc.result(dLogProbs: [])
            if it == 0 {
                old = res.logProbs
                entropy = GRPOTrainer.meanEntropy(res.entropy, mask: mask)
            }
            let gn = config.maxGradNorm > 0 ? clipGradNorm(model, maxNorm: Float(config.maxGradNorm))
                                            : clipGradNorm(model, maxNorm: .infinity)
            lr = config.schedule.lr(step: optimizer.stepCount, base: config.learningRate)
            do {
                try checkedUpdate(model, optimizer, mode: "grpo", step: stepCount + 1, loss: loss.loss, gradNorm: gn, lr: lr)
            } catch {
                undo?.restore(model, optimizer)
                model.zeroGrad()
                throw error
            }
            lossSum += loss.loss; klSum += loss.kl; gnSum += Double(gn)
            low += loss.clipLow; high += loss.clipHigh; region += loss.clipRegion
        }
        model.zeroGrad()
        stepCount += 1
        last = ro
        let k = Double(config.numIterations)
        var m = StepMetrics(step: stepCount, mode: "grpo")
        m.set("loss", lossSum / k)
        let (rMean, _) = RLStats.meanStd(ro.rewards.totals)
        let adv = Advantages.compute(rewards: ro.rewards.totals, group: ro.group, scaleRewards: config.scaleRewards)
        m.set("reward", rMean)
        m.set("reward_std", adv.groupStd.reduce(0, +) / Double(max(adv.groupStd.count, 1)))
        for name in ro.rewards.names {
            let s = ro.rewards.stats(name)!
            m.set("rewards/\(name)/mean", s.mean)
            m.set("rewards/\(name)/std", s.std)
        }
        m.set("frac_reward_zero_std", adv.fracZeroStd)
        m.set("kl", klSum / k)
        let lens = ro.lengths.map(Double.init)
        m.set("completions/mean_length", lens.reduce(0, +) / Double(max(lens.count, 1)))
        m.set("completions/min_length", lens.min() ?? 0)
        m.set("completions/max_length", lens.max() ?? 0)
        let truncated = ro.completions.filter { $0.finishReason == .length }.count
        m.set("completions/clipped_ratio", Double(truncated) / Double(max(n, 1)))
        // TRL: lengths of the completions that ended with <|eos|> (0 when none did).
        let terminated = ro.completions.enumerated().filter { $0.element.finishReason != .length }.map { lens[$0.offset] }
        m.set("completions/mean_terminated_length", terminated.isEmpty ? 0 : terminated.reduce(0, +) / Double(terminated.count))
        m.set("completions/min_terminated_length", terminated.min() ?? 0)
        m.set("completions/max_terminated_length", terminated.max() ?? 0)
        m.set("clip_ratio/low_mean", low / k)
        m.set("clip_ratio/high_mean", high / k)
        // TRL's min / max of the clip ratios over processes: one process here.
        m.set("clip_ratio/low_min", low / k)
        m.set("clip_ratio/high_max", high / k)
        m.set("clip_ratio/region_mean", region / k)
        m.set("entropy", entropy)
        m.set("grad_norm", gnSum / k)
        m.set("learning_rate", lr)
        // TRL counts each completion's prompt tokens and its own.
        m.setProgress(tokens: starts.reduce(0, +) + ro.lengths.reduce(0, +), previous: history.last,
                      samplesDrawn: order.position, datasetSize: dataset.count)
        m.setTiming(since: t0)
        phaseSeconds = (rolloutSeconds, refSeconds, Date().timeIntervalSince(tPolicy))
        rolloutSeconds = 0
        try history.append(m)
        onStep?(m)
        return m
    }

    /// Mean per-token entropy over kept completions' tokens.
    static func meanEntropy(_ e: [[Float]], mask: [Bool]?) -> Double {
        var s = 0.0, n = 0
        for (i, row) in e.enumerated() where mask?[i] ?? true {
            for x in row { s += Double(x); n += 1 }
        }
        return n == 0 ? 0 : s / Double(n)
    }
}
