// Sampling bindings and the objects a student inspects after a rollout:
// `sampler(...)`, `sample(m, s, group: 8)`, a group of G completions shown as a
// table (text, each reward, advantage, length, finish reason, log-prob), a
// rollout (every group of one GRPO step) and `rescore`, which recomputes the
// rewards and advantages of a rollout under other rewards without sampling
// again (the reward prototyping loop).

import Foundation
import MedR1Lib

/// A sampler: settings plus its own seeded generator (successive `sample` calls differ,
/// the same seed repeats them).
public final class SamplerObject: HostObject {
    public var sampler: Sampler
    public let seed: UInt64
    public init(config: SamplerConfig, seed: UInt64) {
        sampler = Sampler(config: config, seed: seed)
        self.seed = seed
    }
    public var typeName: String { "sampler" }
    public var summary: String {
        let c = sampler.config
        if c.greedy { return "sampler: greedy, max_tokens \(c.maxTokens)" }
        return "sampler: temperature \(formatNumber(c.temperature)), top_k \(c.topK == 0 ? "off" : String(c.topK)), "
            + "top_p \(formatNumber(c.topP)), max_tokens \(c.maxTokens), seed \(seed)"
    }
    public var fieldNames: [String] { SamplerConfig.optionRules.keywords() + ["seed"] }
    /// The options of its config by keyword (from the option table), and its seed.
    public func field(_ name: String) throws -> Value? {
        if name == "seed" { return .number(Double(seed)) }
        return Bindings.optionFields(SamplerConfig.optionRules, sampler.config).first { $0.0 == name }?.1
    }
}

extension Rollout {
    /// "format 0.98, accuracy 0.54": each reward's mean.
    var rewardMeans: String {
        rewards.names.enumerated().map { r, n in
            "\(n) \(fmt3(rewards.values[r].reduce(0, +) / Double(max(rewards.values[r].count, 1))))"
        }.joined(separator: ", ")
    }
}

/// A one-line view of a completion's text: newlines shown as ⏎, cut at `width` characters.
func oneLine(_ s: String, width: Int = 72) -> String {
    let t = s.replacingOccurrences(of: "\n", with: "⏎")
    return t.count > width ? String(t.prefix(width - 1)) + "…" : t
}

func fmt3(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x == x.rounded() && abs(x) < 1e6 { return String(Int(x)) }
    return String(format: "%.3f", x)
}

/// The G completions of one prompt: `g[0]` is a completion record, `show g` a table.
public final class GroupObject: HostObject, ShowableObject {
    let rollout: Rollout
    /// Prompt index within the rollout.
    let prompt: Int
    /// Whether rewards were computed (`sample` without rewards still shows log-probs).
    let scored: Bool

    init(_ r: Rollout, prompt: Int, scored: Bool = true) {
        rollout = r
        self.prompt = prompt
        self.scored = scored
    }

    var completions: ArraySlice<Completion> { rollout.completions[rollout.range(prompt)] }
    var sample: Sample { rollout.completions[rollout.range(prompt).lowerBound].sample }

    public var typeName: String { "group" }
    public var summary: String {
        let base = "group of \(rollout.group) for \(sample.id)"
        guard scored else { return base }
        return base + ": reward mean \(fmt3(rollout.groupMean(prompt))), std \(fmt3(rollout.groupStd(prompt)))"
    }
    public var display: String { header + "\n" + table.render() }

    var header: String {
        let s = sample
        var h = "group \(prompt): \(s.id) (\(s.modality.rawValue) / \(s.questionType.rawValue)) \(oneLine(s.question, width: 60))  "
            + "answer: \(s.answerText)"
        if scored {
            h += "\n  reward mean \(fmt3(rollout.groupMean(prompt))), std \(fmt3(rollout.groupStd(prompt)))"
            if rollout.groupStd(prompt) == 0 { h += " (all equal: no gradient from this group)" }
        }
        return h
    }

