import XCTest
@testable import MedR1Lib

/// min_p, repetition_penalty and stop strings, checked on hand-computed rows and on a tiny model.
final class SamplerOptionTests: XCTestCase {
    /// min_p (transformers MinPLogitsWarper): tokens with probability < min_p * max probability
    /// are dropped, the rest renormalised; the reported log-prob is the model's, unfiltered.
    func testMinP() {
        let probs = [0.5, 0.3, 0.15, 0.05]
        let logits = probs.map { Float(log($0)) }
        // min_p 0.4: threshold 0.2 keeps tokens 0 and 1, renormalised 0.625 / 0.375.
        let c = SamplerConfig(minP: 0.4)
        XCTAssertEqual(Sampler.pickReference(logits, u: 0.6, config: c).0, 0)
        let (t, lp) = Sampler.pickReference(logits, u: 0.7, config: c)
        XCTAssertEqual(t, 1)
        XCTAssertEqual(Double(lp), log(0.3), accuracy: 1e-6)
        // u 0.99 would reach token 3 unfiltered; min_p 0.25 (threshold 0.125) keeps 0, 1, 2:
        // cumulative 0.5/0.95, 0.8/0.95, 1 -> token 2.
        XCTAssertEqual(Sampler.pickReference(logits, u: 0.99, config: SamplerConfig()).0, 3)
        XCTAssertEqual(Sampler.pickReference(logits, u: 0.99, config: SamplerConfig(minP: 0.25)).0, 2)
        // u 0.83: unfiltered past 0.8 -> token 2; filtered below 0.8/0.95 = 0.842 -> token 1.
        XCTAssertEqual(Sampler.pickReference(logits, u: 0.83, config: SamplerConfig()).0, 2)
        XCTAssertEqual(Sampler.pickReference(logits, u: 0.83, config: SamplerConfig(minP: 0.25)).0, 1)
        XCTAssertEqual(Sampler.pickReference(logits, u: 0.85, config: SamplerConfig(minP: 0.25)).0, 2)
    }

    /// repetition_penalty (transformers RepetitionPenaltyLogitsProcessor): a seen token's logit
    /// x becomes x / p when x > 0 and x * p otherwise, before the temperature.
    func testRepetitionPenalty() {
        let logits: [Float] = [2, 1, -1, 0.5]
        // Seen {0, 2}, penalty 4: [0.5, 1, -4, 0.5]; greedy now takes token 1.
        let greedy = SamplerConfig(greedy: true, repetitionPenalty: 4)
        XCTAssertEqual(Sampler.pickReference(logits, u: 0, config: greedy, seen: [0, 2]).0, 1)
        XCTAssertEqual(Sampler.pickReference(logits, u: 0, config: greedy, seen: []).0, 0)
        // Sampling: softmax([0.5, 1, -4, 0.5]) = [0.2732, 0.4505, 0.0030, 0.2732]; u 0.5 -> token 1
        // (unpenalised, p0 = 0.61 takes it). The log-prob is the model's: 1 - logsumexp(logits).
        let (t, lp) = Sampler.pickReference(logits, u: 0.5, config: SamplerConfig(repetitionPenalty: 4), seen: [0, 2])
        XCTAssertEqual(t, 1)
        XCTAssertEqual(Double(lp), -1.495181898085856, accuracy: 1e-6)
        XCTAssertEqual(Sampler.pickReference(logits, u: 0.5, config: SamplerConfig()).0, 0)
        // Cumulative 0.2732, 0.7237, 0.7268: u 0.725 -> token 2.
        XCTAssertEqual(Sampler.pickReference(logits, u: 0.725, config: SamplerConfig(repetitionPenalty: 4), seen: [0, 2]).0, 2)
    }

