// Evaluation bindings: `eval m, data, by: [...], greedy: true` answers every
// question and returns a report that prints accuracy overall and by modality x
// question type plus format compliance, and that `plot` draws as a heatmap;
// `cross_modality([r1, r2])` builds Med-R1's cross-modality table from several
// reports (rows: what each model was trained on, columns: tested modality).

import Foundation
import MedR1Lib

/// The outcome of `eval`: a table value with the headline numbers as fields.
public final class EvalObject: HostObject, ShowableObject {
    let report: EvalReport
    /// "modality", "question_type": the table's grouping.
    let by: [String]

    init(_ r: EvalReport, by: [String]) {
        report = r
        self.by = by
    }

    public var typeName: String { "eval" }
    public var summary: String {
        let mode = report.greedy ? "greedy" : "sampled T=\(formatNumber(report.temperature))"
        return "eval \(report.name) (\(mode)): accuracy \(fmt3(report.accuracy.rate)) (\(report.accuracy.correct)/\(report.accuracy.total)), "
            + "format \(fmt3(report.format.rate))"
    }
    public var display: String { summary + "\n" + table.render() }

    func show(_ ctx: CallContext) throws {
        ctx.emit(.text(summary))
        ctx.emit(table.event)
    }

    /// Accuracy by the `by` groupings; NaN cells (no questions) as nil.
    var table: TableValue {
        func v(_ x: Double) -> Value { x.isNaN ? .null : .number(x) }
        let r = report
        let ms = Modality.allCases.filter { r.byModality[$0] != nil }
        let qs = QuestionType.allCases.filter { r.byQuestionType[$0] != nil }
        let title = "\(r.name) accuracy"
        switch (by.contains("modality"), by.contains("question_type")) {
        case (true, true):
            var rows: [[Value]] = ms.map { m in [.string(m.rawValue)] + qs.map { v(r.accuracy(m, $0)) } + [v(r.byModality[m]!.rate)] }
            rows.append([.string("all")] + qs.map { v(r.byQuestionType[$0]!.rate) } + [v(r.accuracy.rate)])
            return TableValue(title: title, columns: ["modality"] + qs.map(\.rawValue) + ["all"], rows: rows)
        case (true, false):
            var rows: [[Value]] = ms.map { m in [.string(m.rawValue), v(r.byModality[m]!.rate), .number(Double(r.byModality[m]!.total))] }
            rows.append([.string("all"), v(r.accuracy.rate), .number(Double(r.accuracy.total))])
            return TableValue(title: title, columns: ["modality", "accuracy", "n"], rows: rows)
        case (false, true):
            var rows: [[Value]] = qs.map { q in [.string(q.rawValue), v(r.byQuestionType[q]!.rate), .number(Double(r.byQuestionType[q]!.total))] }
            rows.append([.string("all"), v(r.accuracy.rate), .number(Double(r.accuracy.total))])
            return TableValue(title: title, columns: ["question_type", "accuracy", "n"], rows: rows)
        case (false, false):
            return TableValue(title: title, columns: ["set", "accuracy", "format", "n"],
                              rows: [[.string(r.name), v(r.accuracy.rate), v(r.format.rate), .number(Double(r.accuracy.total))]])
        }
    }

    /// What `plot` draws: the table without its "all" row and column (a heatmap of cells).
    var plotTable: TableValue {
        let t = table
        guard let j = t.columns.firstIndex(of: "all") else { return t }
        return TableValue(title: t.title, columns: Array(t.columns[..<j]),
                          rows: t.rows.filter { $0.first != .string("all") }.map { Array($0[..<j]) })
    }

    public var fieldNames: [String] {
        ["accuracy", "format", "correct", "total", "by_modality", "by_question_type", "table", "completions", "name", "seconds"]
    }
    public var elements: [Value]? { table.elements }

