// Trainer bindings: `sft(m, data, ...)` and `grpo(m, data, rewards: [...], ...)`
// with every option of SFTConfig / GRPOConfig as a keyword argument, `step t`
// and `step t, n` (MedR1Lib's Trainer.train with hooks for Ctrl-C, the progress
// bar on a terminal and a compact line per step or every ~n/10 steps), `step t,
// with: r` (one GRPO step on a rescored rollout), the trainer's fields (`t.last`,
// `t.metrics`, `t.history`, `t.step`, `t.config`), `t.set(...)` between steps
// (a GRPO trainer's rewards and weights too), and save / resume / load_model.
//
// Ctrl-C: one press stops after the current step (the trainer is consistent:
// counts, history and the --metrics file agree). A second press during a GRPO
// step aborts it: every reward is wrapped so that it throws once the abort is
// requested, and GRPOTrainer leaves model, optimiser, sampler and sample order
// as they were when a reward throws. The update half of a step is short and
// runs to its end; SFT steps (about 0.1 s) stop at step boundaries.

import Foundation
import MedR1Lib

/// A GRPO or SFT trainer seen from a script.
public final class TrainerObject: HostObject {
    let trainer: any Trainer
    /// The model being trained (the same object the script holds: training changes it).
    let modelObject: ModelObject
    let data: Dataset
    /// Planned steps given with `steps:` (the cosine horizon), for the summary.
    var planned: Int?

    init(_ trainer: any Trainer, model: ModelObject, data: Dataset, planned: Int?) {
        self.trainer = trainer
        modelObject = model
        self.data = data
        self.planned = planned
    }

    var mode: String { trainer.mode }
    var stepCount: Int { trainer.stepCount }
    var history: MetricsHistory { trainer.history }
    var grpo: GRPOTrainer? { trainer as? GRPOTrainer }
    var grpoConfig: GRPOConfig? { grpo?.config }

    var lastRollout: Rollout? { grpo?.last }

    public var typeName: String { "trainer" }
    public var summary: String {
        "\(mode) trainer on \(data.name) (\(data.count) samples): step \(stepCount)"
            + (planned.map { " of \($0) planned" } ?? "")
            + (history.last.map { ": " + Bindings.compactLine($0, planned: nil, head: false).replacingOccurrences(of: "  ", with: ", ") } ?? "")
    }
    public var display: String {
        var lines = ["\(mode) trainer on \(data.name) (\(data.count) samples): step \(stepCount)" + (planned.map { " of \($0) planned" } ?? "")]
        if let t = grpo {
            let c = t.config
            lines.append("  \(c.promptsPerStep) prompts x G \(c.group), lr \(formatNumber(c.learningRate)) (\(c.schedule)), beta \(formatNumber(c.beta)), "
                         + "loss \(c.lossType.rawValue), eps \(formatNumber(c.epsLow))/\(formatNumber(c.epsHigh)), "
                         + "temperature \(formatNumber(c.temperature)), max_tokens \(c.maxTokens)")
            lines.append("  rewards: " + t.rewards.map { $0.weight == 1 ? $0.name : "\(formatNumber($0.weight)) x \($0.name)" }.joined(separator: " + "))
        } else if let t = trainer as? SFTTrainer {
            let c = t.config
            lines.append("  batch \(c.batchSize), lr \(formatNumber(c.learningRate)) (\(c.schedule)), template \(t.encoder.template.rawValue)")
        }
        if let m = history.last { lines.append("  last: " + Bindings.compactLine(m, planned: nil)) }
        return lines.joined(separator: "\n")
    }

    public var fieldNames: [String] { ["step", "config", "metrics", "history", "last", "model", "data", "mode", "rewards"] }
    public var methodNames: [String] { ["set"] }
    public func methodOptions(_ name: String) -> [String] {
        Bindings.optionKeywords(trainer) + (grpo == nil ? [] : ["rewards", "weights", "reward_weights"])
    }

