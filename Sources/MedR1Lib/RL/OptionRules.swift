// Every option of the trainers, the sampler and the evaluator, declared once:
// one table per config, each row the option's keyword as a script spells it
// (`adam_beta1`), the kind of value it takes, where the value lives (a key
// path), its allowed range and a line of help. Defaults are not written here:
// they are read from the config's default instance (`GRPOConfig()`), so a
// default lives in one place. From a table come `validate()`, applying given
// values to a config (`apply`), the values a config holds (`values`), and
// what the language binds, shows in its help and prints in its errors.
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

/// A value given for an option or read from a config: a number, true/false, or a word.
public enum OptionValue: Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case flag(Bool)
    case word(String)

    public var description: String {
        switch self {
        case .number(let x): return OptionRange.format(x)
        case .flag(let b): return b ? "true" : "false"
        case .word(let w): return "\"\(w)\""
        }
    }
}

/// The kind of value an option takes.
public enum OptionKind: Sendable, Equatable {
    case number
    /// A whole number.
    case integer
    /// true or false.
    case flag
    /// One of these words.
    case word([String])
}

/// One option of a config: its keyword, the kind of value, where it lives, its range and help.
public struct OptionRule<Config> {
    public typealias Kind = OptionKind

    /// The keyword a script writes (`adam_beta1`).
    public let keyword: String
    public let kind: Kind
    /// The allowed values of a number (nil for flags and words).
    public let range: OptionRange?
    /// What the option does, one short phrase.
    public let help: String
    /// Whether the option is a part of a compound setting that another row shows whole
    /// (`warmup:`, `steps:` and `min_lr:` are parts of `schedule`).
    public let isPart: Bool
    /// The name of the same setting in TRL's GRPOConfig / transformers' TrainingArguments
    /// (`num_generations` for `group`), nil when TRL has no setting with this meaning.
    public private(set) var trl: String?
    /// The value in a config (nil when the option does not apply to it, as `steps:` to a
    /// constant schedule).
    let get: (Config) -> OptionValue?
    /// Sets the option from the given values (keyword -> value, kinds and ranges checked);
    /// a compound setting reads its parts there too.
    let set: (inout Config, [String: OptionValue], _ owner: String) throws -> Void

    init(_ keyword: String, _ kind: Kind, _ range: OptionRange?, _ help: String, isPart: Bool = false,
         get: @escaping (Config) -> OptionValue?,
         set: @escaping (inout Config, [String: OptionValue], String) throws -> Void) {
        self.keyword = keyword; self.kind = kind; self.range = range; self.help = help; self.isPart = isPart
        self.get = get; self.set = set
    }

    /// A number held at `path`.
    public static func number(_ keyword: String, _ path: WritableKeyPath<Config, Double>, _ range: OptionRange,
                              _ help: String) -> OptionRule {
        OptionRule(keyword, .number, range, help, get: { .number($0[keyPath: path]) }) { c, given, _ in
            if case .number(let x)? = given[keyword] { c[keyPath: path] = x }
        }
    }

    /// A whole number held at `path`.
    public static func integer(_ keyword: String, _ path: WritableKeyPath<Config, Int>, _ range: OptionRange,
                               _ help: String) -> OptionRule {
        OptionRule(keyword, .integer, range, help, get: { .number(Double($0[keyPath: path])) }) { c, given, _ in
            if case .number(let x)? = given[keyword] { c[keyPath: path] = Int(x) }
        }
    }

    /// true or false, held at `path`.
    public static func flag(_ keyword: String, _ path: WritableKeyPath<Config, Bool>, _ help: String) -> OptionRule {
        OptionRule(keyword, .flag, nil, help, get: { .flag($0[keyPath: path]) }) { c, given, _ in
            if case .flag(let b)? = given[keyword] { c[keyPath: path] = b }
        }
    }

    /// One of the raw values of an enumeration held at `path` (`loss: "dr_grpo"`).
    public static func choice<E: RawRepresentable & CaseIterable>(_ keyword: String, _ path: WritableKeyPath<Config, E>,
                                                                  _ help: String) -> OptionRule where E.RawValue == String {
        OptionRule(keyword, .word(E.allCases.map(\.rawValue)), nil, help, get: { .word($0[keyPath: path].rawValue) }) { c, given, _ in
            if case .word(let w)? = given[keyword], let e = E(rawValue: w) { c[keyPath: path] = e }
        }
    }

    /// This rule with the name TRL gives the same setting.
    public func trl(_ name: String) -> OptionRule {
        var r = self
        r.trl = name
        return r
    }

