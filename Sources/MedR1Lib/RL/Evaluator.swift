// Evaluation: answer every question of a set (greedy, or sampled), score accuracy
// and format compliance, overall and by modality x question type; and the
// cross-modality table (train on some modalities, test on each), Med-R1's Table 1
// shape, as a value that prints and plots.
import Foundation

/// Correct / total counts, with the rate.
public struct Tally: Codable, Sendable, Equatable {
    public var correct = 0
    public var total = 0
    public var rate: Double { total == 0 ? .nan : Double(correct) / Double(total) }
    public init(correct: Int = 0, total: Int = 0) { self.correct = correct; self.total = total }
    mutating func add(_ ok: Bool) { total += 1; if ok { correct += 1 } }
}

/// The outcome of one evaluation.
public struct EvalReport: Sendable, CustomStringConvertible {
    public var name: String
    /// Greedy decoding, or sampled at `temperature`.
    public var greedy: Bool
    public var temperature: Double
    public var accuracy: Tally = Tally()
    /// Completions whose whole text matches Med-R1's format (or the no-think one for that template).
    public var format: Tally = Tally()
    public var byModality: [Modality: Tally] = [:]
    public var byQuestionType: [QuestionType: Tally] = [:]
    public var cells: [Modality: [QuestionType: Tally]] = [:]
    /// Every completion, in data-set order (samples x samplesPerQuestion).
    public var completions: [Completion] = []
    public var seconds = 0.0

    /// Accuracy of one (modality, question type) cell; NaN when the cell is empty.
    public func accuracy(_ m: Modality, _ q: QuestionType) -> Double { cells[m]?[q]?.rate ?? .nan }

    /// Accuracy by modality (rows) x question type (columns), plus totals.
    public var table: AccuracyTable {
        let ms = Modality.allCases.filter { byModality[$0] != nil }
        let qs = QuestionType.allCases.filter { byQuestionType[$0] != nil }
        var values: [[Double]] = ms.map { m in qs.map { q in accuracy(m, q) } + [byModality[m]!.rate] }
        values.append(qs.map { byQuestionType[$0]!.rate } + [accuracy.rate])
        return AccuracyTable(title: "\(name) accuracy", rowLabels: ms.map(\.rawValue) + ["all"],
                             columnLabels: qs.map(\.rawValue) + ["all"], values: values)
    }

    public var description: String {
        let mode = greedy ? "greedy" : "sampled T=\(temperature)"
        return "\(name) (\(mode)): accuracy \(fmt(accuracy.rate)) (\(accuracy.correct)/\(accuracy.total)), "
            + "format \(fmt(format.rate)), \(String(format: "%.2f", seconds)) s\n" + table.description
    }
}

/// A labelled matrix of accuracies (NaN = no data), printable and plottable.
public struct AccuracyTable: Codable, Sendable, Equatable, CustomStringConvertible {
    public var title: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// values[row][column]
    public var values: [[Double]]

    public init(title: String, rowLabels: [String], columnLabels: [String], values: [[Double]]) {
        self.title = title; self.rowLabels = rowLabels; self.columnLabels = columnLabels; self.values = values
    }

    public subscript(row: String, column: String) -> Double? {
        guard let r = rowLabels.firstIndex(of: row), let c = columnLabels.firstIndex(of: column) else { return nil }
        return values[r][c]
    }