    func testRepetitionPenaltyCountsPromptAndCompletionAndIsSeeded() throws {
        let tok = RLFixture.tokenizer()
        let m = try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1)
        let img = try RLFixture.images().image(for: RLFixture.samples()[0])
        let p = PromptTemplate.tiny.tokens(for: RLFixture.dataset.samples[0], tokenizer: tok).prompt
        // Greedy with a huge penalty never repeats a token of the prompt or of its own.
        var s = Sampler(config: SamplerConfig(greedy: true, maxTokens: 8, stopAtEOS: false, repetitionPenalty: 100), seed: 1)
        let out = try s.sample(model: m, image: img, prompt: p, count: 1, eos: -1)[0]
        XCTAssertEqual(out.tokens.count, 8)
        XCTAssertEqual(Set(out.tokens).count, 8, "no token twice: \(out.tokens)")
        XCTAssertTrue(Set(out.tokens).isDisjoint(with: Set(p)), "no prompt token: \(out.tokens) vs \(p)")
        // Same seed, same completions.
        var a = Sampler(config: SamplerConfig(maxTokens: 8, minP: 0.05, repetitionPenalty: 1.3), seed: 4)
        var b = Sampler(config: SamplerConfig(maxTokens: 8, minP: 0.05, repetitionPenalty: 1.3), seed: 4)
        XCTAssertEqual(try a.sample(model: m, image: img, prompt: p, count: 3, eos: tok.eos),
                       try b.sample(model: m, image: img, prompt: p, count: 3, eos: tok.eos))
    }

    /// A stop string ends the row once its text contains it: tokens up to that point, the
    /// string kept, finish reason "stop".
    func testStopStrings() throws {
        let tok = RLFixture.tokenizer()
        let m = try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1)
        let img = try RLFixture.images().image(for: RLFixture.samples()[0])
        let p = PromptTemplate.tiny.tokens(for: RLFixture.dataset.samples[0], tokenizer: tok).prompt
        let enc = ExampleEncoder(tokenizer: tok, template: .tiny)
        var free = Sampler(config: SamplerConfig(maxTokens: 10, stopAtEOS: false), seed: 3)
        let full = try free.sample(model: m, image: img, prompt: p, count: 1, eos: -1)[0]
        // The text of the first three tokens, and where it first appears.
        let target = tok.decode(Array(full.tokens.prefix(3)))
        let end = (1...full.tokens.count).first { tok.decode(Array(full.tokens.prefix($0))).contains(target) }!
        var stopped = Sampler(config: SamplerConfig(maxTokens: 10, stopAtEOS: false, stop: [target]), seed: 3)
        let out = try stopped.sample(model: m, image: img, prompt: p, count: 1, eos: -1, decode: enc.text(of:))[0]
        XCTAssertEqual(out.tokens, Array(full.tokens.prefix(end)))
        XCTAssertEqual(out.finishReason, .stop)
        XCTAssertTrue(enc.text(of: out.tokens).hasSuffix(target) || enc.text(of: out.tokens).contains(target))
        XCTAssertEqual(out.logProbs, Array(full.logProbs.prefix(end)))
        // Without a decoder, stop strings are refused.
        var bad = Sampler(config: SamplerConfig(stop: ["x"]), seed: 3)
        XCTAssertThrowsError(try bad.sample(model: m, image: img, prompt: p, count: 1, eos: -1)) {
            XCTAssertEqual("\($0)", "invalid config: sampler: stop strings need the tokenizer to read the text")
        }
        // The option's bounds.
        XCTAssertThrowsError(try SamplerConfig(stop: [""]).validate()) {
            XCTAssertEqual("\($0)", "sampler: stop must be a list of at most 16 strings of 1 to 256 characters, got 1 strings (one empty)")
        }
    }
}