    public func field(_ name: String) throws -> Value? {
        switch name {
        case "step": return .number(Double(stepCount))
        case "config": return .record(configRecord)
        case "metrics": return history.last.map { .record(Bindings.metricsRecord($0)) } ?? .null
        case "history": return .list(history.steps.map { .record(Bindings.metricsRecord($0)) })
        case "last": return lastRollout.map { .host(RolloutObject($0, step: stepCount)) } ?? .null
        case "model": return .host(modelObject)
        case "data": return .host(DatasetObject(data))
        case "mode": return .string(mode)
        case "rewards":
            guard let t = grpo else { return .null }
            return .list(t.rewards.map { .host(RewardObject($0)) })
        default: return nil
        }
    }

    /// Every setting under its keyword, from the config's option table, then the trainer's
    /// other settings.
    var configRecord: Record {
        var fields = Bindings.settingFields(trainer)
        if let t = grpo {
            fields += [("rewards", .list(t.rewards.map { .string($0.name) })), ("weights", .list(t.rewards.map { .number($0.weight) }))]
        }
        return Record(fields)
    }

    /// `t.set(lr: 3e-4, beta: 0.02)`: change settings between steps; a GRPO trainer's
    /// `rewards:` and `weights:` too (reference model and optimiser state stay).
    public func callMethod(_ name: String, _ a: Arguments, _ ctx: CallContext) throws -> Value {
        guard name == "set" else { throw RuntimeError("trainer has no method '\(name)'; methods: set") }
        try a.expect(0...0, "t.set(lr: 3e-4, beta: 0.02)")
        let newRewards = try Bindings.trainerRewards(self, a, ctx)
        try Bindings.setOptions(trainer, a)
        if let rs = newRewards, let t = grpo {
            do { try t.set(rewards: rs) } catch let e as RLError { throw Bindings.libraryError(a, e, owner: mode) }
        }
        if let p = try a.namedInt("steps") { planned = p }
        return .null
    }
}

/// Thrown by a reward once a second Ctrl-C asked to abort the step.
struct StepAborted: Error, CustomStringConvertible {
    var description: String { "step aborted by Ctrl-C" }
}

extension Bindings {
    // MARK: - Options

    /// Keywords `grpo` and `sft` take besides their config's options (which `t.set` may change).
    static let grpoOptions = ["rewards", "weights", "reward_weights"] + GRPOConfig.optionRules.names() + ["seed", "template", "answer_style", "reference"]
    static let sftOptions = SFTConfig.optionRules.names() + ["seed", "template", "answer_style"]

    /// The values given in `a` for the options of a table, under the option's keyword or TRL's
    /// name (not both), each read as its kind asks (numbers for numbers and whole numbers,
    /// true/false for flags, strings for words, and true/false for a word that takes them).
    static func optionValues<C>(_ a: Arguments, _ rules: [OptionRule<C>]) throws -> [String: OptionValue] {
        var given: [String: OptionValue] = [:]
        for r in rules {
            let names = r.names.filter { a.has($0) }
            guard let name = names.first else { continue }
            if names.count > 1 { throw a.error("\(names[0]): and \(names[1]): are the same option; give one of them") }
            switch r.kind {
            case .number, .integer: if let x = try a.namedNumber(name) { given[r.keyword] = .number(x) }
            case .flag: if let b = try a.namedBool(name) { given[r.keyword] = .flag(b) }
            case .strings:
                guard let xs = try a.namedList(name) else { continue }
                given[r.keyword] = .strings(try xs.enumerated().map { k, v in
                    guard case .string(let w) = v else { throw a.error("\(name)[\(k)] must be a string, got \(v.typeName)") }
                    return w
                })
            case .word:
                if r.flagWords != nil, case .bool(let b)? = a.namedValue(name) { given[r.keyword] = .flag(b) }
                else if let w = try a.namedString(name) { given[r.keyword] = .word(w) }
            }
        }
        return given
    }

