// One GRPO step (docs/model.md, "GRPO loss"):
//   rollout  : promptsPerStep prompts x G completions, sampled with a shared-prefix KV cache
//   rewards  : each reward on each completion, weighted sum (a failure aborts the step)
//   advantage: group-normalised
//   reference: log-probs of the completions under the frozen reference (when beta != 0)
//   policy   : teacher-forced log-probs with gradient, dL/dlogp from GRPOLoss, backward
//   update   : clip the global grad norm, AdamW at the scheduled lr; numIterations passes,
//              each of stepsPerGeneration updates on equal parts of the rollout in order;
//              with syncRefModel the reference moves toward the policy every
//              refModelSyncSteps optimiser steps
// The step is all-or-nothing: if a reward throws or returns a bad value, or an update would
// make the loss, the gradient norm, a weight or a moment non-finite, neither the model, the
// optimiser, the RNG nor the prompt order moves.
import Foundation

/// GRPO training of a policy against a frozen reference copy taken at construction.
public final class GRPOTrainer: Trainer {
    public var mode: String { "grpo" }
    public var abortStep: () -> Bool = { false }
    public let model: MedR1Model
    /// Frozen copy of the policy when the trainer was made (the KL anchor).
    public let reference: MedR1Model
    public let dataset: Dataset
    public let encoder: ExampleEncoder
    public let images: ImageCache
    /// The rewards of the next rollout, with their weights (`set(rewards:)` changes them).
    public private(set) var rewards: [Reward]
    public private(set) var config: GRPOConfig
    public let optimizer: AdamW
    /// Rollouts done (trainer steps); each does `numIterations` optimiser updates.
    public internal(set) var stepCount = 0
    public internal(set) var history: MetricsHistory
    /// The most recent rollout (nil before the first step).
    public private(set) var last: Rollout?
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

    /// Trains the next steps with other rewards (and weights): the policy, reference,
    /// optimiser state, sampler and sample order stay. Throws `RLError.invalidOption`
    /// (changing nothing) for an empty list or a weight out of range.
    public func set(rewards rs: [Reward]) throws {
        guard !rs.isEmpty else { throw RLError.invalidOption("grpo: rewards is empty; give at least one, e.g. [format(), accuracy()]") }
        try Reward.checkWeights(rs, owner: "grpo")
        rewards = rs
    }

    // MARK: - Rollout

