// Model and reward bindings: create medr1-tiny with config fields as keyword
// arguments, the built-in rewards, rewards written in the language (taking a
// completion record), and trying a reward on a string.

import Foundation
import MedR1Lib

/// medr1-tiny with the tokenizer it was made for.
public final class ModelObject: HostObject {
    public let model: MedR1Model
    public let tokenizer: Tokenizer
    public init(model: MedR1Model, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }
    public var typeName: String { "model" }
    public var summary: String {
        let c = model.config
        return "model medr1-tiny: d_model \(c.dModel), \(c.visionLayers)+\(c.textLayers) layers, vocab \(c.vocabSize), \(model.parameterCount) parameters"
    }
    public var display: String { model.summary }
    public var fieldNames: [String] { ["config", "parameters", "tokenizer"] }
    public func field(_ name: String) throws -> Value? {
        switch name {
        case "config":
            let c = model.config
            return .record(Record([("image_size", .number(Double(c.imageSize))), ("channels", .number(Double(c.channels))),
                                   ("patch", .number(Double(c.patch))), ("d_model", .number(Double(c.dModel))),
                                   ("n_heads", .number(Double(c.nHeads))), ("vision_layers", .number(Double(c.visionLayers))),
                                   ("text_layers", .number(Double(c.textLayers))), ("mlp_ratio", .number(Double(c.mlpRatio))),
                                   ("vocab_size", .number(Double(c.vocabSize))), ("max_seq", .number(Double(c.maxSeq)))]))
        case "parameters": return .number(Double(model.parameterCount))
        case "tokenizer": return .host(TokenizerObject(tokenizer))
        default: return nil
        }
    }
}

/// A named, weighted reward function.
public final class RewardObject: HostObject {
    public let reward: Reward
    public init(_ r: Reward) { reward = r }
    public var typeName: String { "reward" }
    public var summary: String { "reward \(reward.name)" + (reward.weight == 1 ? "" : " (weight \(formatNumber(reward.weight)))") }
    public var fieldNames: [String] { ["name", "weight"] }
    public var methodNames: [String] { ["score"] }
    public func methodOptions(_ name: String) -> [String] { ["sample"] }
    public func field(_ name: String) throws -> Value? {
        switch name {
        case "name": return .string(reward.name)
        case "weight": return .number(reward.weight)
        default: return nil
        }
    }
    public func callMethod(_ name: String, _ a: Arguments, _ ctx: CallContext) throws -> Value {
        guard name == "score" else { throw RuntimeError("reward has no method '\(name)'; methods: score") }
        try a.expect(1...1, "r.score(text, sample: s)")
        let sample = try a.namedValue("sample").map { v -> Sample in
            guard case .host(let s as SampleObject) = v else { throw a.error("sample: must be a sample, got \(v.typeName)") }
            return s.sample
        } ?? Bindings.placeholderSample
        let c = Completion(text: try a.string(0, "text"), sample: sample)
        return .number(try reward.function(c))
    }
}

extension Bindings {
    /// Stand-in question for trying a reward on bare text (answer "yes").
    static let placeholderSample = Sample(imagePath: "", question: "(no sample given)", options: ["yes", "no"], answerIndex: 0,
                                          modality: .ct, questionType: .modality, dataset: "none", id: "none")

    /// What a reward written in the language receives.
    static func completionRecord(_ c: Completion) -> Value {
        .record(Record([("text", .string(c.text)), ("think", c.think.map(Value.string) ?? .null),
                        ("answer", c.answer.map(Value.string) ?? .null), ("sample", .host(SampleObject(c.sample))),
                        ("length", .number(Double(c.length))), ("finish_reason", .string(c.finishReason.rawValue)),
                        ("tokens", .list(c.tokens.map { .number(Double($0)) }))]))
    }

