// Data bindings: load OmniMedVQA / Med-R1 data, split, filter, count, index
// into samples, and a tokenizer trained from a data set.

import Foundation
import MedR1Lib

/// A data set seen from a script: `len(d)`, `d[0]`, `for s in d`, `d.split(...)`.
public final class DatasetObject: HostObject {
    public var dataset: Dataset
    public init(_ d: Dataset) { dataset = d }

    public var typeName: String { "dataset" }
    public var summary: String {
        let mods = Set(dataset.samples.map(\.modality)).count, types = Set(dataset.samples.map(\.questionType)).count
        return "dataset \(dataset.name): \(dataset.count) samples, \(mods) modalities, \(types) question types"
    }
    public var fieldNames: [String] { ["name", "count", "root"] }
    public var methodNames: [String] { ["split", "filter", "counts", "take", "shuffle", "tokenizer"] }
    public func methodOptions(_ name: String) -> [String] {
        switch name {
        case "split": return ["train", "seed", "stratified", "modalities", "types"]
        case "shuffle": return ["seed"]
        case "tokenizer": return ["vocab", "template"]
        default: return []
        }
    }
    public var elements: [Value]? { dataset.samples.map { .host(SampleObject($0)) } }

    public func field(_ name: String) throws -> Value? {
        switch name {
        case "name": return .string(dataset.name)
        case "count": return .number(Double(dataset.count))
        case "root": return .string(dataset.root.path)
        default: return nil
        }
    }

    public func index(_ i: Value) throws -> Value? {
        guard case .number(let x) = i else { return nil }
        guard let k = indexPosition(x, count: dataset.count) else {
            throw RuntimeError("index \(formatNumber(x)) out of range: \(dataset.name) has \(dataset.count) samples")
        }
        return .host(SampleObject(dataset[k]))
    }

    public func callMethod(_ name: String, _ a: Arguments, _ ctx: CallContext) throws -> Value {
        switch name {
        case "split":
            if let mods = try a.namedList("modalities") {
                let set = Set(try mods.map { try parseModality($0, a) })
                let (sel, rest) = dataset.split(byModality: set)
                return .record(Record([("selected", .host(DatasetObject(sel))), ("rest", .host(DatasetObject(rest)))]))
            }
            if let types = try a.namedList("types") {
                let set = Set(try types.map { try parseQuestionType($0, a) })
                let (sel, rest) = dataset.split(byQuestionType: set)
                return .record(Record([("selected", .host(DatasetObject(sel))), ("rest", .host(DatasetObject(rest)))]))
            }
            guard let f = try a.namedNumber("train") else {
                throw a.error("say how to split: split(train: 0.8, seed: 1), split(modalities: [\"CT\"]) or split(types: [\"Lesion Grading\"])")
            }
            let seed = try Bindings.seedOption(a, ctx)
            guard f >= 0, f <= 1 else { throw a.error("train must be a fraction in [0, 1], got \(formatNumber(f))") }
            let (tr, te) = dataset.split(train: f, seed: seed, stratified: try a.namedBool("stratified") ?? false)
            return .record(Record([("train", .host(DatasetObject(tr))), ("test", .host(DatasetObject(te)))]))
        case "filter":
            try a.expect(1...1, "data.filter(fn(s) => s.modality == \"CT\")")
            let f = a.positional[0]
            return .host(DatasetObject(try dataset.filter { try ctx.call(f, [.host(SampleObject($0))]).isTruthy }))
        case "counts":
            return .host(Bindings.countTable(dataset))
        case "take":
            try a.expect(1...1, "data.take(n)")
            return .host(DatasetObject(dataset.prefix(try a.int(0, "n"))))
        case "shuffle":
            let seed = try Bindings.seedOption(a, ctx)
            return .host(DatasetObject(dataset.shuffled(seed: seed)))
        case "tokenizer":
            let vocab = try a.namedInt("vocab") ?? 512
            guard (1...ModelConfig.maxVocabSize).contains(vocab) else {
                throw a.error("vocab: \(vocab) is out of range: use 1 to \(ModelConfig.maxVocabSize)")
            }
            let template = try Bindings.template(a)
            return .host(TokenizerObject(dataset.trainTokenizer(vocabSize: vocab, template: template)))
        default:
            throw RuntimeError("dataset has no method '\(name)'; methods: \(methodNames.joined(separator: ", "))")
        }
    }
}

