// Rewards for GRPO: the completion record a reward sees, the reward type, the
// built-in rewards of Med-R1 (format, accuracy) and variants, and the weighted
// sum over a rollout that keeps every reward's value separately.
//
// Med-R1's rewards (open-r1 / R1-V lineage):
//   format:   re.fullmatch(r"<think>.*?</think>\s*<answer>.*?</answer>", text, re.DOTALL)
//   accuracy: the text inside <answer>...</answer> equals the ground truth.
// For tiny models the answer is the option *text* (docs/training.md), so
// `accuracy` accepts the right option's letter or its text.
import Foundation

// MARK: - Completion

/// Why a sampled completion stopped.
public enum FinishReason: String, Codable, Sendable, Equatable {
    /// The model emitted `<|eos|>` (included in `tokens`).
    case eos
    /// The completion reached `maxTokens` without `<|eos|>`.
    case length
    /// The completion's text came to contain one of the sampler's stop strings (kept in it).
    case stop
}

/// One sampled completion, as rewards, advantages and the loss see it.
public struct Completion: Codable, Sendable, Equatable {
    /// Decoded completion text without the final `<|eos|>`.
    public var text: String
    /// Content of the first `<think>…</think>` (nil when absent). Computed from `text`, so it
    /// never goes stale when `text` is changed.
    public var think: String? { Completion.firstTagContent(text, open: "<think>", close: "</think>") }
    /// Content of the first `<answer>…</answer>`, trimmed (nil when absent).
    public var answer: String? {
        Completion.firstTagContent(text, open: "<answer>", close: "</answer>")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
    /// The question this completion answers (question, options, answer, modality, type).
    public var sample: Sample
    /// Completion token ids, `<|eos|>` included when finishReason == .eos.
    public var tokens: [Int]
    /// Per-token log-probabilities under the sampling policy (logits / temperature); may be empty.
    public var logProbs: [Float]
    public var finishReason: FinishReason
    /// Index of the prompt in its rollout batch and of the completion within its group.
    public var promptIndex: Int
    public var groupIndex: Int

    /// Number of completion tokens (the loss covers exactly these).
    public var length: Int { tokens.count }

    public init(text: String, sample: Sample, tokens: [Int] = [], logProbs: [Float] = [],
                finishReason: FinishReason = .eos, promptIndex: Int = 0, groupIndex: Int = 0) {
        self.text = text
        self.sample = sample
        self.tokens = tokens
        self.logProbs = logProbs
        self.finishReason = finishReason
        self.promptIndex = promptIndex
        self.groupIndex = groupIndex
    }

    /// The content of the first `open … close` pair, close being the nearest one after open
    /// (Python's `re.search(r"<answer>(.*?)</answer>", s, re.DOTALL).group(1)`).
    static func firstTagContent(_ text: String, open: String, close: String) -> String? {
        guard let o = text.range(of: open),
              let c = text.range(of: close, range: o.upperBound..<text.endIndex) else { return nil }
        return String(text[o.upperBound..<c.lowerBound])
    }
}

// MARK: - Reward

/// A named reward function with its weight in the total. Custom rewards are plain
/// closures (the Runtime wraps functions written in the language).
public struct Reward {
    public var name: String
    public var weight: Double
    public var function: (Completion) throws -> Double
    /// What the reward was made from, for an export to another trainer: the built-in's name
    /// for the built-ins, the language function for rewards written in the language (set by
    /// the Runtime), nil when unknown.
    public var origin: RewardOrigin?

    public init(name: String, weight: Double = 1.0, origin: RewardOrigin? = nil,
                _ function: @escaping (Completion) throws -> Double) {
        self.name = name
        self.weight = weight
        self.origin = origin
        self.function = function
    }

    /// The same reward with another weight.
    public func weighted(_ w: Double) -> Reward {
        var r = self
        r.weight = w
        return r
    }

    /// Med-R1's format reward: 1 if the whole completion matches
    /// `<think>.*?</think>\s*<answer>.*?</answer>` (dot matches newline), else 0.
    /// Like Med-R1 it accepts nested tags (`<think>x</think> <answer>A </think><answer>A</answer>`).
    public static var format: Reward {
        Reward(name: "format", origin: .builtin("format")) { RewardMatch.thinkAnswer($0.text) ? 1 : 0 }
    }

    /// The no-think template's format reward: `\s*<answer>.*?</answer>`, whole completion.
    public static var formatNoThink: Reward {
        Reward(name: "format_nothink", origin: .builtin("format_nothink")) { RewardMatch.answerOnly($0.text) ? 1 : 0 }
    }

