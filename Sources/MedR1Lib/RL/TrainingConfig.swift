// Hyper-parameters of the GRPO and SFT trainers and their learning-rate
// schedules, each default with where it comes from (docs/model.md,
// docs/training.md, TRL's GRPOConfig / TrainingArguments).
import Foundation

/// Learning rate as a function of the optimiser step (0-based), as a multiple of the base lr.
public enum LRSchedule: Codable, Sendable, Equatable, CustomStringConvertible {
    /// lr for every step.
    case constant
    /// Linear ramp from lr/warmup to lr over `steps` steps, then constant.
    case warmup(steps: Int)
    /// Linear warm-up over `warmup` steps, then cosine decay from lr to `minFactor` * lr at
    /// `total` steps (and `minFactor` * lr after), as transformers' cosine schedule with a floor
    /// (`cosine_with_min_lr`, whose `min_lr_rate` is `minFactor`).
    case cosine(warmup: Int, total: Int, minFactor: Double)
    /// Linear warm-up over `warmup` steps, then linear decay from lr to 0 at `total` steps (and
    /// 0 after), as transformers' `linear` schedule: max(0, (total - step) / (total - warmup)).
    case linear(warmup: Int, total: Int)

    /// The multiplier of the base learning rate at `step` (0-based).
    public func factor(step: Int) -> Double {
        switch self {
        case .constant:
            return 1
        case .warmup(let w):
            return w > 0 && step < w ? Double(step + 1) / Double(w) : 1
        case .cosine(let w, let total, let minF):
            if w > 0 && step < w { return Double(step + 1) / Double(w) }
            let span = max(total - w, 1)
            let p = min(max(Double(step - w) / Double(span), 0), 1)
            return minF + (1 - minF) * 0.5 * (1 + cos(Double.pi * p))
        case .linear(let w, let total):
            if w > 0 && step < w { return Double(step + 1) / Double(w) }
            return max(0, Double(total - step) / Double(max(total - w, 1)))
        }
    }

    /// lr at `step` for base learning rate `base`.
    public func lr(step: Int, base: Double) -> Double { base * factor(step: step) }

    public var description: String {
        switch self {
        case .constant: return "constant"
        case .warmup(let w): return "warmup(\(w))"
        case .cosine(let w, let t, let m): return "cosine(warmup: \(w), total: \(t), min: \(m))"
        case .linear(let w, let t): return "linear(warmup: \(w), total: \(t))"
        }
    }
}

/// The optimiser settings SFT and GRPO share (AdamW, clipping, schedule).
public protocol OptimizerSettings {
    var learningRate: Double { get set }
    var schedule: LRSchedule { get set }
    var maxGradNorm: Double { get set }
    var weightDecay: Double { get set }
    var adamBeta1: Double { get set }
    var adamBeta2: Double { get set }
    var adamEps: Double { get set }
}

extension OptimizerSettings {
    /// The AdamW settings (the learning rate is given at each step, from the schedule).
    public var adamW: AdamWConfig {
        AdamWConfig(lr: Float(learningRate), beta1: Float(adamBeta1), beta2: Float(adamBeta2), eps: Float(adamEps),
                    weightDecay: Float(weightDecay))
    }
}

/// GRPO trainer settings. Defaults: docs/model.md's GRPO section and docs/training.md.
public struct GRPOConfig: Codable, Sendable, Equatable, OptimizerSettings {
    /// Completions per prompt, G (8 by default; must be >= 2 for a group std).
    public var group = 8
    /// Prompts per optimiser step (docs/training.md: 16 prompts x G 8).
    public var promptsPerStep = 16
    /// KL weight to the frozen reference (Med-R1: 0.04).
    public var beta = 0.04
    /// Lower clip of the ratio, 1 - epsLow (0.2 by default).
    public var epsLow = 0.2
    /// Upper clip of the ratio, 1 + epsHigh (0.2 by default; DAPO raises it to 0.28).
    public var epsHigh = 0.2
    /// Two-sided clipping: the unclipped term's ratio is capped at delta (TRL delta, default off); 0 = off.
    public var delta = 0.0
    /// Sampling temperature; the loss uses the same (1.0 by default, as TRL).
    public var temperature = 1.0
    /// Keep only the k most likely tokens when sampling; 0 = off (TRL default off).
    public var topK = 0
    /// Nucleus sampling mass; 1.0 = off (TRL default).
    public var topP = 1.0
    /// min-p filter (0 = off, TRL's None), repetition penalty (1 = off, TRL's default) and stop
    /// strings (none) of the sampler (SamplerConfig).
    public var minP = 0.0
    public var repetitionPenalty = 1.0
    public var stop: [String] = []
    /// Completion cap in tokens (64 by default; completions on SynthMed are ~10).
    public var maxTokens = 64
    /// Base learning rate (docs/training.md: 1e-4 stable on medr1-tiny, 3e-4 the most, 1e-3 collapses).
    public var learningRate = 1e-4
    /// Learning-rate schedule over optimiser steps (constant, as Med-R1's short runs).
    public var schedule: LRSchedule = .constant
    /// grpo / bnpo / dr_grpo / dapo / cispo / sapo (default grpo, Med-R1's; TRL's default is dapo).
    public var lossType: GRPOLossType = .grpo
    /// What advantages are divided by: the group's std, the batch's, or nothing (TRL
    /// scale_rewards, default "group"; Dr. GRPO uses "none").
    public var scaleRewards: RewardScaling = .group
    /// Token-level importance ratios, or one per completion (GSPO); TRL default "token".
    public var importanceSampling: ImportanceSamplingLevel = .token
    /// Only tokens whose entropy is in this top quantile of the batch count in the policy loss;
    /// 1 = all (TRL top_entropy_quantile, default 1.0).
    public var topEntropyQuantile = 1.0
    /// sapo's gate temperatures for positive and non-positive advantages (TRL: 1.0, 1.05).
    public var sapoTemperaturePos = 1.0
    public var sapoTemperatureNeg = 1.05
    /// Optimisation passes per rollout, mu (1 by default, so logp_old = logp detached).
    public var numIterations = 1
    /// Drop completions that hit the cap from the loss (TRL mask_truncated_completions, default off).
    public var maskTruncatedCompletions = false
    /// Parts per rollout: the prompts x G completions are split in order into this many
    /// equal parts, one update each, or one per gradientAccumulationSteps parts (TRL
    /// steps_per_generation; 1 = one update on the whole).
    public var stepsPerGeneration = 1
    /// Parts of a rollout whose gradients, each divided by this, are summed into one
    /// optimiser update (TRL gradient_accumulation_steps; divides stepsPerGeneration).
    public var gradientAccumulationSteps = 1
    /// Move the reference toward the policy every refModelSyncSteps optimiser steps:
    /// ref = alpha * policy + (1 - alpha) * ref (TRL sync_ref_model, default off).
    public var syncRefModel = false
    /// alpha of the reference sync (TRL ref_model_mixup_alpha, default 0.6).
    public var refModelMixupAlpha = 0.6
    /// Optimiser steps between reference syncs (TRL ref_model_sync_steps, default 512).
    public var refModelSyncSteps = 512
    /// Global gradient-norm clip (TRL max_grad_norm default 1.0); 0 = no clipping.
    public var maxGradNorm = 1.0
    /// AdamW decoupled weight decay (TRL TrainingArguments default 0).
    public var weightDecay = 0.0
    /// AdamW betas and eps (PyTorch defaults).
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var adamEps = 1e-8
    /// Seed of prompt order and sampling.
    public var seed: UInt64 = 0

