// Sampling completions from the model with a KV cache: G completions per prompt
// share the image + prompt prefix, computed once (prefill, then expand to G
// rows); every row then decodes one token per step. Sampling stops as soon as
// every row has emitted <|eos|> (training-recipe.md §3: sampling to the cap
// regardless made a GRPO step 1.6x slower).
import Foundation

/// How tokens are drawn. Defaults: TRL / model-spec (temperature 1, no top-k/top-p).
public struct SamplerConfig: Codable, Sendable, Equatable {
    /// Logits are divided by this before softmax (model-spec: 1.0). Ignored by greedy.
    public var temperature = 1.0
    /// Keep only the k most likely tokens; 0 = off.
    public var topK = 0
    /// Keep the smallest set of tokens whose probability reaches p; 1.0 = off.
    public var topP = 1.0
    /// Argmax instead of sampling (evaluation).
    public var greedy = false
    /// Completion cap in tokens (model-spec: 64); also capped by the model's max_seq.
    public var maxTokens = 64
    /// Stop a row at <|eos|> (W1 and W2 turn this off to sample exactly maxTokens).
    public var stopAtEOS = true

    public init(temperature: Double = 1.0, topK: Int = 0, topP: Double = 1.0, greedy: Bool = false,
                maxTokens: Int = 64, stopAtEOS: Bool = true) {
        self.temperature = temperature; self.topK = topK; self.topP = topP
        self.greedy = greedy; self.maxTokens = maxTokens; self.stopAtEOS = stopAtEOS
    }
}

/// One sampled completion before decoding to text.
public struct SampledCompletion: Sendable, Equatable {
    /// Token ids, <|eos|> included when finishReason == .eos.
    public var tokens: [Int]
    /// log softmax(logits / temperature) at each sampled token (temperature 1 when greedy).
    public var logProbs: [Float]
    public var finishReason: FinishReason
}

/// A seeded sampler. Draw order: one uniform per unfinished row per decoding step, rows in
/// order, so the same seed gives the same completions whether or not the prefix is shared.
public struct Sampler: Sendable {
    public var config: SamplerConfig
    /// The generator; its state is saved with a trainer for bit-identical resume.
    public var rng: SplitMix64

    public init(config: SamplerConfig = SamplerConfig(), seed: UInt64 = 0) {
        self.config = config
        self.rng = SplitMix64(seed: seed)
    }

    /// `count` completions of one prompt (see `sampleBatch`).
    public mutating func sample(model: MedR1Model, image: [Float], prompt: [Int], count: Int,
                                eos: Int, sharePrefix: Bool = true) throws -> [SampledCompletion] {
        try sampleBatch(model: model, images: [image], prompts: [prompt], count: count, eos: eos,
                        sharePrefix: sharePrefix)[0]
    }

    /// `count` completions for each of several prompts, all rows decoded together.
    /// With `sharePrefix` each image + prompt prefix is computed once (batched prefill) and
    /// shared by its `count` rows (expand); without, every row prefills its own copy (for
    /// testing that sharing changes nothing). Rows are prompt-major; each step draws one
    /// uniform per unfinished row, rows in order.
    /// - Parameters:
    ///   - images: one preprocessed image per prompt, (imageSize, imageSize, channels) in [-1, 1].
    ///   - prompts: text token ids per prompt, starting with <|bos|>; at least one token each.
    /// - Returns: result[p][g], completion g of prompt p.
    /// - Throws: `RLError.invalidOption` when a setting is out of its range (`SamplerConfig.optionRules`).
    public mutating func sampleBatch(model: MedR1Model, images: [[Float]], prompts: [[Int]], count: Int,
                                     eos: Int, sharePrefix: Bool = true) throws -> [[SampledCompletion]] {
        guard images.count == prompts.count, count >= 1, prompts.allSatisfy({ !$0.isEmpty }) else {
            throw RLError.invalidConfig("sampler: give one image per prompt, non-empty prompts and count >= 1 "
                                        + "(got \(images.count) images, \(prompts.count) prompts, count \(count))")
        }
        try config.validate()
        let cfg = model.config
        let longest = prompts.map(\.count).max() ?? 0
        let cap = max(0, min(config.maxTokens, cfg.maxSeq - cfg.nPatches - longest))
        let rows = prompts.count * count
        var out = [SampledCompletion](repeating: SampledCompletion(tokens: [], logProbs: [], finishReason: .length),
                                      count: rows)
        if cap > 0 && !prompts.isEmpty {
            var cache: KVCache
            // Room for every token the loop below decodes (cap - 1: the last
            // sampled token is never fed back), allocated once.
            if sharePrefix {
                cache = model.expand(try model.prefill(images: images, prompts: prompts), copies: count,
                                     capacity: cap - 1)
            } else {
                var imgs: [[Float]] = [], ps: [[Int]] = []
                for p in 0..<prompts.count {
                    for _ in 0..<count { imgs.append(images[p]); ps.append(prompts[p]) }
                }
                cache = model.expand(try model.prefill(images: imgs, prompts: ps), copies: 1, capacity: cap - 1)
            }
            let V = cfg.vocabSize
            var feed = [Int](repeating: eos >= 0 && eos < V ? eos : 0, count: rows)
            var done = [Bool](repeating: false, count: rows)
            var uniforms = [Double](repeating: 0, count: rows)
            var picks = [(Int, Float)](repeating: (0, 0), count: rows)
            let drawConfig = config
            let scratchSize = TokenDraw.scratchSize(V)
            let scratch = FloatBuffer(count: Parallelism.workers(rows) * scratchSize, zeroed: false)
            try picks.withUnsafeMutableBufferPointer { pk in
                let pk = UncheckedSendable(pk.baseAddress!), scr = UncheckedSendable(scratch.pointer)
                for stepIndex in 0..<cap {
                    // One uniform per unfinished row, rows in order (the draw
                    // order), then each row's pick, a pure function of its
                    // logits (cache.logits, (rows, V) flat) and uniform: in
                    // parallel over rows, and from step 1 on inside the decode
                    // step's parallel region, right after each worker's logits.
                    for r in 0..<rows where !done[r] { uniforms[r] = rng.nextDouble() }
                    let u = uniforms, live = done
                    let pickRows = { (range: Range<Int>, logits: UnsafePointer<Float>, worker: Int) in
                        for r in range where !live[r] {
                            pk.value[r] = Sampler.pick(logits + r * V, V, u: u[r], config: drawConfig,
                                                       scratch: scr.value + worker * scratchSize)
                        }
                    }
                    if stepIndex == 0 {
                        cache.logits.withUnsafeBufferPointer { lg in
                            let lg = UncheckedSendable(lg.baseAddress!)
                            let workers = Parallelism.workers(rows)
                            Parallelism.parallelFor(workers) { w in
                                pickRows((rows * w / workers)..<(rows * (w + 1) / workers), lg.value, w)
                            }
                        }
                    } else {
                        try model.decodeStep(&cache, tokens: feed, then: pickRows)
                    }
                    for r in 0..<rows where !done[r] {
                        let (tok, lp) = pk.value[r]
                        out[r].tokens.append(tok)
                        out[r].logProbs.append(lp)
                        feed[r] = tok
                        if config.stopAtEOS && tok == eos {
                            done[r] = true
                            out[r].finishReason = .eos
                        }
                    }
                    // Stop as soon as every row has finished, and never decode past the last token.
                    if done.allSatisfy({ $0 }) { break }
                }
            }
        }
        return (0..<prompts.count).map { p in Array(out[(p * count)..<((p + 1) * count)]) }
    }

