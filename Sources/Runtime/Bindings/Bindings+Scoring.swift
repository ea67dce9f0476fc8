// `score(m, question, completion)`: the per-token log-probs of a given completion (text, token
// ids, or a completion record with its `tokens`) under a model, computed as the sampler
// computes them (Sampler.forcedLogProbs), so a sampled completion's own tokens score back
// to its log-probs.
import Foundation
import MedR1Lib

extension Bindings {
    static func registerScoring(_ add: Builtins.Register) {
        add("score", options: samplerOptions + ["template", "answer_style", "eos"]) { a, ctx in
            try a.expect(3...3, "score(m, data[0], \"<think>...</think><answer>A</answer>\") or score(m, data[0], g[0])")
            let mo = try a.host(0, "model", as: ModelObject.self, typeName: "model")
            let q = try a.host(1, "question", as: SampleObject.self, typeName: "sample (data[0])").sample
            let vocab = mo.tokenizer.vocabSize
            func ids(_ xs: [Value], _ what: String) throws -> [Int] {
                try xs.enumerated().map { k, v in
                    guard case .number(let x) = v, x == x.rounded(), x >= 0, x < Double(vocab) else {
                        throw a.error("\(what)[\(k)] must be a token id in [0, \(vocab)), got \(v.typeName) \(v.summary)")
                    }
                    return Int(x)
                }
            }
            let tokens: [Int]
            switch a.positional[2] {
            case .string(let text):
                // Text as a finished answer: its tokens, then <|eos|> unless eos: false.
                tokens = mo.tokenizer.encode(text) + ((try a.namedBool("eos") ?? true) ? [mo.tokenizer.eos] : [])
            case .list(let xs): tokens = try ids(xs, "completion")
            case .record(let r):
                guard case .list(let xs)? = r["tokens"] else {
                    throw a.error("the completion record has no tokens field; give a completion of a sampled group (g[0])")
                }
                tokens = try ids(xs, "tokens")
            case let v: throw a.error("completion must be text, a list of token ids or a completion record, got \(v.typeName)")
            }
            let cfg = try samplerConfig(a)
            let enc = ExampleEncoder(tokenizer: mo.tokenizer, template: try template(a), answerStyle: try answerStyle(a))
            let image = try imageCache(mo.model.config, ctx).image(for: q)
            let lps: [Float]
            do {
                lps = try Sampler.forcedLogProbs(model: mo.model, images: [image], prompts: [enc.tokens(for: q).prompt],
                                                 completions: [[tokens]], config: cfg)[0][0]
            } catch let e as RLError { throw libraryError(a, e) }
            return .record(Record([("tokens", .list(tokens.prefix(lps.count).map { .number(Double($0)) })),
                                   ("logprobs", .list(lps.map { .number(Double($0)) })),
                                   ("logprob", .number(Double(lps.reduce(0, +)))),
                                   ("text", .string(enc.text(of: Array(tokens.prefix(lps.count)))))]))
        }
    }
}
