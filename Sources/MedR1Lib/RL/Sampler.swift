// Sampling completions from the model with a KV cache: G completions per prompt
// share the image + prompt prefix, computed once (prefill, then expand to G
// rows); every row then decodes one token per step. Sampling stops as soon as
// every row has emitted <|eos|> (docs/training.md: sampling to the cap
// regardless made a GRPO step 1.6x slower).
import Foundation

/// How tokens are drawn. Defaults: TRL's and docs/model.md's (temperature 1, no top-k/top-p).
public struct SamplerConfig: Codable, Sendable, Equatable {
    /// Logits are divided by this before softmax (default 1.0). Ignored by greedy.
    public var temperature = 1.0
    /// Keep only the k most likely tokens; 0 = off.
    public var topK = 0
    /// Keep the smallest set of tokens whose probability reaches p; 1.0 = off.
    public var topP = 1.0
    /// Argmax instead of sampling (evaluation).
    public var greedy = false
    /// Completion cap in tokens (default 64); also capped by the model's max_seq.
    public var maxTokens = 64
    /// Stop a row at <|eos|> (W1 and W2 turn this off to sample exactly maxTokens).
    public var stopAtEOS = true
    /// Keep only tokens whose probability is at least minP times the most likely one's
    /// (after top-k and top-p, as transformers' MinPLogitsWarper); 0 = off (TRL: None).
    public var minP = 0.0
    /// Logits of tokens already in the prompt or the completion are divided by it when
    /// positive and multiplied when negative, before the temperature (transformers'
    /// RepetitionPenaltyLogitsProcessor; vLLM counts prompt and output tokens too); 1 = off.
    public var repetitionPenalty = 1.0
    /// A row stops once its text contains one of these (the string is kept; finish reason
    /// "stop"). Needs the sampler's caller to give a decoder.
    public var stop: [String] = []

    public init(temperature: Double = 1.0, topK: Int = 0, topP: Double = 1.0, greedy: Bool = false,
                maxTokens: Int = 64, stopAtEOS: Bool = true, minP: Double = 0, repetitionPenalty: Double = 1,
                stop: [String] = []) {
        self.temperature = temperature; self.topK = topK; self.topP = topP
        self.greedy = greedy; self.maxTokens = maxTokens; self.stopAtEOS = stopAtEOS
        self.minP = minP; self.repetitionPenalty = repetitionPenalty; self.stop = stop
    }

    public init(from decoder: Decoder) throws {
        // Configs written before min_p, repetition_penalty and stop existed read them as off.
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SamplerConfig()
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature) ?? d.temperature
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? d.topK
        topP = try c.decodeIfPresent(Double.self, forKey: .topP) ?? d.topP
        greedy = try c.decodeIfPresent(Bool.self, forKey: .greedy) ?? d.greedy
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens) ?? d.maxTokens
        stopAtEOS = try c.decodeIfPresent(Bool.self, forKey: .stopAtEOS) ?? d.stopAtEOS
        minP = try c.decodeIfPresent(Double.self, forKey: .minP) ?? d.minP
        repetitionPenalty = try c.decodeIfPresent(Double.self, forKey: .repetitionPenalty) ?? d.repetitionPenalty
        stop = try c.decodeIfPresent([String].self, forKey: .stop) ?? d.stop
    }

    /// Whether a draw needs the general path (anything but plain sampling at a temperature).
    var filters: Bool { greedy || topK > 0 || topP < 1 || minP > 0 || repetitionPenalty != 1 }
}