extension SamplerOptionTests {
    /// Scoring a sampled completion's own tokens gives back the sampler's log-probs.
    func testScoringReproducesTheSamplersLogProbs() throws {
        let tok = RLFixture.tokenizer()
        let m = try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1)
        var worst: Float = 0, worstRelative: Float = 0, worstULPs: Float = 0, exact = 0, total = 0
        for (k, sample) in RLFixture.samples().enumerated() {
            let img = try RLFixture.images().image(for: sample)
            let p = PromptTemplate.tiny.tokens(for: sample, tokenizer: tok).prompt
            for temperature in [1.0, 0.7] {
                var s = Sampler(config: SamplerConfig(temperature: temperature, maxTokens: 12), seed: UInt64(k))
                for c in try s.sample(model: m, image: img, prompt: p, count: 4, eos: tok.eos) {
                    let scored = try m.scoreCompletion(image: img, prompt: p, completion: c.tokens, temperature: temperature)
                    XCTAssertEqual(scored.count, c.logProbs.count)
                    for (a, b) in zip(scored, c.logProbs) {
                        worst = max(worst, abs(a - b)); worstRelative = max(worstRelative, abs(a - b) / max(1, abs(b)))
                        worstULPs = max(worstULPs, abs(a - b) / b.ulp)
                        exact += a == b ? 1 : 0; total += 1
                    }
                }
            }
        }
        print("scoring vs sampler: \(exact)/\(total) exactly equal, largest difference \(worst), relative \(worstRelative), \(worstULPs) ulps")
        XCTAssertLessThanOrEqual(worstRelative, 1e-6)
    }
}

extension SamplerOptionTests {
    /// Forced decoding (the sampler's own path with the tokens given) scores every sampled
    /// completion to exactly its log-probs, plain sampling and the general path alike, and
    /// whether its group had 1 or 4 rows.
    func testForcedScoringIsExact() throws {
        let tok = RLFixture.tokenizer()
        let m = try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1)
        var total = 0
        for (k, sample) in RLFixture.samples().enumerated() {
            let img = try RLFixture.images().image(for: sample)
            let p = PromptTemplate.tiny.tokens(for: sample, tokenizer: tok).prompt
            for cfg in [SamplerConfig(temperature: 1.0, maxTokens: 12), SamplerConfig(temperature: 0.7, topK: 20, maxTokens: 12),
                        SamplerConfig(maxTokens: 12, minP: 0.02, repetitionPenalty: 1.2)] {
                var s = Sampler(config: cfg, seed: UInt64(k))
                let cs = try s.sample(model: m, image: img, prompt: p, count: 4, eos: tok.eos)
                let scored = try Sampler.forcedLogProbs(model: m, images: [img], prompts: [p], completions: [cs.map(\.tokens)],
                                                        config: cfg)
                XCTAssertEqual(scored, [cs.map(\.logProbs)])
                total += scored[0].reduce(0) { $0 + $1.count }
                // One completion alone (its prompt's prefix computed alone, as it was).
                for c in cs {
                    XCTAssertEqual(try Sampler.forcedLogProbs(model: m, images: [img], prompts: [p], completions: [[c.tokens]],
                                                              config: cfg), [[c.logProbs]])
                }
            }
        }
        XCTAssertGreaterThan(total, 100)
    }
}

extension SamplerOptionTests {
    /// A completion of a batch of several prompts (a GRPO rollout), scored alone: its prefix is
    /// then computed alone, not packed with the others.
    func testForcedScoringOfOneCompletionOfABatch() throws {
        let tok = RLFixture.tokenizer()
        let m = try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1)
        let samples = RLFixture.samples()
        let imgs = try samples.map { try RLFixture.images().image(for: $0) }
        let prompts = samples.map { PromptTemplate.tiny.tokens(for: $0, tokenizer: tok).prompt }
        let cfg = SamplerConfig(maxTokens: 12)
        var s = Sampler(config: cfg, seed: 9)
        let outs = try s.sampleBatch(model: m, images: imgs, prompts: prompts, count: 3, eos: tok.eos)
        let whole = try Sampler.forcedLogProbs(model: m, images: imgs, prompts: prompts,
                                               completions: outs.map { $0.map(\.tokens) }, config: cfg)
        XCTAssertEqual(whole, outs.map { $0.map(\.logProbs) })
        var equal = 0, total = 0
        for p in samples.indices {
            for c in outs[p] {
                let alone = try Sampler.forcedLogProbs(model: m, images: [imgs[p]], prompts: [prompts[p]], completions: [[c.tokens]], config: cfg)[0][0]
                total += 1
                if alone == c.logProbs { equal += 1 }
            }
        }
        print("one completion of a batch of \(samples.count) prompts scored alone: \(equal)/\(total) exactly equal")
    }
}
