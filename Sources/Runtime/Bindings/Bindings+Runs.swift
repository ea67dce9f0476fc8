// Comparing runs: several histories (trainers, `t.history` lists, or records
// of them read from elsewhere) overlaid in one plot or summarised as mean ±
// standard deviation per step (`band`), eval results side by side
// (`compare`), and histories, tables and rollouts written out for other tools
// (`write_csv`, `write_jsonl`).

import Foundation
import MedR1Lib

/// One run's steps, named for a legend or a column.
struct NamedRun {
    var name: String
    var steps: [Record]
}

/// The mean and spread of one metric over runs at each step.
struct RunBand {
    var steps: [Double] = []
    var mean: [Double] = []
    var std: [Double] = []
    var count: [Int] = []
}

extension Bindings {
    /// The steps of a history: a trainer, a list of metric records, or a host
    /// whose elements are records. nil for anything else.
    static func history(_ v: Value) -> [Record]? {
        if case .host(let t as TrainerObject) = v, case .list(let xs)? = try? t.field("history") {
            return records(xs)
        }
        if case .host(let h) = v, !(h is TableValue), let xs = h.elements { return records(xs) }
        if case .list(let xs) = v { return records(xs) }
        return nil
    }

    private static func records(_ xs: [Value]) -> [Record]? {
        var out: [Record] = []
        for x in xs {
            guard case .record(let r) = x else { return nil }
            out.append(r)
        }
        return out.isEmpty ? nil : out
    }

    /// Several runs: a list of histories (named by their "run" field, or
    /// "run 1", "run 2", ...) or a record of them (named by its keys). nil
    /// when `v` is not such a collection (a single history, numbers, ...).
    static func runs(_ v: Value) -> [NamedRun]? {
        switch v {
        case .list(let xs) where !xs.isEmpty:
            var out: [NamedRun] = []
            for (i, x) in xs.enumerated() {
                switch x {
                case .host(let t as TrainerObject):
                    guard let h = history(.host(t)) else { return nil }
                    out.append(NamedRun(name: "run \(i + 1)", steps: h))
                case .list:
                    guard let h = history(x) else { return nil }
                    if case .string(let run)? = h.first?["run"] { out.append(NamedRun(name: run, steps: h)) } else {
                        out.append(NamedRun(name: "run \(i + 1)", steps: h))
                    }
                default:
                    return nil
                }
            }
            return out
        case .record(let r) where r.count > 0:
            var out: [NamedRun] = []
            for (name, x) in r.fields {
                guard let h = history(x) else { return nil }
                out.append(NamedRun(name: name, steps: h))
            }
            return out
        default:
            return nil
        }
    }

    /// The metric a runs plot shows when no keys are given: reward, else loss,
    /// else the first metric of the first run.
    static func defaultMetric(_ runs: [NamedRun]) -> String? {
        let first = runs[0].steps[0]
        for k in ["reward", "loss"] where first[k] != nil { return k }
        return first.keys.first { !["step", "mode", "run"].contains($0) }
    }

    /// A step's x value: its "step" field, else its position (from 1).
    static func stepNumber(_ r: Record, _ i: Int) -> Double { r["step"]?.asNumber ?? Double(i + 1) }

    /// Mean and sample standard deviation (n - 1; 0 for one run) of `key` over
    /// the runs that have a finite value at each step, steps in increasing order.
    static func band(_ runs: [NamedRun], key: String) -> RunBand {
        var byStep: [Double: [Double]] = [:]
        for run in runs {
            for (i, r) in run.steps.enumerated() {
                guard let y = r[key]?.asNumber ?? r[key + "/mean"]?.asNumber, y.isFinite else { continue }
                byStep[stepNumber(r, i), default: []].append(y)
            }
        }
        var out = RunBand()
        for step in byStep.keys.sorted() {
            let ys = byStep[step]!
            let mean = ys.reduce(0, +) / Double(ys.count)
            let variance = ys.count > 1 ? ys.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(ys.count - 1) : 0
            out.steps.append(step)
            out.mean.append(mean)
            out.std.append(variance.squareRoot())
            out.count.append(ys.count)
        }
        return out
    }