    /// The value in `c` as a number (nil for flags, words, and options that do not apply).
    public func value(in c: Config) -> Double? {
        if case .number(let x)? = get(c) { return x }
        return nil
    }

    /// The value in `c` (nil when the option does not apply to it).
    public func optionValue(in c: Config) -> OptionValue? { get(c) }

    /// The same rule on another config that holds this one at `path`.
    public func lifted<Outer>(_ path: WritableKeyPath<Outer, Config>) -> OptionRule<Outer> {
        let get = self.get, set = self.set
        var r = OptionRule<Outer>(keyword, kind, range, help, isPart: isPart, get: { get($0[keyPath: path]) }) { c, given, owner in
            try set(&c[keyPath: path], given, owner)
        }
        r.trl = trl
        return r
    }

    /// Throws unless `v` is of this option's kind and in its range:
    /// "grpo: adam_beta1 must be in [0, 1), got 1", "grpo: loss must be one of ...".
    public func check(_ v: OptionValue, owner: String) throws {
        switch (kind, v) {
        case (.number, .number(let x)), (.integer, .number(let x)):
            guard let range, !range.contains(x) || (kind == .integer && x != x.rounded()) else { return }
            throw RLError.invalidOption("\(owner): \(keyword) must be "
                                        + (kind == .integer ? "a whole number in " : "in ") + "\(range), got \(OptionRange.format(x))")
        case (.flag, .flag): return
        case (.word(let words), .word(let w)):
            guard !words.contains(w) else { return }
            throw RLError.invalidOption("\(owner): unknown \(keyword) \"\(w)\"; use one of "
                                        + words.map { "\"\($0)\"" }.joined(separator: ", "))
        default:
            throw RLError.invalidOption("\(owner): \(keyword) must be \(kindText), got \(v)")
        }
    }

    /// "a number", "a whole number", "true or false", "one of \"a\", \"b\"".
    public var kindText: String {
        switch kind {
        case .number: return "a number"
        case .integer: return "a whole number"
        case .flag: return "true or false"
        case .word(let ws): return "one of " + ws.map { "\"\($0)\"" }.joined(separator: ", ")
        }
    }
}

extension Array {
    /// Checks every option of `config` in table order; the first one out of range throws.
    public func validate<C>(_ config: C, owner: String) throws where Element == OptionRule<C> {
        for rule in self where rule.range != nil {
            if let x = rule.value(in: config) { try rule.check(.number(x), owner: owner) }
        }
    }

    /// The rule for a keyword.
    public func rule<C>(_ keyword: String) -> OptionRule<C>? where Element == OptionRule<C> {
        first { $0.keyword == keyword }
    }

    /// The keywords of the table, in order.
    public func keywords<C>() -> [String] where Element == OptionRule<C> { map(\.keyword) }

    /// Sets the options in `given` (keyword -> value) on `config`: each value is checked
    /// against its row first (kind, then range), in table order, and the first bad one
    /// throws `RLError.invalidOption` naming `owner` and the keyword; nothing is set then.
    /// Keywords not in the table are ignored (the caller accepts only the table's).
    public func apply<C>(_ given: [String: OptionValue], to config: inout C, owner: String) throws where Element == OptionRule<C> {
        for rule in self { if let v = given[rule.keyword] { try rule.check(v, owner: owner) } }
        var c = config
        for rule in self { try rule.set(&c, given, owner) }
        config = c
    }

    /// Every option that is not a part of another, with its value in `config` (in table order;
    /// nil values are left out).
    public func values<C>(in config: C) -> [(keyword: String, value: OptionValue)] where Element == OptionRule<C> {
        compactMap { r in r.isPart ? nil : r.get(config).map { (r.keyword, $0) } }
    }
}

// MARK: - The tables

/// The sampling options, shared by the sampler, GRPO and evaluation so that they say the
/// same thing about them wherever they are set.
enum SamplingOptions {
    static func temperature<C>(_ p: WritableKeyPath<C, Double>) -> OptionRule<C> {
        .number("temperature", p, .closed(1e-3, 100), "logits are divided by it before sampling (greedy decoding is eval's greedy: true)").trl("temperature")
    }
    static func topK<C>(_ p: WritableKeyPath<C, Int>) -> OptionRule<C> {
        .integer("top_k", p, .closed(0, 1_000_000), "sample among the k most likely tokens; 0 = off").trl("top_k")
    }
    static func topP<C>(_ p: WritableKeyPath<C, Double>) -> OptionRule<C> {
        .number("top_p", p, .openBelow(0, 1), "sample among the most likely tokens holding mass p; 1 = off").trl("top_p")
    }
    static func maxTokens<C>(_ p: WritableKeyPath<C, Int>) -> OptionRule<C> {
        .integer("max_tokens", p, .closed(1, 65536), "completion cap in tokens (also capped by the model's max_seq)").trl("max_completion_length")
    }
}