    /// The keywords of a trainer's settings (its config's option table, and TRL's names).
    static func optionKeywords<T: Trainer>(_ t: T) -> [String] { T.Config.optionRules.names() }

    /// A trainer's settings as record fields: its options in table order, then seed,
    /// template and answer style.
    static func settingFields<T: Trainer>(_ t: T) -> [(String, Value)] {
        optionFields(T.Config.optionRules, t.config)
            + [("seed", .number(Double(t.config.seed))), ("template", .string(t.encoder.template.rawValue)),
               ("answer_style", .string(t.encoder.answerStyle.rawValue))]
    }

    /// `t.set(...)`'s options applied to the trainer (nothing changes when one is out of range).
    static func setOptions<T: Trainer>(_ t: T, _ a: Arguments) throws {
        var c = t.config
        try applyOptions(a, T.Config.optionRules, &c)
        do { try t.update { $0 = c } } catch let e as RLError { throw libraryError(a, e, owner: t.mode) }
    }

    /// The rewards `t.set(rewards: [...], weights: [...])` asks for, checked (nil when neither
    /// is given): new rewards with their weights, or the trainer's rewards with new weights.
    static func trainerRewards(_ t: TrainerObject, _ a: Arguments, _ ctx: CallContext) throws -> [Reward]? {
        guard a.has("rewards") || a.has("weights") || a.has("reward_weights") else { return nil }
        guard let g = t.grpo else { throw a.error("an \(t.mode) trainer has no rewards to set") }
        let rs: [Reward]
        if a.has("rewards") {
            rs = abortable(try rewardOptions(a, ctx))
        } else {
            let ws = try weightsOption(a) ?? []
            guard ws.count == g.rewards.count else {
                throw a.error("weights has \(ws.count) entries for the trainer's \(g.rewards.count) rewards ("
                              + g.rewards.map(\.name).joined(separator: ", ") + ")")
            }
            rs = zip(g.rewards, ws).map { $0.weighted($1) }
        }
        do { try Reward.checkWeights(rs, owner: "grpo") } catch let e as RLError { throw libraryError(a, e, owner: "grpo") }
        return rs
    }

    /// Sets every option of the table given in `a` on `c`; the library checks each value
    /// against its row, and its error names the callee.
    static func applyOptions<C>(_ a: Arguments, _ rules: [OptionRule<C>], _ c: inout C) throws {
        let given = try optionValues(a, rules)
        do { try rules.apply(given, to: &c, owner: a.callee) } catch let e as RLError { throw libraryError(a, e) }
    }

    /// A value read from a config as the language holds it.
    static func value(_ v: OptionValue) -> Value {
        switch v {
        case .number(let x): return .number(x)
        case .flag(let b): return .bool(b)
        case .word(let w): return .string(w)
        case .strings(let ws): return .list(ws.map { .string($0) })
        }
    }

    /// The options of `c` as record fields, in table order.
    static func optionFields<C>(_ rules: [OptionRule<C>], _ c: C) -> [(String, Value)] {
        rules.values(in: c).map { ($0.keyword, value($0.value)) }
    }

    /// A library error as the language shows it: "grpo: lr must be in [0, 1], got 5" once, not
    /// "grpo: grpo: ..." (the library names the builtin, `owner`, the callee names it again).
    static func libraryError(_ a: Arguments, _ e: CustomStringConvertible, owner: String? = nil) -> RuntimeError {
        let text = e.description
        let own = (owner ?? a.callee) + ": "
        return a.error(text.hasPrefix(own) ? String(text.dropFirst(own.count)) : text)
    }

    /// `seed:` as a generator seed (0 or more), or the session's next seed.
    static func seedOption(_ a: Arguments, _ ctx: CallContext) throws -> UInt64 {
        guard let x = try a.namedInt("seed") else { return defaultSeed(ctx) }
        guard x >= 0 else { throw a.error("seed must be a whole number 0 or more, got \(x)") }
        return UInt64(x)
    }