func parseModality(_ v: Value, _ a: Arguments) throws -> Modality {
    guard case .string(let s) = v, let m = Modality.allCases.first(where: { $0.rawValue.lowercased() == s.lowercased() }) else {
        throw a.error("unknown modality \(v.repr); use one of \(Modality.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
    }
    return m
}

func parseQuestionType(_ v: Value, _ a: Arguments) throws -> QuestionType {
    guard case .string(let s) = v,
          let q = QuestionType.allCases.first(where: { $0.rawValue.lowercased() == s.lowercased() || "\($0)" == s }) else {
        throw a.error("unknown question type \(v.repr); use one of \(QuestionType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
    }
    return q
}

/// One question: fields for rewards and `show`.
public final class SampleObject: HostObject {
    public let sample: Sample
    public init(_ s: Sample) { sample = s }
    public var typeName: String { "sample" }
    public var summary: String { "sample \(sample.id) (\(sample.modality.rawValue), \(sample.questionType.rawValue)): \(sample.question)" }
    public var display: String { display(imagePath: sample.imagePath) }
    /// The sample as `show` prints it, naming its image file as given.
    func display(imagePath: String) -> String {
        var s = "\(sample.id)  \(sample.modality.rawValue) / \(sample.questionType.rawValue)\n\(sample.question)\n"
        for (i, o) in sample.options.enumerated() {
            s += "  \(String(UnicodeScalar(UInt8(65 + i)))). \(o)\(i == sample.answerIndex ? "   <- answer" : "")\n"
        }
        return s + "image: \(imagePath)"
    }
    public var fieldNames: [String] {
        ["id", "question", "options", "answer", "answer_letter", "answer_index", "modality", "question_type", "dataset", "image", "reasoning"]
    }
    public func field(_ name: String) throws -> Value? {
        switch name {
        case "id": return .string(sample.id)
        case "question": return .string(sample.question)
        case "options": return .list(sample.options.map(Value.string))
        case "answer": return .string(sample.answerText)
        case "answer_letter": return .string(sample.answerLetter)
        case "answer_index": return .number(Double(sample.answerIndex))
        case "modality": return .string(sample.modality.rawValue)
        case "question_type": return .string(sample.questionType.rawValue)
        case "dataset": return .string(sample.dataset)
        case "image": return .string(sample.imagePath)
        case "reasoning": return sample.reasoning.map(Value.string) ?? .null
        default: return nil
        }
    }
}

/// A byte-level BPE tokenizer.
public final class TokenizerObject: HostObject {
    public let tokenizer: Tokenizer
    public init(_ t: Tokenizer) { tokenizer = t }
    public var typeName: String { "tokenizer" }
    public var summary: String { "tokenizer: byte-level BPE, vocab \(tokenizer.vocabSize)" }
    public var fieldNames: [String] { ["vocab_size"] }
    public var methodNames: [String] { ["encode", "decode"] }
    public func field(_ name: String) throws -> Value? {
        name == "vocab_size" ? .number(Double(tokenizer.vocabSize)) : nil
    }
    public func callMethod(_ name: String, _ a: Arguments, _ ctx: CallContext) throws -> Value {
        switch name {
        case "encode":
            try a.expect(1...1, "tok.encode(text)")
            return .list(tokenizer.encode(try a.string(0, "text")).map { .number(Double($0)) })
        case "decode":
            try a.expect(1...1, "tok.decode(ids)")
            return .string(tokenizer.decode(try a.ints(0, "ids")))
        default:
            throw RuntimeError("tokenizer has no method '\(name)'; methods: encode, decode")
        }
    }
}

extension Bindings {
    /// A seed for a call without `seed:`: from the session (deterministic), else 0.
    static func defaultSeed(_ ctx: CallContext) -> UInt64 {
        (ctx as? Interpreter)?.session?.nextSeed() ?? 0
    }

    static func template(_ a: Arguments) throws -> PromptTemplate {
        guard let t = try a.namedString("template") else { return .default }
        guard let p = PromptTemplate(rawValue: t) else {
            throw a.error("unknown template \"\(t)\"; use one of \(PromptTemplate.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
        }
        return p
    }

    /// The `modality:` option of a loader, if given.
    static func modalityOption(_ a: Arguments) throws -> Modality? {
        try a.namedValue("modality").map { try parseModality($0, a) }
    }

    /// The `question_type:` option of a loader, if given.
    static func questionTypeOption(_ a: Arguments) throws -> QuestionType? {
        try a.namedValue("question_type").map { try parseQuestionType($0, a) }
    }

    /// Modality x question type counts as a table with totals.
    static func countTable(_ d: Dataset) -> TableValue {
        let c = d.counts()
        let types = QuestionType.allCases
        var rows: [[Value]] = Modality.allCases.filter { c.total(modality: $0) > 0 }.map { m in
            [.string(m.rawValue)] + types.map { .number(Double(c[m, $0])) } + [.number(Double(c.total(modality: m)))]
        }
        rows.append([.string("total")] + types.map { .number(Double(c.total(questionType: $0))) } + [.number(Double(c.total))])
        return TableValue(title: "\(d.name): samples by modality x question type",
                          columns: ["modality", "Modality", "Anatomy", "Disease", "Grading", "Attribute", "total"], rows: rows)
    }

    static func registerData(_ add: Builtins.Register) {
        add("load", options: ["skip_bad", "image_root", "modality", "question_type"]) { a, ctx in
            try a.expect(1...1, "load(path, image_root: dir, modality: \"CT\", question_type: \"Lesion Grading\", skip_bad: false)")
            let url = ctx.resolve(try a.string(0, "path"))
            let root = try a.namedString("image_root").map { ctx.resolve($0) }
            let (d, skipped) = try Dataset.load(url, imageRoot: root, modality: try Bindings.modalityOption(a),
                                                questionType: try Bindings.questionTypeOption(a),
                                                skipBad: try a.namedBool("skip_bad") ?? false)
            if skipped > 0 { ctx.emit(.text("skipped \(skipped) bad record\(skipped == 1 ? "" : "s")")) }
            return .host(DatasetObject(d))
        }
        add("load_omnimed", options: ["skip_bad"]) { a, ctx in
            try a.expect(1...1, "load_omnimed(path, skip_bad: false)")
            let (d, skipped) = try OmniMedVQALoader.load(root: ctx.resolve(try a.string(0, "path")), skipBad: try a.namedBool("skip_bad") ?? false)
            if skipped > 0 { ctx.emit(.text("skipped \(skipped) bad record\(skipped == 1 ? "" : "s")")) }
            return .host(DatasetObject(d))
        }
        add("load_medr1", options: ["skip_bad", "image_root", "modality", "question_type"]) { a, ctx in
            try a.expect(1...1, "load_medr1(path, image_root: dir, modality: \"CT\", question_type: \"Lesion Grading\", skip_bad: false)")
            let file = ctx.resolve(try a.string(0, "path"))
            let root = try a.namedString("image_root").map { ctx.resolve($0) } ?? file.deletingLastPathComponent()
            let (d, skipped) = try MedR1JSONLoader.load(file: file, imageRoot: root, modality: try modalityOption(a),
                                                        questionType: try questionTypeOption(a),
                                                        skipBad: try a.namedBool("skip_bad") ?? false)
            if skipped > 0 { ctx.emit(.text("skipped \(skipped) bad record\(skipped == 1 ? "" : "s")")) }
            return .host(DatasetObject(d))
        }
        add("counts") { a, _ in
            try a.expect(1...1, "counts(data)")
            return .host(countTable(try a.host(0, "data", as: DatasetObject.self, typeName: "dataset").dataset))
        }
        add("show") { a, ctx in
            try a.expect(1...1, "show x")
            try Bindings.show(a.positional[0], ctx)
            return .null
        }
    }

    /// `show x`: a sample with its image; a table as a table; anything else printed.
    static func show(_ v: Value, _ ctx: CallContext) throws {
        switch v {
        case .host(let s as SampleObject):
            do {
                let img = try sampleImage(s.sample)
                ctx.emit(.image(png: img.png, text: TerminalImage.render(pixels: img.pixels, width: img.width, height: img.height,
                                                                         channels: img.channels, maxWidth: 32, color: ctx.useColor)))
            } catch {
                ctx.emit(.text("(image not shown: \(error))"))
            }
            ctx.emit(.text(s.display(imagePath: ctx.shownPath(s.sample.imagePath))))
        case .host(let t as TableValue): ctx.emit(t.event)
        case .host(let h as ShowableObject): try h.show(ctx)
        default: ctx.emit(.text(v.description))
        }
    }
}

/// Host objects with a richer `show` than their printed form (a group of completions).
protocol ShowableObject: HostObject {
    func show(_ ctx: CallContext) throws
}
