// A loaded data set: a name, the root its images live under, and the samples.
//
// Value type: splits and filters return new Datasets that share nothing mutable.
// Splits follow Med-R1's studies: a seeded random split by fraction, and splits
// by modality set or question-type set (cross-modality / cross-task
// generalisation: train on some, test on the rest).
import Foundation

public struct Dataset: Sendable, Equatable {
    /// Display name ("SynthMed", "OmniMedVQA", a file name, or a derived "name[train]").
    public var name: String
    /// Directory the samples' relative image paths were resolved against.
    public var root: URL
    public var samples: [Sample]

    public init(name: String, root: URL, samples: [Sample]) {
        self.name = name
        self.root = root
        self.samples = samples
    }

    /// Loads a data set from `url`, choosing the format from what is there: a
    /// directory holding `QA_information/` is OmniMedVQA's layout (and SynthMed's);
    /// a `.json` file is Med-R1's format, with image paths relative to the file's
    /// directory unless `imageRoot` is given. `modality` and `questionType` apply to
    /// Med-R1 records that name none (OmniMedVQA records always do). See the loaders
    /// for `skipBad`.
    public static func load(_ url: URL, imageRoot: URL? = nil, modality: Modality? = nil,
                            questionType: QuestionType? = nil, skipBad: Bool = false) throws
        -> (dataset: Dataset, skipped: Int) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw DataLoadError(file: url.path, message: "does not exist; give an OmniMedVQA/SynthMed folder "
                + "(holding QA_information/) or a Med-R1 .json file")
        }
        if isDir.boolValue {
            return try OmniMedVQALoader.load(root: url, skipBad: skipBad)
        }
        return try MedR1JSONLoader.load(file: url, imageRoot: imageRoot ?? url.deletingLastPathComponent(),
                                        modality: modality, questionType: questionType, skipBad: skipBad)
    }

    public var count: Int { samples.count }
    public var isEmpty: Bool { samples.isEmpty }
    public subscript(i: Int) -> Sample { samples[i] }

    /// A dataset with the same root and the given samples.
    func derived(_ suffix: String, _ samples: [Sample]) -> Dataset {
        Dataset(name: "\(name)[\(suffix)]", root: root, samples: samples)
    }

    // MARK: - Splits and filters

    /// Seeded random split: `round(train * count)` samples go to `train`, the rest to
    /// `test`; each part keeps the original sample order. Same seed, same split, on
    /// every machine (the project's SplitMix64 and our own Fisher-Yates, not the standard
    /// library's unspecified shuffle). `train` is clamped to [0, 1].
    /// With `stratified`, each modality x question-type cell is split on its own
    /// (`round(train * cell count)` each), so both parts keep the data set's mix;
    /// the train total can then differ from `round(train * count)` by rounding.
    public func split(train fraction: Double, seed: UInt64,
                      stratified: Bool = false) -> (train: Dataset, test: Dataset) {
        let f = min(1, max(0, fraction.isNaN ? 0 : fraction))
        var rng = SplitMix64(seed: seed)
        var isTrain = [Bool](repeating: false, count: count)
        if stratified {
            var cells: [[Int]] = Array(repeating: [], count: Modality.allCases.count * QuestionType.allCases.count)
            let nq = QuestionType.allCases.count
            for (i, s) in samples.enumerated() {
                let m = Modality.allCases.firstIndex(of: s.modality)!
                let q = QuestionType.allCases.firstIndex(of: s.questionType)!
                cells[m * nq + q].append(i)
            }
            for cell in cells where !cell.isEmpty {
                let order = Dataset.permutation(cell, &rng)
                let nTrain = Int((f * Double(cell.count)).rounded())
                for k in 0..<nTrain { isTrain[order[k]] = true }
            }
        } else {
            let order = Dataset.permutation(Array(0..<count), &rng)
            let nTrain = Int((f * Double(count)).rounded())
            for k in 0..<nTrain { isTrain[order[k]] = true }
        }
        var tr: [Sample] = [], te: [Sample] = []
        for (i, s) in samples.enumerated() {
            if isTrain[i] { tr.append(s) } else { te.append(s) }
        }
        return (derived("train", tr), derived("test", te))
    }

    /// The samples in a seeded random order (same seed, same order everywhere).
    public func shuffled(seed: UInt64) -> Dataset {
        var rng = SplitMix64(seed: seed)
        return Dataset(name: name, root: root, samples: Dataset.permutation(samples, &rng))
    }

    /// Fisher-Yates shuffle driven by SplitMix64: for i from n-1 down to 1, swap
    /// element i with element (next() mod (i+1)).
    static func permutation<T>(_ items: [T], _ rng: inout SplitMix64) -> [T] {
        var a = items
        if a.count > 1 {
            for i in stride(from: a.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                a.swapAt(i, j)
            }
        }
        return a
    }

    /// Samples whose modality is in `modalities` (`selected`) and the others (`rest`):
    /// Med-R1's cross-modality study trains on one and tests on the other.
    public func split(byModality modalities: Set<Modality>) -> (selected: Dataset, rest: Dataset) {
        let names = modalities.sorted().map(\.rawValue).joined(separator: ",")
        let sel = samples.filter { modalities.contains($0.modality) }
        let rest = samples.filter { !modalities.contains($0.modality) }
        return (derived(names, sel), derived("not " + names, rest))
    }

    /// Samples whose question type is in `types` (`selected`) and the others (`rest`).
    public func split(byQuestionType types: Set<QuestionType>) -> (selected: Dataset, rest: Dataset) {
        let names = types.sorted().map(\.rawValue).joined(separator: ",")
        let sel = samples.filter { types.contains($0.questionType) }
        let rest = samples.filter { !types.contains($0.questionType) }
        return (derived(names, sel), derived("not " + names, rest))
    }

    /// The samples for which `isIncluded` is true, in order.
    public func filter(_ isIncluded: (Sample) throws -> Bool) rethrows -> Dataset {
        Dataset(name: name, root: root, samples: try samples.filter(isIncluded))
    }

    /// The first `n` samples (all when n >= count).
    public func prefix(_ n: Int) -> Dataset {
        Dataset(name: name, root: root, samples: Array(samples.prefix(max(0, n))))
    }

    /// Both data sets' samples, in order, under this one's name and root.
    public func concatenated(_ other: Dataset) -> Dataset {
        Dataset(name: name, root: root, samples: samples + other.samples)
    }

    // MARK: - Counts

    /// Number of samples per modality x question type.
    public func counts() -> CountTable {
        var t = CountTable()
        for s in samples { t.add(s.modality, s.questionType) }
        return t
    }

    // MARK: - Text

    /// Lines for tokenizer training: the prompt and the target of every sample in
    /// both answer styles (so letters and option texts are both in the vocabulary),
    /// for each sample: text prompt, text target, letter prompt, letter target.
    public func corpus(template: PromptTemplate = .default) -> [String] {
        var lines: [String] = []
        lines.reserveCapacity(samples.count * 4)
        for s in samples {
            for style in [AnswerStyle.text, .letter] {
                lines.append(template.prompt(for: s, answerStyle: style))
                lines.append(template.target(for: s, answerStyle: style))
            }
        }
        return lines
    }

    /// A tokenizer trained on `corpus(template:)`.
    public func trainTokenizer(vocabSize: Int = 512, template: PromptTemplate = .default) -> Tokenizer {
        Tokenizer.train(corpus: corpus(template: template), vocabSize: vocabSize)
    }
}

