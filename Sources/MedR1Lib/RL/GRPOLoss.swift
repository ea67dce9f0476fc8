// The GRPO objective of docs/model.md as plain arithmetic on per-token
// log-probabilities: group advantages (scaled by the group's, the batch's or no
// std), the clipped surrogate with a k3 KL penalty, TRL's loss types (grpo,
// bnpo, dr_grpo, dapo, cispo, sapo), token- or sequence-level importance
// ratios (GSPO), entropy masking, the gradient dL/dlogp that the model's
// backward pass consumes, and TRL's clip metrics. No model here, so every
// number can be checked by hand.
import Foundation

/// How per-token losses are averaged (TRL's `loss_type`).
public enum GRPOLossType: String, Codable, Sendable, CaseIterable {
    /// mean over completions of each completion's token mean (DeepSeekMath / Med-R1).
    case grpo
    /// sum over all tokens / number of completion tokens in the batch.
    case bnpo
    /// sum over all tokens / (completions * max_completion_tokens) (Dr. GRPO).
    case drGRPO = "dr_grpo"
    /// sum over all tokens / active tokens of the whole (accumulated) batch (DAPO, TRL's default).
    case dapo
    /// -min(ratio, eps_high) A logp with the coefficient detached, dapo's normaliser (MiniMax-M1).
    case cispo
    /// -sigmoid(tau (ratio - 1)) 4/tau A, tau = sapo_temperature_pos for A > 0, _neg otherwise;
    /// averaged as grpo (Soft Adaptive Policy Optimization).
    case sapo
}

extension GRPOLossType {
    /// Whether the loss divides by the active tokens of the whole accumulated update (dapo,
    /// cispo) rather than being averaged per part and divided by the accumulation steps.
    public var normalisesByUpdateTokens: Bool { self == .dapo || self == .cispo }
}

/// Where the importance ratio is taken (TRL's `importance_sampling_level`).
public enum ImportanceSamplingLevel: String, Codable, Sendable, CaseIterable {
    /// ratio_t = exp(logp_t - logp_old_t), one per token.
    case token
    /// ratio = exp(mean over the completion's tokens of (logp_t - logp_old_t)), one per completion (GSPO).
    case sequence
}

/// What advantages are divided by (TRL's `scale_rewards`; true and false are "group" and "none").
public enum RewardScaling: String, Codable, Sendable, CaseIterable {
    /// The group's reward std (N-1).
    case group
    /// The std (N-1) of every reward of the batch (PPO Lite); the mean is still the group's.
    case batch
    /// Not divided: A = r - mean(group).
    case none

    /// Reads `true`/`false` (a config written when this was a flag) as "group"/"none".
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = b ? .group : .none; return }
        let w = try c.decode(String.self)
        guard let v = RewardScaling(rawValue: w) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown scale_rewards \"\(w)\"")
        }
        self = v
    }
}

/// Small statistics shared by rewards, advantages and metrics.
public enum RLStats {
    /// Mean and sample standard deviation (N-1 denominator, as torch.std); std 0 for n < 2.
    public static func meanStd(_ x: [Double]) -> (mean: Double, std: Double) {
        guard !x.isEmpty else { return (0, 0) }
        let m = x.reduce(0, +) / Double(x.count)
        guard x.count > 1 else { return (m, 0) }
        let v = x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)
        return (m, v.squareRoot())
    }
}

/// Group-normalised advantages.
public struct Advantages: Sendable, Equatable {
    /// One per completion, in rollout order (prompt-major: prompt p, completion g at p*G+g).
    public var values: [Double]
    /// Per-group std of the rewards, N-1 denominator (the one advantages are divided by with
    /// scale_rewards "group").
    public var groupStd: [Double]
    /// Per-group mean reward.
    public var groupMean: [Double]
    /// Share of groups whose rewards are all equal (no learning signal; TRL frac_reward_zero_std).
    public var fracZeroStd: Double

    /// A_i = (r_i - mean(r)) / (std(r) + 1e-4) within each group of `group` completions
    /// (std over the group with N-1 denominator); scaleRewards = false: A_i = r_i - mean(r).
    public static func compute(rewards: [Double], group: Int, scaleRewards: Bool) -> Advantages {
        compute(rewards: rewards, group: group, scaleRewards: scaleRewards ? RewardScaling.group : .none)
    }

