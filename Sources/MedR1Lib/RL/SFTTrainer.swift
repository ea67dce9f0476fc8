// Supervised warm-up: teacher-forced cross-entropy on the target completion
// (the data set's reasoning + answer in the chosen template, then <|eos|>), loss on
// completion tokens only. Batches are drawn from the whole training set in a seeded
// order, so every batch mixes all question types (training-recipe.md §2: training on a
// subset of types made the model forget the others).
import Foundation

public final class SFTTrainer {
    public let model: MedR1Model
    public let dataset: Dataset
    public let encoder: ExampleEncoder
    public let images: ImageCache
    public private(set) var config: SFTConfig
    public let optimizer: AdamW
    public internal(set) var stepCount = 0
    public internal(set) var history: MetricsHistory
    /// Polled between steps by `train`; return true to stop early.
    public var shouldStop: () -> Bool = { false }
    /// Called after every step with its metrics.
    public var onStep: ((StepMetrics) -> Void)?
    var order: SampleOrder
    /// Where the saved history.jsonl's lines end (TrainerState.swift: saves append to it).
    var historyLog = HistoryLog()

    public init(model: MedR1Model, tokenizer: Tokenizer, dataset: Dataset, config: SFTConfig = SFTConfig(),
                template: PromptTemplate = .default, answerStyle: AnswerStyle = .text,
                images: ImageCache? = nil, metricsFile: URL? = nil) throws {
        try config.validate()
        guard !dataset.isEmpty else { throw RLError.emptyDataset("SFTTrainer needs at least one sample in '\(dataset.name)'") }
        guard tokenizer.vocabSize <= model.config.vocabSize else {
            throw RLError.invalidConfig("tokenizer has \(tokenizer.vocabSize) tokens but the model's vocab_size is "
                                        + "\(model.config.vocabSize): make the model with vocabSize >= \(tokenizer.vocabSize)")
        }
        self.model = model
        self.dataset = dataset
        self.encoder = ExampleEncoder(tokenizer: tokenizer, template: template, answerStyle: answerStyle)
        self.images = images ?? ImageCache(config: model.config)
        self.config = config
        self.optimizer = AdamW(model: model, config: AdamWConfig(
            lr: Float(config.learningRate), beta1: Float(config.adamBeta1), beta2: Float(config.adamBeta2),
            eps: Float(config.adamEps), weightDecay: Float(config.weightDecay)))
        self.history = MetricsHistory(fileURL: metricsFile)
        self.order = SampleOrder(count: dataset.count, seed: config.seed)
    }

    /// Changes settings between steps (lr, schedule, batch size).
    public func update(_ change: (inout SFTConfig) -> Void) throws {
        var c = config
        change(&c)
        try c.validate()
        config = c
    }

    @discardableResult
    public func train(steps: Int) throws -> [StepMetrics] {
        var out: [StepMetrics] = []
        for _ in 0..<steps {
            if shouldStop() { break }
            out.append(try step())
        }
        return out
    }

    /// Mean negative log-likelihood of `samples`' target tokens (no update).
    public func loss(on samples: [Sample]) throws -> Double {
        let (imgs, seqs, starts) = try batch(samples)
        let r = try model.tokenLogProbs(images: imgs, sequences: seqs, targetStart: starts, temperature: 1,
                                    withGrad: false, entropy: false)
        var s = 0.0, n = 0
        for row in r.logProbs { for x in row { s -= Double(x); n += 1 } }
        return s / Double(max(n, 1))
    }

    /// One batch: loss = -(1/N) sum of target-token log-probs (N target tokens in the
    /// batch, as TRL's SFT averages over completion tokens), backward, clip, AdamW.
    @discardableResult
    public func step() throws -> StepMetrics {
        let t0 = Date()
        let savedOrder = order
        let samples = order.next(config.batchSize).map { dataset.samples[$0] }
        let (imgs, seqs, starts): ([[Float]], [[Int]], [Int])
        do { (imgs, seqs, starts) = try batch(samples) } catch { order = savedOrder; throw error }
        model.zeroGrad()
        let r = try model.tokenLogProbs(images: imgs, sequences: seqs, targetStart: starts, temperature: 1,
                                    withGrad: true, entropy: false)
        let n = r.logProbs.reduce(0) { $0 + $1.count }
        var nll = 0.0
        for row in r.logProbs { for x in row { nll -= Double(x) } }
        let d = Float(-1.0 / Double(max(n, 1)))
        let grads = r.logProbs.map { [Float](repeating: d, count: $0.count) }
        try model.backward(r, dLogProbs: grads)
        let gn = clipGradNorm(model, maxNorm: config.maxGradNorm > 0 ? Float(config.maxGradNorm) : .infinity)
        let lr = config.schedule.lr(step: optimizer.stepCount, base: config.learningRate)
        optimizer.step(model, lr: Float(lr))
        model.zeroGrad()
        stepCount += 1
        var m = StepMetrics(step: stepCount, mode: "sft")
        m.set("loss", nll / Double(max(n, 1)))
        m.set("grad_norm", Double(gn))
        m.set("learning_rate", lr)
        m.set("num_tokens", Double(n))
        m.set("seconds", Date().timeIntervalSince(t0))
        try history.append(m)
        onStep?(m)
        return m
    }

    func batch(_ samples: [Sample]) throws -> ([[Float]], [[Int]], [Int]) {
        var imgs: [[Float]] = [], seqs: [[Int]] = [], starts: [Int] = []
        for s in samples {
            let (p, t) = encoder.tokens(for: s)
            imgs.append(try images.image(for: s))
            let room = model.config.maxSeq - model.config.nPatches
            var seq = p + t
            if seq.count > room { seq = Array(seq.prefix(room)) }
            guard seq.count > p.count else {
                throw RLError.invalidConfig("sample \(s.id): prompt has \(p.count) tokens, no room for the target "
                                            + "within max_seq \(model.config.maxSeq) - \(model.config.nPatches) image tokens; "
                                            + "use a shorter template or a larger maxSeq")
            }
            seqs.append(seq)
            starts.append(p.count)
        }
        return (imgs, seqs, starts)
    }
}