    /// One row per completion: #, each reward, total, advantage, length, finish, log-prob, text.
    var table: TableValue {
        var cols = ["#"]
        if scored { cols += rollout.rewards.names + ["reward", "advantage"] }
        cols += ["len", "finish", "logp", "text"]
        var rows: [[Value]] = []
        for i in rollout.range(prompt) {
            let c = rollout.completions[i]
            var row: [Value] = [.number(Double(c.groupIndex))]
            if scored {
                row += rollout.rewards.values.map { .number($0[i]) }
                row += [.number(rollout.rewards.totals[i]), .number(rollout.advantages[i])]
            }
            row += [.number(Double(c.length)), .string(c.finishReason.rawValue),
                    .number(Double(c.logProbs.reduce(0, +))), .string(oneLine(c.text))]
            rows.append(row)
        }
        return TableValue(title: nil, columns: cols, rows: rows)
    }

    func show(_ ctx: CallContext) throws {
        ctx.emit(.text(header))
        ctx.emit(table.event)
    }

    public var fieldNames: [String] {
        ["sample", "completions", "texts", "rewards", "advantages", "lengths", "logprobs", "mean", "std", "table"]
    }
    public var elements: [Value]? { rollout.range(prompt).map(record) }

    /// The completion record rewards see, plus its scores.
    func record(_ i: Int) -> Value {
        guard case .record(var r) = Bindings.completionRecord(rollout.completions[i]) else { return .null }
        let c = rollout.completions[i]
        r["logprob"] = .number(Double(c.logProbs.reduce(0, +)))
        r["logprobs"] = .list(c.logProbs.map { .number(Double($0)) })
        if scored {
            var rw = Record()
            for (k, n) in rollout.rewards.names.enumerated() { rw[n] = .number(rollout.rewards.values[k][i]) }
            r["rewards"] = .record(rw)
            r["reward"] = .number(rollout.rewards.totals[i])
            r["advantage"] = .number(rollout.advantages[i])
        }
        return .record(r)
    }

    public func index(_ i: Value) throws -> Value? {
        guard case .number(let x) = i else { return nil }
        guard let k = indexPosition(x, count: rollout.group) else {
            throw RuntimeError("index \(formatNumber(x)) out of range: the group has \(rollout.group) completions")
        }
        return record(rollout.range(prompt).lowerBound + k)
    }

    public func field(_ name: String) throws -> Value? {
        let r = rollout.range(prompt)
        switch name {
        case "sample": return .host(SampleObject(sample))
        case "completions": return .list(r.map(record))
        case "texts": return .list(r.map { .string(rollout.completions[$0].text) })
        case "rewards":
            guard scored else { return .null }
            return .list(r.map { .number(rollout.rewards.totals[$0]) })
        case "advantages":
            guard scored else { return .null }
            return .list(r.map { .number(rollout.advantages[$0]) })
        case "lengths": return .list(r.map { .number(Double(rollout.completions[$0].length)) })
        case "logprobs": return .list(r.map { .number(Double(rollout.completions[$0].logProbs.reduce(0, +))) })
        case "mean": return scored ? .number(rollout.groupMean(prompt)) : .null
        case "std": return scored ? .number(rollout.groupStd(prompt)) : .null
        case "table": return .host(table)
        default: return nil
        }
    }
}

/// Every group of one rollout (a GRPO step, or `sample` on several questions).
/// `previous` is set by `rescore`: the display then compares before and after.
public final class RolloutObject: HostObject, ShowableObject {
    let rollout: Rollout
    let previous: Rollout?
    /// The trainer step that sampled it (nil for `sample`).
    let step: Int?

    init(_ r: Rollout, previous: Rollout? = nil, step: Int? = nil) {
        rollout = r
        self.previous = previous
        self.step = step
    }

    public var typeName: String { "rollout" }
    public var summary: String {
        let r = rollout
        return "rollout\(step.map { " of step \($0)" } ?? ""): \(r.promptCount) prompts x G \(r.group), "
            + "reward \(fmt3(r.meanReward)) (\(r.rewardMeans)), zero-std groups \(r.zeroStdGroups)/\(r.promptCount)"
    }
    public var display: String {
        if let p = previous { return comparisonText(p) + "\n" + comparisonTable(p).render() }
        let lens = rollout.completions.map { Double($0.length) }
        return summary + ", mean length \(String(format: "%.1f", lens.reduce(0, +) / Double(max(lens.count, 1))))\n"
            + overviewTable.render() + "\n(r.groups[i] shows one group's completions)"
    }

