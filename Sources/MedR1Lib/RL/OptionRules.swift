// Allowed values of the trainers', sampler's and evaluator's numeric options:
// one table per config, each row the option's name as a script spells it
// (`adam_beta1`), where the value lives, its allowed range and a line of help.
// `validate()` checks every row, the language sets options through the same
// key paths, and help and docs print the same rows, so a range is written once.
import Foundation

/// An interval of allowed values with finite bounds; only finite numbers are in it.
public struct OptionRange: Sendable, Equatable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double
    public var lowerOpen: Bool
    public var upperOpen: Bool

    /// [a, b]
    public static func closed(_ a: Double, _ b: Double) -> OptionRange {
        OptionRange(lower: a, upper: b, lowerOpen: false, upperOpen: false)
    }
    /// [a, b)
    public static func openAbove(_ a: Double, _ b: Double) -> OptionRange {
        OptionRange(lower: a, upper: b, lowerOpen: false, upperOpen: true)
    }
    /// (a, b]
    public static func openBelow(_ a: Double, _ b: Double) -> OptionRange {
        OptionRange(lower: a, upper: b, lowerOpen: true, upperOpen: false)
    }

    public func contains(_ x: Double) -> Bool {
        x.isFinite && (lowerOpen ? x > lower : x >= lower) && (upperOpen ? x < upper : x <= upper)
    }

    public var description: String {
        (lowerOpen ? "(" : "[") + OptionRange.format(lower) + ", " + OptionRange.format(upper) + (upperOpen ? ")" : "]")
    }

    /// A number as a script would write it: 2, 0.999, 1e-8, 1e6, 1e308, inf, nan.
    public static func format(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        if x == x.rounded() && abs(x) < 1e5 { return String(Int(x)) }
        // Swift writes 1e-08 and 1e+308: drop the exponent's sign and leading zeros.
        var s = "\(x)"
        if s.hasSuffix(".0") { s.removeLast(2) }
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var mantissa = String(s[..<e]), exponent = String(s[s.index(after: e)...])
            if mantissa.hasSuffix(".0") { mantissa.removeLast(2) }
            let negative = exponent.hasPrefix("-")
            exponent = String(exponent.drop { $0 == "-" || $0 == "+" || $0 == "0" })
            return mantissa + "e" + (negative ? "-" : "") + (exponent.isEmpty ? "0" : exponent)
        }
        if x == x.rounded() && abs(x) >= 1e5 {
            // 1000000 -> 1e6 when it is a power of ten times a short mantissa.
            var m = abs(x), e = 0
            while m >= 10 && m == (m / 10).rounded() * 10 { m /= 10; e += 1 }
            if m < 1000 { return (x < 0 ? "-" : "") + String(Int(m)) + "e\(e)" }
        }
        return s
    }
}

/// One option of a config: its script name, where its value lives, its range and help.
public struct OptionRule<Config> {
    public enum Field {
        case double(WritableKeyPath<Config, Double>)
        case int(WritableKeyPath<Config, Int>)
        /// A part of a compound setting (the learning-rate schedule): nil when it does not apply.
        case derived(integer: Bool, (Config) -> Double?)
    }

    /// The keyword a script writes (`adam_beta1`).
    public let keyword: String
    public let field: Field
    public let range: OptionRange
    /// What the option does, one short phrase.
    public let help: String

    public init(_ keyword: String, _ field: Field, _ range: OptionRange, _ help: String) {
        self.keyword = keyword; self.field = field; self.range = range; self.help = help
    }

    public var isInteger: Bool {
        if case .double = field { return false }
        if case .derived(let integer, _) = field { return integer }
        return true
    }

    /// The value in `c` (nil when the option does not apply to it).
    public func value(in c: Config) -> Double? {
        switch field {
        case .double(let p): return c[keyPath: p]
        case .int(let p): return Double(c[keyPath: p])
        case .derived(_, let f): return f(c)
        }
    }

    /// The same rule on another config that holds this one at `path`.
    public func lifted<Outer>(_ path: WritableKeyPath<Outer, Config>) -> OptionRule<Outer> {
        let f: OptionRule<Outer>.Field
        switch field {
        case .double(let p): f = .double(path.appending(path: p))
        case .int(let p): f = .int(path.appending(path: p))
        case .derived(let integer, let g): f = .derived(integer: integer) { g($0[keyPath: path]) }
        }
        return OptionRule<Outer>(keyword, f, range, help)
    }

    /// Throws unless `x` is in range: "grpo: adam_beta1 must be in [0, 1), got 1".
    public func check(_ x: Double, owner: String) throws {
        guard range.contains(x) else {
            throw RLError.invalidOption("\(owner): \(keyword) must be "
                                        + (isInteger ? "a whole number in " : "in ") + "\(range), got \(OptionRange.format(x))")
        }
    }

    /// "adam_beta1 in [0, 1): decay of AdamW's first moment": a line of help.
    public var helpLine: String { "\(keyword) in \(range): \(help)" }
}

extension Array {
    /// Checks every option of `config` in table order; the first one out of range throws.
    public func validate<C>(_ config: C, owner: String) throws where Element == OptionRule<C> {
        for rule in self {
            if let x = rule.value(in: config) { try rule.check(x, owner: owner) }
        }
    }

    /// The rule for a keyword.
    public func rule<C>(_ keyword: String) -> OptionRule<C>? where Element == OptionRule<C> {
        first { $0.keyword == keyword }
    }
}

// MARK: - The tables

