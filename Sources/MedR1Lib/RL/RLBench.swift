// Benchmark workloads W1 (one GRPO step), W2 (sampling alone) and the memory of
// W6 (peak RSS while running W1), exactly as docs/benchmarks.md fixes
// them: default medr1-tiny (vocab 512), random weights from a fixed seed, 8
// prompts of 48 text tokens with 32x32x3 images, G = 8, 64 tokens per completion
// with EOS ignored, temperature 1, shared prefix. The bench executable times
// these functions (median of repetitions) and writes the JSON lines.
import Foundation

public enum RLBench {
    /// FLOPs of W1 by docs/benchmarks.md's count (sampling 8.65, reference 15.68, policy fwd+bwd 47.03).
    public static let w1FLOPs = 71.36e9

    /// Fixed inputs of W1/W2.
    public final class Workload {
        public let model: MedR1Model
        public let reference: MedR1Model
        public let optimizer: AdamW
        /// 8 images, (32, 32, 3) each, in [-1, 1].
        public let images: [[Float]]
        /// 8 prompts of 48 token ids (first <|bos|> = 1).
        public let prompts: [[Int]]
        public let group = 8
        public let newTokens = 64
        var sampler: Sampler

        public init(seed: UInt64 = 0, config: ModelConfig = ModelConfig()) throws {
            model = try MedR1Model(config: config, seed: seed)
            reference = model.copy()
            optimizer = AdamW(model: model, config: AdamWConfig(lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
            var rng = SplitMix64(seed: seed &+ 17)
            let n = config.imageSize * config.imageSize * config.channels
            images = (0..<8).map { _ in (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) } }
            prompts = (0..<8).map { _ in [1] + (0..<47).map { _ in 7 + Int(rng.next() % UInt64(config.vocabSize - 7)) } }
            sampler = Sampler(config: SamplerConfig(temperature: 1, maxTokens: 64, stopAtEOS: false), seed: seed)
        }

        /// W2: 8 prompts x 8 completions x 64 new tokens. Returns the completions.
        public func sample() throws -> [[SampledCompletion]] {
            try sampler.sampleBatch(model: model, images: images, prompts: prompts, count: group, eos: 2)
        }

        /// W1: one full GRPO step (grpo loss, beta 0.04, format reward, AdamW lr 1e-5).
        /// Returns seconds spent in (sampling, reference, policy forward+backward, optimiser+rest).
        @discardableResult
        public func grpoStep() throws -> (sample: Double, reference: Double, policy: Double, update: Double) {
            var t = Date()
            let outs = try sample()
            let tSample = Date().timeIntervalSince(t); t = Date()
            // The format reward on a text rendering of the tokens (random weights: no real text).
            let dummy = Sample(imagePath: "", question: "", options: ["a", "b"], answerIndex: 0, modality: .ct,
                               questionType: .modality, dataset: "W1", id: "w1")
            let text = { (ids: [Int]) in ids.map { "t\($0)" }.joined(separator: " ") }
            let ro = try Rollout.score(Rollout.completions(samples: Array(repeating: dummy, count: outs.count), outputs: outs, text: text),
                                       group: group, rewards: [.format], scaleRewards: .group)
            let batch = PolicyBatch(ro.completions, prompt: { self.prompts[$0.promptIndex] }, image: { self.images[$0.promptIndex] })
            let (imgs, seqs, starts) = (batch.images, batch.sequences, batch.starts)
            let ref = try reference.tokenLogProbs(images: imgs, sequences: seqs, targetStart: starts, temperature: 1,
                                                  withGrad: false).logProbs
            let tRef = Date().timeIntervalSince(t); t = Date()
            model.zeroGrad()
            // As GRPOTrainer.update: forward + loss gradient + backward per chunk of prompt groups.
            var acc = GRPOLossAccumulator(tokenCounts: batch.tokenCounts,
                                          advantages: ro.advantages, mask: nil, withReference: true,
                                          config: GRPOLossConfig(beta: 0.04))
            _ = try model.logProbsWithBackward(images: imgs, sequences: seqs, targetStart: starts, temperature: 1) { rows, lps in
                zip(rows, lps).map { b, lp in acc.gradient(row: b, logProbs: lp, old: nil, reference: ref[b]) }
            }
            let tPolicy = Date().timeIntervalSince(t); t = Date()
            clipGradNorm(model, maxNorm: 1.0)
            optimizer.step(model, lr: 1e-5)
            return (tSample, tRef, tPolicy, Date().timeIntervalSince(t))
        }
    }

    /// Peak resident set size of this process in MiB (Linux VmHWM), nil where unavailable.
    public static func peakRSSMiB() -> Double? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.count >= 2, let kb = Double(parts[1]) { return kb / 1024 }
        }
        return nil
    }
}