    /// As TRL's "sum_then_normalize": A_i = r_i - mean(group of i), divided by (s + 1e-4) where
    /// s is the group's std ("group"), the whole batch's std ("batch"), or not divided ("none");
    /// every std with the N-1 denominator (torch.std). frac_reward_zero_std counts the
    /// completions whose s is 0 (|s| <= 1e-8, torch.isclose); with "none" s is the group's.
    public static func compute(rewards: [Double], group: Int, scaleRewards scale: RewardScaling) -> Advantages {
        precondition(group >= 1 && rewards.count % group == 0, "rewards must be a whole number of groups")
        let nGroups = rewards.count / group
        var adv = [Double](repeating: 0, count: rewards.count)
        var means: [Double] = [], stds: [Double] = []
        var zero = 0
        let batchStd = RLStats.meanStd(rewards).std
        for g in 0..<nGroups {
            let slice = Array(rewards[(g * group)..<((g + 1) * group)])
            let (m, gs) = RLStats.meanStd(slice)
            means.append(m); stds.append(gs)
            let s = scale == .batch ? batchStd : gs
            // torch.isclose(std, 0): |std| <= 1e-8 (atol) + 1e-5 * 0
            if abs(s) <= 1e-8 { zero += 1 }
            for k in 0..<group {
                let i = g * group + k
                adv[i] = scale == .none ? rewards[i] - m : (rewards[i] - m) / (s + 1e-4)
            }
        }
        return Advantages(values: adv, groupStd: stds, groupMean: means,
                          fracZeroStd: nGroups == 0 ? 0 : Double(zero) / Double(nGroups))
    }
}

/// The loss's hyper-parameters (a view of GRPOConfig).
public struct GRPOLossConfig: Sendable, Equatable {
    public var lossType: GRPOLossType = .grpo
    public var epsLow: Double = 0.2
    public var epsHigh: Double = 0.2
    /// Two-sided clipping: the ratio of the unclipped term is capped at delta; 0 = off.
    public var delta: Double = 0
    public var beta: Double = 0.04
    /// Used by dr_grpo's denominator.
    public var maxTokens: Int = 64
    /// Token-level ratios or one per completion (GSPO).
    public var importanceSampling: ImportanceSamplingLevel = .token
    /// sapo's gate temperatures for A > 0 and A <= 0 (TRL: 1.0 and 1.05).
    public var sapoTemperaturePos: Double = 1.0
    public var sapoTemperatureNeg: Double = 1.05
    /// dapo's and cispo's normaliser: the active tokens of the whole accumulated batch when the
    /// gradient is taken in several parts; nil = this batch's active tokens.
    public var globalTokens: Int? = nil
    public init(lossType: GRPOLossType = .grpo, epsLow: Double = 0.2, epsHigh: Double = 0.2, delta: Double = 0,
                beta: Double = 0.04, maxTokens: Int = 64, importanceSampling: ImportanceSamplingLevel = .token,
                sapoTemperaturePos: Double = 1.0, sapoTemperatureNeg: Double = 1.05, globalTokens: Int? = nil) {
        self.lossType = lossType; self.epsLow = epsLow; self.epsHigh = epsHigh; self.delta = delta
        self.beta = beta; self.maxTokens = maxTokens; self.importanceSampling = importanceSampling
        self.sapoTemperaturePos = sapoTemperaturePos; self.sapoTemperatureNeg = sapoTemperatureNeg
        self.globalTokens = globalTokens
    }
}

/// Loss value, its gradient wrt each policy log-prob, and TRL's per-batch metrics.
public struct GRPOLossResult: Sendable {
    public var loss: Double
    /// dLoss/dlogp_theta[i][t], same ragged shape as the input log-probs.
    public var dLogProbs: [[Float]]
    /// Mean k3 KL per (unmasked) token; 0 when beta == 0 or no reference given.
    public var kl: Double
    /// Token shares (over unmasked tokens): ratio < 1-eps_low with A < 0, ratio > 1+eps_high with A > 0, either.
    public var clipLow: Double
    public var clipHigh: Double
    public var clipRegion: Double
    /// Number of unmasked tokens.
    public var tokens: Int
}