    /// `plot runs, keys`: one line per run and key, or with `band: true` the
    /// mean ± standard deviation over the runs for each key.
    static func runsPlotSpec(_ runs: [NamedRun], keys: [String]?, title: String?, smooth: Int?, band showBand: Bool,
                             _ a: Arguments) throws -> PlotSpec {
        guard let ks = keys ?? defaultMetric(runs).map({ [$0] }) else {
            throw a.error("the runs have no metrics to plot")
        }
        for k in ks where !runs.contains(where: { run in run.steps.contains { $0[k] != nil || $0[k + "/mean"] != nil } }) {
            throw a.error("no metric '\(k)' in any run; metrics: \(runs[0].steps[0].keys.joined(separator: ", "))")
        }
        let points = runs.map(\.steps.count).max() ?? 0
        let window = smooth ?? Plotter.defaultWindow(points: points)
        if showBand {
            let bands = ks.map { k -> PlotBand in
                let b = band(runs, key: k)
                return PlotBand(name: k, x: b.steps, mean: b.mean, std: b.std)
            }
            return PlotSpec(title: title ?? "\(ks.joined(separator: ", ")): mean ± std over \(runs.count) run\(runs.count == 1 ? "" : "s")",
                            xlabel: "step", kind: .bands(bands, smooth: window))
        }
        var series: [PlotSeries] = []
        for run in runs {
            for k in ks {
                let pts = run.steps.enumerated().compactMap { i, r -> (Double, Double)? in
                    guard let y = r[k]?.asNumber ?? r[k + "/mean"]?.asNumber else { return nil }
                    return (stepNumber(r, i), y)
                }
                series.append(PlotSeries(name: ks.count == 1 ? run.name : "\(run.name) \(k)", x: pts.map(\.0), y: pts.map(\.1)))
            }
        }
        return PlotSpec(title: title ?? ks.joined(separator: ", "), xlabel: "step", kind: .lines(series, smooth: window))
    }

    static func registerRuns(_ add: Builtins.Register) {
        add("band") { a, _ in
            try a.expect(2...2, "band(runs, \"reward\")")
            guard let runs = runs(a.positional[0]) else {
                throw a.error("runs must be a list or record of histories (trainers or t.history), got \(a.positional[0].typeName)")
            }
            let key = try a.string(1, "metric")
            let b = band(runs, key: key)
            guard !b.steps.isEmpty else { throw a.error("no run has the metric '\(key)'") }
            return .list(b.steps.indices.map { i in
                .record(Record([("step", .number(b.steps[i])), ("mean", .number(b.mean[i])), ("std", .number(b.std[i])),
                                ("runs", .number(Double(b.count[i])))]))
            })
        }
        add("compare") { a, _ in
            try a.expect(1...1, "compare([e1, e2]) or compare({seed1: e1, seed2: e2})")
            var named: [(String, EvalObject)] = []
            switch a.positional[0] {
            case .list(let xs):
                for (i, x) in xs.enumerated() {
                    guard case .host(let e as EvalObject) = x else { throw a.error("evals[\(i)] must be an eval result, got \(x.typeName)") }
                    named.append((e.report.name, e))
                }
            case .record(let r):
                for (k, x) in r.fields {
                    guard case .host(let e as EvalObject) = x else { throw a.error("evals.\(k) must be an eval result, got \(x.typeName)") }
                    named.append((k, e))
                }
            case let v: throw a.error("evals must be a list or record of eval results, got \(v.typeName)")
            }
            guard !named.isEmpty else { throw a.error("no eval results to compare") }
            return .host(compareTable(named))
        }
        add("write_csv") { a, ctx in
            try a.expect(2...2, "write_csv(path, rows)")
            let url = ctx.resolve(try a.string(0, "path"))
            try Files.write(try csv(a.positional[1], a), to: url, callee: a.callee)
            return .null
        }
        add("write_jsonl") { a, ctx in
            try a.expect(2...2, "write_jsonl(path, rows)")
            let url = ctx.resolve(try a.string(0, "path"))
            let rows: [Value]
            switch a.positional[1] {
            case .host(let r as JSONForm): rows = r.jsonValue.asList ?? [r.jsonValue]
            case let v:
                guard let xs = v.asList ?? { if case .host(let h) = v { return h.elements } else { return nil } }() else {
                    throw a.error("rows must be a list, a rollout or a history, got \(v.typeName)")
                }
                rows = xs
            }
            var text = ""
            do {
                for row in rows { text += try JSONValue.serialize(row) + "\n" }
            } catch let e as RuntimeError {
                throw a.error(e.message)
            }
            try Files.write(text, to: url, callee: a.callee)
            return .null
        }
    }

    /// Eval results side by side: overall accuracy and format, then accuracy
    /// by modality and by question type; with two or more results, their mean
    /// and sample standard deviation.
    static func compareTable(_ evals: [(String, EvalObject)]) -> TableValue {
        let reports = evals.map(\.1.report)
        func v(_ x: Double?) -> Value { x.map { $0.isNaN ? .null : .number($0) } ?? .null }
        var rows: [(String, [Double?])] = [
            ("accuracy", reports.map { $0.accuracy.rate }),
            ("format", reports.map { $0.format.rate }),
        ]
        for m in Modality.allCases where reports.contains(where: { $0.byModality[m] != nil }) {
            rows.append((m.rawValue, reports.map { $0.byModality[m]?.rate }))
        }
        for q in QuestionType.allCases where reports.contains(where: { $0.byQuestionType[q] != nil }) {
            rows.append((q.rawValue, reports.map { $0.byQuestionType[q]?.rate }))
        }
        let summary = evals.count >= 2
        let table = rows.map { name, xs -> [Value] in
            var row: [Value] = [.string(name)] + xs.map(v)
            if summary {
                let ys = xs.compactMap { $0 }.filter { $0.isFinite }
                let mean = ys.isEmpty ? Double.nan : ys.reduce(0, +) / Double(ys.count)
                let sd = ys.count > 1 ? (ys.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(ys.count - 1)).squareRoot() : Double.nan
                row += [v(mean), v(sd)]
            }
            return row
        }
        return TableValue(title: "accuracy by run", columns: [""] + evals.map(\.0) + (summary ? ["mean", "std"] : []), rows: table)
    }