    /// Samples G completions for each of `samples` and scores them. Does not touch the model;
    /// advances the sampler's RNG.
    public func rollout(_ samples: [Sample]) throws -> Rollout {
        let g = config.group
        try Reward.checkWeights(rewards, owner: "grpo")
        let imgs = try samples.map { try images.image(for: $0) }
        let prompts = samples.map { encoder.tokens(for: $0).prompt }
        let outs = try sampler.sampleBatch(model: model, images: imgs, prompts: prompts, count: g,
                                           eos: encoder.tokenizer.eos, decode: encoder.text(of:))
        let completions = Rollout.completions(samples: samples, outputs: outs, text: encoder.text(of:))
        return try Rollout.score(completions, group: g, rewards: rewards, scaleRewards: config.scaleRewards)
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
        let parts = config.stepsPerGeneration
        guard n > 0, n % parts == 0, ro.advantages.count == n else {
            throw RLError.invalidOption("grpo: steps_per_generation \(parts) must divide the rollout's \(n) completions into equal updates")
        }
        let batch = try PolicyBatch(ro.completions, prompt: { encoder.tokens(for: $0.sample).prompt },
                                    image: { try images.image(for: $0.sample) })
        let vocab = model.config.vocabSize, room = model.config.maxSeq - model.config.nPatches
        for (i, c) in ro.completions.enumerated() {
            guard c.tokens.allSatisfy({ $0 >= 0 && $0 < vocab }), batch.sequences[i].count <= room else {
                throw RLError.invalidOption("grpo: completion \(i) of the rollout does not fit this model (a token id outside "
                                            + "vocab_size \(vocab), or prompt + completion longer than \(room) tokens); "
                                            + "train on rollouts sampled from the trainer's model")
            }
        }
        let temp = Float(config.temperature)
        let mask: [Bool]? = config.maskTruncatedCompletions ? ro.completions.map { $0.finishReason != .length } : nil
        let tRef = Date()
        var refLP: [[Float]]? = nil
        if config.beta != 0 {
            refLP = try reference.tokenLogProbs(images: batch.images, sequences: batch.sequences, targetStart: batch.starts,
                                                temperature: temp, withGrad: false, entropy: false).logProbs
        }
        let refSeconds = Date().timeIntervalSince(tRef)
        let tPolicy = Date()
        // logp_old: the policy that sampled. With one update per pass it is the first
        // pass's own forward; with several, later parts see an updated policy, so it is
        // taken from a forward of the whole rollout before any update.
        var old: [[Float]]? = nil
        if parts > 1 {
            old = try model.tokenLogProbs(images: batch.images, sequences: batch.sequences, targetStart: batch.starts,
                                          temperature: temp, withGrad: false, entropy: false).logProbs
        }
        var lossSum = 0.0, klSum = 0.0, low = 0.0, high = 0.0, region = 0.0, gnSum = 0.0
        var entropySum = 0.0, entropyCount = 0
        var lr = 0.0
        // Parts whose gradients are summed, each divided by `accumulate`, into one update.
        let accumulate = config.gradientAccumulationSteps
        let passes = config.numIterations * parts, updates = passes / accumulate
        // Several updates per rollout: keep what the first changes, to undo it if a later one fails.
        let undo = updates > 1 ? UpdateUndo(model, optimizer) : nil
        let refUndo = updates > 1 && config.syncRefModel ? UpdateUndo(reference, nil) : nil
        let size = n / parts
        let activeTokens = batch.tokenCounts.indices.map { (mask?[$0] ?? true) ? batch.tokenCounts[$0] : 0 }
        var updateLoss = 0.0
        do {
            for it in 0..<config.numIterations {
                for part in 0..<parts {
                    let rows = (part * size)..<((part + 1) * size)
                    let sub = parts == 1 ? batch : batch.rows(rows)
                    let subMask = parts == 1 ? mask : mask.map { Array($0[rows]) }
                    let subRef = parts == 1 ? refLP : refLP.map { Array($0[rows]) }
                    if part % accumulate == 0 { model.zeroGrad(); updateLoss = 0 }
                    // Forward, loss gradient and backward a chunk of prompt groups at a
                    // time (only one chunk's activations resident); the loss is per
                    // completion with normalisers over the part's completions, so this is
                    // the part's whole gradient (added to the update's).
                    // dapo and cispo divide by the active tokens of the whole accumulated update
                    // (TRL's num_items_in_batch), not by the accumulation steps.
                    var lossConfig = config.loss
                    let global = config.lossType.normalisesByUpdateTokens
                    if global {
                        let first = (part / accumulate) * accumulate * size
                        lossConfig.globalTokens = activeTokens[first..<(first + accumulate * size)].reduce(0, +)
                    }
                    let keep = try config.entropyMask(model: model, images: sub.images, sequences: sub.sequences,
                                                      targetStart: sub.starts, mask: subMask)
                    var acc = GRPOLossAccumulator(tokenCounts: sub.tokenCounts, advantages: parts == 1 ? ro.advantages : Array(ro.advantages[rows]),
                                                  mask: subMask, withReference: subRef != nil, config: lossConfig, tokenMask: keep)
                    let oldLP = old.map { parts == 1 ? $0 : Array($0[rows]) }
                    let scale = Float(global ? 1 : 1 / Double(accumulate))
                    let res = try model.logProbsWithBackward(images: sub.images, sequences: sub.sequences, targetStart: sub.starts,
                                                             temperature: temp, entropy: it == 0) { rws, lps in
                        if self.abortStep() { throw RLError.aborted("grpo: step \(self.stepCount + 1) aborted; nothing was applied") }
                        return zip(rws, lps).map { b, lp in
                            let d = acc.gradient(row: b, logProbs: lp, old: oldLP?[b], reference: subRef?[b])
                            return accumulate == 1 ? d : d.map { $0 * scale }
                        }
                    }
                    let loss = acc.result(dLogProbs: [])
                    if it == 0 {
                        if parts == 1 { old = res.logProbs }
                        let e = GRPOTrainer.entropySum(res.entropy, mask: subMask)
                        entropySum += e.sum; entropyCount += e.count
                    }
                    lossSum += loss.loss; klSum += loss.kl
                    low += loss.clipLow; high += loss.clipHigh; region += loss.clipRegion
                    updateLoss += loss.loss
                    guard (part + 1) % accumulate == 0 else { continue }
                    let gn = config.maxGradNorm > 0 ? clipGradNorm(model, maxNorm: Float(config.maxGradNorm))
                                                    : clipGradNorm(model, maxNorm: .infinity)
                    lr = config.schedule.lr(step: optimizer.stepCount, base: config.learningRate)
                    try checkedUpdate(model, optimizer, mode: "grpo", step: stepCount + 1, loss: updateLoss / Double(accumulate),
                                      gradNorm: gn, lr: lr)
                    if config.syncRefModel && optimizer.stepCount % config.refModelSyncSteps == 0 {
                        GRPOTrainer.mix(reference, toward: model, alpha: config.refModelMixupAlpha)
                    }
                    gnSum += Double(gn)
                }
            }
        } catch {
            undo?.restore(model, optimizer)
            refUndo?.restore(reference, nil)
            model.zeroGrad()
            throw error
        }
        let entropy = entropyCount == 0 ? 0 : entropySum / Double(entropyCount)
        model.zeroGrad()
        stepCount += 1
        last = ro
        let k = Double(passes)
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
        m.set("grad_norm", gnSum / Double(updates))
        m.set("learning_rate", lr)
        // TRL counts each completion's prompt tokens and its own.
        m.setProgress(tokens: batch.starts.reduce(0, +) + ro.lengths.reduce(0, +), previous: history.last,
                      samplesDrawn: order.position, datasetSize: dataset.count)
        m.setTiming(since: t0)
        phaseSeconds = (rolloutSeconds, refSeconds, Date().timeIntervalSince(tPolicy))
        rolloutSeconds = 0
        try history.append(m)
        return m
    }

    /// Sum and count of the per-token entropies of kept completions' tokens.
    static func entropySum(_ e: [[Float]], mask: [Bool]?) -> (sum: Double, count: Int) {
        var s = 0.0, n = 0
        for (i, row) in e.enumerated() where mask?[i] ?? true {
            for x in row { s += Double(x); n += 1 }
        }
        return (s, n)
    }

    /// ref = alpha * policy + (1 - alpha) * ref, weight by weight (TRL's reference sync).
    static func mix(_ reference: MedR1Model, toward policy: MedR1Model, alpha: Double) {
        let r = reference.values.pointer, p = policy.values.pointer
        let a = Float(alpha), b = Float(1 - alpha)
        for i in 0..<reference.parameterCount { r[i] = a * p[i] + b * r[i] }
    }
}
