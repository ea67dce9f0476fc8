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
    /// A list of strings (`stop: ["</answer>"]`).
    case strings([String])

    public var description: String {
        switch self {
        case .number(let x): return OptionRange.format(x)
        case .flag(let b): return b ? "true" : "false"
        case .word(let w): return "\"\(w)\""
        case .strings(let ws): return "[" + ws.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
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
    /// A list of at most `maxStrings` strings of 1 to `maxStringLength` characters.
    case strings

    public static let maxStrings = 16, maxStringLength = 256
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
    /// (`warmup:`, `steps:`, `min_lr:` ... are parts of `schedule`).
    public let isPart: Bool
    /// The name of the same setting in TRL's GRPOConfig / transformers' TrainingArguments
    /// (`num_generations` for `group`), nil when TRL has no setting with this meaning.
    public private(set) var trl: String?
    /// For a word option that also takes true or false: the words they stand for
    /// (`scale_rewards: true` is "group").
    public private(set) var flagWords: (off: String, on: String)?
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

    /// A list of strings held at `path`.
    public static func strings(_ keyword: String, _ path: WritableKeyPath<Config, [String]>, _ help: String) -> OptionRule {
        OptionRule(keyword, .strings, nil, help, get: { .strings($0[keyPath: path]) }) { c, given, _ in
            if case .strings(let ws)? = given[keyword] { c[keyPath: path] = ws }
        }
    }

    /// One of the raw values of an enumeration held at `path` (`loss: "dr_grpo"`).
    public static func choice<E: RawRepresentable & CaseIterable>(_ keyword: String, _ path: WritableKeyPath<Config, E>,
                                                                  _ help: String) -> OptionRule where E.RawValue == String {
        OptionRule(keyword, .word(E.allCases.map(\.rawValue)), nil, help, get: { .word($0[keyPath: path].rawValue) }) { c, given, _ in
            if case .word(let w)? = given[keyword], let e = E(rawValue: w) { c[keyPath: path] = e }
        }
    }

    /// This word rule also taking true and false, as the two words given.
    public func flagWords(false f: String, true t: String) -> OptionRule {
        var r = self
        r.flagWords = (f, t)
        return r
    }

    /// `v` with true or false replaced by the word it stands for.
    public func normalised(_ v: OptionValue) -> OptionValue {
        if case .flag(let b) = v, let fw = flagWords { return .word(b ? fw.on : fw.off) }
        return v
    }

    /// The names a script may give this option: its keyword, then TRL's name when it differs.
    public var names: [String] { [keyword] + (trl.map { $0 == keyword ? [] : [$0] } ?? []) }

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
        r.flagWords = flagWords
        return r
    }

    /// Throws unless `v` is of this option's kind and in its range:
    /// "grpo: adam_beta1 must be in [0, 1), got 1", "grpo: loss must be one of ...".
    public func check(_ v: OptionValue, owner: String) throws {
        switch (kind, normalised(v)) {
        case (.number, .number(let x)), (.integer, .number(let x)):
            guard let range, !range.contains(x) || (kind == .integer && x != x.rounded()) else { return }
            throw RLError.invalidOption("\(owner): \(keyword) must be "
                                        + (kind == .integer ? "a whole number in " : "in ") + "\(range), got \(OptionRange.format(x))")
        case (.flag, .flag): return
        case (.strings, .strings(let ws)):
            guard ws.count > OptionKind.maxStrings || ws.contains(where: { $0.isEmpty || $0.count > OptionKind.maxStringLength }) else { return }
            throw RLError.invalidOption("\(owner): \(keyword) must be \(kindText), got \(ws.count) strings"
                                        + (ws.contains(where: \.isEmpty) ? " (one empty)" : "")
                                        + (ws.contains(where: { $0.count > OptionKind.maxStringLength }) ? " (one too long)" : ""))
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
        case .strings: return "a list of at most \(OptionKind.maxStrings) strings of 1 to \(OptionKind.maxStringLength) characters"
        case .word(let ws): return "one of " + ws.map { "\"\($0)\"" }.joined(separator: ", ")
                + (flagWords.map { " (true = \"\($0.on)\", false = \"\($0.off)\")" } ?? "")
        }
    }
}

extension Array {
    /// Checks every option of `config` in table order; the first one out of range throws.
    public func validate<C>(_ config: C, owner: String) throws where Element == OptionRule<C> {
        for rule in self {
            if rule.range != nil, let x = rule.value(in: config) { try rule.check(.number(x), owner: owner) }
            if rule.kind == .strings, let v = rule.optionValue(in: config) { try rule.check(v, owner: owner) }
        }
    }

    /// The rule for a keyword.
    public func rule<C>(_ keyword: String) -> OptionRule<C>? where Element == OptionRule<C> {
        first { $0.keyword == keyword }
    }

    /// The keywords of the table, in order.
    public func keywords<C>() -> [String] where Element == OptionRule<C> { map(\.keyword) }

    /// Every name a script may give an option of the table: the keywords, then TRL's names
    /// where they differ (`num_generations` for `group`).
    public func names<C>() -> [String] where Element == OptionRule<C> { keywords() + flatMap { $0.names.dropFirst() } }

