// Supervised warm-up: teacher-forced cross-entropy on the target completion
// (the data set's reasoning + answer in the chosen template, then <|eos|>), loss on
// completion tokens only. Batches are drawn from the whole training set in a seeded
// order, so every batch mixes all question types (docs/training.md: training on a
// subset of types made the model forget the others).
import Foundation

public final class SFTTrainer: Trainer {
    public var mode: String { "sft" }
    public var abortStep: () -> Bool = { false }
    public let model: MedR1Model
    public let dataset: Dataset
    public let encoder: ExampleEncoder
    public let images: ImageCache
    public private(set) var config: SFTConfig
    public let optimizer: AdamW
    public internal(set) var stepCount = 0
    public internal(set) var history: MetricsHistory
    var order: SampleOrder
    /// Where the saved history.jsonl's lines end (TrainerState.swift: saves append to it).
    var historyLog = HistoryLog()

    public init(model: MedR1Model, tokenizer: Tokenizer, dataset: Dataset, config: SFTConfig = SFTConfig(),
                template: PromptTemplate = .default, answerStyle: AnswerStyle = .text,
                images: ImageCache? = nil, metricsFile: URL? = nil) throws {
        try config.validate()
        guard !dataset.isEmpty else { throw RLError.emptyDataset("sft: the data set '\(dataset.name)' has no samples to train on") }
        try checkVocabulary(tokenizer, model, owner: "sft")
        self.model = model
        self.dataset = dataset
        self.encoder = ExampleEncoder(tokenizer: tokenizer, template: template, answerStyle: answerStyle)
        self.images = images ?? ImageCache(config: model.config)
        self.config = config
        self.optimizer = AdamW(model: model, config: config.adamW)
        self.history = MetricsHistory(fileURL: metricsFile)
        self.order = SampleOrder(count: dataset.count, seed: config.seed)
    }

    /// Changes settings between steps (lr, schedule, batch size).
    public func update(_ change: (inout SFTConfig) -> Void) throws {
        var c = config
        change(&c)
        try c.validate()
        config = c
        optimizer.config = c.adamW
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
    /// Throws `RLError.nonFiniteUpdate`, with model, optimiser and data order as before,
    /// when the update would make the loss, the gradient norm, a weight or a moment non-finite.
    @discardableResult
    public func step() throws -> StepMetrics {
        let t0 = Date()
        let savedOrder = order
        let nll: Double, n: Int, gn: Float, lr: Double
        do {
            let samples = order.next(config.batchSize).map { dataset.samples[$0] }
            let (imgs, seqs, starts) = try batch(samples)
            model.zeroGrad()
            n = seqs.indices.reduce(0) { $0 + seqs[$1].count - starts[$1] }
            let d = Float(-1.0 / Double(max(n, 1)))
            // Forward and backward shard by shard over the threads (same numbers on any thread count).
            let lps = try model.logProbsWithBackward(images: imgs, sequences: seqs, targetStart: starts,
                                                     temperature: 1) { _, rows in
                if self.abortStep() { throw RLError.aborted("sft: step \(self.stepCount + 1) aborted; nothing was applied") }
                return rows.map { [Float](repeating: d, count: $0.count) }
            }.logProbs
            var sum = 0.0
            for row in lps { for x in row { sum -= Double(x) } }
            nll = sum
            gn = clipGradNorm(model, maxNorm: config.maxGradNorm > 0 ? Float(config.maxGradNorm) : .infinity)
            lr = config.schedule.lr(step: optimizer.stepCount, base: config.learningRate)
            try checkedUpdate(model, optimizer, mode: "sft", step: stepCount + 1, loss: nll / Double(max(n, 1)),
                              gradNorm: gn, lr: lr)
        } catch {
            model.zeroGrad()
            order = savedOrder
            throw error
        }
        model.zeroGrad()
        stepCount += 1
        var m = StepMetrics(step: stepCount, mode: "sft")
        m.set("loss", nll / Double(max(n, 1)))
        m.set("grad_norm", Double(gn))
        m.set("learning_rate", lr)
        // The tokens the loss covers (TRL's SFT also counts the prompt's).
        m.setProgress(tokens: n, previous: history.last, samplesDrawn: order.position, datasetSize: dataset.count)
        m.setTiming(since: t0)
        try history.append(m)
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
                throw RLError.invalidOption("sft: the prompt of sample \(s.id) has \(p.count) tokens, no room for the target "
                                            + "within max_seq \(model.config.maxSeq) - \(model.config.nPatches) image tokens; "
                                            + "use a shorter template or a model with a larger max_seq")
            }
            seqs.append(seq)
            starts.append(p.count)
        }
        return (imgs, seqs, starts)
    }
}