    /// Wrap a language function as a reward: it must return a number (true/false count as 1/0).
    static func languageReward(_ f: Value, name: String, weight: Double, ctx: CallContext) -> Reward {
        var origin: RewardOrigin? = nil
        if case .function(let fn) = f { origin = .language(fn as AnyObject) }
        return Reward(name: name, weight: weight, origin: origin) { c in
            let v = try ctx.call(f, [completionRecord(c)])
            switch v {
            case .number(let x): return x
            case .bool(let b): return b ? 1 : 0
            default: throw RuntimeError("reward \(name) must return a number, got \(v.typeName) \(v.summary)")
            }
        }
    }

    /// Rewards from a list of reward objects and language functions.
    static func rewards(_ xs: [Value], weights: [Double]?, _ a: Arguments, _ ctx: CallContext) throws -> [Reward] {
        if let w = weights, w.count != xs.count {
            throw a.error("weights has \(w.count) entries but rewards has \(xs.count); give one weight per reward")
        }
        return try xs.enumerated().map { i, v in
            var r: Reward
            switch v {
            case .host(let o as RewardObject): r = o.reward
            case .function(let f): r = languageReward(v, name: f.name, weight: 1, ctx: ctx)
            default: throw a.error("rewards[\(i)] must be a reward or a function, got \(v.typeName)")
            }
            if let w = weights { r = r.weighted(w[i]) }
            return r
        }
    }

    static func registerModel(_ add: Builtins.Register) {
        add("model", options: ["tokenizer", "seed", "image_size", "channels", "patch", "d_model", "n_heads", "vision_layers",
                               "text_layers", "mlp_ratio", "max_seq"]) { a, ctx in
            try a.expect(0...0, "model(tokenizer: tok, seed: 1, d_model: 128, ...)")
            guard case .host(let t as TokenizerObject)? = a.namedValue("tokenizer") else {
                throw a.error("needs tokenizer: a tokenizer, e.g. model(tokenizer: data.tokenizer(vocab: 512))")
            }
            var c = ModelConfig()
            c.vocabSize = t.tokenizer.vocabSize
            if let x = try a.namedInt("image_size") { c.imageSize = x }
            if let x = try a.namedInt("channels") { c.channels = x }
            if let x = try a.namedInt("patch") { c.patch = x }
            if let x = try a.namedInt("d_model") { c.dModel = x }
            if let x = try a.namedInt("n_heads") { c.nHeads = x }
            if let x = try a.namedInt("vision_layers") { c.visionLayers = x }
            if let x = try a.namedInt("text_layers") { c.textLayers = x }
            if let x = try a.namedInt("mlp_ratio") { c.mlpRatio = x }
            if let x = try a.namedInt("max_seq") { c.maxSeq = x }
            let seed = try seedOption(a, ctx)
            return .host(ModelObject(model: try MedR1Model(config: c, seed: seed), tokenizer: t.tokenizer))
        }
        add("summary") { a, _ in
            try a.expect(1...1, "summary(m)")
            if case .host(let h) = a.positional[0] { return .string(h.display) }
            return .string(a.positional[0].description)
        }
        for (fname, lib) in [("format", "format"), ("accuracy", "accuracy"), ("format_nothink", "format_nothink"),
                             ("format_think_after", "format_think_after"), ("format_strict", "format_strict")] {
            add(fname, options: ["weight"]) { a, _ in
                try a.expect(0...0, "\(fname)(weight: 1)")
                var r = Reward.builtin(lib)!
                if let w = try a.namedNumber("weight") { r = r.weighted(w) }
                return .host(RewardObject(r))
            }
        }
        add("reward", options: ["name", "weight"]) { a, ctx in
            try a.expect(1...1, "reward(fn, name: \"brevity\", weight: 1)")
            guard case .function(let f) = a.positional[0] else { throw a.error("'fn' must be a function taking a completion, got \(a.positional[0].typeName)") }
            let name = try a.namedString("name") ?? f.name
            return .host(RewardObject(languageReward(a.positional[0], name: name, weight: try a.namedNumber("weight") ?? 1, ctx: ctx)))
        }
    }
}
