// Save and resume a trainer so that the continued run is bit-identical to an
// uninterrupted one. A state folder holds:
//   model.safetensors      the policy: a complete checkpoint (config + tokenizer), loadable alone
//   reference.safetensors  the frozen reference (GRPO only)
//   optimizer.safetensors  AdamW moments "m" and "v" (flat parameter order), "step" in metadata
//   history.jsonl          one JSON line of metrics per trainer step, append-only
//   trainer.json           the manifest, written last: kind, trainer and model config, template,
//                          counters, RNG state, sample order, and each other file's size,
//                          content hash and step
// The folder is replaced as a whole (CheckpointFolder.swift). Every field read
// back is checked before use: a hand-edited or damaged trainer.json gets an
// error naming the file and the field. Format 1 (metrics inside trainer.json,
// no manifest) is still read.
import Foundation

/// The JSON part of a trainer's state.
struct TrainerStateFile: Codable {
    var format = 2
    /// "grpo" or "sft"
    var kind: String
    var grpo: StoredConfig<GRPOConfig>?
    var sft: StoredConfig<SFTConfig>?
    var template: PromptTemplate
    var answerStyle: AnswerStyle
    var stepCount: Int
    var optimizerSteps: Int
    /// SplitMix64 state of the sampler (GRPO).
    var samplerState: UInt64?
    var order: SampleOrder
    /// Format 1 only: the whole history.
    var metrics: [StepMetrics]?
    var rewardNames: [String]?
    /// The weight of each reward (saves from before weights were recorded lack it).
    var rewardWeights: [Double]?
    /// The policy's config, readable without opening the safetensors (the Runtime picks its
    /// image cache from it).
    var modelConfig: ModelConfig
    /// Format 2: size, hash and step of every other file.
    var files: [String: FileRecord]?
    /// Format 2: the lines of history.jsonl that belong to this save.
    var history: HistoryRecord?
}

/// A trainer's settings as trainer.json holds them (the config's own JSON), read over the
/// defaults: a key the file lacks (an option added after it was written) takes the default
/// config's value, and a renamed key is still read under its old name. So adding an option
/// to a config leaves earlier checkpoints resumable, with the option at its default.
struct StoredConfig<C: Codable & StoredConfigDefaults>: Codable {
    var value: C
    init(_ value: C) { self.value = value }