public enum GRPOLoss {
    /// The per-token GRPO loss of docs/model.md and its gradient.
    ///
    ///     ratio    = exp(logp - logp_old)                  (token level)
    ///              = exp(mean_t (logp_t - logp_old_t))     (sequence level, GSPO: one per completion)
    ///     kl       = exp(ref - logp) - (ref - logp) - 1
    ///     L        = -min(min(ratio, delta) A, clip(ratio, 1-eps_low, 1+eps_high) A) + beta kl
    ///     dL/dlogp = -ratio A  (unless the smaller term is constant in logp: the clipped one with
    ///                           ratio outside the clip range, or the first with ratio > delta: 0)
    ///                + beta (1 - exp(ref - logp))
    ///
    /// `min(ratio, delta)` is two-sided clipping (TRL's delta), off when delta is 0. cispo's
    /// policy term is -min(ratio, eps_high) A logp with the coefficient detached, sapo's
    /// -sigmoid(tau (ratio - 1)) 4/tau A (TRL's GRPOTrainer._compute_loss).
    ///
    /// - Parameters:
    ///   - logProbs: logp_theta, one array per completion (its tokens).
    ///   - oldLogProbs: logp_old; nil means logp_theta detached (one pass per rollout: ratio 1).
    ///   - refLogProbs: reference log-probs; nil (or beta 0) means no KL term.
    ///   - advantages: one per completion.
    ///   - mask: per completion, false drops all its tokens (truncated completions when masked);
    ///     nil keeps all.
    ///   - tokenMask: per token, false leaves the token's policy term out (entropy masking, see
    ///     `entropyMask`); its KL term and the normalisers stay. nil keeps all.
    /// With grpo every completion counts in the mean over completions, a masked one with 0
    /// (as TRL, whose masked rows contribute 0 and still count).
    public static func compute(logProbs: [[Float]], oldLogProbs: [[Float]]?, refLogProbs: [[Float]]?,
                               advantages: [Double], mask: [Bool]? = nil, tokenMask: [[Bool]]? = nil,
                               config: GRPOLossConfig) -> GRPOLossResult {
        let n = logProbs.count
        precondition(advantages.count == n, "one advantage per completion")
        var acc = GRPOLossAccumulator(tokenCounts: logProbs.map(\.count), advantages: advantages, mask: mask,
                                      withReference: refLogProbs != nil, config: config, tokenMask: tokenMask)
        let d = (0..<n).map { i in
            acc.gradient(row: i, logProbs: logProbs[i], old: oldLogProbs?[i], reference: refLogProbs?[i])
        }
        return acc.result(dLogProbs: d)
    }

    /// TRL's entropy masking (top_entropy_quantile q < 1): the threshold is the (1 - q) quantile
    /// of the entropies of every token of the kept completions (torch.quantile: linear
    /// interpolation between the sorted values at position (1 - q)(N - 1)), and a token counts
    /// when its entropy is >= the threshold. Masked completions' tokens are all false.
    public static func entropyMask(_ entropies: [[Float]], mask: [Bool]?, quantile q: Double) -> [[Bool]] {
        var all: [Double] = []
        for (i, row) in entropies.enumerated() where mask?[i] ?? true { all += row.map(Double.init) }
        guard !all.isEmpty else { return entropies.map { [Bool](repeating: false, count: $0.count) } }
        all.sort()
        let pos = (1 - q) * Double(all.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, all.count - 1)
        let threshold = all[lo] + (all[hi] - all[lo]) * (pos - Double(lo))
        return entropies.enumerated().map { i, row in
            (mask?[i] ?? true) ? row.map { Double($0) >= threshold } : [Bool](repeating: false, count: row.count)
        }
    }
}

/// `GRPOLoss.compute` one completion at a time, so the model can take the
/// loss gradient of a chunk of rows, run their backward and free their
/// activations before the next chunk (MedR1Model.logProbsWithBackward): each
/// token's gradient depends only on its own completion and on counts known
/// before the forward (completions, tokens), so the chunks' gradients are
/// exactly those of the whole batch.
public struct GRPOLossAccumulator: Sendable {
    public let config: GRPOLossConfig
    let advantages: [Double]
    let mask: [Bool]?
    let tokenMask: [[Bool]]?
    let useKL: Bool
    let n: Int
    /// Tokens of each completion that count (0 when masked).
    let tokensOf: [Int]
    /// Unmasked tokens of the batch.
    let total: Int
    // Per completion (summed in row order by `result`).
    var perCompletion: [Double]
    var klSums: [Double]
    var low: [Int], high: [Int], region: [Int]