extension SamplerConfig {
    /// temperature, top_k, top_p and max_tokens on any config that has them (sampler,
    /// GRPO, evaluation), so the three say the same thing about them.
    public static func samplingRules<C>(temperature: WritableKeyPath<C, Double>, topK: WritableKeyPath<C, Int>,
                                        topP: WritableKeyPath<C, Double>, maxTokens: WritableKeyPath<C, Int>) -> [OptionRule<C>] {
        [OptionRule("temperature", .double(temperature), .closed(1e-3, 100),
                    "logits are divided by it before sampling (greedy decoding is eval's greedy: true)"),
         OptionRule("top_k", .int(topK), .closed(0, 1_000_000), "sample among the k most likely tokens; 0 = off"),
         OptionRule("top_p", .double(topP), .openBelow(0, 1), "sample among the most likely tokens holding mass p; 1 = off"),
         OptionRule("max_tokens", .int(maxTokens), .closed(1, 65536),
                    "completion cap in tokens (also capped by the model's max_seq)")]
    }

    public static var optionRules: [OptionRule<SamplerConfig>] {
        samplingRules(temperature: \.temperature, topK: \.topK, topP: \.topP, maxTokens: \.maxTokens)
    }

    /// Throws `RLError.invalidOption` for the first option out of range, e.g.
    /// "sampler: temperature must be in [0.001, 100], got 0".
    public func validate(as owner: String = "sampler") throws {
        try SamplerConfig.optionRules.validate(self, owner: owner)
    }
}

extension LRSchedule {
    /// Warm-up steps (0 for constant).
    public var warmupSteps: Int {
        switch self {
        case .constant: return 0
        case .warmup(let w): return w
        case .cosine(let w, _, _): return w
        }
    }
}

/// The options of AdamW, clipping and the schedule, shared by SFT and GRPO.
func optimizerRules<C: OptimizerSettings>(_: C.Type) -> [OptionRule<C>] {
    [OptionRule("max_grad_norm", .double(\C.maxGradNorm), .closed(0, 1e6), "global gradient-norm clip; 0 = no clipping"),
     OptionRule("weight_decay", .double(\C.weightDecay), .closed(0, 10), "AdamW's decoupled weight decay"),
     OptionRule("adam_beta1", .double(\C.adamBeta1), .openAbove(0, 1), "decay of AdamW's first moment"),
     OptionRule("adam_beta2", .double(\C.adamBeta2), .openAbove(0, 1), "decay of AdamW's second moment"),
     OptionRule("adam_eps", .double(\C.adamEps), .closed(1e-30, 1), "added to AdamW's sqrt(second moment)"),
     OptionRule("warmup", .derived(integer: true) { Double($0.schedule.warmupSteps) }, .closed(0, 1e9),
                "steps of linear learning-rate warm-up"),
     OptionRule("steps", .derived(integer: true) { c in
        if case .cosine(_, let t, _) = c.schedule { return Double(t) } else { return nil } }, .closed(1, 1e9),
                "the cosine schedule's horizon in steps"),
     OptionRule("min_lr", .derived(integer: false) { c in
        if case .cosine(_, _, let m) = c.schedule { return m } else { return nil } }, .closed(0, 1),
                "the cosine schedule's floor, a fraction of lr")]
}

extension GRPOConfig {
    public static var optionRules: [OptionRule<GRPOConfig>] {
        [OptionRule("group", .int(\.group), .closed(2, 1024), "completions per prompt, G (2 or more to compare them)"),
         OptionRule("prompts", .int(\.promptsPerStep), .closed(1, 4096), "prompts per step"),
         OptionRule("beta", .double(\.beta), .closed(0, 100), "weight of the KL penalty to the frozen reference"),
         OptionRule("lr", .double(\.learningRate), .closed(0, 1), "base learning rate"),
         OptionRule("eps_low", .double(\.epsLow), .closed(0, 1), "the ratio is clipped below at 1 - eps_low"),
         OptionRule("eps_high", .double(\.epsHigh), .closed(0, 10), "the ratio is clipped above at 1 + eps_high"),
         OptionRule("num_iterations", .int(\.numIterations), .closed(1, 64), "optimiser updates per rollout")]
            + SamplerConfig.samplingRules(temperature: \.temperature, topK: \.topK, topP: \.topP,
                                          maxTokens: \.maxCompletionTokens)
            + optimizerRules(GRPOConfig.self)
    }
}

extension SFTConfig {
    public static var optionRules: [OptionRule<SFTConfig>] {
        [OptionRule("batch", .int(\.batchSize), .closed(1, 4096), "sequences per step"),
         OptionRule("lr", .double(\.learningRate), .closed(0, 1), "base learning rate")]
            + optimizerRules(SFTConfig.self)
    }
}

extension Evaluator {
    public static var optionRules: [OptionRule<Evaluator>] {
        SamplerConfig.optionRules.map { $0.lifted(\Evaluator.sampler) }
            + [OptionRule("samples", .int(\.samplesPerQuestion), .closed(1, 1024), "answers per question when sampling"),
               OptionRule("batch", .int(\.batch), .closed(1, 4096), "questions decoded together")]
    }

    /// Throws `RLError.invalidOption` for the first setting out of range ("eval: samples must be ...").
    public func validate() throws {
        try Evaluator.optionRules.validate(self, owner: "eval")
    }
}

extension Reward {
    /// Allowed reward values and weights: within it, a weighted total of a few rewards and
    /// the group statistics of the advantages stay far from Double's overflow.
    public static let allowedRange = OptionRange.closed(-1e6, 1e6)

    /// Throws `RLError.invalidOption` for the first weight that is not finite or is out of range.
    public static func checkWeights(_ rewards: [Reward], owner: String) throws {
        for r in rewards where !allowedRange.contains(r.weight) {
            throw RLError.invalidOption("\(owner): the weight of reward '\(r.name)' must be in \(allowedRange), "
                                        + "got \(OptionRange.format(r.weight))")
        }
    }
}