extension Dataset: CustomStringConvertible {
    public var description: String {
        let mods = Set(samples.map(\.modality)).count
        let types = Set(samples.map(\.questionType)).count
        return "Dataset \(name): \(count) samples, \(mods) modalities, \(types) question types (root \(root.path))"
    }
}

// MARK: - Count table

/// Sample counts per modality (rows) x question type (columns), printable as a table.
public struct CountTable: Equatable, Sendable, CustomStringConvertible {
    /// counts[modality][questionType]; absent = 0.
    public private(set) var cells: [Modality: [QuestionType: Int]] = [:]

    public init() {}

    mutating func add(_ m: Modality, _ q: QuestionType, _ n: Int = 1) {
        cells[m, default: [:]][q, default: 0] += n
    }

    public subscript(m: Modality, q: QuestionType) -> Int { cells[m]?[q] ?? 0 }
    public func total(modality m: Modality) -> Int { cells[m]?.values.reduce(0, +) ?? 0 }
    public func total(questionType q: QuestionType) -> Int { Modality.allCases.reduce(0) { $0 + self[$1, q] } }
    public var total: Int { Modality.allCases.reduce(0) { $0 + total(modality: $1) } }

    /// Short column headings (full names are long).
    static let shortName: [QuestionType: String] = [
        .modality: "Modality", .anatomy: "Anatomy", .disease: "Disease",
        .grading: "Grading", .attribute: "Attribute",
    ]

    /// Aligned text table: one row per modality present, one column per question
    /// type, with row and column totals.
    public var description: String {
        let rows = Modality.allCases.filter { total(modality: $0) > 0 }
        let cols = QuestionType.allCases
        let header = ["modality"] + cols.map { CountTable.shortName[$0]! } + ["total"]
        var body: [[String]] = rows.map { m in
            [m.rawValue] + cols.map { String(self[m, $0]) } + [String(total(modality: m))]
        }
        body.append(["total"] + cols.map { String(total(questionType: $0)) } + [String(total)])
        let widths = header.indices.map { c in ([header] + body).map { $0[c].count }.max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, s in
                c == 0 ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[c] - s.count) + s
            }.joined(separator: "  ")
        }
        return ([line(header)] + body.map(line)).joined(separator: "\n")
    }
}