    public func field(_ name: String) throws -> Value? {
        let r = report
        switch name {
        case "accuracy": return .number(r.accuracy.rate)
        case "format": return .number(r.format.rate)
        case "correct": return .number(Double(r.accuracy.correct))
        case "total": return .number(Double(r.accuracy.total))
        case "by_modality":
            return .record(Record(Modality.allCases.compactMap { m in r.byModality[m].map { (m.rawValue, Value.number($0.rate)) } }))
        case "by_question_type":
            return .record(Record(QuestionType.allCases.compactMap { q in r.byQuestionType[q].map { (q.rawValue, Value.number($0.rate)) } }))
        case "table": return .host(table)
        case "completions":
            return .list(r.completions.map { c in
                guard case .record(var rec) = Bindings.completionRecord(c) else { return .null }
                rec["correct"] = .bool(c.answer.map { RewardMatch.isCorrect(answer: $0, sample: c.sample) } ?? false)
                return .record(rec)
            })
        case "name": return .string(r.name)
        case "seconds": return .number(r.seconds)
        default: return nil
        }
    }
}

extension Bindings {
    /// `eval`'s keywords: its evaluator's option table and the report's settings.
    static let evalOptions = ["by"] + Evaluator.optionRules.names() + ["seed", "template", "answer_style", "name"]

    static func registerEval(_ add: Builtins.Register) {
        add("eval", options: evalOptions) { a, ctx in
            try a.expect(2...2, "eval m, test, by: [\"modality\", \"question_type\"], greedy: true")
            let mo: ModelObject
            switch a.positional[0] {
            case .host(let m as ModelObject): mo = m
            case .host(let t as TrainerObject): mo = t.modelObject
            case let v: throw a.error("'model' must be a model or a trainer, got \(v.typeName) \(v.summary)")
            }
            let d = try a.host(1, "data", as: DatasetObject.self, typeName: "dataset").dataset
            guard !d.isEmpty else { throw a.error("\(d.name) has no samples to evaluate") }
            let by = try (a.namedList("by") ?? [.string("modality"), .string("question_type")]).map { v -> String in
                guard case .string(let s) = v, ["modality", "question_type"].contains(s) else {
                    throw a.error("by: takes \"modality\" and/or \"question_type\", got \(v.repr)")
                }
                return s
            }
            var ev = Evaluator(tokenizer: mo.tokenizer, template: try template(a), answerStyle: try answerStyle(a),
                               seed: try seedOption(a, ctx))
            // Any sampling option without greedy: means sampled evaluation.
            if !a.has("greedy") && (a.has("temperature") || a.has("top_k") || a.has("top_p") || a.has("samples")) {
                ev.sampler.greedy = false
            }
            try applyOptions(a, Evaluator.optionRules, &ev)
            let sc = ev.sampler, samples = ev.samplesPerQuestion
            ev.shouldStop = { Interrupt.isRequested }
            let bar = ProgressBar(total: d.count, label: "eval", enabled: showProgress(ctx))
            let display = progressDisplay(ctx, label: "eval", total: d.count)
            defer { bar.finish(); display?.end() }
            ev.onProgress = { done, _, acc in
                let status = String(format: "accuracy %.3f", acc)
                bar.update(done: done, status: status)
                display?.update(done: done, status: [status])
            }
            let rep: EvalReport
            do {
                rep = try ev.evaluate(mo.model, on: d, images: imageCache(mo.model.config, ctx), name: try a.namedString("name"))
            } catch let e as RLError { throw libraryError(a, e) }
            if Interrupt.isRequested {
                throw InterruptedError("evaluation stopped after \(rep.accuracy.total) of \(d.count * (sc.greedy ? 1 : samples)) answers")
            }
            return .host(EvalObject(rep, by: by))
        }
        add("cross_modality") { a, _ in
            try a.expect(1...1, "cross_modality([eval(m1, test, name: \"trained on CT\"), eval(m2, test, name: \"trained on MRI\")])")
            let runs = try a.list(0, "reports").enumerated().map { k, v -> (train: String, report: EvalReport) in
                guard case .host(let e as EvalObject) = v else { throw a.error("reports[\(k)] must be an eval result, got \(v.typeName)") }
                return (e.report.name, e.report)
            }
            let t = AccuracyTable.crossModality(runs)
            let rows: [[Value]] = zip(t.rowLabels, t.values).map { label, vs in
                [.string(label)] + vs.map { $0.isNaN ? .null : .number($0) }
            }
            return .host(TableValue(title: t.title, columns: ["trained on"] + t.columnLabels, rows: rows))
        }
    }
}