    /// Draws one token from one row of logits; returns it and its log-prob under
    /// softmax(logits / temperature). Always consumes exactly one uniform (even when
    /// greedy), so the draw order never depends on the settings.
    mutating func draw(_ logits: [Float]) -> (Int, Float) {
        let u = rng.nextDouble()
        var scratch = [Float](repeating: 0, count: TokenDraw.scratchSize(logits.count))
        return logits.withUnsafeBufferPointer { z in
            scratch.withUnsafeMutableBufferPointer { s in
                Sampler.pick(z.baseAddress!, z.count, u: u, config: config, scratch: s.baseAddress!)
            }
        }
    }

    /// The token for uniform `u` from one row of logits (v values at `z`), and
    /// its log-prob (see `draw`); a pure function of the row and `u`, so rows
    /// can be picked in parallel. Plain sampling (W1/W2's hot path) is
    /// `TokenDraw.plain` (vectorised float exps); greedy, top-k and top-p use
    /// the Double reference below. `scratch`: TokenDraw.scratchSize(v) floats.
    static func pick(_ z: UnsafePointer<Float>, _ v: Int, u: Double, config: SamplerConfig,
                     scratch: UnsafeMutablePointer<Float>) -> (Int, Float) {
        if !config.greedy && config.topK <= 0 && config.topP >= 1 {
            return TokenDraw.plain(z, v, u: u, temperature: config.temperature, scratch: scratch)
        }
        return pickReference(Array(UnsafeBufferPointer(start: z, count: v)), u: u, config: config)
    }

    /// `pick` in Double with libm exps, one row as an array: the general path
    /// (greedy, top-k, top-p) and the reference the plain path is tested against.
    static func pickReference(_ logits: [Float], u: Double, config: SamplerConfig) -> (Int, Float) {
        let t = config.greedy ? 1.0 : config.temperature
        let v = logits.count
        // log-softmax in Double for a stable, exactly reproducible reduction.
        var mx = -Double.infinity
        for x in logits { mx = max(mx, Double(x) / t) }
        var z = 0.0
        for x in logits { z += exp(Double(x) / t - mx) }
        let logZ = mx + log(z)
        if config.greedy {
            var best = 0
            for i in 1..<v where logits[i] > logits[best] { best = i }
            return (best, Float(Double(logits[best]) / t - logZ))
        }
        if config.topK <= 0 && config.topP >= 1 {
            // Plain sampling (the reference of TokenDraw.plain): the same sums
            // as the general path below, in the same order, stopping at the
            // chosen token.
            return logits.withUnsafeBufferPointer { z in
                var acc = 0.0, chosen = v - 1
                for i in 0..<v {
                    acc += exp(Double(z[i]) / t - logZ)
                    if u < acc { chosen = i; break }
                }
                return (chosen, Float(Double(z[chosen]) / t - logZ))
            }
        }
        // Candidate set after top-k / top-p, probabilities renormalised.
        var idx = Array(0..<v)
        var p = logits.map { exp(Double($0) / t - logZ) }
        if config.topK > 0 || config.topP < 1 {
            idx.sort { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }
            if config.topK > 0 && config.topK < idx.count { idx = Array(idx.prefix(config.topK)) }
            if config.topP < 1 {
                var acc = 0.0, keep = 0
                for i in idx { acc += p[i]; keep += 1; if acc >= config.topP { break } }
                idx = Array(idx.prefix(max(keep, 1)))
            }
            let kept = idx.reduce(0.0) { $0 + p[$1] }
            var q = [Double](repeating: 0, count: v)
            for i in idx { q[i] = p[i] / kept }
            p = q
            idx.sort()
        }
        var acc = 0.0, chosen = idx.last!
        for i in idx {
            acc += p[i]
            if u < acc { chosen = i; break }
        }
        return (chosen, Float(Double(logits[chosen]) / t - logZ))
    }
}
