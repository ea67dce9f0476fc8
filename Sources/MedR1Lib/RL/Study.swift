// Med-R1's two generalisation studies, as one call: starting from a base model,
// fine-tune a copy on each modality (or each question type) alone, evaluate every
// copy on the whole test set, and report the accuracy matrix (rows: trained on,
// columns: tested on) as mean and standard deviation over seeds, with the change
// against the base model, for SFT or GRPO.
import Foundation

/// Which of Med-R1's studies: cross-modality (8 x 8) or cross-task (5 x 5).
public enum StudyAxis: String, CaseIterable, Codable, Sendable {
    case modality
    case questionType = "question_type"

    /// The group labels of `dataset` along this axis, in canonical order.
    func groups(_ dataset: Dataset) -> [String] {
        switch self {
        case .modality:
            let present = Set(dataset.samples.map(\.modality))
            return Modality.allCases.filter(present.contains).map(\.rawValue)
        case .questionType:
            let present = Set(dataset.samples.map(\.questionType))
            return QuestionType.allCases.filter(present.contains).map(\.rawValue)
        }
    }

    func label(_ s: Sample) -> String {
        self == .modality ? s.modality.rawValue : s.questionType.rawValue
    }
}

/// How each copy of the base model is fine-tuned.
public enum StudyMethod: String, CaseIterable, Codable, Sendable {
    case sft
    case grpo
}

/// Settings of one study. The per-seed settings (`sft.seed`, `grpo.seed`) are replaced by
/// each seed of `seeds`.
public struct StudyConfig: Sendable {
    public var axis: StudyAxis = .modality
    public var method: StudyMethod = .sft
    public var seeds: [UInt64] = [1, 2, 3]
    /// Fine-tuning steps per group.
    public var steps = 100
    public var sft = SFTConfig()
    public var grpo = GRPOConfig()
    /// Prompt template of fine-tuning and evaluation; GRPO's format reward follows it
    /// (`format_nothink` for `.noThinking`, `format_think_after` for `.thinkAfter`).
    public var template: PromptTemplate = .default
    public var answerStyle: AnswerStyle = .text
    /// Completion cap of the greedy evaluation.
    public var evalMaxTokens = 48

    public init() {}

    func validate() throws {
        guard !seeds.isEmpty else { throw RLError.invalidOption("study: seeds is empty; give at least one, e.g. [1, 2, 3]") }
        guard steps >= 0 else { throw RLError.invalidOption("study: steps must be >= 0, got \(steps)") }
        guard (1...4096).contains(evalMaxTokens) else {
            throw RLError.invalidOption("study: max_tokens must be in 1...4096, got \(evalMaxTokens)")
        }
        try sft.validate()
        try grpo.validate()
    }
}

/// Mean and standard deviation (sample std, n - 1; 0 for one seed) of one cell over seeds.
public struct MeanStd: Codable, Sendable, Equatable {
    public var mean: Double
    public var std: Double
    public var n: Int

    public init(_ xs: [Double]) {
        let v = xs.filter { !$0.isNaN }
        n = v.count
        mean = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
        if v.count > 1 {
            let m = mean
            std = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
        } else {
            std = v.isEmpty ? .nan : 0
        }
    }

    /// "0.712 ± 0.031" (or "-" without data).
    public var text: String {
        mean.isNaN ? "-" : String(format: "%.3f ± %.3f", mean, std)
    }
}

/// What a study measured.
public struct StudyResult: Sendable {
    public var axis: StudyAxis
    public var method: StudyMethod
    public var seeds: [UInt64]
    /// Groups trained on (rows) and tested on (columns).
    public var groups: [String]
    /// accuracy[row][column][seed index]: the copy fine-tuned on `groups[row]`, tested on `groups[column]`.
    public var accuracy: [[[Double]]]
    /// The base model's accuracy on each column (the same for every seed: the base is one checkpoint).
    public var base: [Double]
    public var seconds = 0.0

    public func cell(_ r: Int, _ c: Int) -> MeanStd { MeanStd(accuracy[r][c]) }

    /// Mean over seeds of the change against the base model, with the std of the fine-tuned accuracy.
    public func change(_ r: Int, _ c: Int) -> MeanStd {
        MeanStd(accuracy[r][c].map { $0 - base[c] })
    }

    /// Mean accuracy (over seeds) of the diagonal (trained and tested on the same group) and
    /// off the diagonal (tested on the other groups): Med-R1's in- and cross-generalisation.
    public var seenAndUnseen: (seen: MeanStd, unseen: MeanStd) {
        let n = groups.count
        let perSeed = seeds.indices.map { s -> (Double, Double) in
            var seen: [Double] = [], unseen: [Double] = []
            for r in 0..<n {
                for c in 0..<n {
                    if r == c { seen.append(accuracy[r][c][s]) } else { unseen.append(accuracy[r][c][s]) }
                }
            }
            return (mean(seen), mean(unseen))
        }
        return (MeanStd(perSeed.map(\.0)), MeanStd(perSeed.map(\.1)))
    }

