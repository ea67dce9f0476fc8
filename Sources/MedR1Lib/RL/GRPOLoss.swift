// The GRPO objective of model-spec.md as plain arithmetic on per-token
// log-probabilities: group advantages, the clipped surrogate with a k3 KL
// penalty, its three normalisations (grpo / bnpo / dr_grpo), the gradient
// dL/dlogp that the model's backward pass consumes, and TRL's clip metrics.
// No model here, so every number can be checked by hand.
import Foundation

/// How per-token losses are averaged (TRL's `loss_type`).
public enum GRPOLossType: String, Codable, Sendable, CaseIterable {
    /// mean over completions of each completion's token mean (DeepSeekMath / Med-R1).
    case grpo
    /// sum over all tokens / number of completion tokens in the batch.
    case bnpo
    /// sum over all tokens / (completions * max_completion_tokens) (Dr. GRPO).
    case drGRPO = "dr_grpo"
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
    /// Per-group sample std of the rewards.
    public var groupStd: [Double]
    /// Per-group mean reward.
    public var groupMean: [Double]
    /// Share of groups whose rewards are all equal (no learning signal; TRL frac_reward_zero_std).
    public var fracZeroStd: Double

    /// A_i = (r_i - mean(r)) / (std(r) + 1e-4) within each group of `group` completions
    /// (std over the group with N-1 denominator); scaleRewards = false: A_i = r_i - mean(r).
    public static func compute(rewards: [Double], group: Int, scaleRewards: Bool) -> Advantages {
        precondition(group >= 1 && rewards.count % group == 0, "rewards must be a whole number of groups")
        let nGroups = rewards.count / group
        var adv = [Double](repeating: 0, count: rewards.count)
        var means: [Double] = [], stds: [Double] = []
        var zero = 0
        for g in 0..<nGroups {
            let slice = Array(rewards[(g * group)..<((g + 1) * group)])
            let (m, s) = RLStats.meanStd(slice)
            means.append(m); stds.append(s)
            // torch.isclose(std, 0): |std| <= 1e-8 (atol) + 1e-5 * 0
            if abs(s) <= 1e-8 { zero += 1 }
            for k in 0..<group {
                let i = g * group + k
                adv[i] = scaleRewards ? (rewards[i] - m) / (s + 1e-4) : rewards[i] - m
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
    public var beta: Double = 0.04
    /// Used by dr_grpo's denominator.
    public var maxCompletionTokens: Int = 64
    public init(lossType: GRPOLossType = .grpo, epsLow: Double = 0.2, epsHigh: Double = 0.2,
                beta: Double = 0.04, maxCompletionTokens: Int = 64) {
        self.lossType = lossType; self.epsLow = epsLow; self.epsHigh = epsHigh
        self.beta = beta; self.maxCompletionTokens = maxCompletionTokens
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
    /// The per-token GRPO loss of model-spec.md and its gradient.
    ///
    ///     ratio    = exp(logp - logp_old)
    ///     kl       = exp(ref - logp) - (ref - logp) - 1
    ///     L        = -min(ratio A, clip(ratio, 1-eps_low, 1+eps_high) A) + beta kl
    ///     dL/dlogp = -ratio A  (unless the clipped term is the smaller one and ratio is outside the
    ///                           clip range: 0)  + beta (1 - exp(ref - logp))
    ///
    /// - Parameters:
    ///   - logProbs: logp_theta, one array per completion (its tokens).
    ///   - oldLogProbs: logp_old; nil means logp_theta detached (one pass per rollout: ratio 1).
    ///   - refLogProbs: reference log-probs; nil (or beta 0) means no KL term.
    ///   - advantages: one per completion.
    ///   - mask: per completion, false drops all its tokens (truncated completions when masked);
    ///     nil keeps all.
    /// With grpo every completion counts in the mean over completions, a masked one with 0
    /// (as TRL, whose masked rows contribute 0 and still count).
    public static func compute(logProbs: [[Float]], oldLogProbs: [[Float]]?, refLogProbs: [[Float]]?,
                               advantages: [Double], mask: [Bool]? = nil,
                               config: GRPOLossConfig) -> GRPOLossResult {
        let n = logProbs.count
        precondition(advantages.count == n, "one advantage per completion")
        let useKL = config.beta != 0 && refLogProbs != nil
        var d = logProbs.map { [Float](repeating: 0, count: $0.count) }
        var perCompletion = [Double](repeating: 0, count: n)   // sum_t L_i,t
        var tokensOf = [Int](repeating: 0, count: n)
        var klSum = 0.0, low = 0, high = 0, region = 0
        for i in 0..<n where mask?[i] ?? true {
            let a = advantages[i]
            let lp = logProbs[i]
            tokensOf[i] = lp.count
            for t in 0..<lp.count {
                let x = Double(lp[t])
                let old = oldLogProbs.map { Double($0[i][t]) } ?? x
                let ratio = exp(x - old)
                let clipped = min(max(ratio, 1 - config.epsLow), 1 + config.epsHigh)
                let c1 = ratio * a, c2 = clipped * a
                var l = -min(c1, c2)
                // d(-min(c1, c2))/dx: c1 wins (or ties, or ratio inside the range where
                // clip is the identity): -ratio a; c2 strictly smaller with ratio clipped: 0.
                let inside = ratio >= 1 - config.epsLow && ratio <= 1 + config.epsHigh
                var g = (c1 <= c2 || inside) ? -ratio * a : 0
                if useKL, let ref = refLogProbs {
                    let delta = Double(ref[i][t]) - x
                    let kl = exp(delta) - delta - 1
                    l += config.beta * kl
                    g += config.beta * (1 - exp(delta))
                    klSum += kl
                }
                if ratio < 1 - config.epsLow && a < 0 { low += 1 }
                if ratio > 1 + config.epsHigh && a > 0 { high += 1 }
                if (ratio < 1 - config.epsLow && a < 0) || (ratio > 1 + config.epsHigh && a > 0) { region += 1 }
                perCompletion[i] += l
                d[i][t] = Float(g)
            }
        }
        let total = tokensOf.reduce(0, +)
        // Scale of each token's contribution to the loss.
        var loss = 0.0
        switch config.lossType {
        case .grpo:
            for i in 0..<n {
                let s = 1.0 / (Double(max(tokensOf[i], 1)) * Double(max(n, 1)))
                loss += perCompletion[i] * s
                for t in 0..<d[i].count { d[i][t] = Float(Double(d[i][t]) * s) }
            }
        case .bnpo, .drGRPO:
            let denom = config.lossType == .bnpo ? Double(max(total, 1))
                                                 : Double(max(n, 1) * config.maxCompletionTokens)
            loss = perCompletion.reduce(0, +) / denom
            for i in 0..<n { for t in 0..<d[i].count { d[i][t] = Float(Double(d[i][t]) / denom) } }
        }
        let tk = Double(max(total, 1))
        return GRPOLossResult(loss: loss, dLogProbs: d, kl: useKL ? klSum / tk : 0,
                              clipLow: Double(low) / tk, clipHigh: Double(high) / tk,
                              clipRegion: Double(region) / tk, tokens: total)
    }
}