    /// The think-after template's format reward: `<answer>.*?</answer>\s*<think>.*?</think>`,
    /// whole completion, dot matching newlines (the format reward with the blocks swapped).
    public static var formatThinkAfter: Reward {
        Reward(name: "format_think_after", origin: .builtin("format_think_after")) { RewardMatch.answerThink($0.text) ? 1 : 0 }
    }

    /// A strict format reward: exactly `<think>X</think>\s*<answer>Y</answer>` with no tag
    /// inside X or Y and a non-blank Y. Use it when GRPO learns to game the lazy regex.
    public static var formatStrict: Reward {
        Reward(name: "format_strict", origin: .builtin("format_strict")) { RewardMatch.strict($0.text) ? 1 : 0 }
    }

    /// 1 if the text inside the first `<answer>…</answer>` is the right option's letter
    /// ("B", "b", "(B)", "B."), the right option's text, or "B. text" / "B) text" / "B: text"
    /// with both right; compared case-insensitively, whitespace collapsed, a trailing "." dropped.
    /// No `<answer>` tag: 0.
    public static var accuracy: Reward {
        Reward(name: "accuracy", origin: .builtin("accuracy")) { c in
            guard let a = c.answer else { return 0 }
            return RewardMatch.isCorrect(answer: a, sample: c.sample) ? 1 : 0
        }
    }

    /// Looks up a built-in by name (`format`, `format_nothink`, `format_strict`, `accuracy`).
    public static func builtin(_ name: String) -> Reward? {
        switch name {
        case "format": return .format
        case "format_nothink", "nothink_format", "format_no_think": return .formatNoThink
        case "format_think_after", "think_after_format": return .formatThinkAfter
        case "format_strict", "strict_format": return .formatStrict
        case "accuracy": return .accuracy
        default: return nil
        }
    }
    public static let builtinNames = ["format", "format_nothink", "format_think_after", "format_strict", "accuracy"]
}

/// What a reward was made from.
public enum RewardOrigin {
    /// A built-in reward by its name (`format`, `format_nothink`, `format_strict`, `accuracy`).
    case builtin(String)
    /// A function written in the language (the Runtime's value; MedR1Lib does not look inside).
    case language(AnyObject)
}

// MARK: - Matching

/// The string tests behind the built-in rewards, written out by hand (scalar-wise, as
/// Python's `re` works on code points) and checked against Swift `Regex` in the tests.
public enum RewardMatch {
    /// `re.fullmatch(r"<think>.*?</think>\s*<answer>.*?</answer>", s, re.DOTALL)`.
    /// s = "<think>" X "</think>" W "<answer>" Y "</answer>", W whitespace. Because "<" is
    /// not whitespace, "<answer>" must start right where the whitespace after some
    /// "</think>" ends.
    public static func thinkAnswer(_ s: String) -> Bool {
        twoBlocks(s, "<think>", "</think>", "<answer>", "</answer>")
    }

    /// `re.fullmatch(r"<answer>.*?</answer>\s*<think>.*?</think>", s, re.DOTALL)`: the
    /// think-after format, `thinkAnswer` with the blocks swapped.
    public static func answerThink(_ s: String) -> Bool {
        twoBlocks(s, "<answer>", "</answer>", "<think>", "</think>")
    }

    /// s = open1 X close1 W open2 Y close2, W whitespace, X and Y anything. Because "<" is
    /// not whitespace, open2 must start right where the whitespace after some close1 ends.
    static func twoBlocks(_ s: String, _ open1: String, _ close1: String, _ open2: String, _ close2: String) -> Bool {
        let u = Array(s.unicodeScalars)
        let open = scalars(open1), close = scalars(close2), mid1 = scalars(close1), mid2 = scalars(open2)
        guard u.count >= open.count + mid1.count + mid2.count + close.count,
              has(u, open, at: 0), has(u, close, at: u.count - close.count) else { return false }
        let midEnd = u.count - close.count  // Y ends here
        var p = open.count
        while p + mid1.count <= midEnd {
            if has(u, mid1, at: p) {
                var q = p + mid1.count
                while q < midEnd, u[q].properties.isWhitespace { q += 1 }
                if q + mid2.count <= midEnd, has(u, mid2, at: q) { return true }
            }
            p += 1
        }
        return false
    }

    /// `re.fullmatch(r"\s*<answer>.*?</answer>", s, re.DOTALL)`.
    public static func answerOnly(_ s: String) -> Bool {
        let u = Array(s.unicodeScalars)
        var q = 0
        while q < u.count, u[q].properties.isWhitespace { q += 1 }
        let aOpen = scalars("<answer>"), close = scalars("</answer>")
        return u.count - q >= aOpen.count + close.count
            && has(u, aOpen, at: q) && has(u, close, at: u.count - close.count)
    }