    func show(_ ctx: CallContext) throws {
        if let p = previous {
            ctx.emit(.text(comparisonText(p)))
            ctx.emit(comparisonTable(p).event)
        } else {
            ctx.emit(.text(summary))
            ctx.emit(overviewTable.event)
        }
    }

    /// One line per group: its sample, answer, the G totals, mean and std.
    var overviewTable: TableValue {
        let r = rollout
        let rows: [[Value]] = (0..<r.promptCount).map { p in
            let s = r.completions[r.range(p).lowerBound].sample
            return [.number(Double(p)), .string(s.id), .string(oneLine(s.answerText, width: 20)),
                    .string(r.rewards.totals[r.range(p)].map(fmt3).joined(separator: " ")),
                    .number(r.groupMean(p)), .number(r.groupStd(p))]
        }
        return TableValue(title: nil, columns: ["group", "sample", "answer", "rewards", "mean", "std"], rows: rows)
    }

    func comparisonText(_ p: Rollout) -> String {
        let r = rollout
        let changed = (0..<r.promptCount).filter { g in
            Array(r.advantages[r.range(g)]) != Array(p.advantages[p.range(g)])
        }.count
        let w = r.rewards.weights.map(formatNumber).joined(separator: ", ")
        return "rescored \(r.promptCount) groups x G \(r.group) with [\(r.rewards.names.joined(separator: ", "))] (weights \(w))\n"
            + "reward \(fmt3(p.meanReward)) -> \(fmt3(r.meanReward)); zero-std groups \(p.zeroStdGroups)/\(p.promptCount) -> "
            + "\(r.zeroStdGroups)/\(r.promptCount); advantages changed in \(changed) group\(changed == 1 ? "" : "s")"
    }

    /// Per group: mean and std before -> after, and the advantages before and after.
    func comparisonTable(_ p: Rollout) -> TableValue {
        let r = rollout
        let rows: [[Value]] = (0..<r.promptCount).map { g in
            [.number(Double(g)), .string(r.completions[r.range(g).lowerBound].sample.id),
             .string("\(fmt3(p.groupMean(g))) -> \(fmt3(r.groupMean(g)))"),
             .string("\(fmt3(p.groupStd(g))) -> \(fmt3(r.groupStd(g)))"),
             .string(p.advantages[p.range(g)].map { String(format: "%+.2f", $0) }.joined(separator: " ")),
             .string(r.advantages[r.range(g)].map { String(format: "%+.2f", $0) }.joined(separator: " "))]
        }
        return TableValue(title: nil, columns: ["group", "sample", "mean before -> after", "std before -> after",
                                                "advantages before", "advantages after"], rows: rows)
    }

    public var fieldNames: [String] {
        ["groups", "completions", "rewards", "advantages", "reward", "zero_std", "group", "prompts", "before"]
    }
    public var elements: [Value]? { (0..<rollout.promptCount).map { .host(GroupObject(rollout, prompt: $0)) } }

    public func index(_ i: Value) throws -> Value? {
        guard case .number(let x) = i else { return nil }
        let n = rollout.promptCount
        guard let k = indexPosition(x, count: n) else { throw RuntimeError("index \(formatNumber(x)) out of range: the rollout has \(n) groups") }
        return .host(GroupObject(rollout, prompt: k))
    }

    public func field(_ name: String) throws -> Value? {
        let r = rollout
        switch name {
        case "groups": return .list(elements!)
        case "completions": return .list(r.completions.indices.map { GroupObject(r, prompt: $0 / max(r.group, 1)).record($0) })
        case "rewards":
            var rec = Record()
            for (k, n) in r.rewards.names.enumerated() { rec[n] = .list(r.rewards.values[k].map(Value.number)) }
            rec["total"] = .list(r.rewards.totals.map(Value.number))
            return .record(rec)
        case "advantages": return .list(r.advantages.map(Value.number))
        case "reward": return .number(r.meanReward)
        case "zero_std": return .number(Double(r.zeroStdGroups) / Double(max(r.promptCount, 1)))
        case "group": return .number(Double(r.group))
        case "prompts": return .number(Double(r.promptCount))
        case "before": return previous.map { .host(RolloutObject($0)) } ?? .null
        default: return nil
        }
    }
}