    init(from decoder: Decoder) throws {
        var fields = try decoder.singleValueContainer().decode([String: JSONNode].self)
        for (old, new) in C.renamedKeys where fields[new] == nil {
            if let v = fields.removeValue(forKey: old) { fields[new] = v }
        }
        let enc = JSONEncoder(), dec = JSONDecoder()
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        for (k, v) in try dec.decode([String: JSONNode].self, from: enc.encode(C())) where fields[k] == nil { fields[k] = v }
        do { value = try dec.decode(C.self, from: enc.encode(fields)) } catch let e as DecodingError {
            throw e.under(decoder.codingPath)
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}

/// A config with a default instance, and the keys it had under other names.
protocol StoredConfigDefaults { init(); static var renamedKeys: [(old: String, new: String)] { get } }
extension GRPOConfig: StoredConfigDefaults { static var renamedKeys: [(old: String, new: String)] { [("maxCompletionTokens", "maxTokens")] } }
extension SFTConfig: StoredConfigDefaults { static var renamedKeys: [(old: String, new: String)] { [] } }

extension DecodingError {
    /// The same error with `path` in front of its coding path (an error from decoding a part
    /// of a file on its own, placed back where the part sits).
    func under(_ path: [CodingKey]) -> DecodingError {
        func moved(_ c: Context) -> Context { Context(codingPath: path + c.codingPath, debugDescription: c.debugDescription, underlyingError: c.underlyingError) }
        switch self {
        case .keyNotFound(let k, let c): return .keyNotFound(k, moved(c))
        case .typeMismatch(let t, let c): return .typeMismatch(t, moved(c))
        case .valueNotFound(let t, let c): return .valueNotFound(t, moved(c))
        case .dataCorrupted(let c): return .dataCorrupted(moved(c))
        @unknown default: return self
        }
    }
}

/// A saved trainer of either kind: resumed from its folder (trainer.json read and checked once).
public enum TrainerCheckpoint {
    /// The trainer saved in `dir`, of whichever kind it is, continuing exactly where its save
    /// left off (trainer.json is read once). `rewards` are a GRPO trainer's (an SFT state
    /// takes none); `images` gives the image cache for the policy's config.
    public static func resume(from dir: URL, dataset: Dataset, rewards: [Reward] = [.format, .accuracy],
                              images: (ModelConfig) -> ImageCache? = { _ in nil }, metricsFile: URL? = nil) throws -> any Trainer {
        let s = try TrainerStateIO.readJSON(dir)
        switch s.kind {
        case "grpo": return try GRPOTrainer.resume(s, dir, dataset: dataset, rewards: rewards, images: images(s.modelConfig), metricsFile: metricsFile)
        default: return try SFTTrainer.resume(s, dir, dataset: dataset, images: images(s.modelConfig), metricsFile: metricsFile)
        }
    }

    /// Cleans up after a save to `dir` that was killed: removes its temporary
    /// folder, and puts the previous version back if the path was left empty.
    public static func recover(_ dir: URL) { CheckpointFolder.recover(dir) }
}

enum TrainerStateIO {
    /// Bounds on what a trainer.json may hold: far above any real run, low enough
    /// that nothing derived from them (batches, buffers, loops) can exhaust memory.
    static let maxSteps = 1 << 40
    static let maxBatch = 65_536
    static let maxGroup = 1_024
    static let maxIterations = 64
    static let maxScheduleSteps = 1 << 40
    static let maxManifestBytes = 1 << 28
    static let maxMetricsPerStep = 1_000

    static func encodeJSON(_ s: TrainerStateFile) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try enc.encode(s)
    }

    /// trainer.json of `dir`, decoded and every field checked.
    static func readJSON(_ dir: URL) throws -> TrainerStateFile {
        CheckpointFolder.recover(dir)
        let url = dir.appendingPathComponent("trainer.json")
        let data: Data
        do { data = try FileIO.read(url, limit: maxManifestBytes) } catch let e as FileError {
            throw RLError.badState("\(url.path): \(e.action) (\(e.reason)); "
                                   + "is this a folder written by a trainer's save?")
        }
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let s: TrainerStateFile
        do { s = try dec.decode(TrainerStateFile.self, from: data) } catch {
            throw RLError.badState("\(url.path): not a trainer state file: \(describe(error))")
        }
        try validate(s, url.path)
        return s
    }

    /// A decoding error as the field path and what is wrong, without Swift type names.
    static func describe(_ error: Error) -> String {
        func path(_ c: [CodingKey]) -> String {
            c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error as? DecodingError {
        case .keyNotFound(let k, let c)?: return "field '\(path(c.codingPath + [k]))' is missing"
        case .typeMismatch(_, let c)?: return "field '\(path(c.codingPath))' has the wrong type"
        case .valueNotFound(_, let c)?: return "field '\(path(c.codingPath))' is null"
        case .dataCorrupted(let c)?:
            return c.codingPath.isEmpty ? "not valid JSON" : "field '\(path(c.codingPath))' has an invalid value"
        default: return "\(error)"
        }
    }

    /// Checks every field against the bounds a save can produce.
    static func validate(_ s: TrainerStateFile, _ file: String) throws {
        func bad(_ field: String, _ what: String) -> RLError { RLError.badState("\(file): field '\(field)' \(what)") }
        func range<T: Comparable>(_ field: String, _ v: T, _ r: ClosedRange<T>) throws {
            guard r.contains(v) else { throw bad(field, "is \(v): it must be in \(r.lowerBound)...\(r.upperBound)") }
        }
        func finite(_ field: String, _ v: Double, _ r: ClosedRange<Double>) throws {
            guard v.isFinite, r.contains(v) else { throw bad(field, "is \(v): it must be a number in [\(r.lowerBound), \(r.upperBound)]") }
        }
        try range("format", s.format, 1...2)
        // The model config through the same checks as a safetensors file's metadata.
        do { _ = try ModelConfig(metadata: s.modelConfig.metadata, source: "") } catch let e as ModelError {
            throw bad("modelConfig", "is not a possible model: " + e.message.drop { $0 == ":" || $0 == " " })
        }
        try range("stepCount", s.stepCount, 0...maxSteps)
        try range("optimizerSteps", s.optimizerSteps, s.stepCount...maxSteps)
        try range("order.count", s.order.count, 1...maxSteps)
        try range("order.position", s.order.position, 0...maxSteps)
        func optimizer<C: OptimizerSettings>(_ p: String, _ c: C, lr: Double) throws {
            try finite(p + ".learningRate", lr, 0...1e6)
            try finite(p + ".maxGradNorm", c.maxGradNorm, 0...1e30)
            try finite(p + ".weightDecay", c.weightDecay, 0...1e6)
            try finite(p + ".adamBeta1", c.adamBeta1, 0...1)
            try finite(p + ".adamBeta2", c.adamBeta2, 0...1)
            try finite(p + ".adamEps", c.adamEps, 1e-30...1)
            switch c.schedule {
            case .constant: break
            case .warmup(let w): try range(p + ".schedule.warmup.steps", w, 1...maxScheduleSteps)
            case .cosine(let w, let total, let minF):
                try range(p + ".schedule.cosine.warmup", w, 0...maxScheduleSteps)
                try range(p + ".schedule.cosine.total", total, 1...maxScheduleSteps)
                try finite(p + ".schedule.cosine.minFactor", minF, 0...1)
            case .linear(let w, let total):
                try range(p + ".schedule.linear.warmup", w, 0...maxScheduleSteps)
                try range(p + ".schedule.linear.total", total, 1...maxScheduleSteps)
            }
        }
        switch s.kind {
        case "grpo":
            guard let c = s.grpo?.value else { throw bad("grpo", "is missing: a grpo trainer state holds its settings there") }
            try range("grpo.group", c.group, 2...maxGroup)
            try range("grpo.promptsPerStep", c.promptsPerStep, 1...maxBatch)
            try range("grpo.promptsPerStep x grpo.group", c.promptsPerStep * c.group, 2...maxBatch)
            try range("grpo.maxTokens", c.maxTokens, 1...s.modelConfig.maxSeq)
            try range("grpo.numIterations", c.numIterations, 1...maxIterations)
            try range("grpo.topK", c.topK, 0...s.modelConfig.vocabSize)
            try finite("grpo.temperature", c.temperature, 1e-6...1e6)
            try finite("grpo.beta", c.beta, 0...1e6)
            try finite("grpo.epsLow", c.epsLow, 0...1e6)
            try finite("grpo.epsHigh", c.epsHigh, 0...1e6)
            try finite("grpo.topP", c.topP, 1e-9...1)
            try optimizer("grpo", c, lr: c.learningRate)
            do { try c.validate() } catch let e as RLError { throw RLError.badState("\(file): field 'grpo': \(e.description)") }
            guard s.samplerState != nil else { throw bad("samplerState", "is missing: a grpo trainer state holds its sampler's state") }
            guard let names = s.rewardNames, (1...64).contains(names.count) else {
                throw bad("rewardNames", "must list the trainer's 1 to 64 rewards")
            }
            if let ws = s.rewardWeights {
                guard ws.count == names.count else { throw bad("rewardWeights", "has \(ws.count) weights for \(names.count) rewards") }
                for (i, w) in ws.enumerated() { try finite("rewardWeights[\(i)]", w, -1e6...1e6) }
            }
        case "sft":
            guard let c = s.sft?.value else { throw bad("sft", "is missing: an sft trainer state holds its settings there") }
            try range("sft.batchSize", c.batchSize, 1...maxBatch)
            try optimizer("sft", c, lr: c.learningRate)
            do { try c.validate() } catch let e as RLError { throw RLError.badState("\(file): field 'sft': \(e.description)") }
        default:
            throw bad("kind", "is \"\(s.kind)\": it must be \"grpo\" or \"sft\"")
        }
        switch s.format {
        case 1:
            guard let ms = s.metrics else { throw bad("metrics", "is missing") }
            guard ms.count == s.stepCount else { throw bad("metrics", "has \(ms.count) steps, stepCount is \(s.stepCount)") }
            for (i, m) in ms.enumerated() { try checkMetrics(m, index: i, kind: s.kind, source: "\(file): metrics[\(i)]") }
        default:
            guard let h = s.history else { throw bad("history", "is missing") }
            guard h.lines == s.stepCount else { throw bad("history.lines", "is \(h.lines), stepCount is \(s.stepCount): one line per step") }
            guard let files = s.files else { throw bad("files", "is missing") }
            for (name, r) in files.sorted(by: { $0.key < $1.key }) {
                try range("files.\(name).bytes", r.bytes, 0...SafeTensors.maxFileBytes)
            }
        }
    }

    /// One step of a saved history: numbered in order, of the trainer's kind, names and values paired.
    static func checkMetrics(_ m: StepMetrics, index: Int, kind: String, source: String) throws {
        guard m.step == index + 1, m.mode == kind, m.names.count == m.values.count,
              m.names.count <= maxMetricsPerStep else {
            throw RLError.badState("\(source): not step \(index + 1) of a \(kind) trainer's metrics "
                                   + "(step \(m.step), mode \"\(m.mode)\", \(m.names.count) names, \(m.values.count) values)")
        }
    }

    /// The checkpoint's files, each checked against the manifest (format 2) and
    /// for the trainer step it was written at, decoded.
    static func readFiles(_ dir: URL, _ s: TrainerStateFile, _ names: [String]) throws -> [String: SafeTensors.Contents] {
        var out: [String: SafeTensors.Contents] = [:]
        for name in names {
            let url = dir.appendingPathComponent(name)
            let contents: SafeTensors.Contents
            if let files = s.files {
                let data = try CheckpointFolder.verifiedFile(dir, name, files[name], step: s.stepCount, limit: SafeTensors.maxFileBytes)
                contents = try SafeTensors.decode(data, path: url.path)
                guard contents.metadata["trainer_step"] == String(s.stepCount) else {
                    throw RLError.badState("\(url.path) is from trainer step \(contents.metadata["trainer_step"] ?? "?"), "
                                           + "trainer.json from step \(s.stepCount): resume from an intact checkpoint")
                }
            } else {
                contents = try SafeTensors.read(url)
            }
            out[name] = contents
        }
        return out
    }

    static func model(_ files: [String: SafeTensors.Contents], _ name: String, _ dir: URL) throws -> (MedR1Model, Tokenizer) {
        let (m, tokJSON, _) = try Checkpoint.load(files[name]!, path: dir.appendingPathComponent(name).path)
        return (m, try Tokenizer(json: tokJSON))
    }

    /// The policy, checked against trainer.json's modelConfig.
    static func policy(_ files: [String: SafeTensors.Contents], _ s: TrainerStateFile, _ dir: URL) throws -> (MedR1Model, Tokenizer) {
        let (m, tok) = try model(files, "model.safetensors", dir)
        guard m.config == s.modelConfig else {
            throw RLError.badState("\(dir.appendingPathComponent("trainer.json").path): field 'modelConfig' is not the config of "
                                   + "model.safetensors (\(describe(m.config)) there, \(describe(s.modelConfig)) here): the folder is damaged")
        }
        return (m, tok)
    }

    static func describe(_ c: ModelConfig) -> String {
        ModelConfig.metadataKeys.map { "\($0) \(c.metadata[$0]!)" }.joined(separator: ", ")
    }

    static func optimizerBytes(_ opt: AdamW, step: Int, path: String) throws -> Data {
        try SafeTensors.encode(tensors: [NamedTensor(name: "m", shape: [opt.m.count], data: opt.m),
                                         NamedTensor(name: "v", shape: [opt.v.count], data: opt.v)],
                               metadata: ["step": String(opt.stepCount), "trainer_step": String(step)], path: path)
    }

    static func modelBytes(_ m: MedR1Model, tokenizerJSON: String, role: String, step: Int, path: String) throws -> Data {
        try Checkpoint.encode(model: m, tokenizerJSON: tokenizerJSON,
                              extraMetadata: ["role": role, "trainer_step": String(step)], path: path)
    }

    static func loadOptimizer(_ opt: AdamW, from file: SafeTensors.Contents, path: String, steps: Int) throws {
        guard let m = file.tensor("m"), let v = file.tensor("v") else {
            throw RLError.badState("\(path): tensor 'm' or 'v' (AdamW moments) is missing")
        }
        guard m.data.count == opt.m.count, v.data.count == opt.v.count else {
            throw RLError.badState("\(path): moments have \(m.data.count) values, the model has "
                                   + "\(opt.m.count) parameters: resume with the model this state was saved from")
        }
        if let st = file.metadata["step"], st != String(steps) {
            throw RLError.badState("\(path) is at optimiser step \(st), trainer.json at \(steps): "
                                   + "the folder mixes files of different saves; resume from an intact checkpoint")
        }
        opt.m = m.data
        opt.v = v.data
        opt.stepCount = steps
    }

    /// Writes `s` and the files to `dir` as one new version (CheckpointFolder).
    static func save(_ s: TrainerStateFile, files: [(name: String, bytes: () throws -> Data)], steps: [StepMetrics],
                     log: inout HistoryLog, to dir: URL) throws {
        try CheckpointFolder.write(to: dir, files: files, step: s.stepCount, steps: steps, log: &log) { records, history in
            var s = s
            s.files = records
            s.history = history
            return try encodeJSON(s)
        }
    }

    /// The history of a checked state: history.jsonl's recorded lines, or format 1's metrics.
    static func history(_ dir: URL, _ s: TrainerStateFile) throws -> ([StepMetrics], HistoryLog) {
        if let h = s.history, s.format >= 2 { return try CheckpointFolder.readHistory(dir, h, kind: s.kind) }
        return (s.metrics ?? [], HistoryLog())
    }

    static func checkData(_ dir: URL, _ s: TrainerStateFile, _ dataset: Dataset) throws {
        guard s.order.count == dataset.count else {
            throw RLError.badState("\(dir.path) was trained on \(s.order.count) samples, resume was given "
                                   + "\(dataset.count): pass the same data set")
        }
    }
}

// MARK: - GRPO

extension GRPOTrainer {
    /// Writes the whole trainer state as the folder `dir`, replacing any previous
    /// version as a whole (parent folders are created).
    public func save(to dir: URL) throws {
        let tok = encoder.tokenizer.toJSON(), step = stepCount
        let s = TrainerStateFile(kind: "grpo", grpo: StoredConfig(config), sft: nil, template: encoder.template,
                                 answerStyle: encoder.answerStyle, stepCount: step,
                                 optimizerSteps: optimizer.stepCount, samplerState: sampler.rng.state,
                                 order: order, metrics: nil, rewardNames: rewards.map(\.name),
                                 rewardWeights: rewards.map(\.weight), modelConfig: model.config)
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        try TrainerStateIO.save(s, files: [
            ("model.safetensors", { try TrainerStateIO.modelBytes(self.model, tokenizerJSON: tok, role: "policy", step: step, path: path("model.safetensors")) }),
            ("reference.safetensors", { try TrainerStateIO.modelBytes(self.reference, tokenizerJSON: tok, role: "reference", step: step, path: path("reference.safetensors")) }),
            ("optimizer.safetensors", { try TrainerStateIO.optimizerBytes(self.optimizer, step: step, path: path("optimizer.safetensors")) }),
        ], steps: history.steps, log: &historyLog, to: dir)
    }

    /// A trainer continuing exactly where `save(to:)` left off. Rewards are code, not data:
    /// pass the ones the trainer had when saved (their names and weights are checked; a
    /// `set(rewards:)` before the save is what was recorded). To go on with other rewards,
    /// resume with these, then `set(rewards:)`.
    public static func resume(from dir: URL, dataset: Dataset, rewards: [Reward] = [.format, .accuracy],
                              images: ImageCache? = nil, metricsFile: URL? = nil) throws -> GRPOTrainer {
        try resume(try TrainerStateIO.readJSON(dir), dir, dataset: dataset, rewards: rewards, images: images, metricsFile: metricsFile)
    }

    static func resume(_ s: TrainerStateFile, _ dir: URL, dataset: Dataset, rewards: [Reward],
                       images: ImageCache?, metricsFile: URL?) throws -> GRPOTrainer {
        guard s.kind == "grpo", let cfg = s.grpo?.value else {
            throw RLError.badState("\(dir.path) holds a \(s.kind) trainer; resume it with SFTTrainer.resume")
        }
        if let names = s.rewardNames, names != rewards.map(\.name) {
            throw RLError.badState("\(dir.path) was trained with rewards \(names), resume was given "
                                   + "\(rewards.map(\.name)): pass the same rewards in the same order "
                                   + "(then t.set(rewards: [...]) to change them)")
        }
        if let ws = s.rewardWeights, ws != rewards.map(\.weight) {
            func list(_ xs: [Double]) -> String { "[" + xs.map(OptionRange.format).joined(separator: ", ") + "]" }
            throw RLError.badState("\(dir.path) was trained with weights \(list(ws)), resume was given "
                                   + "\(list(rewards.map(\.weight))): pass the same weights "
                                   + "(then t.set(weights: [...]) to change them)")
        }
        try TrainerStateIO.checkData(dir, s, dataset)
        let files = try TrainerStateIO.readFiles(dir, s, ["model.safetensors", "reference.safetensors", "optimizer.safetensors"])
        let (model, tok) = try TrainerStateIO.policy(files, s, dir)
        let (ref, _) = try TrainerStateIO.model(files, "reference.safetensors", dir)
        guard ref.config == model.config else {
            throw RLError.badState("\(dir.appendingPathComponent("reference.safetensors").path) has another architecture than the policy "
                                   + "(\(TrainerStateIO.describe(ref.config)); the policy has \(TrainerStateIO.describe(model.config))): "
                                   + "the reference must be a copy of the policy's architecture")
        }
        let (steps, log) = try TrainerStateIO.history(dir, s)
        let t = try GRPOTrainer(model: model, reference: ref, tokenizer: tok, dataset: dataset, rewards: rewards,
                                config: cfg, template: s.template, answerStyle: s.answerStyle, images: images,
                                metricsFile: metricsFile)
        try TrainerStateIO.loadOptimizer(t.optimizer, from: files["optimizer.safetensors"]!,
                                         path: dir.appendingPathComponent("optimizer.safetensors").path, steps: s.optimizerSteps)
        t.stepCount = s.stepCount
        if let st = s.samplerState { t.sampler.rng = SplitMix64(seed: st) }
        t.order = s.order
        t.history.restore(steps)
        t.historyLog = log
        return t
    }
}

// MARK: - SFT

extension SFTTrainer {
    /// Writes the whole trainer state as the folder `dir`, replacing any previous
    /// version as a whole (parent folders are created).
    public func save(to dir: URL) throws {
        let tok = encoder.tokenizer.toJSON(), step = stepCount
        let s = TrainerStateFile(kind: "sft", grpo: nil, sft: StoredConfig(config), template: encoder.template,
                                 answerStyle: encoder.answerStyle, stepCount: step,
                                 optimizerSteps: optimizer.stepCount, samplerState: nil, order: order,
                                 metrics: nil, rewardNames: nil, rewardWeights: nil, modelConfig: model.config)
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        try TrainerStateIO.save(s, files: [
            ("model.safetensors", { try TrainerStateIO.modelBytes(self.model, tokenizerJSON: tok, role: "policy", step: step, path: path("model.safetensors")) }),
            ("optimizer.safetensors", { try TrainerStateIO.optimizerBytes(self.optimizer, step: step, path: path("optimizer.safetensors")) }),
        ], steps: history.steps, log: &historyLog, to: dir)
    }

    public static func resume(from dir: URL, dataset: Dataset, images: ImageCache? = nil,
                              metricsFile: URL? = nil) throws -> SFTTrainer {
        try resume(try TrainerStateIO.readJSON(dir), dir, dataset: dataset, images: images, metricsFile: metricsFile)
    }

    static func resume(_ s: TrainerStateFile, _ dir: URL, dataset: Dataset, images: ImageCache?,
                       metricsFile: URL?) throws -> SFTTrainer {
        guard s.kind == "sft", let cfg = s.sft?.value else {
            throw RLError.badState("\(dir.path) holds a \(s.kind) trainer; resume it with GRPOTrainer.resume")
        }
        try TrainerStateIO.checkData(dir, s, dataset)
        let files = try TrainerStateIO.readFiles(dir, s, ["model.safetensors", "optimizer.safetensors"])
        let (model, tok) = try TrainerStateIO.policy(files, s, dir)
        let (steps, log) = try TrainerStateIO.history(dir, s)
        let t = try SFTTrainer(model: model, tokenizer: tok, dataset: dataset, config: cfg,
                               template: s.template, answerStyle: s.answerStyle, images: images,
                               metricsFile: metricsFile)
        try TrainerStateIO.loadOptimizer(t.optimizer, from: files["optimizer.safetensors"]!,
                                         path: dir.appendingPathComponent("optimizer.safetensors").path, steps: s.optimizerSteps)
        t.stepCount = s.stepCount
        t.order = s.order
        t.history.restore(steps)
        t.historyLog = log
        return t
    }
}