    /// CSV (RFC 4180) of a table, a list of records (a history), a record of
    /// histories (a "run" column first) or a rollout. Text that a spreadsheet
    /// would run as a formula (starting with = + - @) gets a leading `'`.
    static func csv(_ v: Value, _ a: Arguments) throws -> String {
        var columns: [String] = []
        var rows: [[Value]] = []
        func addRecords(_ records: [Record], run: String?) {
            for r in records {
                for k in r.keys where !columns.contains(k) { columns.append(k) }
            }
            for r in records {
                rows.append((run.map { [Value.string($0)] } ?? []) + columns.dropFirst(run == nil ? 0 : 1).map { r[$0] ?? .null })
            }
        }
        switch v {
        case .host(let t as TableValue):
            columns = t.columns
            rows = t.rows
        case .host(let r as JSONForm):
            guard let records = r.jsonValue.asList.flatMap(records) else { throw a.error("cannot write a \(r.typeName) as CSV") }
            addRecords(records, run: nil)
        case .record:
            guard let runs = runs(v) else { throw a.error("rows: a record must hold histories (lists of records), one per run") }
            columns = ["run"]
            for run in runs { for r in run.steps { for k in r.keys where !columns.contains(k) { columns.append(k) } } }
            for run in runs { for r in run.steps { rows.append([.string(run.name)] + columns.dropFirst().map { r[$0] ?? .null }) } }
        default:
            guard let records = history(v) else {
                throw a.error("rows must be a table, a list of records (a history), a record of histories or a rollout, got \(v.typeName)")
            }
            addRecords(records, run: nil)
        }
        func field(_ x: Value) throws -> String {
            switch x {
            case .null: return ""
            case .number(let d): return d.isFinite ? formatNumber(d) : (d.isNaN ? "nan" : (d > 0 ? "inf" : "-inf"))
            case .bool(let b): return b ? "true" : "false"
            case .string(let s): return quoted(s)
            case .host(let h as JSONForm): return quoted(try JSONValue.serialize(h.jsonValue))
            case .list, .record: return quoted(try JSONValue.serialize(x))
            default: return quoted(x.description)
            }
        }
        func quoted(_ s: String) -> String {
            var s = s
            if let c = s.first, "=+-@".contains(c) || c == "\t" || c == "\r" { s = "'" + s }
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return s }
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var out = columns.map(quoted).joined(separator: ",") + "\n"
        do {
            for r in rows { out += try r.map(field).joined(separator: ",") + "\n" }
        } catch let e as RuntimeError {
            throw a.error(e.message)
        }
        return out
    }
}

/// Host values with a JSON form (for `write_json`, `write_jsonl` and CSV).
protocol JSONForm: HostObject {
    var jsonValue: Value { get }
}

extension SampleObject: JSONForm {
    /// The question as data; the image file is left out (its path belongs to this machine).
    var jsonValue: Value {
        let s = sample
        return .record(Record([("id", .string(s.id)), ("question", .string(s.question)), ("options", .list(s.options.map(Value.string))),
                               ("answer", .string(s.answerText)), ("answer_index", .number(Double(s.answerIndex))),
                               ("modality", .string(s.modality.rawValue)), ("question_type", .string(s.questionType.rawValue)),
                               ("dataset", .string(s.dataset))]))
    }
}

extension RolloutObject: JSONForm {
    /// One row per completion, with the columns of TRL's completions table
    /// (step, prompt, completion, each reward, advantage) and the sample's id and answer.
    var jsonValue: Value { .list(rollout.completions.indices.map { Bindings.completionRow(rollout, $0, step: step) }) }
}

extension GroupObject: JSONForm {
    var jsonValue: Value { .list(rollout.range(prompt).map { Bindings.completionRow(rollout, $0, step: nil) }) }
}

extension Bindings {
    static func completionRow(_ r: Rollout, _ i: Int, step: Int?) -> Value {
        let c = r.completions[i]
        var row = Record()
        if let step { row["step"] = .number(Double(step)) }
        row["prompt"] = .string(c.sample.question)
        row["completion"] = .string(c.text)
        // A rollout from `sample` without rewards has no scores.
        if i < r.rewards.totals.count && i < r.advantages.count {
            for (k, name) in r.rewards.names.enumerated() { row[name] = .number(r.rewards.values[k][i]) }
            row["reward"] = .number(r.rewards.totals[i])
            row["advantage"] = .number(r.advantages[i])
        }
        row["sample"] = .string(c.sample.id)
        row["answer"] = .string(c.sample.answerText)
        row["length"] = .number(Double(c.length))
        row["finish_reason"] = .string(c.finishReason.rawValue)
        return .record(row)
    }
}