extension Bindings {
    /// The sampler's options (its config's option table) and its seed.
    static let samplerOptions = SamplerConfig.optionRules.names() + ["seed"]

    /// `scale_rewards:` as "group", "batch" or "none" (true and false are "group" and "none"),
    /// checked against GRPO's row; nil when not given.
    static func scaleRewardsOption(_ a: Arguments) throws -> RewardScaling? {
        guard let rule = GRPOConfig.optionRules.rule("scale_rewards") else { return nil }
        let v: OptionValue
        switch a.namedValue("scale_rewards") {
        case nil: return nil
        case .bool(let b)?: v = .flag(b)
        case .string(let w)?: v = .word(w)
        case let x?: throw a.error("scale_rewards must be \(rule.kindText), got \(x.typeName)")
        }
        do { try rule.check(v, owner: a.callee) } catch let e as RLError { throw libraryError(a, e) }
        guard case .word(let w) = rule.normalised(v) else { return nil }
        return RewardScaling(rawValue: w)
    }

    /// Sampler settings from keyword arguments over `base`, each checked against its row of
    /// `SamplerConfig.optionRules` (errors name the callee: "sampler: top_p must be in (0, 1], got 2").
    static func samplerConfig(_ a: Arguments, base: SamplerConfig = SamplerConfig()) throws -> SamplerConfig {
        var c = base
        try applyOptions(a, SamplerConfig.optionRules, &c)
        return c
    }

    static func answerStyle(_ a: Arguments) throws -> AnswerStyle {
        guard let s = try a.namedString("answer_style") else { return .text }
        guard let st = AnswerStyle(rawValue: s) else { throw a.error("unknown answer_style \"\(s)\"; use \"text\" or \"letter\"") }
        return st
    }

    /// The session's image cache for a model's image size (PNG decoded once per session).
    static func imageCache(_ config: ModelConfig, _ ctx: CallContext) -> ImageCache {
        guard let s = (ctx as? Interpreter)?.session else { return ImageCache(config: config) }
        let key = "\(config.imageSize)x\(config.channels)"
        if let c = s.imageCaches[key] { return c }
        let c = ImageCache(config: config)
        s.imageCaches[key] = c
        return c
    }

    /// The numbers of `weights:` (or TRL's `reward_weights:`), nil when not given.
    static func weightsOption(_ a: Arguments) throws -> [Double]? {
        if a.has("weights") && a.has("reward_weights") {
            throw a.error("weights: and reward_weights: are the same option; give one of them")
        }
        return try a.namedList(a.has("reward_weights") ? "reward_weights" : "weights").map { ws in
            try ws.enumerated().map { k, v -> Double in
                guard case .number(let x) = v else { throw a.error("weights[\(k)] must be a number, got \(v.typeName)") }
                return x
            }
        }
    }

    /// Rewards from `rewards:` / `weights:`; without rewards:, `d` (format and accuracy, or the
    /// template's format reward and accuracy where a template is known).
    static func rewardOptions(_ a: Arguments, _ ctx: CallContext, default d: [Reward] = [.format, .accuracy]) throws -> [Reward] {
        let weights = try weightsOption(a)
        guard let xs = try a.namedList("rewards") else {
            if let w = weights {
                guard w.count == d.count else {
                    throw a.error("weights has \(w.count) entries for the \(d.count) default rewards (\(d.map(\.name).joined(separator: ", ")))")
                }
                return zip(d, w).map { $0.weighted($1) }
            }
            return d
        }
        guard !xs.isEmpty else { throw a.error("rewards is empty; give at least one, e.g. [format(), accuracy()]") }
        return try rewards(xs, weights: weights, a, ctx)
    }

