// Save and resume a trainer so that the continued run is bit-identical to an
// uninterrupted one. A state directory holds:
//   model.safetensors      the policy: a complete checkpoint (config + tokenizer), loadable alone
//   reference.safetensors  the frozen reference (GRPO only)
//   optimizer.safetensors  AdamW moments "m" and "v" (flat parameter order), "step" in metadata
//   trainer.json           kind, trainer and model config, template, counters, RNG state,
//                          sample order, metrics
import Foundation

/// The JSON part of a trainer's state.
struct TrainerStateFile: Codable {
    var format = 1
    /// "grpo" or "sft"
    var kind: String
    var grpo: GRPOConfig?
    var sft: SFTConfig?
    var template: PromptTemplate
    var answerStyle: AnswerStyle
    var stepCount: Int
    var optimizerSteps: Int
    /// SplitMix64 state of the sampler (GRPO).
    var samplerState: UInt64?
    var order: SampleOrder
    var metrics: [StepMetrics]
    var rewardNames: [String]?
    /// The policy's config, readable without opening the safetensors (the Runtime picks its
    /// image cache from it).
    var modelConfig: ModelConfig
}

enum TrainerStateIO {
    static func writeJSON(_ s: TrainerStateFile, to url: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try enc.encode(s).write(to: url, options: .atomic)
    }

    static func readJSON(_ dir: URL) throws -> TrainerStateFile {
        let url = dir.appendingPathComponent("trainer.json")
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RLError.badState("\(url.path): cannot read (\(error.localizedDescription)); "
                                   + "is this a directory written by a trainer's save(to:)?")
        }
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try dec.decode(TrainerStateFile.self, from: data) } catch {
            throw RLError.badState("\(url.path): not a trainer state file: \(error)")
        }
    }

    static func saveModel(_ m: MedR1Model, tokenizer: Tokenizer, role: String, to url: URL) throws {
        try Checkpoint.save(model: m, tokenizerJSON: tokenizer.toJSON(), extraMetadata: ["role": role], to: url)
    }

    static func loadModel(from url: URL) throws -> (MedR1Model, Tokenizer) {
        let (m, tokJSON, _) = try Checkpoint.load(from: url)
        return (m, try Tokenizer(json: tokJSON))
    }

    static func saveOptimizer(_ opt: AdamW, to url: URL) throws {
        try SafeTensors.write(tensors: [NamedTensor(name: "m", shape: [opt.m.count], data: opt.m),
                                        NamedTensor(name: "v", shape: [opt.v.count], data: opt.v)],
                              metadata: ["step": String(opt.stepCount)], to: url)
    }

    static func loadOptimizer(_ opt: AdamW, from url: URL, steps: Int) throws {
        let file = try SafeTensors.read(url)
        guard let m = file.tensor("m"), let v = file.tensor("v") else {
            throw RLError.badState("\(url.path): tensor 'm' or 'v' (AdamW moments) is missing")
        }
        guard m.data.count == opt.m.count, v.data.count == opt.v.count else {
            throw RLError.badState("\(url.path): moments have \(m.data.count) values, the model has "
                                   + "\(opt.m.count) parameters: resume with the model this state was saved from")
        }
        opt.m = m.data
        opt.v = v.data
        opt.stepCount = steps
    }
}

// MARK: - GRPO

extension GRPOTrainer {
    /// Writes the whole trainer state into directory `dir` (created if missing).
    public func save(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tok = encoder.tokenizer
        try TrainerStateIO.saveModel(model, tokenizer: tok, role: "policy", to: dir.appendingPathComponent("model.safetensors"))
        try TrainerStateIO.saveModel(reference, tokenizer: tok, role: "reference",
                                     to: dir.appendingPathComponent("reference.safetensors"))
        try TrainerStateIO.saveOptimizer(optimizer, to: dir.appendingPathComponent("optimizer.safetensors"))
        let s = TrainerStateFile(kind: "grpo", grpo: config, sft: nil, template: encoder.template,
                                 answerStyle: encoder.answerStyle, stepCount: stepCount,
                                 optimizerSteps: optimizer.stepCount, samplerState: sampler.rng.state,
                                 order: order, metrics: history.steps, rewardNames: rewards.map(\.name),
                                 modelConfig: model.config)
        try TrainerStateIO.writeJSON(s, to: dir.appendingPathComponent("trainer.json"))
    }