    /// Exactly one think block, whitespace, one answer block; no tag inside either; answer not blank.
    public static func strict(_ s: String) -> Bool {
        guard thinkAnswer(s) else { return false }
        let tags = ["<think>", "</think>", "<answer>", "</answer>"]
        for t in tags where s.components(separatedBy: t).count != 2 { return false }
        guard let a = Completion.firstTagContent(s, open: "<answer>", close: "</answer>") else { return false }
        return !a.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }

    /// Lower-cased, whitespace runs collapsed to one space, trimmed, trailing "." dropped.
    public static func normalise(_ s: String) -> String {
        var t = s.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        while t.hasSuffix(".") { t.removeLast() }
        return t.trimmingCharacters(in: .whitespaces)
    }

    /// Whether `answer` names the sample's right option by letter, text, or both.
    public static func isCorrect(answer: String, sample: Sample) -> Bool {
        let a = normalise(answer)
        guard !a.isEmpty, sample.options.indices.contains(sample.answerIndex) else { return false }
        let letter = sample.answerLetter.lowercased()
        let text = normalise(sample.answerText)
        if a == text || a == letter || a == "(\(letter))" || a == "\(letter))" { return true }
        // "b. ultrasound", "b) ultrasound", "b: ultrasound", "(b) ultrasound"
        for prefix in ["\(letter). ", "\(letter)) ", "\(letter): ", "(\(letter)) ", "\(letter).", "\(letter):"] {
            if a.hasPrefix(prefix), normalise(String(a.dropFirst(prefix.count))) == text { return true }
        }
        return false
    }

    private static func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }
    private static func has(_ u: [Unicode.Scalar], _ p: [Unicode.Scalar], at i: Int) -> Bool {
        guard i >= 0, i + p.count <= u.count else { return false }
        for k in 0..<p.count where u[i + k] != p[k] { return false }
        return true
    }
}

// MARK: - Weighted sum over a rollout

/// A reward failed on one completion; the step that asked is not applied.
public struct RewardError: Error, CustomStringConvertible {
    public var reward: String
    public var completionIndex: Int
    public var completion: Completion
    /// The thrown error's text, or "returned nan" / "returned inf" / "returned 1e308, outside ...".
    public var reason: String

    public var description: String {
        let shown = completion.text.count > 200 ? String(completion.text.prefix(200)) + "…" : completion.text
        return "reward '\(reward)' failed on completion \(completionIndex) "
            + "(prompt \(completion.promptIndex), sample \(completion.sample.id)): \(reason); "
            + "completion text: \(shown.debugDescription). The step was not applied; "
            + "fix the reward so it returns a number in \(Reward.allowedRange) for every completion."
    }
}

/// Every reward's value for every completion, and the weighted totals.
public struct RewardTable: Codable, Sendable, Equatable {
    /// Reward names in order.
    public var names: [String]
    public var weights: [Double]
    /// values[r][i] = reward r on completion i (unweighted).
    public var values: [[Double]]
    /// totals[i] = sum_r weights[r] * values[r][i].
    public var totals: [Double]

    public init(names: [String], weights: [Double], values: [[Double]]) {
        self.names = names
        self.weights = weights
        self.values = values
        let n = values.first?.count ?? 0
        totals = (0..<n).map { i in zip(weights, values).reduce(0) { $0 + $1.0 * $1.1[i] } }
    }

    /// Runs each reward on each completion. Throws `RewardError` for the first throw or
    /// value outside `Reward.allowedRange` (non-finite or huge: the group statistics would
    /// overflow), naming the reward and the completion; `RLError.invalidOption` for a weight
    /// outside it.
    public static func evaluate(_ rewards: [Reward], on completions: [Completion]) throws -> RewardTable {
        try Reward.checkWeights(rewards, owner: "rewards")
        var values: [[Double]] = []
        for r in rewards {
            var row = [Double](repeating: 0, count: completions.count)
            for (i, c) in completions.enumerated() {
                let v: Double
                do { v = try r.function(c) } catch {
                    throw RewardError(reward: r.name, completionIndex: i, completion: c,
                                      reason: "threw \(String(describing: error))")
                }
                guard Reward.allowedRange.contains(v) else {
                    throw RewardError(reward: r.name, completionIndex: i, completion: c,
                                      reason: "returned \(OptionRange.format(v))"
                                          + (v.isFinite ? ", outside the allowed \(Reward.allowedRange)" : ""))
                }
                row[i] = v
            }
            values.append(row)
        }
        return RewardTable(names: rewards.map(\.name), weights: rewards.map(\.weight), values: values)
    }

    /// Mean and sample std (N-1) of reward `name` over all completions (TRL's rewards/<name>/mean, /std).
    public func stats(_ name: String) -> (mean: Double, std: Double)? {
        guard let r = names.firstIndex(of: name) else { return nil }
        return RLStats.meanStd(values[r])
    }
}
