// `export t, "dir"`: a GRPO trainer handed to TRL's GRPOTrainer as a folder
// that runs on its own:
//
//   data/train.jsonl (+ test.jsonl)  Med-R1's layout (image, problem, solution) plus the
//                                    sample's fields; images copied to data/images/
//   rewards.py                       every reward as a TRL reward function (the prelude of
//                                    RewardPrelude.swift, then the translated rewards)
//   train_grpo.py                    GRPOTrainer + GRPOConfig with the trainer's settings,
//                                    mapped through the option table's TRL names
//   accelerate/zero2.yaml, zero3.yaml  DeepSpeed ZeRO-2 / ZeRO-3 launch configs
//   rollouts.jsonl, check_rewards.py the last rollout with medr1's reward values, and the
//                                    script that recomputes them with rewards.py
//   README.md                        how to run it, versions, the option and metric tables
//
// The folder is written whole beside its place and renamed into it: a reader sees
// the previous folder or the new one. Text from data reaches Python only as JSON
// files or as literals written by PythonSource.string.
import Foundation
import MedR1Lib

struct TRLExport {
    static let trlVersion = "1.16.0"
    static let transformersVersion = "5.24.0"
    static let torchVersion = "2.13.0"
    static let defaultModel = "Qwen/Qwen2-VL-2B-Instruct"

    let trainer: GRPOTrainer
    let train: Dataset
    let test: Dataset?
    /// Steps the TRL run takes by default (`--max_steps`).
    let steps: Int

    /// One GRPOConfig setting: its TRL name, its Python value and the medr1 option it comes from.
    struct Setting: Equatable {
        var trl: String
        var python: String
        var from: String
    }

    // MARK: - Options

    /// Options whose value is spelled differently in TRL, or that set several TRL fields.
    static let translations: [String: @Sendable (OptionValue, GRPOConfig) -> [Setting]] = [
        "schedule": { _, c in
            switch c.schedule {
            case .constant: return [Setting(trl: "lr_scheduler_type", python: "\"constant\"", from: "schedule")]
            case .warmup(let w):
                return [Setting(trl: "lr_scheduler_type", python: "\"constant_with_warmup\"", from: "schedule"),
                        Setting(trl: "warmup_steps", python: String(w), from: "warmup")]
            case .linear(let w, let total):
                return [Setting(trl: "lr_scheduler_type", python: "\"linear\"", from: "schedule"),
                        Setting(trl: "warmup_steps", python: String(w), from: "warmup"),
                        Setting(trl: "max_steps", python: String(total), from: "steps")]
            case .cosine(let w, let total, let minF):
                return [Setting(trl: "lr_scheduler_type", python: "\"cosine_with_min_lr\"", from: "schedule"),
                        Setting(trl: "warmup_steps", python: String(w), from: "warmup"),
                        Setting(trl: "lr_scheduler_kwargs", python: "{\"min_lr_rate\": \(pythonNumber(minF))}", from: "min_lr"),
                        Setting(trl: "max_steps", python: String(total), from: "steps")]
            }
        },
        "scale_rewards": { v, _ in
            switch v {
            case .flag(let b): return [Setting(trl: "scale_rewards", python: b ? "\"group\"" : "\"none\"", from: "scale_rewards")]
            default: return [Setting(trl: "scale_rewards", python: pythonValue(v, integer: false), from: "scale_rewards")]
            }
        },
        // medr1's 0 turns two-sided clipping off; TRL's None does.
        "delta": { v, _ in
            if case .number(let x) = v, x == 0 { return [Setting(trl: "delta", python: "None", from: "delta")] }
            return [Setting(trl: "delta", python: pythonValue(v, integer: false), from: "delta")]
        },
        // A rollout of `prompts` x G completions is cut into steps_per_generation parts, and
        // gradient_accumulation_steps parts make one update. TRL counts in micro-batches of
        // per_device_train_batch_size x processes completions: with G per device, a generation
        // is prompts / processes micro-batches and an update prompts / processes x accumulation
        // / steps_per_generation of them. train_grpo.py computes both from the number of
        // processes it runs on.
        "prompts": { _, c in
            [Setting(trl: "per_device_train_batch_size", python: "NUM_GENERATIONS", from: "prompts"),
             Setting(trl: "steps_per_generation", python: "batch_fields()[\"steps_per_generation\"]",
                     from: "prompts, steps_per_generation"),
             Setting(trl: "gradient_accumulation_steps", python: "batch_fields()[\"gradient_accumulation_steps\"]",
                     from: "prompts, steps_per_generation, gradient_accumulation_steps")]
        },
        "steps_per_generation": { _, _ in [] },
        "gradient_accumulation_steps": { _, _ in [] },
    ]