extension SamplerConfig {
    public static var optionRules: [OptionRule<SamplerConfig>] {
        [SamplingOptions.temperature(\.temperature),
         SamplingOptions.topK(\.topK),
         SamplingOptions.topP(\.topP),
         .flag("greedy", \.greedy, "always take the most likely token (temperature, top_k and top_p are then unused)"),
         SamplingOptions.maxTokens(\.maxTokens)]
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

    /// The kinds a script names: "constant", "warmup", "cosine".
    public static let kinds = ["constant", "warmup", "cosine"]

    /// `current` changed by the parts given: the kind ("constant", "warmup", "cosine"),
    /// warm-up steps, the cosine horizon and its floor; parts not given keep `current`'s.
    /// A warm-up given without a kind turns a constant schedule into "warmup".
    public static func updated(_ current: LRSchedule, kind givenKind: String?, warmup: Int?, steps: Int?,
                               minLR: Double?, owner: String) throws -> LRSchedule {
        var kind = "constant", w = 0, total: Int? = nil, minF = 0.0
        switch current {
        case .constant: break
        case .warmup(let s): kind = "warmup"; w = s
        case .cosine(let s, let t, let m): kind = "cosine"; w = s; total = t; minF = m
        }
        if let k = givenKind { kind = k }
        if let x = warmup {
            w = x
            if givenKind == nil && kind == "constant" && x > 0 { kind = "warmup" }
        }
        if let x = steps { total = x }
        if let x = minLR { minF = x }
        switch kind {
        case "constant": return .constant
        case "warmup":
            guard w > 0 else { throw RLError.invalidOption("\(owner): schedule \"warmup\" needs warmup: steps (e.g. warmup: 10)") }
            return .warmup(steps: w)
        case "cosine":
            guard let total else {
                throw RLError.invalidOption("\(owner): schedule \"cosine\" needs steps: the number of steps to decay over (e.g. steps: 200)")
            }
            return .cosine(warmup: w, total: total, minFactor: minF)
        default:
            throw RLError.invalidOption("\(owner): unknown schedule \"\(kind)\"; use one of "
                                        + kinds.map { "\"\($0)\"" }.joined(separator: ", "))
        }
    }
}

/// The learning-rate schedule: `schedule:` shows it whole, `warmup:`, `steps:` and
/// `min_lr:` are its parts (all four are set together).
func scheduleRules<C: OptimizerSettings>(_: C.Type) -> [OptionRule<C>] {
    let parts = ["schedule", "warmup", "steps", "min_lr"]
    func part(_ keyword: String, _ kind: OptionRule<C>.Kind, _ range: OptionRange, _ help: String,
              _ get: @escaping (LRSchedule) -> Double?) -> OptionRule<C> {
        OptionRule(keyword, kind, range, help, isPart: true, get: { c in get(c.schedule).map { .number($0) } }) { _, _, _ in }
    }
    let whole = OptionRule<C>("schedule", .word(LRSchedule.kinds), nil,
                              "the learning-rate schedule (warmup: steps of linear warm-up; cosine: decay to min_lr over steps:)",
                              get: { .word($0.schedule.description) }) { c, given, owner in
        guard parts.contains(where: { given[$0] != nil }) else { return }
        func word(_ k: String) -> String? { if case .word(let w)? = given[k] { return w } else { return nil } }
        func number(_ k: String) -> Double? { if case .number(let x)? = given[k] { return x } else { return nil } }
        c.schedule = try LRSchedule.updated(c.schedule, kind: word("schedule"), warmup: number("warmup").map { Int($0) },
                                            steps: number("steps").map { Int($0) }, minLR: number("min_lr"), owner: owner)
    }
    return [whole,
            part("warmup", .integer, .closed(0, 1e9), "steps of linear learning-rate warm-up") { Double($0.warmupSteps) }.trl("warmup_steps"),
            part("steps", .integer, .closed(1, 1e9), "the cosine schedule's horizon in steps") { s in
                if case .cosine(_, let t, _) = s { return Double(t) } else { return nil } },
            part("min_lr", .number, .closed(0, 1), "the cosine schedule's floor, a fraction of lr") { s in
                if case .cosine(_, _, let m) = s { return m } else { return 0 } }]
}

/// The options of AdamW, clipping and the schedule, shared by SFT and GRPO.
func optimizerRules<C: OptimizerSettings>(_: C.Type) -> [OptionRule<C>] {
    scheduleRules(C.self)
        + [.number("max_grad_norm", \C.maxGradNorm, .closed(0, 1e6), "global gradient-norm clip; 0 = no clipping").trl("max_grad_norm"),
           .number("weight_decay", \C.weightDecay, .closed(0, 10), "AdamW's decoupled weight decay").trl("weight_decay"),
           .number("adam_beta1", \C.adamBeta1, .openAbove(0, 1), "decay of AdamW's first moment").trl("adam_beta1"),
           .number("adam_beta2", \C.adamBeta2, .openAbove(0, 1), "decay of AdamW's second moment").trl("adam_beta2"),
           .number("adam_eps", \C.adamEps, .closed(1e-30, 1), "added to AdamW's sqrt(second moment)").trl("adam_epsilon")]
}

extension GRPOConfig {
    public static var optionRules: [OptionRule<GRPOConfig>] {
        [.integer("group", \.group, .closed(2, 1024), "completions per prompt, G (2 or more to compare them)").trl("num_generations"),
         .integer("prompts", \.promptsPerStep, .closed(1, 4096), "prompts per step"),
         .number("beta", \.beta, .closed(0, 100), "weight of the KL penalty to the frozen reference").trl("beta"),
         .number("lr", \.learningRate, .closed(0, 1), "base learning rate").trl("learning_rate"),
         .number("eps_low", \.epsLow, .closed(0, 1), "the ratio is clipped below at 1 - eps_low").trl("epsilon"),
         .number("eps_high", \.epsHigh, .closed(0, 10), "the ratio is clipped above at 1 + eps_high").trl("epsilon_high"),
         .number("delta", \.delta, .closed(0, 1e6), "two-sided clipping: the unclipped term's ratio is capped at delta (above 1 + eps_high); 0 = off").trl("delta"),
         .choice("loss", \.lossType, "how token losses are averaged: per completion, then over completions (grpo); over all tokens (bnpo); summed and divided by completions x max_tokens (dr_grpo)").trl("loss_type"),
         .flag("scale_rewards", \.scaleRewards, "divide each advantage by its group's reward std").trl("scale_rewards"),
         .integer("num_iterations", \.numIterations, .closed(1, 64), "optimiser updates per rollout").trl("num_iterations"),
         .flag("mask_truncated", \.maskTruncatedCompletions, "leave completions that hit max_tokens out of the loss").trl("mask_truncated_completions"),
         .integer("steps_per_generation", \.stepsPerGeneration, .closed(1, 4096), "equal parts of a rollout, in order, each a backward pass (an optimiser update unless accumulated)").trl("steps_per_generation"),
         .integer("gradient_accumulation_steps", \.gradientAccumulationSteps, .closed(1, 4096), "parts of a rollout whose gradients (each divided by it) make one optimiser update").trl("gradient_accumulation_steps"),
         .flag("sync_ref_model", \.syncRefModel, "move the reference toward the policy every ref_model_sync_steps optimiser steps").trl("sync_ref_model"),
         .number("ref_model_mixup_alpha", \.refModelMixupAlpha, .closed(0, 1), "at a sync, ref = alpha x policy + (1 - alpha) x ref").trl("ref_model_mixup_alpha"),
         .integer("ref_model_sync_steps", \.refModelSyncSteps, .closed(1, 1e9), "optimiser steps between reference syncs").trl("ref_model_sync_steps"),
         SamplingOptions.maxTokens(\.maxTokens),
         SamplingOptions.temperature(\.temperature),
         SamplingOptions.topK(\.topK),
         SamplingOptions.topP(\.topP)]
            + optimizerRules(GRPOConfig.self)
    }
}

extension SFTConfig {
    public static var optionRules: [OptionRule<SFTConfig>] {
        [.integer("batch", \.batchSize, .closed(1, 4096), "sequences per step"),
         .number("lr", \.learningRate, .closed(0, 1), "base learning rate").trl("learning_rate")]
            + optimizerRules(SFTConfig.self)
    }
}

extension Evaluator {
    public static var optionRules: [OptionRule<Evaluator>] {
        SamplerConfig.optionRules.map { $0.lifted(\Evaluator.sampler) }
            + [.integer("samples", \.samplesPerQuestion, .closed(1, 1024), "answers per question when sampling"),
               .integer("batch", \.batch, .closed(1, 4096), "questions decoded together")]
    }

    /// The settings of an evaluator made with the defaults of `init` (the tokenizer is a
    /// placeholder: it is not an option).
    public static var defaults: Evaluator { Evaluator(tokenizer: Tokenizer(merges: [])) }

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