    /// Sets the options in `given` (keyword -> value) on `config`: each value is checked
    /// against its row first (kind, then range), in table order, and the first bad one
    /// throws `RLError.invalidOption` naming `owner` and the keyword; nothing is set then.
    /// Keywords not in the table are ignored (the caller accepts only the table's).
    public func apply<C>(_ given: [String: OptionValue], to config: inout C, owner: String) throws where Element == OptionRule<C> {
        var given = given
        for rule in self {
            if let v = given[rule.keyword] { try rule.check(v, owner: owner); given[rule.keyword] = rule.normalised(v) }
        }
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
    static func minP<C>(_ p: WritableKeyPath<C, Double>) -> OptionRule<C> {
        .number("min_p", p, .closed(0, 1), "keep tokens at least min_p times as likely as the most likely one (after top_k and top_p); 0 = off").trl("min_p")
    }
    static func repetitionPenalty<C>(_ p: WritableKeyPath<C, Double>) -> OptionRule<C> {
        .number("repetition_penalty", p, .openBelow(0, 100), "logits of tokens already in the prompt or the completion are divided by it (positive) or multiplied (negative) before sampling; 1 = off; log-probs stay the model's").trl("repetition_penalty")
    }
    static func stop<C>(_ p: WritableKeyPath<C, [String]>) -> OptionRule<C> {
        .strings("stop", p, "a completion ends once its text contains one of these (kept; finish reason \"stop\", not truncated)")
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
         SamplingOptions.minP(\.minP),
         SamplingOptions.repetitionPenalty(\.repetitionPenalty),
         .flag("greedy", \.greedy, "always take the most likely token (temperature, top_k, top_p and min_p are then unused)"),
         SamplingOptions.maxTokens(\.maxTokens),
         SamplingOptions.stop(\.stop)]
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
        case .cosine(let w, _, _), .linear(let w, _): return w
        }
    }

    /// The horizon of a decaying schedule (nil for constant and warmup).
    public var totalSteps: Int? {
        switch self {
        case .constant, .warmup: return nil
        case .cosine(_, let t, _), .linear(_, let t): return t
        }
    }

    /// The floor as a fraction of lr (cosine's; 0 otherwise).
    public var minRate: Double {
        if case .cosine(_, _, let m) = self { return m }
        return 0
    }

    /// The kinds a script names: "constant", "warmup", "cosine", "linear", and transformers'
    /// names for two of them, "constant_with_warmup" (warmup) and "cosine_with_min_lr" (cosine).
    public static let kinds = ["constant", "warmup", "cosine", "linear", "constant_with_warmup", "cosine_with_min_lr"]

    /// `current` changed by the parts given: the kind, warm-up steps (or a warm-up ratio of
    /// the horizon, rounded up as transformers' get_warmup_steps), the horizon and the floor
    /// (a fraction of lr, or an absolute min_lr turned into that fraction with `lr`, as
    /// transformers' cosine_with_min_lr does); parts not given keep `current`'s. A warm-up
    /// given without a kind turns a constant schedule into "warmup".
    public static func updated(_ current: LRSchedule, kind givenKind: String?, warmup: Int?, warmupRatio: Double? = nil,
                               steps: Int?, minLRRate: Double?, minLR: Double? = nil, lr: Double = 1,
                               owner: String) throws -> LRSchedule {
        var kind = "constant", w = current.warmupSteps, total = current.totalSteps, minF = current.minRate
        switch current {
        case .constant: w = 0
        case .warmup: kind = "warmup"
        case .cosine: kind = "cosine"
        case .linear: kind = "linear"
        }
        if let k = givenKind { kind = ["constant_with_warmup": "warmup", "cosine_with_min_lr": "cosine"][k] ?? k }
        if let x = steps { total = x }
        if warmup != nil && warmupRatio != nil {
            throw RLError.invalidOption("\(owner): give warmup: or warmup_ratio:, not both")
        }
        var givenWarmup = warmup
        if let r = warmupRatio {
            guard let total else {
                throw RLError.invalidOption("\(owner): warmup_ratio: needs steps:, the schedule's horizon, to count the warm-up steps")
            }
            givenWarmup = Int((r * Double(total)).rounded(.up))
        }
        if let x = givenWarmup {
            w = x
            if givenKind == nil && kind == "constant" && x > 0 { kind = "warmup" }
        }
        if minLRRate != nil && minLR != nil {
            throw RLError.invalidOption("\(owner): give min_lr: (absolute) or min_lr_rate: (a fraction of lr), not both")
        }
        if let x = minLRRate { minF = x }
        if let x = minLR {
            guard lr > 0 && x <= lr else {
                throw RLError.invalidOption("\(owner): min_lr: is the absolute floor and must be at most lr (\(OptionRange.format(lr))), "
                                            + "got \(OptionRange.format(x)); for a fraction of lr use min_lr_rate:")
            }
            minF = x / lr
        }
        switch kind {
        case "constant": return .constant
        case "warmup":
            guard w > 0 else { throw RLError.invalidOption("\(owner): schedule \"warmup\" needs warmup: steps (e.g. warmup: 10)") }
            return .warmup(steps: w)
        case "cosine", "linear":
            guard let total else {
                throw RLError.invalidOption("\(owner): schedule \"\(kind)\" needs steps: the number of steps to decay over (e.g. steps: 200)")
            }
            return kind == "cosine" ? .cosine(warmup: w, total: total, minFactor: minF) : .linear(warmup: w, total: total)
        default:
            throw RLError.invalidOption("\(owner): unknown schedule \"\(kind)\"; use one of "
                                        + kinds.map { "\"\($0)\"" }.joined(separator: ", "))
        }
    }
}

