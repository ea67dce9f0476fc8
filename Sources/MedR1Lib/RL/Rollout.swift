// A rollout: completions sampled for a few prompts, G per prompt, each scored by every
// reward, with the group-normalised advantages the GRPO loss weighs them by. Assembled
// here once for the trainer, the language's `sample` and the benchmark; rescoring
// recomputes rewards and advantages of the same completions under other rewards
// (no sampling), and a rescored rollout can be trained on (GRPOTrainer.update(with:)).
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
    /// Whether the advantages were divided by their group's std (scale_rewards).
    public var scaleRewards: RewardScaling

    /// Completions already scored; the advantages are computed from the totals.
    public init(completions: [Completion], rewards: RewardTable, group: Int, scaleRewards: RewardScaling) {
        self.completions = completions
        self.rewards = rewards
        self.group = group
        self.scaleRewards = scaleRewards
        advantages = Advantages.compute(rewards: rewards.totals, group: group, scaleRewards: scaleRewards).values
    }

    /// Scores `completions` (whole groups of `group`, prompt-major) with `rewards`.
    /// Throws `RewardError` when a reward throws or returns a bad value.
    public static func score(_ completions: [Completion], group: Int, rewards: [Reward], scaleRewards: RewardScaling) throws -> Rollout {
        Rollout(completions: completions, rewards: try RewardTable.evaluate(rewards, on: completions), group: group,
                scaleRewards: scaleRewards)
    }

    /// The completion records of sampled outputs: `outputs[p]` are the G completions of
    /// `samples[p]`; `text` decodes a completion's token ids.
    public static func completions(samples: [Sample], outputs: [[SampledCompletion]],
                                   text: ([Int]) -> String) -> [Completion] {
        var out: [Completion] = []
        out.reserveCapacity(outputs.reduce(0) { $0 + $1.count })
        for (p, s) in samples.enumerated() {
            for (k, o) in outputs[p].enumerated() {
                out.append(Completion(text: text(o.tokens), sample: s, tokens: o.tokens, logProbs: o.logProbs,
                                      finishReason: o.finishReason, promptIndex: p, groupIndex: k))
            }
        }
        return out
    }

    /// The same completions scored by other rewards, with new advantages (scale_rewards as
    /// given, else as before). Throws `RewardError` as `score` does.
    public func rescored(with rewards: [Reward], scaleRewards: RewardScaling? = nil) throws -> Rollout {
        try Rollout.score(completions, group: group, rewards: rewards, scaleRewards: scaleRewards ?? self.scaleRewards)
    }

    /// The groups of prompts `r` alone, as scored (advantages kept).
    public func prompts(_ r: Range<Int>) -> Rollout {
        let c = (r.lowerBound * group)..<(r.upperBound * group)
        var out = self
        out.completions = Array(completions[c])
        out.rewards = RewardTable(names: rewards.names, weights: rewards.weights, values: rewards.values.map { Array($0[c]) })
        out.advantages = Array(advantages[c])
        return out
    }

    public var promptCount: Int { group == 0 ? 0 : completions.count / group }
    public var lengths: [Int] { completions.map(\.length) }
    public var finishReasons: [FinishReason] { completions.map(\.finishReason) }

    /// Positions of prompt p's completions.
    public func range(_ p: Int) -> Range<Int> { (p * group)..<((p + 1) * group) }

    /// The completions, totals and advantages of prompt p's group.
    public func groupOf(_ p: Int) -> (completions: [Completion], rewards: [Double], advantages: [Double]) {
        let r = range(p)
        return (Array(completions[r]), Array(rewards.totals[r]), Array(advantages[r]))
    }

    /// Mean of prompt p's totals.
    public func groupMean(_ p: Int) -> Double {
        let xs = rewards.totals[range(p)]
        return xs.reduce(0, +) / Double(max(xs.count, 1))
    }

    /// Std of prompt p's totals with the N-1 denominator, the one its advantages are divided
    /// by with scale_rewards "group" (0 means the group gives no gradient).
    public func groupStd(_ p: Int) -> Double {
        RLStats.meanStd(Array(rewards.totals[range(p)])).std
    }

    /// Mean of all totals.
    public var meanReward: Double { rewards.totals.reduce(0, +) / Double(max(rewards.totals.count, 1)) }
    /// Groups whose totals are all equal.
    public var zeroStdGroups: Int { (0..<promptCount).filter { groupStd($0) == 0 }.count }
}

/// The teacher-forced batch of a rollout's completions: for each, its image, prompt +
/// completion tokens, and where the completion starts.
public struct PolicyBatch {
    public var images: [[Float]] = []
    public var sequences: [[Int]] = []
    public var starts: [Int] = []

    /// `prompt` and `image` give a completion's prompt ids and image.
    public init(_ completions: [Completion], prompt: (Completion) -> [Int], image: (Completion) throws -> [Float]) rethrows {
        images.reserveCapacity(completions.count); sequences.reserveCapacity(completions.count)
        starts.reserveCapacity(completions.count)
        for c in completions {
            let p = prompt(c)
            images.append(try image(c))
            sequences.append(p + c.tokens)
            starts.append(p.count)
        }
    }

    init(images: [[Float]], sequences: [[Int]], starts: [Int]) {
        self.images = images; self.sequences = sequences; self.starts = starts
    }

    public var count: Int { sequences.count }
    /// Completion tokens per row.
    public var tokenCounts: [Int] { sequences.indices.map { sequences[$0].count - starts[$0] } }

    /// Rows `r` alone.
    func rows(_ r: Range<Int>) -> PolicyBatch {
        PolicyBatch(images: Array(images[r]), sequences: Array(sequences[r]), starts: Array(starts[r]))
    }
}