    public init() {}

    /// The loss's view of these settings.
    public var loss: GRPOLossConfig {
        GRPOLossConfig(lossType: lossType, epsLow: epsLow, epsHigh: epsHigh, delta: delta, beta: beta,
                       maxTokens: maxTokens, importanceSampling: importanceSampling,
                       sapoTemperaturePos: sapoTemperaturePos, sapoTemperatureNeg: sapoTemperatureNeg)
    }

    /// Throws `RLError.invalidOption` for the first setting out of its range in
    /// `GRPOConfig.optionRules`, in the language's spelling: "grpo: adam_beta1 must be in [0, 1), got 1".
    public func validate() throws {
        try GRPOConfig.optionRules.validate(self, owner: "grpo")
        let n = promptsPerStep * group
        guard n % stepsPerGeneration == 0 else {
            throw RLError.invalidOption("grpo: steps_per_generation \(stepsPerGeneration) must divide the \(n) completions "
                                        + "of a rollout (prompts \(promptsPerStep) x group \(group)) into equal updates")
        }
        guard stepsPerGeneration % gradientAccumulationSteps == 0 else {
            throw RLError.invalidOption("grpo: gradient_accumulation_steps \(gradientAccumulationSteps) must divide "
                                        + "steps_per_generation \(stepsPerGeneration): each update sums whole parts of one rollout")
        }
    }
}

/// Supervised warm-up settings. Defaults: docs/training.md.
public struct SFTConfig: Codable, Sendable, Equatable, OptimizerSettings {
    /// Sequences per step, all question types mixed (docs/training.md: 64).
    public var batchSize = 64
    /// Base learning rate (docs/training.md: 1e-3 with AdamW on medr1-tiny).
    public var learningRate = 1e-3
    /// Learning-rate schedule (constant; warm-up is optional at this scale).
    public var schedule: LRSchedule = .constant
    /// Global gradient-norm clip (TRL default 1.0); 0 = none.
    public var maxGradNorm = 1.0
    /// AdamW decoupled weight decay (TRL default 0).
    public var weightDecay = 0.0
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var adamEps = 1e-8
    /// Seed of the batch order.
    public var seed: UInt64 = 0

    public init() {}

    /// Throws `RLError.invalidOption` for the first setting out of its range in `SFTConfig.optionRules`.
    public func validate() throws {
        try SFTConfig.optionRules.validate(self, owner: "sft")
    }
}

/// Errors of the trainers and sampler (rewards have their own `RewardError`).
public enum RLError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    /// An option out of its allowed range; the message names the option as a script spells it.
    case invalidOption(String)
    /// A trainer was given a data set without samples; the message names the builtin and the set.
    case emptyDataset(String)
    /// A checkpoint, trainer.json or metrics file that cannot be used; the
    /// message names the file and says what is wrong with it.
    case badState(String)
    /// A sample's image cannot be read or has the wrong size.
    case badImage(String)
    /// A step whose update would make the loss, the gradient norm, a weight or an optimiser
    /// moment non-finite; it was not applied.
    case nonFiniteUpdate(String)
    /// A step abandoned midway because its trainer's `abortStep` turned true; it was not applied.
    case aborted(String)

    public var description: String {
        switch self {
        case .invalidConfig(let s): return "invalid config: \(s)"
        case .invalidOption(let s), .badImage(let s), .nonFiniteUpdate(let s), .aborted(let s): return s
        case .emptyDataset(let s), .badState(let s): return s
        }
    }
}