    /// Each reward made abortable: it throws once a second Ctrl-C is pending, which makes
    /// GRPOTrainer drop the whole step.
    static func abortable(_ rs: [Reward]) -> [Reward] {
        rs.map { r in
            Reward(name: r.name, weight: r.weight, origin: r.origin) { c in
                if Interrupt.isAbortRequested { throw StepAborted() }
                return try r.function(c)
            }
        }
    }

    // MARK: - Metrics

    /// A metrics record: step, mode, then every metric by its TRL name.
    static func metricsRecord(_ m: StepMetrics) -> Record {
        var r = Record([("step", .number(Double(m.step))), ("mode", .string(m.mode))])
        for (n, v) in zip(m.names, m.values) { r[n] = .number(v) }
        return r
    }


    /// The line printed after a step: the numbers a student watches.
    static func compactLine(_ m: StepMetrics, planned: Int?, head withHead: Bool = true) -> String {
        func f(_ k: String, _ label: String, _ spec: String = "%.3f") -> String? {
            m[k].map { "\(label) " + ($0.isNaN ? "nan" : String(format: spec, $0)) }
        }
        let head = "\(m.mode) step \(m.step)" + (planned.map { "/\($0)" } ?? "")
        var parts: [String] = withHead ? [head] : []
        if m.mode == "grpo" {
            var r = f("reward", "reward") ?? "reward -"
            let each = m.names.filter { $0.hasPrefix("rewards/") && $0.hasSuffix("/mean") }.map { n -> String in
                let name = String(n.dropFirst("rewards/".count).dropLast("/mean".count))
                return "\(name) \(String(format: "%.2f", m[n]!))"
            }
            if !each.isEmpty { r += " (" + each.joined(separator: ", ") + ")" }
            parts.append(r)
            parts += [f("frac_reward_zero_std", "zero-std", "%.2f"), f("kl", "kl", "%.4f"),
                      f("completions/mean_length", "len", "%.1f"), f("loss", "loss", "%.4f")].compactMap { $0 }
        } else {
            parts += [f("loss", "loss", "%.4f"), f("grad_norm", "grad", "%.2f"), f("learning_rate", "lr", "%.2g")].compactMap { $0 }
        }
        if let s = m["seconds"] { parts.append(String(format: "%.2fs", s)) }
        return parts.joined(separator: "  ")
    }

    /// Print a line every `every` steps for long runs: about ten lines, on round numbers.
    static func autoEvery(_ n: Int) -> Int {
        if n <= 10 { return 1 }
        let raw = Double(n) / 10
        let mag = pow(10, floor(log10(raw)))
        for k in [1.0, 2, 5, 10] where k * mag >= raw { return Int(k * mag) }
        return Int(10 * mag)
    }

    /// Progress bars only on a terminal, and never into a notebook or a test sink.
    static func showProgress(_ ctx: CallContext) -> Bool {
        guard isatty(STDERR_FILENO) == 1 else { return false }
        guard let i = ctx as? Interpreter else { return false }
        return i.sink is StandardOutputSink
    }

    /// The session's updating progress display for a loop (the Jupyter kernel's), if its sink shows one.
    static func progressDisplay(_ ctx: CallContext, label: String, total: Int) -> ProgressDisplay? {
        ((ctx as? Interpreter)?.sink as? ProgressSink)?.beginProgress(label: label, total: total)
    }

