// The GRPO objective of docs/model.md as plain arithmetic on per-token
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
    /// Two-sided clipping: the ratio of the unclipped term is capped at delta; 0 = off.
    public var delta: Double = 0
    public var beta: Double = 0.04
    /// Used by dr_grpo's denominator.
    public var maxTokens: Int = 64
    public init(lossType: GRPOLossType = .grpo, epsLow: Double = 0.2, epsHigh: Double = 0.2, delta: Double = 0,
                beta: Double = 0.04, maxTokens: Int = 64) {
        self.lossType = lossType; self.epsLow = epsLow; self.epsHigh = epsHigh; self.delta = delta
        self.beta = beta; self.maxTokens = maxTokens
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
    ///     ratio    = exp(logp - logp_old)
    ///     kl       = exp(ref - logp) - (ref - logp) - 1
    ///     L        = -min(min(ratio, delta) A, clip(ratio, 1-eps_low, 1+eps_high) A) + beta kl
    ///     dL/dlogp = -ratio A  (unless the smaller term is constant in logp: the clipped one with
    ///                           ratio outside the clip range, or the first with ratio > delta: 0)
    ///                + beta (1 - exp(ref - logp))
    ///
    /// `min(ratio, delta)` is two-sided clipping (TRL's delta), off when delta is 0.
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
        var acc = GRPOLossAccumulator(tokenCounts: logProbs.map(\.count), advantages: advantages, mask: mask,
                                      withReference: refLogProbs != nil, config: config)
        let d = (0..<n).map { i in
            acc.gradient(row: i, logProbs: logProbs[i], old: oldLogProbs?[i], reference: refLogProbs?[i])
        }
        return acc.result(dLogProbs: d)
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
    public init(tokenCounts: [Int], advantages: [Double], mask: [Bool]?, withReference: Bool, config: GRPOLossConfig) {
        precondition(advantages.count == tokenCounts.count, "one advantage per completion")
        self.config = config; self.advantages = advantages; self.mask = mask
        n = tokenCounts.count
        useKL = config.beta != 0 && withReference
        tokensOf = tokenCounts.indices.map { (mask?[$0] ?? true) ? tokenCounts[$0] : 0 }
        total = tokensOf.reduce(0, +)
        perCompletion = [Double](repeating: 0, count: n)
        klSums = [Double](repeating: 0, count: n)
        low = [Int](repeating: 0, count: n); high = low; region = low
    }

    /// dLoss/dlogp_theta for completion i (normalised for the whole batch),
    /// recording its loss and metric terms. old nil: logp_old = logp detached.
    public mutating func gradient(row i: Int, logProbs lp: [Float], old: [Float]?, reference ref: [Float]?) -> [Float] {
        var d = [Float](repeating: 0, count: lp.count)
        guard mask?[i] ?? true else { return d }
        precondition(lp.count == tokensOf[i], "row \(i): \(lp.count) log-probs, \(tokensOf[i]) expected")
        let a = advantages[i]
        var sum = 0.0, klSum = 0.0
        for t in 0..<lp.count {
            let x = Double(lp[t])
            let o = old.map { Double($0[t]) } ?? x
            let ratio = exp(x - o)
            let clipped = min(max(ratio, 1 - config.epsLow), 1 + config.epsHigh)
            let capped = config.delta > 0 && ratio > config.delta
            let c1 = (capped ? config.delta : ratio) * a, c2 = clipped * a
            var l = -min(c1, c2)
            // d(-min(c1, c2))/dx: c1 wins (or ties): -ratio a, or 0 when capped at delta;
            // c2 strictly smaller: -ratio a with ratio inside the range where clip is the
            // identity, 0 with ratio clipped.
            let inside = ratio >= 1 - config.epsLow && ratio <= 1 + config.epsHigh
            var g = c1 <= c2 ? (capped ? 0 : -ratio * a) : (inside ? -ratio * a : 0)
            if useKL, let ref {
                let delta = Double(ref[t]) - x
                let kl = exp(delta) - delta - 1
                l += config.beta * kl
                g += config.beta * (1 - exp(delta))
                klSum += kl
            }
            if ratio < 1 - config.epsLow && a < 0 { low[i] += 1 }
            if ratio > 1 + config.epsHigh && a > 0 { high[i] += 1 }
            if (ratio < 1 - config.epsLow && a < 0) || (ratio > 1 + config.epsHigh && a > 0) { region[i] += 1 }
            sum += l
            d[t] = Float(g)
        }
        perCompletion[i] = sum; klSums[i] = klSum
        // Scale of each token's contribution to the loss.
        switch config.lossType {
        case .grpo:
            let s = 1.0 / (Double(max(tokensOf[i], 1)) * Double(max(n, 1)))
            for t in 0..<d.count { d[t] = Float(Double(d[t]) * s) }
        case .bnpo, .drGRPO:
            let denom = config.lossType == .bnpo ? Double(max(total, 1)) : Double(max(n, 1) * config.maxTokens)
            for t in 0..<d.count { d[t] = Float(Double(d[t]) / denom) }
        }
        return d
    }

    /// The loss and metrics over every completion given so far, with their gradients.
    public func result(dLogProbs: [[Float]]) -> GRPOLossResult {
        var loss = 0.0
        switch config.lossType {
        case .grpo:
            for i in 0..<n { loss += perCompletion[i] * (1.0 / (Double(max(tokensOf[i], 1)) * Double(max(n, 1)))) }
        case .bnpo, .drGRPO:
            let denom = config.lossType == .bnpo ? Double(max(total, 1)) : Double(max(n, 1) * config.maxTokens)
            loss = perCompletion.reduce(0, +) / denom
        }
        let tk = Double(max(total, 1))
        return GRPOLossResult(loss: loss, dLogProbs: dLogProbs, kl: useKL ? klSums.reduce(0, +) / tk : 0,
                              clipLow: Double(low.reduce(0, +)) / tk, clipHigh: Double(high.reduce(0, +)) / tk,
                              clipRegion: Double(region.reduce(0, +)) / tk, tokens: total)
    }
}