    /// Fixed-width text table, columns abbreviated to 8 characters.
    public var description: String {
        let w0 = max(8, (rowLabels.map(\.count).max() ?? 0))
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? String(s.prefix(w)) : s + String(repeating: " ", count: w - s.count) }
        var lines = [title]
        lines.append(pad("", w0) + columnLabels.map { " " + pad($0, 8) }.joined())
        for (r, row) in values.enumerated() {
            lines.append(pad(rowLabels[r], w0) + row.map { " " + pad($0.isNaN ? "-" : fmt($0), 8) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    /// Med-R1's cross-modality table: one row per training setting, one column per test
    /// modality (plus the mean over the columns that have data).
    public static func crossModality(_ runs: [(train: String, report: EvalReport)]) -> AccuracyTable {
        let ms = Modality.allCases.filter { m in runs.contains { $0.report.byModality[m] != nil } }
        let values = runs.map { run -> [Double] in
            let row = ms.map { run.report.byModality[$0]?.rate ?? .nan }
            let have = row.filter { !$0.isNaN }
            return row + [have.isEmpty ? .nan : have.reduce(0, +) / Double(have.count)]
        }
        return AccuracyTable(title: "cross-modality accuracy (rows: trained on, columns: tested on)",
                             rowLabels: runs.map(\.train), columnLabels: ms.map(\.rawValue) + ["mean"], values: values)
    }
}

private func fmt(_ x: Double) -> String { x.isNaN ? "nan" : String(format: "%.3f", x) }

/// Answers questions with a model and scores them.
public struct Evaluator {
    public var tokenizer: Tokenizer
    public var template: PromptTemplate
    public var answerStyle: AnswerStyle
    /// Sampling settings; greedy by default. maxTokens caps each answer.
    public var sampler: SamplerConfig
    /// Answers per question when sampling (each scored; greedy always uses 1).
    public var samplesPerQuestion: Int
    public var seed: UInt64
    /// Questions decoded together (memory grows with it; results do not depend on it when greedy).
    public var batch = 64
    /// Polled between chunks of questions; true stops and reports what was answered so far.
    public var shouldStop: () -> Bool = { false }
    /// Called after each chunk with (questions answered, questions in all) and the accuracy so far.
    public var onProgress: (_ done: Int, _ total: Int, _ accuracy: Double) -> Void = { _, _, _ in }

    public init(tokenizer: Tokenizer, template: PromptTemplate = .default, answerStyle: AnswerStyle = .text,
                sampler: SamplerConfig = SamplerConfig(greedy: true, maxTokens: 64),
                samplesPerQuestion: Int = 1, seed: UInt64 = 0) {
        self.tokenizer = tokenizer; self.template = template; self.answerStyle = answerStyle
        self.sampler = sampler; self.samplesPerQuestion = samplesPerQuestion; self.seed = seed
    }

    /// Evaluates `model` on every sample of `dataset`. Throws `RLError.invalidOption` when a
    /// setting is out of its range (`Evaluator.optionRules`).
    public func evaluate(_ model: MedR1Model, on dataset: Dataset, images: ImageCache? = nil,
                         name: String? = nil) throws -> EvalReport {
        try validate()
        let t0 = Date()
        let cache = images ?? ImageCache(config: model.config)
        let enc = ExampleEncoder(tokenizer: tokenizer, template: template, answerStyle: answerStyle)
        var s = Sampler(config: sampler, seed: seed)
        let k = sampler.greedy ? 1 : samplesPerQuestion
        let format = template.formatReward.function
        var rep = EvalReport(name: name ?? dataset.name, greedy: sampler.greedy, temperature: sampler.temperature)
        // Questions in chunks of `batch`, decoded together (one prefix each).
        var i = 0
        while i < dataset.count {
            if shouldStop() { break }
            let chunk = Array(dataset.samples[i..<min(i + batch, dataset.count)])
            let imgs = try chunk.map { try cache.image(for: $0) }
            let outs = try s.sampleBatch(model: model, images: imgs, prompts: chunk.map { enc.tokens(for: $0).prompt },
                                         count: k, eos: tokenizer.eos, decode: enc.text(of:))
            for (j, sample) in chunk.enumerated() {
                for (g, o) in outs[j].enumerated() {
                    let c = Completion(text: enc.text(of: o.tokens), sample: sample, tokens: o.tokens,
                                       logProbs: o.logProbs, finishReason: o.finishReason,
                                       promptIndex: i + j, groupIndex: g)
                    let ok = c.answer.map { RewardMatch.isCorrect(answer: $0, sample: sample) } ?? false
                    rep.accuracy.add(ok)
                    rep.format.add(try format(c) == 1)
                    rep.byModality[sample.modality, default: Tally()].add(ok)
                    rep.byQuestionType[sample.questionType, default: Tally()].add(ok)
                    rep.cells[sample.modality, default: [:]][sample.questionType, default: Tally()].add(ok)
                    rep.completions.append(c)
                }
            }
            i += chunk.count
            onProgress(i, dataset.count, rep.accuracy.total > 0 ? Double(rep.accuracy.correct) / Double(rep.accuracy.total) : 0)
        }
        rep.seconds = Date().timeIntervalSince(t0)
        return rep
    }
}