    /// `step t, n`: up to n steps with progress, printed lines, metrics recording and Ctrl-C.
    static func runSteps(_ t: TrainerObject, _ n: Int, every: Int?, quiet: Bool, _ a: Arguments, _ ctx: CallContext) throws {
        let session = (ctx as? Interpreter)?.session
        let bar = ProgressBar(total: n, label: t.mode, enabled: showProgress(ctx))
        let display = progressDisplay(ctx, label: "\(t.mode) step", total: n)
        defer { bar.finish(); display?.end() }
        let every = max(1, every ?? autoEvery(n))
        let t0 = Date()
        var done: [StepMetrics] = []
        func say(_ s: String) {
            bar.finish()
            ctx.emit(.text(s))
        }
        var recordFailed = false
        let hooks = TrainingHooks(shouldStop: { Interrupt.isRequested }, onStep: { m in
            done.append(m)
            do { try session?.recordMetrics(jsonLine: m.jsonLine, trainer: t, mode: m.mode) } catch { recordFailed = true; throw error }
            if !quiet && (done.count % every == 0 || done.count == n) { say(compactLine(m, planned: nil)) }
        }, progress: { k, _ in
            guard let m = done.last else { return }
            var status = [m.mode == "grpo" ? m["reward"].map { String(format: "reward %.3f", $0) } ?? ""
                                           : m["loss"].map { String(format: "loss %.4f", $0) } ?? ""].filter { !$0.isEmpty }
            if let kl = m["kl"] { status.append(String(format: "kl %.4f", kl)) }
            bar.update(done: k, status: status.joined(separator: " "))
            display?.update(done: k, status: status)
        }, shouldAbort: { Interrupt.isAbortRequested })
        do { try t.trainer.train(steps: n, hooks: hooks) } catch {
            // An error recording the metrics is passed on as it is.
            if recordFailed { throw error }
            try stepFailed(error, t, done: done, n, quiet: quiet, a, say)
        }
        if done.count > 1 && !quiet {
            let secs = Date().timeIntervalSince(t0)
            var s = "\(t.mode): \(done.count) steps in \(String(format: "%.1f", secs)) s (\(String(format: "%.2f", secs / Double(done.count))) s/step), t.step = \(t.stepCount)"
            let key = t.mode == "grpo" ? "reward" : "loss"
            let k = max(1, min(10, done.count / 5))
            let first = done.prefix(k).compactMap { $0[key] }, last = done.suffix(k).compactMap { $0[key] }
            if !first.isEmpty && !last.isEmpty {
                s += "; \(key) \(String(format: "%.3f", first.reduce(0, +) / Double(first.count))) -> "
                    + "\(String(format: "%.3f", last.reduce(0, +) / Double(last.count)))"
                    + (k > 1 ? " (mean of the first and last \(k) steps)" : " (first and last step)")
            }
            say(s)
        }
        if done.count < n {
            throw InterruptedError("stopped after step \(t.stepCount) (\(done.count) of \(n) steps done); the trainer is consistent",
                                   stepsDone: done.count)
        }
    }

    /// A step that threw, as the language reports it: an abort by Ctrl-C, a reward's error,
    /// or the library's.
    static func stepFailed(_ error: Error, _ t: TrainerObject, done: [StepMetrics], _ n: Int, quiet: Bool,
                           _ a: Arguments, _ say: (String) -> Void) throws -> Never {
        if Interrupt.isRequested {
            if !done.isEmpty && !quiet { say(compactLine(done.last!, planned: nil)) }
            throw InterruptedError("aborted step \(t.stepCount + 1): the model, optimiser and sampler are as before it; "
                                   + "\(done.count) of \(n) steps done, t.step = \(t.stepCount)", stepsDone: done.count)
        }
        if let e = error as? RewardError { throw a.error(e.description) }
        if let e = error as? RLError { throw libraryError(a, e) }
        throw error
    }

    // MARK: - Builtins