    /// A trainer continuing exactly where `save(to:)` left off. Rewards are code, not data:
    /// pass the same ones (their names are checked).
    public static func resume(from dir: URL, dataset: Dataset, rewards: [Reward] = [.format, .accuracy],
                              images: ImageCache? = nil, metricsFile: URL? = nil) throws -> GRPOTrainer {
        let s = try TrainerStateIO.readJSON(dir)
        guard s.kind == "grpo", let cfg = s.grpo else {
            throw RLError.badState("\(dir.path) holds a \(s.kind) trainer; resume it with SFTTrainer.resume")
        }
        if let names = s.rewardNames, names != rewards.map(\.name) {
            throw RLError.badState("\(dir.path) was trained with rewards \(names), resume was given "
                                   + "\(rewards.map(\.name)): pass the same rewards in the same order")
        }
        let (model, tok) = try TrainerStateIO.loadModel(from: dir.appendingPathComponent("model.safetensors"))
        let (ref, _) = try TrainerStateIO.loadModel(from: dir.appendingPathComponent("reference.safetensors"))
        let t = try GRPOTrainer(model: model, reference: ref, tokenizer: tok, dataset: dataset, rewards: rewards,
                                config: cfg, template: s.template, answerStyle: s.answerStyle, images: images,
                                metricsFile: metricsFile)
        guard s.order.count == dataset.count else {
            throw RLError.badState("\(dir.path) was trained on \(s.order.count) samples, resume was given "
                                   + "\(dataset.count): pass the same data set")
        }
        try TrainerStateIO.loadOptimizer(t.optimizer, from: dir.appendingPathComponent("optimizer.safetensors"),
                                         steps: s.optimizerSteps)
        t.stepCount = s.stepCount
        if let st = s.samplerState { t.sampler.rng = SplitMix64(seed: st) }
        t.order = s.order
        t.history.restore(s.metrics)
        return t
    }
}

// MARK: - SFT

extension SFTTrainer {
    public func save(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try TrainerStateIO.saveModel(model, tokenizer: encoder.tokenizer, role: "policy",
                                     to: dir.appendingPathComponent("model.safetensors"))
        try TrainerStateIO.saveOptimizer(optimizer, to: dir.appendingPathComponent("optimizer.safetensors"))
        let s = TrainerStateFile(kind: "sft", grpo: nil, sft: config, template: encoder.template,
                                 answerStyle: encoder.answerStyle, stepCount: stepCount,
                                 optimizerSteps: optimizer.stepCount, samplerState: nil, order: order,
                                 metrics: history.steps, rewardNames: nil, modelConfig: model.config)
        try TrainerStateIO.writeJSON(s, to: dir.appendingPathComponent("trainer.json"))
    }

    public static func resume(from dir: URL, dataset: Dataset, images: ImageCache? = nil,
                              metricsFile: URL? = nil) throws -> SFTTrainer {
        let s = try TrainerStateIO.readJSON(dir)
        guard s.kind == "sft", let cfg = s.sft else {
            throw RLError.badState("\(dir.path) holds a \(s.kind) trainer; resume it with GRPOTrainer.resume")
        }
        let (model, tok) = try TrainerStateIO.loadModel(from: dir.appendingPathComponent("model.safetensors"))
        let t = try SFTTrainer(model: model, tokenizer: tok, dataset: dataset, config: cfg,
                               template: s.template, answerStyle: s.answerStyle, images: images,
                               metricsFile: metricsFile)
        guard s.order.count == dataset.count else {
            throw RLError.badState("\(dir.path) was trained on \(s.order.count) samples, resume was given "
                                   + "\(dataset.count): pass the same data set")
        }
        try TrainerStateIO.loadOptimizer(t.optimizer, from: dir.appendingPathComponent("optimizer.safetensors"),
                                         steps: s.optimizerSteps)
        t.stepCount = s.stepCount
        t.order = s.order
        t.history.restore(s.metrics)
        return t
    }
}