    /// - tokenCounts: completion tokens of each row (its number of log-probs).
    /// - withReference: reference log-probs will be given (with beta != 0: a KL term).
    /// - tokenMask: per token, whether its policy term counts (entropy masking); nil: all.
    public init(tokenCounts: [Int], advantages: [Double], mask: [Bool]?, withReference: Bool, config: GRPOLossConfig,
                tokenMask: [[Bool]]? = nil) {
        precondition(advantages.count == tokenCounts.count, "one advantage per completion")
        self.config = config; self.advantages = advantages; self.mask = mask; self.tokenMask = tokenMask
        n = tokenCounts.count
        useKL = config.beta != 0 && withReference
        tokensOf = tokenCounts.indices.map { (mask?[$0] ?? true) ? tokenCounts[$0] : 0 }
        total = tokensOf.reduce(0, +)
        perCompletion = [Double](repeating: 0, count: n)
        klSums = [Double](repeating: 0, count: n)
        low = [Int](repeating: 0, count: n); high = low; region = low
    }

    /// x (a token's loss or gradient in row i) normalised as the loss type says: times
    /// 1 / (T_i n) for grpo and sapo, divided by the batch's tokens (bnpo), the whole
    /// accumulated batch's tokens (dapo, cispo) or n x max_tokens (dr_grpo).
    func normalised(_ x: Double, row i: Int) -> Double {
        switch config.lossType {
        case .grpo, .sapo: return x * (1.0 / (Double(max(tokensOf[i], 1)) * Double(max(n, 1))))
        case .bnpo: return x / Double(max(total, 1))
        case .dapo, .cispo: return x / Double(max(config.globalTokens ?? total, 1))
        case .drGRPO: return x / Double(max(n, 1) * config.maxTokens)
        }
    }

    /// The policy term at ratio r with advantage a, and its derivative with respect to log r
    /// (grpo, bnpo, dr_grpo, dapo: the clipped surrogate; sapo: the soft gate). Not for cispo,
    /// whose coefficient is detached.
    func policyTerm(ratio: Double, advantage a: Double) -> (loss: Double, grad: Double) {
        if config.lossType == .sapo {
            // d/dlog r of -sigmoid(tau (r - 1)) 4/tau a = -a 4 s (1 - s) r
            let tau = a > 0 ? config.sapoTemperaturePos : config.sapoTemperatureNeg
            let s = 1 / (1 + exp(-tau * (ratio - 1)))
            return (-s * 4 / tau * a, -a * 4 * s * (1 - s) * ratio)
        }
        let clipped = min(max(ratio, 1 - config.epsLow), 1 + config.epsHigh)
        let capped = config.delta > 0 && ratio > config.delta
        let c1 = (capped ? config.delta : ratio) * a, c2 = clipped * a
        // d(-min(c1, c2))/dlog r: c1 wins (or ties): -ratio a, or 0 when capped at delta;
        // c2 strictly smaller: -ratio a with ratio inside the range where clip is the
        // identity, 0 with ratio clipped.
        let inside = ratio >= 1 - config.epsLow && ratio <= 1 + config.epsHigh
        return (-min(c1, c2), c1 <= c2 ? (capped ? 0 : -ratio * a) : (inside ? -ratio * a : 0))
    }

    /// Counts a ratio in the clip metrics of row i.
    mutating func countClip(row i: Int, ratio: Double, advantage a: Double) {
        let isLow = ratio < 1 - config.epsLow && a < 0, isHigh = ratio > 1 + config.epsHigh && a > 0
        if isLow { low[i] += 1 }
        if isHigh { high[i] += 1 }
        if isLow || isHigh { region[i] += 1 }
    }