/// The learning-rate schedule: `schedule:` shows it whole, `warmup:`, `warmup_ratio:`,
/// `steps:`, `min_lr_rate:` and `min_lr:` are its parts (all are set together, after lr).
func scheduleRules<C: OptimizerSettings>(_: C.Type) -> [OptionRule<C>] {
    let parts = ["schedule", "warmup", "warmup_ratio", "steps", "min_lr_rate", "min_lr"]
    func part(_ keyword: String, _ kind: OptionRule<C>.Kind, _ range: OptionRange, _ help: String,
              _ get: @escaping (C) -> Double?) -> OptionRule<C> {
        OptionRule(keyword, kind, range, help, isPart: true, get: { c in get(c).map { .number($0) } }) { _, _, _ in }
    }
    let whole = OptionRule<C>("schedule", .word(LRSchedule.kinds), nil,
                              "the learning-rate schedule (warmup: steps of linear warm-up; cosine: decay to min_lr over steps:; linear: decay to 0 over steps:); constant by default (transformers' default is linear)",
                              get: { .word($0.schedule.description) }) { c, given, owner in
        guard parts.contains(where: { given[$0] != nil }) else { return }
        func word(_ k: String) -> String? { if case .word(let w)? = given[k] { return w } else { return nil } }
        func number(_ k: String) -> Double? { if case .number(let x)? = given[k] { return x } else { return nil } }
        c.schedule = try LRSchedule.updated(c.schedule, kind: word("schedule"), warmup: number("warmup").map { Int($0) },
                                            warmupRatio: number("warmup_ratio"), steps: number("steps").map { Int($0) },
                                            minLRRate: number("min_lr_rate"), minLR: number("min_lr"), lr: c.learningRate,
                                            owner: owner)
    }
    return [whole.trl("lr_scheduler_type"),
            part("warmup", .integer, .closed(0, 1e9), "steps of linear learning-rate warm-up") { Double($0.schedule.warmupSteps) }.trl("warmup_steps"),
            part("warmup_ratio", .number, .closed(0, 1), "warm-up as a fraction of steps: (rounded up); sets warmup") { _ in nil }.trl("warmup_ratio"),
            part("steps", .integer, .closed(1, 1e9), "the cosine or linear schedule's horizon in steps") { $0.schedule.totalSteps.map(Double.init) },
            part("min_lr_rate", .number, .closed(0, 1), "the cosine schedule's floor, a fraction of lr") { $0.schedule.minRate }.trl("min_lr_rate"),
            part("min_lr", .number, .closed(0, 1), "the cosine schedule's floor, absolute (kept as min_lr_rate = min_lr / lr, as transformers does)") { c in
                c.schedule.minRate * c.learningRate }.trl("min_lr")]
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
         .choice("loss", \.lossType, "how token losses are averaged: per completion, then over completions (grpo); over all tokens (bnpo); summed and divided by completions x max_tokens (dr_grpo); over the active tokens of the whole accumulated batch (dapo, TRL's default; medr1 keeps grpo); cispo: -min(ratio, eps_high) A logp, coefficient detached, averaged as dapo; sapo: -sigmoid(tau (ratio - 1)) 4/tau A, averaged as grpo").trl("loss_type"),
         .choice("scale_rewards", \.scaleRewards, "divide each advantage (r - group mean) by its group's reward std (group), the whole batch's (batch) or nothing (none); stds with N-1; true = \"group\", false = \"none\"").flagWords(false: "none", true: "group").trl("scale_rewards"),
         .choice("importance_sampling_level", \.importanceSampling, "the ratio per token (token) or one per completion, exp(mean of its tokens' log ratios) (sequence, GSPO)").trl("importance_sampling_level"),
         .number("top_entropy_quantile", \.topEntropyQuantile, .closed(0, 1), "only tokens whose entropy is at least the batch's (1 - q) quantile count in the policy loss (the KL term keeps all); 1 = all").trl("top_entropy_quantile"),
         .number("sapo_temperature_pos", \.sapoTemperaturePos, .openBelow(0, 100), "sapo's gate temperature for positive advantages").trl("sapo_temperature_pos"),
         .number("sapo_temperature_neg", \.sapoTemperatureNeg, .openBelow(0, 100), "sapo's gate temperature for zero and negative advantages").trl("sapo_temperature_neg"),
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
         SamplingOptions.topP(\.topP),
         SamplingOptions.minP(\.minP),
         SamplingOptions.repetitionPenalty(\.repetitionPenalty),
         SamplingOptions.stop(\.stop)]
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