    private func mean(_ xs: [Double]) -> Double {
        let v = xs.filter { !$0.isNaN }
        return v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
    }

    /// Tables of mean accuracy and of the change against the base (rows: trained on, columns: tested on).
    public var meanTable: AccuracyTable { table(title: "\(method.rawValue) accuracy", change: false) }
    public var changeTable: AccuracyTable { table(title: "\(method.rawValue) change against the base model", change: true) }
    public var stdTable: AccuracyTable {
        AccuracyTable(title: "\(method.rawValue) accuracy std over \(seeds.count) seeds", rowLabels: groups,
                      columnLabels: groups, values: groups.indices.map { r in groups.indices.map { cell(r, $0).std } })
    }

    func table(title: String, change: Bool) -> AccuracyTable {
        var values = groups.indices.map { r in groups.indices.map { c in change ? self.change(r, c).mean : cell(r, c).mean } }
        values.append(change ? groups.indices.map { _ in 0 } : base)
        return AccuracyTable(title: title + " (rows: trained on, columns: tested on)",
                             rowLabels: groups + ["base"], columnLabels: groups, values: values)
    }

    /// Markdown: one row per training group, "mean ± std" in every cell, then the base row.
    public func markdown(change: Bool = false) -> String {
        var lines = ["| trained on \\ tested on | " + groups.joined(separator: " | ") + " |",
                     "|---|" + groups.map { _ in "---|" }.joined()]
        for (r, g) in groups.enumerated() {
            let cells = groups.indices.map { c -> String in
                let x = change ? self.change(r, c) : cell(r, c)
                let t = x.text
                return r == c ? "**\(t)**" : t
            }
            lines.append("| \(g) | " + cells.joined(separator: " | ") + " |")
        }
        if !change { lines.append("| base | " + base.map { String(format: "%.3f", $0) }.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n")
    }
}

public enum Study {
    /// Runs the study: for each seed and each group of `config.axis` present in `train`,
    /// a copy of `base` is fine-tuned for `config.steps` steps on that group's training
    /// questions only, then answers all of `test` greedily. `base` is not changed.
    /// `onCell` reports (seed index, row, seconds) after each fine-tuned copy is evaluated.
    public static func run(base: MedR1Model, tokenizer: Tokenizer, train: Dataset, test: Dataset,
                           config: StudyConfig, images: ImageCache? = nil,
                           shouldStop: () -> Bool = { false },
                           onCell: (_ seed: Int, _ row: Int, _ seconds: Double) -> Void = { _, _, _ in }) throws -> StudyResult {
        try config.validate()
        let t0 = Date()
        let cache = images ?? ImageCache(config: base.config)
        let groups = config.axis.groups(train)
        guard !groups.isEmpty else { throw RLError.emptyDataset("study: the training set '\(train.name)' has no samples") }
        guard !test.isEmpty else { throw RLError.emptyDataset("study: the test set '\(test.name)' has no samples") }
        let evaluator = Evaluator(tokenizer: tokenizer, template: config.template, answerStyle: config.answerStyle,
                                  sampler: SamplerConfig(greedy: true, maxTokens: config.evalMaxTokens))
        func byGroup(_ r: EvalReport) -> [Double] {
            groups.map { g in
                var t = Tally()
                for c in r.completions where config.axis.label(c.sample) == g {
                    t.add(c.answer.map { RewardMatch.isCorrect(answer: $0, sample: c.sample) } ?? false)
                }
                return t.rate
            }
        }
        let baseAcc = byGroup(try evaluator.evaluate(base, on: test, images: cache, name: "base"))
        var acc = groups.map { _ in groups.map { _ in [Double]() } }
        for (si, seed) in config.seeds.enumerated() {
            for (r, g) in groups.enumerated() {
                if shouldStop() { throw CancellationError() }
                let tc = Date()
                let part = train.filter { config.axis.label($0) == g }
                let m = base.copy()
                switch config.method {
                case .sft:
                    var c = config.sft
                    c.seed = seed
                    let t = try SFTTrainer(model: m, tokenizer: tokenizer, dataset: part, config: c, template: config.template,
                                           answerStyle: config.answerStyle, images: cache)
                    for _ in 0..<config.steps { try t.step() }
                case .grpo:
                    var c = config.grpo
                    c.seed = seed
                    let t = try GRPOTrainer(model: m, tokenizer: tokenizer, dataset: part, rewards: [config.template.formatReward, .accuracy],
                                            config: c, template: config.template, answerStyle: config.answerStyle, images: cache)
                    for _ in 0..<config.steps { try t.step() }
                }
                let row = byGroup(try evaluator.evaluate(m, on: test, images: cache, name: "\(g) seed \(seed)"))
                for c in groups.indices { acc[r][c].append(row[c]) }
                onCell(si, r, Date().timeIntervalSince(tc))
            }
        }
        var result = StudyResult(axis: config.axis, method: config.method, seeds: config.seeds, groups: groups,
                                 accuracy: acc, base: baseAcc)
        result.seconds = Date().timeIntervalSince(t0)
        return result
    }
}
