// Trainer bindings: `sft(m, data, ...)` and `grpo(m, data, rewards: [...], ...)`
// with every option of SFTConfig / GRPOConfig as a keyword argument, `step t`
// and `step t, n` (progress bar on a terminal, a compact line per step or every
// ~n/10 steps, Ctrl-C handling), the trainer's fields (`t.last`, `t.metrics`,
// `t.history`, `t.step`, `t.config`), `t.set(...)` between steps, and save /
// resume / load_model.
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
    enum Kind {
        case grpo(GRPOTrainer)
        case sft(SFTTrainer)
    }
    let kind: Kind
    /// The model being trained (the same object the script holds: training changes it).
    let modelObject: ModelObject
    let data: Dataset
    /// Planned steps given with `steps:` (the cosine horizon), for the summary.
    var planned: Int?

    init(_ kind: Kind, model: ModelObject, data: Dataset, planned: Int?) {
        self.kind = kind
        modelObject = model
        self.data = data
        self.planned = planned
    }

    var mode: String { if case .grpo = kind { return "grpo" } else { return "sft" } }
    var stepCount: Int {
        switch kind { case .grpo(let t): return t.stepCount; case .sft(let t): return t.stepCount }
    }
    var history: MetricsHistory {
        switch kind { case .grpo(let t): return t.history; case .sft(let t): return t.history }
    }
    var grpoConfig: GRPOConfig? { if case .grpo(let t) = kind { return t.config } else { return nil } }

    var lastRollout: ScoredRollout? {
        guard case .grpo(let t) = kind, let r = t.last else { return nil }
        return ScoredRollout(r, scaleRewards: t.config.scaleRewards)
    }

    /// One step; throws as the trainer does (a failed GRPO step changes nothing).
    func stepOnce() throws -> StepMetrics {
        switch kind {
        case .grpo(let t): return try t.step()
        case .sft(let t): return try t.step()
        }
    }

    public var typeName: String { "trainer" }
    public var summary: String {
        "\(mode) trainer on \(data.name) (\(data.count) samples): step \(stepCount)"
            + (planned.map { " of \($0) planned" } ?? "")
            + (history.last.map { ": " + Bindings.compactLine($0, planned: nil, head: false).replacingOccurrences(of: "  ", with: ", ") } ?? "")
    }
    public var display: String {
        var lines = ["\(mode) trainer on \(data.name) (\(data.count) samples): step \(stepCount)" + (planned.map { " of \($0) planned" } ?? "")]
        switch kind {
        case .grpo(let t):
            let c = t.config
            lines.append("  \(c.promptsPerStep) prompts x G \(c.group), lr \(formatNumber(c.learningRate)) (\(c.schedule)), beta \(formatNumber(c.beta)), "
                         + "loss \(c.lossType.rawValue), eps \(formatNumber(c.epsLow))/\(formatNumber(c.epsHigh)), "
                         + "temperature \(formatNumber(c.temperature)), max_tokens \(c.maxTokens)")
            lines.append("  rewards: " + t.rewards.map { $0.weight == 1 ? $0.name : "\(formatNumber($0.weight)) x \($0.name)" }.joined(separator: " + "))
        case .sft(let t):
            let c = t.config
            lines.append("  batch \(c.batchSize), lr \(formatNumber(c.learningRate)) (\(c.schedule)), template \(t.encoder.template.rawValue)")
        }
        if let m = history.last { lines.append("  last: " + Bindings.compactLine(m, planned: nil)) }
        return lines.joined(separator: "\n")
    }

    public var fieldNames: [String] { ["step", "config", "metrics", "history", "last", "model", "data", "mode", "rewards"] }
    public var methodNames: [String] { ["set"] }
    public func methodOptions(_ name: String) -> [String] {
        switch kind {
        case .grpo: return GRPOConfig.optionRules.keywords()
        case .sft: return SFTConfig.optionRules.keywords()
        }
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
            guard case .grpo(let t) = kind else { return .null }
            return .list(t.rewards.map { .host(RewardObject($0)) })
        default: return nil
        }
    }

    /// Every setting under its keyword, from the config's option table, then the trainer's
    /// other settings.
    var configRecord: Record {
        switch kind {
        case .grpo(let t):
            return Record(Bindings.optionFields(GRPOConfig.optionRules, t.config)
                          + [("seed", .number(Double(t.config.seed))),
                             ("template", .string(t.encoder.template.rawValue)), ("answer_style", .string(t.encoder.answerStyle.rawValue)),
                             ("rewards", .list(t.rewards.map { .string($0.name) })), ("weights", .list(t.rewards.map { .number($0.weight) }))])
        case .sft(let t):
            return Record(Bindings.optionFields(SFTConfig.optionRules, t.config)
                          + [("seed", .number(Double(t.config.seed))),
                             ("template", .string(t.encoder.template.rawValue)), ("answer_style", .string(t.encoder.answerStyle.rawValue))])
        }
    }

    /// `t.set(lr: 3e-4, beta: 0.02)`: change settings between steps.
    public func callMethod(_ name: String, _ a: Arguments, _ ctx: CallContext) throws -> Value {
        guard name == "set" else { throw RuntimeError("trainer has no method '\(name)'; methods: set") }
        try a.expect(0...0, "t.set(lr: 3e-4, beta: 0.02)")
        switch kind {
        case .grpo(let t):
            var c = t.config
            try Bindings.applyOptions(a, GRPOConfig.optionRules, &c)
            do { try t.update { $0 = c } } catch let e as RLError { throw Bindings.libraryError(a, e, owner: mode) }
        case .sft(let t):
            var c = t.config
            try Bindings.applyOptions(a, SFTConfig.optionRules, &c)
            do { try t.update { $0 = c } } catch let e as RLError { throw Bindings.libraryError(a, e, owner: mode) }
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
    static let grpoOptions = ["rewards", "weights"] + GRPOConfig.optionRules.keywords() + ["seed", "template", "answer_style", "reference"]
    static let sftOptions = SFTConfig.optionRules.keywords() + ["seed", "template", "answer_style"]

    /// The values given in `a` for the options of a table, each read as its kind asks
    /// (numbers for numbers and whole numbers, true/false for flags, strings for words).
    static func optionValues<C>(_ a: Arguments, _ rules: [OptionRule<C>]) throws -> [String: OptionValue] {
        var given: [String: OptionValue] = [:]
        for r in rules {
            switch r.kind {
            case .number, .integer: if let x = try a.namedNumber(r.keyword) { given[r.keyword] = .number(x) }
            case .flag: if let b = try a.namedBool(r.keyword) { given[r.keyword] = .flag(b) }
            case .word: if let w = try a.namedString(r.keyword) { given[r.keyword] = .word(w) }
            }
        }
        return given
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
            Reward(name: r.name, weight: r.weight) { c in
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

    /// `step t, n`: up to n steps with progress, printed lines, metrics recording and Ctrl-C.
    static func runSteps(_ t: TrainerObject, _ n: Int, every: Int?, quiet: Bool, _ a: Arguments, _ ctx: CallContext) throws {
        let session = (ctx as? Interpreter)?.session
        let bar = ProgressBar(total: n, label: t.mode, enabled: showProgress(ctx))
        defer { bar.finish() }
        let every = max(1, every ?? autoEvery(n))
        let t0 = Date()
        var done: [StepMetrics] = []
        func say(_ s: String) {
            bar.finish()
            ctx.emit(.text(s))
        }
        for i in 0..<n {
            if Interrupt.isRequested { break }
            let m: StepMetrics
            do { m = try t.stepOnce() } catch {
                if Interrupt.isRequested {
                    if !done.isEmpty && !quiet { say(compactLine(done.last!, planned: nil)) }
                    throw InterruptedError("aborted step \(t.stepCount + 1): the model, optimiser and sampler are as before it; "
                                           + "\(done.count) of \(n) steps done, t.step = \(t.stepCount)", stepsDone: done.count)
                }
                if let e = error as? RewardError { throw a.error(e.description) }
                if let e = error as? RLError { throw libraryError(a, e) }
                throw error
            }
            done.append(m)
            if let session { try session.recordMetrics(jsonLine: m.jsonLine, trainer: t, mode: m.mode) }
            if !quiet && ((i + 1) % every == 0 || i == n - 1) { say(compactLine(m, planned: nil)) }
            var status = m.mode == "grpo" ? m["reward"].map { String(format: "reward %.3f", $0) } ?? ""
                                          : m["loss"].map { String(format: "loss %.4f", $0) } ?? ""
            if let kl = m["kl"] { status += String(format: " kl %.4f", kl) }
            bar.update(done: i + 1, status: status)
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

    // MARK: - Builtins

    static func registerTraining(_ add: Builtins.Register) {
        add("grpo", options: grpoOptions) { a, ctx in
            try a.expect(2...2, "grpo(m, data, rewards: [format(), accuracy()], group: 8, lr: 1e-4, ...)")
            let mo = try a.host(0, "model", as: ModelObject.self, typeName: "model")
            let d = try a.host(1, "data", as: DatasetObject.self, typeName: "dataset").dataset
            var c = GRPOConfig()
            c.seed = try seedOption(a, ctx)
            try applyOptions(a, GRPOConfig.optionRules, &c)
            let rs = abortable(try rewardOptions(a, ctx))
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
                return .host(TrainerObject(.grpo(t), model: mo, data: d, planned: try a.namedInt("steps")))
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
                return .host(TrainerObject(.sft(t), model: mo, data: d, planned: try a.namedInt("steps")))
            } catch let e as RLError { throw libraryError(a, e) }
        }
        add("step", options: ["every", "quiet"]) { a, ctx in
            try a.expect(1...2, "step t or step t, 50")
            let t = try a.host(0, "trainer", as: TrainerObject.self, typeName: "trainer (from sft(...) or grpo(...))")
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
                    switch t.kind {
                    case .grpo(let g): try g.save(to: url)
                    case .sft(let s): try s.save(to: url)
                    }
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
        add("resume", options: ["rewards", "weights"]) { a, ctx in
            try a.expect(2...2, "resume(\"runs/x.ckpt\", data, rewards: [format(), accuracy()])")
            let path = try a.string(0, "path")
            let dir = ctx.resolve(path)
            let d = try a.host(1, "data", as: DatasetObject.self, typeName: "dataset (the one the trainer was trained on)").dataset
            do {
                let (kind, cfg) = try trainerKind(dir, path, a)
                switch kind {
                case "grpo":
                    let rs = abortable(try rewardOptions(a, ctx))
                    let t = try GRPOTrainer.resume(from: dir, dataset: d, rewards: rs, images: imageCache(cfg, ctx))
                    return .host(TrainerObject(.grpo(t), model: ModelObject(model: t.model, tokenizer: t.encoder.tokenizer), data: d, planned: nil))
                default:
                    guard !a.has("rewards") else { throw a.error("\(path) holds an SFT trainer, which takes no rewards") }
                    let t = try SFTTrainer.resume(from: dir, dataset: d, images: imageCache(cfg, ctx))
                    return .host(TrainerObject(.sft(t), model: ModelObject(model: t.model, tokenizer: t.encoder.tokenizer), data: d, planned: nil))
                }
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

    /// "grpo" or "sft" and the policy's config, from the state folder's trainer.json (checked).
    static func trainerKind(_ dir: URL, _ path: String, _ a: Arguments) throws -> (String, ModelConfig) {
        TrainerCheckpoint.recover(dir)
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("trainer.json").path) else {
            throw a.error("\(path) is not a trainer state (no readable trainer.json in it); make one with save t, \"\(path)\"")
        }
        return try TrainerCheckpoint.describe(dir)
    }
}
