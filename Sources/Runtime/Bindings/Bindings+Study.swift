// `study(base, train, test, by: "modality", method: "sft", steps: 100, seeds: [1, 2, 3])`:
// Med-R1's cross-modality (by: "modality", 8 x 8) or cross-task (by: "question_type",
// 5 x 5) study from a base model, as a value that shows its tables (mean ± std over
// seeds, and the change against the base) and plots as a heatmap with the numbers
// in the cells (`plot s` the accuracy, `plot s, ["change"]` the change).

import Foundation
import MedR1Lib

public final class StudyObject: HostObject {
    public let result: StudyResult
    init(_ r: StudyResult) { result = r }

    public var typeName: String { "study" }
    public var summary: String {
        let (seen, unseen) = result.seenAndUnseen
        return "study \(result.method.rawValue) by \(result.axis.rawValue), \(result.groups.count) groups x \(result.seeds.count) seeds: "
            + "trained-on accuracy \(seen.text), other groups \(unseen.text), \(String(format: "%.0f", result.seconds)) s"
    }
    public var display: String {
        summary + "\n\naccuracy (mean ± std over seeds; rows: trained on, columns: tested on)\n" + result.markdown()
            + "\n\nchange against the base model\n" + result.markdown(change: true)
    }
    public var fieldNames: [String] { ["table", "change", "std", "base", "seen", "unseen", "groups", "seeds", "seconds", "markdown"] }

    public func field(_ name: String) throws -> Value? {
        func table(_ t: AccuracyTable) -> Value {
            .host(TableValue(title: t.title, columns: ["trained on"] + t.columnLabels,
                             rows: zip(t.rowLabels, t.values).map { l, vs in [.string(l)] + vs.map { $0.isNaN ? .null : .number($0) } }))
        }
        let (seen, unseen) = result.seenAndUnseen
        func ms(_ m: MeanStd) -> Value { .record(Record([("mean", .number(m.mean)), ("std", .number(m.std))])) }
        switch name {
        case "table": return table(result.meanTable)
        case "change": return table(result.changeTable)
        case "std": return table(result.stdTable)
        case "base": return .list(result.base.map(Value.number))
        case "seen": return ms(seen)
        case "unseen": return ms(unseen)
        case "groups": return .list(result.groups.map(Value.string))
        case "seeds": return .list(result.seeds.map { .number(Double($0)) })
        case "seconds": return .number(result.seconds)
        case "markdown": return .string(result.markdown() + "\n\n" + result.markdown(change: true))
        default: return nil
        }
    }

    /// The heatmap of the mean accuracy (or of the change), each cell labelled "mean±std".
    func plotSpec(change: Bool, title: String?) -> PlotSpec {
        let n = result.groups.count
        let cells = (0..<n).map { r in (0..<n).map { c in change ? result.change(r, c) : result.cell(r, c) } }
        let kind = change ? "change against the base" : "accuracy"
        return PlotSpec(title: title ?? "\(result.method.rawValue): \(kind), mean ± std over \(result.seeds.count) seeds (rows: trained on)",
                        kind: .heatmap(rows: result.groups, columns: result.groups,
                                       values: cells.map { $0.map { $0.mean.isNaN ? nil : $0.mean } },
                                       labels: cells.map { $0.map { String(format: change ? "%+.2f±%.2f" : "%.2f±%.2f", $0.mean, $0.std) } },
                                       signed: change))
    }
}

extension Bindings {
    static let studyOptions = ["by", "method", "seeds", "template", "answer_style", "max_tokens"]
        + Array(Set(SFTConfig.optionRules.keywords() + GRPOConfig.optionRules.keywords()).subtracting(["max_tokens"])).sorted()

    /// The origin of `clock()`: set at its first call (a lazily initialised static).
    static let clockOrigin = Date()

    static func registerStudy(_ add: Builtins.Register) {
        add("clock") { a, _ in
            try a.expect(0...0, "clock()")
            return .number(Date().timeIntervalSince(clockOrigin))
        }
        add("study", options: studyOptions) { a, ctx in
            try a.expect(3...3, "study(base, train, test, by: \"modality\", method: \"sft\", steps: 100, seeds: [1, 2, 3])")
            let mo = try a.host(0, "base", as: ModelObject.self, typeName: "model")
            let train = try a.host(1, "train", as: DatasetObject.self, typeName: "dataset").dataset
            let test = try a.host(2, "test", as: DatasetObject.self, typeName: "dataset").dataset
            var c = StudyConfig()
            if let by = try a.namedString("by") {
                guard let axis = StudyAxis(rawValue: by) else { throw a.error("unknown by: \"\(by)\"; use \"modality\" or \"question_type\"") }
                c.axis = axis
            }
            if let m = try a.namedString("method") {
                guard let method = StudyMethod(rawValue: m) else { throw a.error("unknown method: \"\(m)\"; use \"sft\" or \"grpo\"") }
                c.method = method
            }
            // Options of the other trainer would be silently ignored: refuse them.
            let own = Set(c.method == .sft ? SFTConfig.optionRules.keywords() : GRPOConfig.optionRules.keywords())
            let other = Set(c.method == .sft ? GRPOConfig.optionRules.keywords() : SFTConfig.optionRules.keywords())
            if let k = other.subtracting(own).subtracting(["max_tokens"]).sorted().first(where: { a.has($0) }) {
                throw a.error("\(k): is a \(c.method == .sft ? "grpo" : "sft") option; method \"\(c.method.rawValue)\" does not use it")
            }
            if let seeds = try a.namedList("seeds") {
                c.seeds = try seeds.map { v in
                    guard case .number(let x) = v, x >= 0, x == x.rounded(), x < 9e15 else {
                        throw a.error("seeds must be whole numbers >= 0, got \(v.repr)")
                    }
                    return UInt64(x)
                }
            }
            c.steps = try a.namedInt("steps") ?? c.steps
            if let n = try a.namedInt("max_tokens") { c.evalMaxTokens = n }
            c.grpo.maxTokens = 48
            switch c.method {
            case .sft: try applyOptions(a, SFTConfig.optionRules, &c.sft)
            case .grpo: try applyOptions(a, GRPOConfig.optionRules, &c.grpo)
            }
            c.template = try template(a)
            c.answerStyle = try answerStyle(a)
            do {
                let r = try Study.run(base: mo.model, tokenizer: mo.tokenizer, train: train, test: test, config: c,
                                      images: imageCache(mo.model.config, ctx), shouldStop: { Interrupt.isRequested })
                return .host(StudyObject(r))
            } catch is CancellationError {
                throw InterruptedError("study: stopped; no result")
            } catch let e as RLError { throw libraryError(a, e) }
        }
    }
}