    static func registerTraining(_ add: Builtins.Register) {
        add("grpo", options: grpoOptions) { a, ctx in
            try a.expect(2...2, "grpo(m, data, rewards: [format(), accuracy()], group: 8, lr: 1e-4, ...)")
            let mo = try a.host(0, "model", as: ModelObject.self, typeName: "model")
            let d = try a.host(1, "data", as: DatasetObject.self, typeName: "dataset").dataset
            var c = GRPOConfig()
            c.seed = try seedOption(a, ctx)
            try applyOptions(a, GRPOConfig.optionRules, &c)
            let rs = abortable(try rewardOptions(a, ctx, default: [try template(a).formatReward, .accuracy]))
            var reference: MedR1Model? = nil
            if a.has("reference") {
                guard case .host(let r as ModelObject)? = a.namedValue("reference") else {
                    throw a.error("reference: must be a model, got \(a.namedValue("reference").map { "\($0.typeName) \($0.summary)" } ?? "nothing")")
                }
                guard r.tokenizer == mo.tokenizer else {
                    throw a.error("the reference model's tokenizer differs from the policy's; the KL compares the same tokens, "
                                  + "so give a model made with the policy's tokenizer")
                }
                reference = r.model
            }
            do {
                let t = try GRPOTrainer(model: mo.model, reference: reference, tokenizer: mo.tokenizer, dataset: d, rewards: rs,
                                        config: c, template: try template(a), answerStyle: try answerStyle(a),
                                        images: imageCache(mo.model.config, ctx))
                return .host(TrainerObject(t, model: mo, data: d, planned: try a.namedInt("steps")))
            } catch let e as RLError { throw libraryError(a, e) }
        }
        add("sft", options: sftOptions) { a, ctx in
            try a.expect(2...2, "sft(m, data, lr: 1e-3, batch: 64, ...)")
            let mo = try a.host(0, "model", as: ModelObject.self, typeName: "model")
            let d = try a.host(1, "data", as: DatasetObject.self, typeName: "dataset").dataset
            var c = SFTConfig()
            c.seed = try seedOption(a, ctx)
            try applyOptions(a, SFTConfig.optionRules, &c)
            do {
                let t = try SFTTrainer(model: mo.model, tokenizer: mo.tokenizer, dataset: d, config: c,
                                       template: try template(a), answerStyle: try answerStyle(a),
                                       images: imageCache(mo.model.config, ctx))
                return .host(TrainerObject(t, model: mo, data: d, planned: try a.namedInt("steps")))
            } catch let e as RLError { throw libraryError(a, e) }
        }
        add("step", options: ["every", "quiet", "with"]) { a, ctx in
            try a.expect(1...2, "step t or step t, 50")
            let t = try a.host(0, "trainer", as: TrainerObject.self, typeName: "trainer (from sft(...) or grpo(...))")
            if a.has("with") {
                try stepOn(t, a, ctx)
                return .null
            }
            let n = a.count > 1 ? try a.int(1, "n") : 1
            guard n >= 0 else { throw a.error("n must be 0 or more, got \(n)") }
            try runSteps(t, n, every: try a.namedInt("every"), quiet: try a.namedBool("quiet") ?? false, a, ctx)
            return .null
        }
        add("save") { a, ctx in
            try a.expect(2...2, "save t, \"runs/x.ckpt\" or save m, \"m.safetensors\"")
            let path = try a.string(1, "path")
            let url = ctx.resolve(path)
            do {
                switch a.positional[0] {
                case .host(let t as TrainerObject) where url.pathExtension != "safetensors":
                    try t.trainer.save(to: url)
                    ctx.emit(.text("saved \(t.mode) trainer at step \(t.stepCount) to \(path)"))
                case .host(let t as TrainerObject):
                    try saveModel(t.modelObject, url)
                    ctx.emit(.text("saved the model of the \(t.mode) trainer (step \(t.stepCount)) to \(path)"))
                case .host(let m as ModelObject):
                    try saveModel(m, url)
                    ctx.emit(.text("saved model (\(m.model.parameterCount) parameters) to \(path)"))
                case let v:
                    throw a.error("can save a trainer or a model, got \(v.typeName) \(v.summary)")
                }
            } catch let e as RLError {
                throw a.error(e.description)
            } catch let e as RuntimeError {
                throw e
            } catch let e as CheckpointError {
                throw a.error("cannot save to \(path): \(e.file == url.path ? e.message : e.description)")
            } catch {
                throw a.error("cannot save to \(path): \(error)")
            }
            return .null
        }
        add("resume", options: ["rewards", "weights", "reward_weights"]) { a, ctx in
            try a.expect(2...2, "resume(\"runs/x.ckpt\", data, rewards: [format(), accuracy()])")
            let path = try a.string(0, "path")
            let dir = ctx.resolve(path)
            let d = try a.host(1, "data", as: DatasetObject.self, typeName: "dataset (the one the trainer was trained on)").dataset
            try checkTrainerState(dir, path, a)
            let rs = abortable(try rewardOptions(a, ctx))
            do {
                let t = try TrainerCheckpoint.resume(from: dir, dataset: d, rewards: rs, images: { imageCache($0, ctx) })
                guard t is GRPOTrainer || !a.has("rewards") else { throw a.error("\(path) holds an SFT trainer, which takes no rewards") }
                return .host(TrainerObject(t, model: ModelObject(model: t.model, tokenizer: t.encoder.tokenizer), data: d, planned: nil))
            } catch let e as RLError { throw a.error(e.description) } catch let e as CheckpointError {
                throw a.error("cannot resume from \(path): \(e.description)")
            }
        }
        add("load_model") { a, ctx in
            try a.expect(1...1, "load_model(\"m.safetensors\")")
            let path = try a.string(0, "path")
            do {
                let (m, tokJSON, _) = try Checkpoint.load(from: ctx.resolve(path))
                return .host(ModelObject(model: m, tokenizer: try Tokenizer(json: tokJSON)))
            } catch {
                throw a.error("cannot load \(path): \(error)")
            }
        }
    }