    static func registerSampling(_ add: Builtins.Register) {
        add("sampler", options: samplerOptions) { a, ctx in
            try a.expect(0...0, "sampler(temperature: 1, top_k: 0, top_p: 1, greedy: false, max_tokens: 64, seed: 1)")
            let seed = try seedOption(a, ctx)
            return .host(SamplerObject(config: try samplerConfig(a), seed: seed))
        }
        add("sample", options: samplerOptions + ["group", "sampler", "template", "answer_style", "rewards", "weights", "reward_weights", "scale_rewards"]) { a, ctx in
            try a.expect(2...3, "sample(m, data[0], group: 8, temperature: 1) or sample(m, data[0], sp)")
            let mo = try a.host(0, "model", as: ModelObject.self, typeName: "model")
            var samplerObj: SamplerObject? = nil
            var questions: [Sample] = []
            for v in a.positional.dropFirst() + (a.namedValue("sampler").map { [$0] } ?? []) {
                switch v {
                case .host(let s as SamplerObject): samplerObj = s
                case .host(let s as SampleObject): questions = [s.sample]
                case .host(let d as DatasetObject): questions = d.dataset.samples
                default: throw a.error("expected a sample (data[0]), a data set or a sampler, got \(v.typeName) \(v.summary)")
                }
            }
            guard !questions.isEmpty else { throw a.error("give a question: sample(m, data[0], group: 8)") }
            let g = try a.namedInt("group") ?? 8
            guard g >= 1 && g <= 1024 else { throw a.error("group must be a whole number in [1, 1024], got \(g)") }
            let ad: SamplerObject
            if let so = samplerObj { ad = so } else {
                let seed = try seedOption(a, ctx)
                ad = SamplerObject(config: try samplerConfig(a), seed: seed)
            }
            if samplerObj != nil, a.named.contains(where: { samplerOptions.contains($0.name) }) {
                throw a.error("give either a sampler or sampling options (temperature:, ...), not both")
            }
            let enc = ExampleEncoder(tokenizer: mo.tokenizer, template: try template(a), answerStyle: try answerStyle(a))
            let cache = imageCache(mo.model.config, ctx)
            let imgs = try questions.map { try cache.image(for: $0) }
            let outs: [[SampledCompletion]]
            do {
                outs = try ad.sampler.sampleBatch(model: mo.model, images: imgs, prompts: questions.map { enc.tokens(for: $0).prompt },
                                                  count: g, eos: mo.tokenizer.eos, decode: enc.text(of:))
            } catch let e as RLError { throw libraryError(a, e) }
            let cs = Rollout.completions(samples: questions, outputs: outs, text: enc.text(of:))
            let r = try Rollout.score(cs, group: g, rewards: try rewardOptions(a, ctx, default: [enc.template.formatReward, .accuracy]), scaleRewards: try scaleRewardsOption(a) ?? .group)
            return questions.count == 1 ? .host(GroupObject(r, prompt: 0)) : .host(RolloutObject(r))
        }
        add("rescore", options: ["with", "weights", "scale_rewards"]) { a, ctx in
            try a.expect(1...1, "rescore t.last with: [format(), accuracy(), my_reward]")
            let ro: Rollout
            switch a.positional[0] {
            case .host(let r as RolloutObject): ro = r.rollout
            case .host(let g as GroupObject): ro = g.rollout.prompts(g.prompt..<(g.prompt + 1))
            case .host(let t as TrainerObject):
                guard let r = t.lastRollout else { throw a.error("the trainer has no rollout yet; run step t first") }
                ro = r
            case let v: throw a.error("expected a rollout (t.last) or a group, got \(v.typeName) \(v.summary)")
            }
            guard let xs = try a.namedList("with") else { throw a.error("say which rewards: rescore t.last with: [format(), my_reward]") }
            guard !xs.isEmpty else { throw a.error("with: is empty; give at least one reward") }
            let ws = try weightsOption(a)
            let after: Rollout
            do {
                after = try ro.rescored(with: try rewards(xs, weights: ws, a, ctx), scaleRewards: try scaleRewardsOption(a))
            } catch let e as RewardError {
                throw a.error(e.description.replacingOccurrences(of: " The step was not applied;", with: ""))
            }
            return .host(RolloutObject(after, previous: ro))
        }
    }
}