    /// The GRPOConfig settings of `c`, from the option table: each row with a TRL name maps to
    /// it (values translated where the spelling differs); rows without one are returned apart.
    static func settings(_ c: GRPOConfig, rules: [OptionRule<GRPOConfig>] = GRPOConfig.optionRules)
        -> (settings: [Setting], unmapped: [String]) {
        var out: [Setting] = [], unmapped: [String] = []
        for rule in rules {
            if rule.isPart { continue }  // its whole (`schedule`) maps it
            guard let v = rule.optionValue(in: c), v != .strings([]) else { continue }  // an empty list sets nothing
            if let t = translations[rule.keyword] { out += t(v, c); continue }
            guard let trl = rule.trl else { unmapped.append(rule.keyword); continue }
            out.append(Setting(trl: trl, python: pythonValue(v, integer: rule.kind == .integer), from: rule.keyword))
        }
        out.append(Setting(trl: "seed", python: String(c.seed % (1 << 31)), from: "seed"))
        return (out, unmapped)
    }

    static func pythonNumber(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "float(\"nan\")" : (x > 0 ? "float(\"inf\")" : "-float(\"inf\")") }
        return "\(x)"
    }

    static func pythonValue(_ v: OptionValue, integer: Bool) -> String {
        switch v {
        case .number(let x): return integer && x.isFinite ? String(Int(x)) : pythonNumber(x)
        case .flag(let b): return b ? "True" : "False"
        case .word(let w): return PythonSource.string(w)
        case .strings(let ws): return "[" + ws.map(PythonSource.string).joined(separator: ", ") + "]"
        }
    }

    // MARK: - Rewards

    /// rewards.py: the prelude, the translated rewards and the lists TRL takes.
    func rewardsSource() throws -> String {
        let tr = RewardTranslator()
        var funcs: [String] = []
        for r in trainer.rewards {
            switch r.origin {
            case .builtin(let name)?:
                funcs.append("trl_reward(\(PythonSource.string(r.name)), r_\(name))")
            case .language(let f)?:
                guard let c = f as? Closure else {
                    throw RuntimeError("reward '\(r.name)' is the builtin \(Value.function(f as! any Callable).repr), which cannot be exported; wrap it in a function: fn(c) => ...")
                }
                funcs.append("trl_reward(\(PythonSource.string(r.name)), \(try tr.translate(c)))")
            case nil:
                throw RuntimeError("reward '\(r.name)' was not made with format(), accuracy(), format_nothink(), format_think_after(), format_strict() "
                                   + "or a function written in the language, so it cannot be translated to Python")
            }
        }
        var out = "# Rewards of a medr1 GRPO trainer, as TRL reward functions (written by medr1's export).\n"
        out += "# Each function takes TRL's arguments (completions, completion_ids, the data set's columns as keyword\n"
        out += "# arguments) and returns one float per completion, the value medr1 gives the same completion.\n"
        out += RewardPrelude.source
        out += "\n# ---------------------------------------------------------------------------\n# The trainer's rewards.\n"
        out += "# ---------------------------------------------------------------------------\n"
        out += "MAX_COMPLETION_LENGTH = \(trainer.config.maxTokens)\n"
        out += "# Patterns as medr1 writes them (ICU) -> the same patterns in Python's re syntax.\n"
        out += "PATTERNS = {\n" + tr.patterns.keys.sorted().map { "    \(PythonSource.string($0)): \(PythonSource.string(tr.patterns[$0]!)),\n" }.joined() + "}\n\n"
        for d in tr.definitions { out += d + "\n\n" }
        out += "REWARD_NAMES = [" + trainer.rewards.map { PythonSource.string($0.name) }.joined(separator: ", ") + "]\n"
        out += "REWARD_WEIGHTS = [" + trainer.rewards.map { Self.pythonNumber($0.weight) }.joined(separator: ", ") + "]\n"
        out += "REWARD_FUNCS = [\n" + funcs.map { "    \($0),\n" }.joined() + "]\n"
        return out
    }

    // MARK: - Data

    /// A sample's record in Med-R1's layout plus its fields, as one JSON line.
    func record(_ s: Sample, image: String) -> String {
        let style = trainer.encoder.answerStyle
        let answer = PromptTemplate.answer(for: s, style: style)
        let fields: [(String, String)] = [
            ("image", JSONLiteral.string(image)),
            ("problem", JSONLiteral.string(problem(s))),
            ("solution", JSONLiteral.string("<answer> \(answer) </answer>")),
            ("modality", JSONLiteral.string(s.modality.rawValue)),
            ("question_type", JSONLiteral.string(s.questionType.rawValue)),
            ("id", JSONLiteral.string(s.id)),
            ("question", JSONLiteral.string(s.question)),
            ("options", "[" + s.options.map(JSONLiteral.string).joined(separator: ", ") + "]"),
            ("answer", JSONLiteral.string(s.answerText)),
            ("answer_letter", JSONLiteral.string(s.answerLetter)),
            ("answer_index", String(s.answerIndex)),
            ("dataset", JSONLiteral.string(s.dataset)),
            ("reasoning", s.reasoning.map(JSONLiteral.string) ?? "null"),
        ]
        return "{" + fields.map { "\(JSONLiteral.string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// `problem`: what the trainer prompts with, less the template's fixed task text.
    func problem(_ s: Sample) -> String {
        switch trainer.encoder.template {
        case .tiny: return trainer.encoder.template.prompt(for: s, answerStyle: trainer.encoder.answerStyle)
        case .thinking, .noThinking, .thinkAfter: return PromptTemplate.questionWithOptions(s)
        }
    }

    /// The text around `{Question}` that makes the trainer's prompt from `problem`.
    var questionTemplate: String {
        switch trainer.encoder.template {
        case .tiny: return "{Question}"
        case .thinking: return "{Question}\n" + PromptTemplate.medR1Task
        case .noThinking: return "{Question}\n" + PromptTemplate.medR1NoThinkingTask
        case .thinkAfter: return "{Question}\n" + PromptTemplate.medR1ThinkAfterTask
        }
    }

    /// Copies the images of `samples` under `folder`/data/images and returns each sample's
    /// relative path (from data/) by its source path.
    static func copyImages(_ sets: [Dataset], to folder: URL, names: inout [String: String]) throws {
        let images = folder.appendingPathComponent("data/images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        var used: Set<String> = []
        for d in sets {
            for s in d.samples where names[s.imagePath] == nil {
                let src = s.imagePath.hasPrefix("/") ? URL(fileURLWithPath: s.imagePath) : d.root.appendingPathComponent(s.imagePath)
                var base = src.lastPathComponent.isEmpty ? "image.png" : src.lastPathComponent
                if used.contains(base) { base = "\(used.count)_" + base }
                used.insert(base)
                let bytes = try FileInput.read(src, limit: FileInput.maxPNGFileBytes, what: "an image")
                try FileIO.writeNewFile(bytes, to: images.appendingPathComponent(base).path, durable: false)
                names[s.imagePath] = "images/" + base
            }
        }
    }

    // MARK: - Rollouts

    /// One JSON line per prompt: the prompt, its sample's fields and each completion with
    /// every reward's value as medr1 computed it.
    static func rolloutLines(_ completions: [Completion], _ table: RewardTable, export: TRLExport, images: [String: String]) -> [String] {
        var byPrompt: [(Sample, [Int])] = []
        for (i, c) in completions.enumerated() {
            if let k = byPrompt.lastIndex(where: { $0.0.id == c.sample.id && $0.0 == c.sample }), byPrompt.count - 1 == k {
                byPrompt[k].1.append(i)
            } else {
                byPrompt.append((c.sample, [i]))
            }
        }
        return byPrompt.map { s, idx in
            let comps = idx.map { i -> String in
                let c = completions[i]
                return "{\"text\": \(JSONLiteral.string(c.text)), \"length\": \(c.length), \"finish_reason\": \(JSONLiteral.string(c.finishReason.rawValue)), "
                    + "\"rewards\": [" + table.values.map { JSONLiteral.number($0[i]) }.joined(separator: ", ") + "]}"
            }
            return "{\"prompt\": \(JSONLiteral.string(export.questionTemplate.replacingOccurrences(of: "{Question}", with: export.problem(s)))), "
                + "\"sample\": \(export.record(s, image: images[s.imagePath] ?? s.imagePath)), \"completions\": [" + comps.joined(separator: ", ") + "]}"
        }
    }

    // MARK: - The folder

    /// Every file of the folder but the images (name -> text).
    func files(rollouts: [String], unmappedNote: [String]) throws -> [(String, String)] {
        let (settings, unmapped) = Self.settings(trainer.config)
        return [
            ("rewards.py", try rewardsSource()),
            ("train_grpo.py", TRLScripts.trainScript(self, settings: settings, unmapped: unmapped)),
            ("check_rewards.py", TRLScripts.checkRewards),
            ("accelerate/zero2.yaml", TRLScripts.accelerateConfig(stage: 2)),
            ("accelerate/zero3.yaml", TRLScripts.accelerateConfig(stage: 3)),
            ("rollouts.jsonl", rollouts.map { $0 + "\n" }.joined()),
            ("README.md", TRLScripts.readme(self, settings: settings, unmapped: unmapped)),
        ]
    }

    /// Writes the folder at `dir` whole (see the top of this file); returns the warnings
    /// (options TRL has no counterpart for).
    func write(to dir: URL, rollout: (completions: [Completion], table: RewardTable)?) throws -> [String] {
        FileIO.recoverFolder(dir)
        let parent = dir.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = FileIO.temporaryPath(for: dir, kind: "tmp")
        let tmpURL = URL(fileURLWithPath: tmp)
        do {
            try FileManager.default.createDirectory(at: tmpURL.appendingPathComponent("data"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: tmpURL.appendingPathComponent("accelerate"), withIntermediateDirectories: true)
            var images: [String: String] = [:]
            try Self.copyImages([train] + (test.map { [$0] } ?? []), to: tmpURL, names: &images)
            func jsonl(_ d: Dataset) -> Data { Data(d.samples.map { record($0, image: images[$0.imagePath]!) + "\n" }.joined().utf8) }
            try FileIO.writeNewFile(jsonl(train), to: tmpURL.appendingPathComponent("data/train.jsonl").path)
            if let test { try FileIO.writeNewFile(jsonl(test), to: tmpURL.appendingPathComponent("data/test.jsonl").path) }
            let lines = rollout.map { Self.rolloutLines($0.completions, $0.table, export: self, images: images) } ?? []
            for (name, text) in try files(rollouts: lines, unmappedNote: []) {
                try FileIO.writeNewFile(Data(text.utf8), to: tmpURL.appendingPathComponent(name).path)
            }
            FileIO.syncDirectory(tmp)
            try FileIO.replaceFolder(dir, with: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmpURL)
            throw error
        }
        return Self.settings(trainer.config).unmapped.map {
            "\($0) has no counterpart in TRL's GRPOConfig: the exported run does without it (see train_grpo.py)"
        }
    }
}