    static func saveModel(_ m: ModelObject, _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Checkpoint.save(model: m.model, tokenizerJSON: m.tokenizer.toJSON(), extraMetadata: ["written_by": "medr1 \(Medr1Version.version)"], to: url)
    }

    /// A state folder must hold a trainer.json (read by TrainerCheckpoint.resume).
    static func checkTrainerState(_ dir: URL, _ path: String, _ a: Arguments) throws {
        TrainerCheckpoint.recover(dir)
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("trainer.json").path) else {
            throw a.error("\(path) is not a trainer state (no readable trainer.json in it); make one with save t, \"\(path)\"")
        }
    }

    /// `step t, with: r`: one update of a GRPO trainer on the rollout r (e.g. t.last rescored
    /// under other rewards), without sampling; then t.last is r.
    static func stepOn(_ t: TrainerObject, _ a: Arguments, _ ctx: CallContext) throws {
        guard a.count == 1 else { throw a.error("step t, with: r trains one update on the rollout r; give no step count") }
        guard let g = t.grpo else { throw a.error("with: trains a GRPO trainer on a rollout, not an \(t.mode) trainer") }
        let r: Rollout
        switch a.namedValue("with") {
        case .host(let ro as RolloutObject)?: r = ro.rollout
        case .host(let go as GroupObject)? where go.scored: r = go.rollout.prompts(go.prompt..<(go.prompt + 1))
        case let v: throw a.error("with: must be a rollout (e.g. rescore t.last with: [...]), got "
                                  + (v.map { "\($0.typeName) \($0.summary)" } ?? "nothing"))
        }
        let m: StepMetrics
        do { m = try g.update(with: r) } catch let e as RLError { throw libraryError(a, e) }
        try (ctx as? Interpreter)?.session?.recordMetrics(jsonLine: m.jsonLine, trainer: t, mode: m.mode)
        if !((try a.namedBool("quiet")) ?? false) { ctx.emit(.text(compactLine(m, planned: nil))) }
    }
}
