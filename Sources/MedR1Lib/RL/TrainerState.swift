// Save and resume a trainer so that the continued run is bit-identical to an
// uninterrupted one. A state directory holds:
//   model.f32       the policy's weights, float32 little-endian in parameter order
//   reference.f32   the frozen reference's weights (GRPO only)
//   optimizer.f32   AdamW moments m then v (flat parameter order)
//   trainer.json    kind, model config, tokenizer, trainer config, template, counters,
//                   RNG state, sample order, metrics
// (Raw float files rather than safetensors so that this part does not depend on the
// checkpoint code; `Checkpoint.save` of `trainer.model` gives a shareable model file.)
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
    var modelConfig: ModelConfig
    var tokenizerJSON: String
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

    /// Writes floats as raw little-endian float32.
    static func writeFloats(_ arrays: [[Float]], to url: URL) throws {
        var data = Data()
        for a in arrays { a.withUnsafeBufferPointer { data.append(Data(buffer: $0)) } }
        do { try data.write(to: url, options: .atomic) } catch {
            throw RLError.badState("\(url.path): cannot write (\(error.localizedDescription))")
        }
    }

    /// Reads `counts` float arrays written by `writeFloats`; errors name the file and sizes.
    static func readFloats(_ url: URL, counts: [Int]) throws -> [[Float]] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RLError.badState("\(url.path): cannot read (\(error.localizedDescription))")
        }
        let want = counts.reduce(0, +) * 4
        guard data.count == want else {
            throw RLError.badState("\(url.path): \(data.count) bytes, expected \(want) for \(counts) float32 values: "
                                   + "the file is truncated or from a model of another size")
        }
        var out: [[Float]] = []
        var off = 0
        for n in counts {
            var a = [Float](repeating: 0, count: n)
            a.withUnsafeMutableBytes { dst in _ = data.copyBytes(to: dst, from: off..<(off + n * 4)) }
            out.append(a)
            off += n * 4
        }
        return out
    }

    static func saveModel(_ m: MedR1Model, to url: URL) throws { try writeFloats([m.flatValues], to: url) }

    static func loadModel(config: ModelConfig, from url: URL) throws -> MedR1Model {
        let m = try MedR1Model(config: config, seed: 0)
        let w = try readFloats(url, counts: [m.parameterCount])[0]
        w.withUnsafeBufferPointer { m.values.pointer.update(from: $0.baseAddress!, count: m.parameterCount) }
        return m
    }

    static func saveOptimizer(_ opt: AdamW, to url: URL) throws { try writeFloats([opt.m, opt.v], to: url) }

    static func loadOptimizer(_ opt: AdamW, from url: URL, steps: Int) throws {
        let mv = try readFloats(url, counts: [opt.m.count, opt.v.count])
        opt.m = mv[0]
        opt.v = mv[1]
        opt.stepCount = steps
    }
}

// MARK: - GRPO

extension GRPOTrainer {
    /// Writes the whole trainer state into directory `dir` (created if missing).
    public func save(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try TrainerStateIO.saveModel(model, to: dir.appendingPathComponent("model.f32"))
        try TrainerStateIO.saveModel(reference, to: dir.appendingPathComponent("reference.f32"))
        try TrainerStateIO.saveOptimizer(optimizer, to: dir.appendingPathComponent("optimizer.f32"))
        let s = TrainerStateFile(kind: "grpo", grpo: config, sft: nil, template: encoder.template,
                                 answerStyle: encoder.answerStyle, stepCount: stepCount,
                                 optimizerSteps: optimizer.stepCount, samplerState: sampler.rng.state,
                                 order: order, metrics: history.steps, rewardNames: rewards.map(\.name),
                                 modelConfig: model.config, tokenizerJSON: encoder.tokenizer.toJSON())
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
        let model = try TrainerStateIO.loadModel(config: s.modelConfig, from: dir.appendingPathComponent("model.f32"))
        let ref = try TrainerStateIO.loadModel(config: s.modelConfig, from: dir.appendingPathComponent("reference.f32"))
        let tok = try Tokenizer(json: s.tokenizerJSON)
        let t = try GRPOTrainer(model: model, reference: ref, tokenizer: tok, dataset: dataset, rewards: rewards,
                                config: cfg, template: s.template, answerStyle: s.answerStyle, images: images,
                                metricsFile: metricsFile)
        guard s.order.count == dataset.count else {
            throw RLError.badState("\(dir.path) was trained on \(s.order.count) samples, resume was given "
                                   + "\(dataset.count): pass the same data set")
        }
        try TrainerStateIO.loadOptimizer(t.optimizer, from: dir.appendingPathComponent("optimizer.f32"),
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
        try TrainerStateIO.saveModel(model, to: dir.appendingPathComponent("model.f32"))
        try TrainerStateIO.saveOptimizer(optimizer, to: dir.appendingPathComponent("optimizer.f32"))
        let s = TrainerStateFile(kind: "sft", grpo: nil, sft: config, template: encoder.template,
                                 answerStyle: encoder.answerStyle, stepCount: stepCount,
                                 optimizerSteps: optimizer.stepCount, samplerState: nil, order: order,
                                 metrics: history.steps, rewardNames: nil,
                                 modelConfig: model.config, tokenizerJSON: encoder.tokenizer.toJSON())
        try TrainerStateIO.writeJSON(s, to: dir.appendingPathComponent("trainer.json"))
    }

    public static func resume(from dir: URL, dataset: Dataset, images: ImageCache? = nil,
                              metricsFile: URL? = nil) throws -> SFTTrainer {
        let s = try TrainerStateIO.readJSON(dir)
        guard s.kind == "sft", let cfg = s.sft else {
            throw RLError.badState("\(dir.path) holds a \(s.kind) trainer; resume it with GRPOTrainer.resume")
        }
        let model = try TrainerStateIO.loadModel(config: s.modelConfig, from: dir.appendingPathComponent("model.f32"))
        let t = try SFTTrainer(model: model, tokenizer: try Tokenizer(json: s.tokenizerJSON), dataset: dataset, config: cfg,
                               template: s.template, answerStyle: s.answerStyle, images: images,
                               metricsFile: metricsFile)
        guard s.order.count == dataset.count else {
            throw RLError.badState("\(dir.path) was trained on \(s.order.count) samples, resume was given "
                                   + "\(dataset.count): pass the same data set")
        }
        try TrainerStateIO.loadOptimizer(t.optimizer, from: dir.appendingPathComponent("optimizer.f32"),
                                         steps: s.optimizerSteps)
        t.stepCount = s.stepCount
        t.order = s.order
        t.history.restore(s.metrics)
        return t
    }
}
