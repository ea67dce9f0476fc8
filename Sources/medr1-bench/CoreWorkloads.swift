// The sgemm peak and the teacher-forced workloads of docs/benchmarks.md: W3 (one
// SFT step) and W4 (forward only), on the default medr1-tiny config with seeded weights.
import MedR1Lib

/// 64 sequences of 16 image + 112 text tokens, as W3 and W4 specify.
struct TeacherForcedBatch {
    let images: [[Float]]
    let sequences: [[Int]]
    init(config: ModelConfig, rows: Int = 64, textTokens: Int = 112, seed: UInt64 = 42) {
        var rng = SplitMix64(seed: seed)
        images = (0..<rows).map { _ in (0..<config.imageFloats).map { _ in rng.nextFloat() * 2 - 1 } }
        sequences = (0..<rows).map { _ in (0..<textTokens).map { _ in Int(rng.next() % UInt64(config.vocabSize)) } }
    }
    var positions: Int { sequences.reduce(0) { $0 + 16 + $1.count } }
}

nonisolated(unsafe) let coreWorkloads: [Workload] = [
    Workload(id: "peak", unit: "GFLOP/s", flops: nil, prepare: {
        let n = 2048
        var rng = SplitMix64(seed: 1)
        let a = (0..<(n * n)).map { _ in rng.nextFloat() - 0.5 }
        let b = (0..<(n * n)).map { _ in rng.nextFloat() - 0.5 }
        var c = [Float](repeating: 0, count: n * n)
        // Through the library's product, so it runs on the same threads as the model's.
        return { MatrixProduct.multiply(a, b, into: &c, m: n, n: n, k: n) }
    }, figure: { 2 * 2048.0 * 2048.0 * 2048.0 / $0 / 1e9 }),

    Workload(id: "W3", unit: "positions/s", flops: 50.53, prepare: {
        let model = try MedR1Model(config: ModelConfig(), seed: 1)
        let batch = TeacherForcedBatch(config: model.config)
        let opt = AdamW(model: model, config: AdamWConfig(lr: 1e-5))
        let n = Float(batch.sequences.reduce(0) { $0 + $1.count })
        let dl = batch.sequences.map { [Float](repeating: -1 / n, count: $0.count) }
        let starts = [Int](repeating: 0, count: batch.sequences.count)
        return {
            model.zeroGrad()
            let r = try model.tokenLogProbs(images: batch.images, sequences: batch.sequences, targetStart: starts,
                                            withGrad: true)
            try model.backward(r, dLogProbs: dl)
            opt.step(model)
        }
    }, figure: { 64 * 128 / $0 }),

    Workload(id: "W4", unit: "positions/s", flops: 16.98, prepare: {
        let model = try MedR1Model(config: ModelConfig(), seed: 1)
        let batch = TeacherForcedBatch(config: model.config)
        let starts = [Int](repeating: 0, count: batch.sequences.count)
        return {
            _ = try model.tokenLogProbs(images: batch.images, sequences: batch.sequences, targetStart: starts,
                                        withGrad: false)
        }
    }, figure: { 64 * 128 / $0 }),

    // The model side of W2 (no sampling, no rewards): 8 prompts of image +
    // 48 tokens prefilled in one batch, expanded to 8 rows each, then 64
    // decode steps of one token per row. Figure: generated tokens per second.
    Workload(id: "decode", unit: "tokens/s", flops: nil, prepare: {
        let model = try MedR1Model(config: ModelConfig(), seed: 1)
        let prompts = TeacherForcedBatch(config: model.config, rows: 8, textTokens: 48, seed: 7)
        return {
            let pre = try model.prefill(images: prompts.images, prompts: prompts.sequences)
            var cache = model.expand(pre, copies: 8)
            var tokens = [Int](repeating: 0, count: cache.rows)
            for step in 0..<64 {
                for r in 0..<tokens.count { tokens[r] = (r * 31 + step * 7) % model.config.vocabSize }
                _ = try model.decode(&cache, tokens: tokens)
            }
        }
    }, figure: { 64 * 64 / $0 }),
]
