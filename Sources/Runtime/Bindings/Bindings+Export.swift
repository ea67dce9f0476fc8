// Scale-out bindings: `export t, "dir"` hands a GRPO trainer to TRL's
// GRPOTrainer as a folder (Runtime/Export), and `read_trl_log(path)` reads a TRL
// run's trainer_state.json back as a history with medr1's metric names.

import Foundation
import MedR1Lib

extension Bindings {
    /// Largest trainer_state.json read (bytes): a long run logs about 1 KB a step.
    static let maxTRLStateBytes = 64 << 20

    /// TRL's logged key -> medr1's metric name, where they differ (the rest keep their name).
    static let trlMetricNames: [String: String] = Dictionary(
        uniqueKeysWithValues: TRLScripts.metricTable.filter { $0.medr1 != $0.trl }.map { ($0.trl, $0.medr1) })
    /// Keys of a log entry that are not metrics of a step.
    static let trlSkippedKeys: Set<String> = ["step", "epoch", "total_flos", "train_runtime", "train_samples_per_second",
                                               "train_steps_per_second", "train_loss"]

    static func registerExport(_ add: Builtins.Register) {
        add("export", options: ["test", "steps"]) { a, ctx in
            try a.expect(2...2, "export t, \"dir\", test: tr.test, steps: 500")
            let t = try a.host(0, "trainer", as: TrainerObject.self, typeName: "GRPO trainer (from grpo(...))")
            guard let g = t.grpo else {
                throw a.error("can export a GRPO trainer; this is an SFT trainer (TRL's SFTTrainer takes data/train.jsonl as it is)")
            }
            let path = try a.string(1, "dir")
            var test: Dataset? = nil
            if let v = a.namedValue("test") {
                guard case .host(let d as DatasetObject) = v else { throw a.error("test: must be a dataset, got \(v.typeName)") }
                test = d.dataset
            }
            let steps = try a.namedInt("steps") ?? t.planned ?? max(t.stepCount, 100)
            guard steps >= 1 else { throw a.error("steps must be 1 or more, got \(steps)") }
            let export = TRLExport(trainer: g, train: t.data, test: test, steps: steps)
            let warnings: [String]
            do {
                warnings = try export.write(to: ctx.resolve(path), rollout: g.last.map { ($0.completions, $0.rewards) })
            } catch let e as TranslationError {
                throw a.error(e.description)
            } catch let e as RuntimeError {
                throw a.error(e.message)
            } catch let e as CheckpointError {
                throw a.error("cannot write \(path): \(e.message)")
            } catch {
                throw a.error("cannot write \(path): \(FileIO.reason(error))")
            }
            for w in warnings { ctx.emit(.text("warning: " + w)) }
            let n = g.last?.completions.count ?? 0
            ctx.emit(.text("exported the GRPO trainer to \(path): \(t.data.count) training samples"
                           + (test.map { ", \($0.count) test samples" } ?? "") + ", \(g.rewards.count) reward\(g.rewards.count == 1 ? "" : "s"), "
                           + "\(n) recorded completion\(n == 1 ? "" : "s"); run: python \(path)/train_grpo.py"))
            return .null
        }
        add("read_trl_log") { a, ctx in
            try a.expect(1...1, "read_trl_log(\"runs/grpo/trainer_state.json\")")
            let path = try a.string(0, "path")
            let data: Data
            do {
                data = try FileInput.read(ctx.resolve(path), limit: maxTRLStateBytes, what: "a TRL trainer_state.json")
            } catch {
                throw a.error("cannot read \(path): \(error)")
            }
            return .list(try trlHistory(data, path: path).map { .record(metricsRecord($0)) })
        }
    }

    /// The steps of a TRL trainer_state.json's `log_history`, each with medr1's metric names.
    static func trlHistory(_ data: Data, path: String) throws -> [StepMetrics] {
        guard let text = String(data: data, encoding: .utf8) else { throw RuntimeError("\(path): not UTF-8 text; give a trainer_state.json that TRL wrote") }
        guard case .record(let top) = try JSONValue.parse(text, source: path), case .list(let log)? = top["log_history"] else {
            throw RuntimeError("\(path): no log_history list in it; give a trainer_state.json that TRL wrote")
        }
        var out: [StepMetrics] = []
        for (i, entry) in log.enumerated() {
            guard case .record(let e) = entry else { throw RuntimeError("\(path): log_history[\(i)] is not an object") }
            // The last entry of a run is its summary (train_runtime, train_loss): not a step.
            if e["train_runtime"] != nil { continue }
            guard case .number(let step)? = e["step"], step >= 0, step < 1e15, step == step.rounded() else {
                throw RuntimeError("\(path): log_history[\(i)] has no whole-number step")
            }
            var m = StepMetrics(step: Int(step), mode: "grpo")
            for f in e.fields where !trlSkippedKeys.contains(f.name) {
                if case .number(let x) = f.value { m.set(trlMetricNames[f.name] ?? f.name, x) }
            }
            out.append(m)
        }
        return out
    }
}