/// One sampled completion before decoding to text.
public struct SampledCompletion: Sendable, Equatable {
    /// Token ids, <|eos|> included when finishReason == .eos.
    public var tokens: [Int]
    /// log softmax(logits / temperature) at each sampled token (temperature 1 when greedy):
    /// the model's own log-prob, as the loss computes it, before the repetition penalty and
    /// the top-k / top-p / min-p filters that only choose the token.
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
                                eos: Int, sharePrefix: Bool = true, decode: (([Int]) -> String)? = nil) throws -> [SampledCompletion] {
        try sampleBatch(model: model, images: [image], prompts: [prompt], count: count, eos: eos,
                        sharePrefix: sharePrefix, decode: decode)[0]
    }

    /// `count` completions for each of several prompts, all rows decoded together.
    /// With `sharePrefix` each image + prompt prefix is computed once (batched prefill) and
    /// shared by its `count` rows (expand); without, every row prefills its own copy (for
    /// testing that sharing changes nothing). Rows are prompt-major; each step draws one
    /// uniform per unfinished row, rows in order.
    /// - Parameters:
    ///   - images: one preprocessed image per prompt, (imageSize, imageSize, channels) in [-1, 1].
    ///   - prompts: text token ids per prompt, starting with <|bos|>; at least one token each.
    ///   - decode: a row's text from its tokens, for the stop strings (needed when there are some).
    /// - Returns: result[p][g], completion g of prompt p.
    /// - Throws: `RLError.invalidOption` when a setting is out of its range (`SamplerConfig.optionRules`).
    public mutating func sampleBatch(model: MedR1Model, images: [[Float]], prompts: [[Int]], count: Int,
                                     eos: Int, sharePrefix: Bool = true,
                                     decode: (([Int]) -> String)? = nil) throws -> [[SampledCompletion]] {
        guard images.count == prompts.count, count >= 1, prompts.allSatisfy({ !$0.isEmpty }) else {
            throw RLError.invalidConfig("sampler: give one image per prompt, non-empty prompts and count >= 1 "
                                        + "(got \(images.count) images, \(prompts.count) prompts, count \(count))")
        }
        try config.validate()
        guard config.stop.isEmpty || decode != nil else {
            throw RLError.invalidConfig("sampler: stop strings need the tokenizer to read the text")
        }
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
            // Tokens each row has seen (its prompt's, then its own), for the repetition penalty.
            var seen = [Set<Int>](repeating: [], count: config.repetitionPenalty != 1 ? rows : 0)
            for r in seen.indices { seen[r] = Set(prompts[r / count]) }
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
                    let u = uniforms, live = done, seenNow = seen
                    let pickRows = { (range: Range<Int>, logits: UnsafePointer<Float>, worker: Int) in
                        for r in range where !live[r] {
                            pk.value[r] = Sampler.pick(logits + r * V, V, u: u[r], config: drawConfig,
                                                       scratch: scr.value + worker * scratchSize,
                                                       seen: seenNow.isEmpty ? [] : seenNow[r])
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
                        if !seen.isEmpty { seen[r].insert(tok) }
                        if config.stopAtEOS && tok == eos {
                            done[r] = true
                            out[r].finishReason = .eos
                        } else if let decode, !config.stop.isEmpty {
                            let text = decode(out[r].tokens)
                            if config.stop.contains(where: { text.contains($0) }) {
                                done[r] = true
                                out[r].finishReason = .stop
                            }
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
                     scratch: UnsafeMutablePointer<Float>, seen: Set<Int> = []) -> (Int, Float) {
        if !config.filters {
            return TokenDraw.plain(z, v, u: u, temperature: config.temperature, scratch: scratch)
        }
        return pickReference(Array(UnsafeBufferPointer(start: z, count: v)), u: u, config: config, seen: seen)
    }

    /// `pick` in Double with libm exps, one row as an array: the general path
    /// (greedy, top-k, top-p, min-p, repetition penalty) and the reference the plain path is
    /// tested against. `seen`: the tokens the repetition penalty applies to.
    static func pickReference(_ logits: [Float], u: Double, config: SamplerConfig, seen: Set<Int> = []) -> (Int, Float) {
        let t = config.greedy ? 1.0 : config.temperature
        let v = logits.count
        // log-softmax in Double for a stable, exactly reproducible reduction.
        var mx = -Double.infinity
        for x in logits { mx = max(mx, Double(x) / t) }
        var z = 0.0
        for x in logits { z += exp(Double(x) / t - mx) }
        let logZ = mx + log(z)
        // The logits that choose the token: the repetition penalty, as transformers applies
        // it to raw logits (x > 0: x / penalty, else x * penalty), once per distinct seen token.
        var chooser = logits
        if config.repetitionPenalty != 1 {
            let rp = Float(config.repetitionPenalty)
            for i in seen where i >= 0 && i < v { chooser[i] = chooser[i] > 0 ? chooser[i] / rp : chooser[i] * rp }
        }
        if config.greedy {
            var best = 0
            for i in 1..<v where chooser[i] > chooser[best] { best = i }
            return (best, Float(Double(logits[best]) / t - logZ))
        }
        if !config.filters {
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
        // Candidate set after top-k / top-p / min-p, probabilities renormalised.
        var idx = Array(0..<v)
        var p = logits.map { exp(Double($0) / t - logZ) }
        if config.repetitionPenalty != 1 {
            var cm = -Double.infinity
            for x in chooser { cm = max(cm, Double(x) / t) }
            var cz = 0.0
            for x in chooser { cz += exp(Double(x) / t - cm) }
            let cLogZ = cm + log(cz)
            p = chooser.map { exp(Double($0) / t - cLogZ) }
        }
        if config.topK > 0 || config.topP < 1 || config.minP > 0 || config.repetitionPenalty != 1 {
            idx.sort { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }
            if config.topK > 0 && config.topK < idx.count { idx = Array(idx.prefix(config.topK)) }
            if config.topP < 1 {
                var acc = 0.0, keep = 0
                for i in idx { acc += p[i]; keep += 1; if acc >= config.topP { break } }
                idx = Array(idx.prefix(max(keep, 1)))
            }
            if config.minP > 0, let top = idx.first {
                // idx is sorted by probability: the first is the most likely kept token.
                let threshold = config.minP * p[top]
                idx = idx.filter { p[$0] >= threshold }
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

extension Sampler {
    /// The log-probs the sampler gives each token of the completions `completions[p][g]` of
    /// prompt p: the same decoding (the prompts' prefixes computed together, each shared by its
    /// group's rows, the KV cache, one token per step) with every step's token given instead of
    /// drawn, and each log-prob computed as `pick` computes it for this config. Given the
    /// prompts and group size a `sampleBatch` call had, its completions' own tokens score to
    /// exactly the log-probs they carry. Tokens past the model's room (max_seq) are not
    /// scored. Draws nothing.
    public static func forcedLogProbs(model: MedR1Model, images: [[Float]], prompts: [[Int]], completions: [[[Int]]],
                                      config: SamplerConfig) throws -> [[[Float]]] {
        let g = completions.first?.count ?? 0
        guard images.count == prompts.count, prompts.count == completions.count, prompts.allSatisfy({ !$0.isEmpty }),
              g >= 1, completions.allSatisfy({ $0.count == g }) else {
            throw RLError.invalidConfig("score: give one image and one non-empty prompt per group, and groups of one size")
        }
        try config.validate()
        let flat = completions.flatMap { $0 }
        let cfg = model.config, V = cfg.vocabSize, rows = flat.count
        let longest = prompts.map(\.count).max() ?? 0
        let steps = min(flat.map(\.count).max() ?? 0, max(0, cfg.maxSeq - cfg.nPatches - longest))
        var out = [[Float]](repeating: [], count: rows)
        func grouped() -> [[[Float]]] { (0..<prompts.count).map { Array(out[($0 * g)..<(($0 + 1) * g)]) } }
        guard steps > 0 else { return grouped() }
        for (r, c) in flat.enumerated() {
            if let bad = c.first(where: { $0 < 0 || $0 >= V }) {
                throw RLError.invalidConfig("score: token id \(bad) of completion \(r) is not in the vocabulary (0..<\(V))")
            }
        }
        let completions = flat
        var cache = model.expand(try model.prefill(images: images, prompts: prompts), copies: g, capacity: steps - 1)
        var lps = [Float](repeating: 0, count: rows)
        let scratchSize = TokenDraw.scratchSize(V)
        let scratch = FloatBuffer(count: Parallelism.workers(rows) * scratchSize, zeroed: false)
        try lps.withUnsafeMutableBufferPointer { lp in
            let lp = UncheckedSendable(lp.baseAddress!), scr = UncheckedSendable(scratch.pointer)
            for step in 0..<steps {
                let wanted = completions.map { step < $0.count ? $0[step] : -1 }
                let score = { (range: Range<Int>, logits: UnsafePointer<Float>, worker: Int) in
                    for r in range where wanted[r] >= 0 {
                        lp.value[r] = Sampler.logProb(of: wanted[r], logits + r * V, V, config: config,
                                                      scratch: scr.value + worker * scratchSize)
                    }
                }
                if step == 0 {
                    cache.logits.withUnsafeBufferPointer { lg in score(0..<rows, lg.baseAddress!, 0) }
                } else {
                    // Rows already scored to their end are fed their last token again.
                    try model.decodeStep(&cache, tokens: completions.indices.map { r in
                        completions[r].isEmpty ? 0 : completions[r][min(step - 1, completions[r].count - 1)]
                    }, then: score)
                }
                for r in 0..<rows where wanted[r] >= 0 { out[r].append(lp.value[r]) }
            }
        }
        return grouped()
    }

    /// The log-prob `pick` reports for `token` from one row of logits.
    static func logProb(of token: Int, _ z: UnsafePointer<Float>, _ v: Int, config: SamplerConfig,
                        scratch: UnsafeMutablePointer<Float>) -> Float {
        if !config.filters { return TokenDraw.logProb(of: token, z, v, temperature: config.temperature, scratch: scratch) }
        let t = config.greedy ? 1.0 : config.temperature
        var mx = -Double.infinity
        for i in 0..<v { mx = max(mx, Double(z[i]) / t) }
        var sum = 0.0
        for i in 0..<v { sum += exp(Double(z[i]) / t - mx) }
        return Float(Double(z[token]) / t - (mx + log(sum)))
    }
}

extension MedR1Model {
    /// Per-token log-probabilities of `completion` after the image and `prompt`, teacher-forced
    /// in one forward: log softmax(logits / temperature) at each completion token, the numbers
    /// the GRPO loss computes for it (within float rounding of the sampler's, whose KV-cache
    /// decoding sums in another order; `Sampler.forcedLogProbs` gives the sampler's exactly).
    public func scoreCompletion(image: [Float], prompt: [Int], completion: [Int], temperature: Double = 1) throws -> [Float] {
        guard !completion.isEmpty else { return [] }
        return try tokenLogProbs(images: [image], sequences: [prompt + completion], targetStart: [prompt.count],
                                 temperature: Float(temperature), withGrad: false).logProbs[0]
    }
}