    /// dLoss/dlogp_theta for completion i (normalised for the whole batch),
    /// recording its loss and metric terms. old nil: logp_old = logp detached.
    public mutating func gradient(row i: Int, logProbs lp: [Float], old: [Float]?, reference ref: [Float]?) -> [Float] {
        var d = [Float](repeating: 0, count: lp.count)
        guard mask?[i] ?? true else { return d }
        precondition(lp.count == tokensOf[i], "row \(i): \(lp.count) log-probs, \(tokensOf[i]) expected")
        let a = advantages[i], T = lp.count
        let keep = tokenMask?[i]
        if let keep { precondition(keep.count == T, "row \(i): \(keep.count) token-mask entries, \(T) expected") }
        let counted = keep.map { $0.filter { $0 }.count } ?? T
        // GSPO: one ratio per completion, w = exp(mean_t log ratio_t), dw/dlogp_t = w / T, so
        // each token's gradient is the counted tokens' summed dP/dlog w, divided by T.
        var seqRatio: Double? = nil, seqTerm = (loss: 0.0, grad: 0.0)
        if config.importanceSampling == .sequence && T > 0 {
            var s = 0.0
            for t in 0..<T { let x = Double(lp[t]); s += x - (old.map { Double($0[t]) } ?? x) }
            let w = exp(s / Double(T))
            seqRatio = w
            if config.lossType != .cispo { seqTerm = policyTerm(ratio: w, advantage: a) }
            countClip(row: i, ratio: w, advantage: a)
        }
        var sum = 0.0, klSum = 0.0
        for t in 0..<T {
            let x = Double(lp[t])
            let counts = keep?[t] ?? true
            var l = 0.0, g = 0.0
            let ratio = seqRatio ?? exp(x - (old.map { Double($0[t]) } ?? x))
            if seqRatio == nil { countClip(row: i, ratio: ratio, advantage: a) }
            if config.lossType == .cispo {
                // -detach(min(ratio, eps_high)) A logp: the gradient is the coefficient.
                let c = min(ratio, config.epsHigh)
                if counts { l = -c * a * x; g = -c * a }
            } else if seqRatio != nil {
                if counts { l = seqTerm.loss }
                g = seqTerm.grad * Double(counted) / Double(T)
            } else if counts {
                (l, g) = policyTerm(ratio: ratio, advantage: a)
            }
            if useKL, let ref {
                let delta = Double(ref[t]) - x
                let kl = exp(delta) - delta - 1
                l += config.beta * kl
                g += config.beta * (1 - exp(delta))
                klSum += kl
            }
            sum += l
            d[t] = Float(g)
        }
        perCompletion[i] = sum; klSums[i] = klSum
        for t in 0..<d.count { d[t] = Float(normalised(Double(d[t]), row: i)) }
        return d
    }

    /// The loss and metrics over every completion given so far, with their gradients.
    /// Clip metrics are shares of tokens, or of completions with sequence-level ratios (as TRL).
    public func result(dLogProbs: [[Float]]) -> GRPOLossResult {
        var loss = 0.0
        switch config.lossType {
        case .grpo, .sapo:
            for i in 0..<n { loss += normalised(perCompletion[i], row: i) }
        default:
            loss = normalised(perCompletion.reduce(0, +), row: 0)
        }
        let tk = Double(max(total, 1))
        let clipDenom = config.importanceSampling == .sequence ? Double(max(n, 1)) : tk
        return GRPOLossResult(loss: loss, dLogProbs: dLogProbs, kl: useKL ? klSums.reduce(0, +) / tk : 0,
                              clipLow: Double(low.reduce(0, +)) / clipDenom, clipHigh: Double(high.reduce(0, +)) / clipDenom,
                              clipRegion: Double(region.reduce(0, +)) / clipDenom, tokens: total)
    }
}

extension GRPOConfig {
    /// The entropy mask of `top_entropy_quantile` for a batch (nil when it is 1: every token
    /// counts): the policy's per-token entropies at `temperature` from a forward without
    /// gradient, then `GRPOLoss.entropyMask`.
    public func entropyMask(model: MedR1Model, images: [[Float]], sequences: [[Int]], targetStart: [Int],
                            mask: [Bool]?) throws -> [[Bool]]? {
        guard topEntropyQuantile < 1 else { return nil }
        let e = try model.tokenLogProbs(images: images, sequences: sequences, targetStart: targetStart,
                                        temperature: Float(temperature), withGrad: false, entropy: true).entropy
        return GRPOLoss.entropyMask(e, mask: mask, quantile: topEntropyQuantile)
    }
}
