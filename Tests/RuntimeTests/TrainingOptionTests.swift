import XCTest
import Foundation
import MedR1Lib
@testable import Runtime

/// Training, sampling and evaluation options out of range, and numbers that would stop
/// being finite, as a script sees them: one located error in the language's spelling, and
/// the model untouched.
final class TrainingOptionTests: XCTestCase {
    func session() throws -> (Session, CollectingSink, URL) {
        let sink = CollectingSink()
        let dir = try TestSupportDir.make()
        let s = Session(options: SessionOptions(seed: 5, sink: sink, baseDirectory: dir))
        XCTAssertEqual(s.run(source: TrainingBindingTests.setup, file: "setup.medr1"), .ok, sink.text)
        return (s, sink, dir)
    }

    /// The error line of running `src`, which must fail.
    func error(_ s: Session, _ sink: CollectingSink, _ src: String, line: UInt = #line) -> String {
        sink.clear()
        XCTAssertEqual(s.run(source: src, file: "t.medr1"), .runtimeError, sink.text, line: line)
        return sink.text.split(separator: "\n").first.map(String.init) ?? ""
    }

    func weights(_ s: Session) -> [Float] {
        guard case .host(let m as ModelObject)? = s.interpreter.globals.lookup("m") else { XCTFail("no model m"); return [] }
        return m.model.flatValues
    }

    /// Six settings that would train to all-NaN weights without a word are refused.
    func testSettingsThatMadeEveryWeightNaNAreRefused() throws {
        let (s, sink, _) = try session()
        let w = weights(s)
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, lr: exp(1000))"), "t.medr1:1:9: error: grpo: lr must be in [0, 1], got inf")
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, adam_eps: 0)"),
                       "t.medr1:1:9: error: grpo: adam_eps must be in [1e-30, 1], got 0")
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, beta: exp(1000) - exp(1000))"),
                       "t.medr1:1:9: error: grpo: beta must be in [0, 100], got nan")
        XCTAssertEqual(error(s, sink, "let t = sft(m, data, adam_beta1: 1)"),
                       "t.medr1:1:9: error: sft: adam_beta1 must be in [0, 1), got 1")
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, weights: [1, 1e308])"),
                       "t.medr1:1:9: error: grpo: the weight of reward 'accuracy' must be in [-1e6, 1e6], got 1e308")
        // A reward of 1e308 is reported at the step, naming the reward; nothing changes.
        sink.clear()
        XCTAssertEqual(s.run(source: """
        let huge = reward(fn(c) => 1e308, name: "huge")
        let t = grpo(m, data, rewards: [huge], group: 2, prompts: 1, max_tokens: 4)
        """, file: "t.medr1"), .ok, sink.text)
        let e = error(s, sink, "step t")
        XCTAssertTrue(e.hasPrefix("t.medr1:1:1: error: step: reward 'huge' failed on completion 0 (prompt 0, sample "), e)
        XCTAssertTrue(e.contains("returned 1e308, outside the allowed [-1e6, 1e6]"), e)
        XCTAssertTrue(weights(s) == w)
        XCTAssertTrue(weights(s).allSatisfy(\.isFinite))
        // Between steps, t.set checks the same ranges.
        XCTAssertEqual(error(s, sink, "t.set(adam_beta2: 1)"), "t.medr1:1:1: error: trainer.set: adam_beta2 must be in [0, 1), got 1")
    }

    /// adam_beta1 0.99999999 is in range but rounds to 1 in the float optimiser: `step`
    /// reports the update it refused, and the model is as before.
    func testStepReportsAnUpdateThatWouldMakeWeightsNonFinite() throws {
        let (s, sink, _) = try session()
        let w = weights(s)
        sink.clear()
        XCTAssertEqual(s.run(source: "let t = sft(m, data, batch: 4, adam_beta1: 0.99999999)", file: "t.medr1"), .ok, sink.text)
        XCTAssertEqual(error(s, sink, "step t, 3"),
                       "t.medr1:1:1: error: step: sft step 1 was not applied: the update would make the weight of "
                       + "vision.patch.weight[0] non-finite; the model, the optimiser and the data order are as before it "
                       + "(lr 0.001). Lower lr, check the rewards, or save and inspect the model.")
        XCTAssertTrue(weights(s) == w)
        sink.clear()
        XCTAssertEqual(s.run(source: "t.set(adam_beta1: 0.9)\nstep t\nprint(t.step)", file: "t.medr1"), .ok, sink.text)
        XCTAssertEqual(sink.text.split(separator: "\n").last, "1", sink.text)
        XCTAssertTrue(weights(s).allSatisfy(\.isFinite))
    }

    /// One message for one option wherever it is set, never a Swift name.
    func testSamplingOptionsSpeakTheLanguage() throws {
        let (s, sink, _) = try session()
        XCTAssertEqual(error(s, sink, "sampler(temperature: 0)"),
                       "t.medr1:1:1: error: sampler: temperature must be in [0.001, 100], got 0")
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, temperature: 0)"),
                       "t.medr1:1:9: error: grpo: temperature must be in [0.001, 100], got 0")
        XCTAssertEqual(error(s, sink, "sample(m, data[0], top_p: 2)"), "t.medr1:1:1: error: sample: top_p must be in (0, 1], got 2")
        XCTAssertEqual(error(s, sink, "eval m, data, samples: 0"),
                       "t.medr1:1:1: error: eval: samples must be a whole number in [1, 1024], got 0")
        XCTAssertEqual(error(s, sink, "eval m, data, batch: 0"),
                       "t.medr1:1:1: error: eval: batch must be a whole number in [1, 4096], got 0")
        XCTAssertEqual(error(s, sink, "let t = sft(m, data, warmup: -1)"),
                       "t.medr1:1:9: error: sft: warmup must be a whole number in [0, 1e9], got -1")
        XCTAssertEqual(error(s, sink, "sampler(seed: -1)"), "t.medr1:1:1: error: sampler: seed must be a whole number 0 or more, got -1")
    }

    /// `delta:` (two-sided clipping), added as one row of GRPOConfig's table: accepted by grpo
    /// and t.set, checked, shown in t.config and the help, without any binding code of its own.
    func testDeltaIsAnOptionFromItsTableRowAlone() throws {
        let (s, sink, _) = try session()
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, delta: -1)"), "t.medr1:1:9: error: grpo: delta must be in [0, 1e6], got -1")
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, delta: true)"), "t.medr1:1:9: error: grpo: option 'delta' must be a number, got bool true")
        sink.clear()
        XCTAssertEqual(s.run(source: """
        let t = grpo(m, data, group: 2, prompts: 1, max_tokens: 4)
        print(t.config.delta)
        t.set(delta: 2.5)
        print(t.config.delta)
        """, file: "t.medr1"), .ok, sink.text)
        XCTAssertEqual(sink.text, "0\n2.5")
        guard case .host(let t as TrainerObject)? = s.interpreter.globals.lookup("t") else { return XCTFail("no trainer t") }
        XCTAssertEqual(t.grpoConfig?.loss.delta, 2.5)
        XCTAssertTrue(HelpTable.entry("grpo")!.signature.contains(", delta: 0, "))
        XCTAssertTrue(HelpTable.text(for: "grpo")!.contains("\n    delta in [0, 1e6]: two-sided clipping"))
    }

    func testReferenceModelMustMatchThePolicy() throws {
        let (s, sink, _) = try session()
        XCTAssertEqual(error(s, sink, """
        let big = model(tokenizer: tok, seed: 2, d_model: 32, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
        let t = grpo(m, data, reference: big)
        """), "t.medr1:2:9: error: grpo: the reference model's architecture differs from the policy's "
            + "(d_model: reference 32, policy 16); give a copy of the policy's model")
        XCTAssertEqual(error(s, sink, """
        let tok2 = data.tokenizer(vocab: 290)
        let other = model(tokenizer: tok2, seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
        let t = grpo(m, data, reference: other)
        """), "t.medr1:3:9: error: grpo: the reference model's tokenizer differs from the policy's; the KL compares "
            + "the same tokens, so give a model made with the policy's tokenizer")
        XCTAssertTrue(error(s, sink, "let t = grpo(m, data, reference: m)")
            .hasPrefix("t.medr1:1:9: error: grpo: the reference is the policy itself"))
        sink.clear()
        XCTAssertEqual(s.run(source: """
        let ref = model(tokenizer: tok, seed: 9, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
        let t = grpo(m, data, reference: ref, group: 2, prompts: 1, max_tokens: 4)
        """, file: "t.medr1"), .ok, sink.text)
    }

    /// An image that cannot be read is reported as that, not as "trainer state: ...".
    func testEvalWithAMissingImageSaysSo() throws {
        let (s, sink, dir) = try session()
        sink.clear()
        XCTAssertEqual(s.run(source: "print(data[0].image)", file: "p.medr1"), .ok, sink.text)
        let path = sink.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : dir.appendingPathComponent(path)
        try FileManager.default.removeItem(at: url)
        let e = error(s, sink, "eval m, data")
        XCTAssertTrue(e.hasPrefix("t.medr1:1:1: error: eval: cannot read the image of sample "), e)
        XCTAssertFalse(e.contains("trainer state"), e)
    }

    /// The builtin or method that takes each option table, and the table's keywords.
    func tables(_ s: Session) throws -> [(entry: String, options: [String], keywords: [String])] {
        func builtin(_ name: String) throws -> [String] {
            guard case .function(let f as Builtin)? = s.interpreter.builtins.lookup(name) else { throw XCTSkip("no builtin \(name)") }
            return f.options
        }
        return [("grpo", try builtin("grpo"), GRPOConfig.optionRules.names()),
                ("sft", try builtin("sft"), SFTConfig.optionRules.names()),
                ("sampler", try builtin("sampler"), SamplerConfig.optionRules.names()),
                ("sample", try builtin("sample"), SamplerConfig.optionRules.names()),
                ("eval", try builtin("eval"), Evaluator.optionRules.names())]
    }

    /// Every keyword of the library's tables is accepted by the builtins that take the
    /// table, shown in their help signature and listed with its allowed values.
    func testEveryTableKeywordIsAcceptedAndDocumented() throws {
        let (s, _, _) = try session()
        for (name, options, keywords) in try tables(s) {
            let entry = try XCTUnwrap(HelpTable.entry(name))
            // "group|num_generations: 8": medr1's keyword, then TRL's name where it differs.
            let shown = entry.signature.matches(of: /([a-z_0-9|]+):/).flatMap { $0.1.split(separator: "|").map(String.init) }
            for k in keywords {
                XCTAssertTrue(options.contains(k), "\(name) does not accept \(k):")
                XCTAssertTrue(shown.contains(k), "\(name)'s help signature does not show \(k):")
                XCTAssertTrue(entry.options.contains { $0.hasPrefix(k + " ") || $0.hasSuffix(" (TRL: \(k))") },
                              "\(name)'s help does not list \(k)")
            }
        }
        // t.set takes exactly the trainer's table.
        guard case .host(let m as ModelObject)? = s.interpreter.globals.lookup("m"),
              case .host(let d as DatasetObject)? = s.interpreter.globals.lookup("data") else { return XCTFail("no m or data") }
        let g = TrainerObject(try GRPOTrainer(model: m.model, tokenizer: m.tokenizer, dataset: d.dataset), model: m, data: d.dataset, planned: nil)
        XCTAssertEqual(g.methodOptions("set"), GRPOConfig.optionRules.names() + ["rewards", "weights", "reward_weights"])
        XCTAssertTrue(HelpTable.text(for: "sft")!.contains("\n  allowed values:\n    batch in [1, 4096]: sequences per step\n"))
        XCTAssertTrue(HelpTable.text(for: "grpo")!.contains("\n    loss one of \"grpo\", \"bnpo\", \"dr_grpo\", \"dapo\", \"cispo\", \"sapo\": "))
        XCTAssertTrue(HelpTable.text(for: "grpo")!.contains("\n    scale_rewards one of \"group\", \"batch\", \"none\" (true = \"group\", false = \"none\"): "))
        XCTAssertTrue(HelpTable.text(for: "grpo")!.contains(" (TRL: num_generations)\n"))
    }

    /// The defaults the help shows are the library's: each `keyword: value` of a help
    /// signature is parsed back and compared with the library's default config, and a fresh
    /// trainer's `t.config` holds the same values.
    func testHelpDefaultsAreTheLibraryDefaults() throws {
        func shownDefaults(_ name: String) throws -> [String: String] {
            let sig = try XCTUnwrap(HelpTable.entry(name)).signature
            // "max_tokens|max_completion_length: 64" shows the default under both names.
            return Dictionary(sig.matches(of: /([a-z_0-9|]+): ("[a-z_]+"(\|"[a-z_]+")*|[^,)]+)/).flatMap { m in
                m.1.split(separator: "|").map { (String($0), String(m.2)) }
            }, uniquingKeysWith: { a, _ in a })
        }
        func check<C>(_ name: String, _ rules: [OptionRule<C>], _ defaults: C, line: UInt = #line) throws {
            let shown = try shownDefaults(name)
            for r in rules {
                let text = try XCTUnwrap(shown[r.keyword], "\(name) shows no \(r.keyword)", line: line)
                switch r.optionValue(in: defaults) {
                case .number(let x)?: XCTAssertEqual(Double(text), x, "\(name): \(r.keyword)", line: line)
                case .flag(let b)?: XCTAssertEqual(text, b ? "true" : "false", "\(name): \(r.keyword)", line: line)
                case .word(let w)?: XCTAssertTrue(text.hasPrefix("\"\(w)\""), "\(name): \(r.keyword) shows \(text)", line: line)
                case .strings(let ws)?: XCTAssertEqual(text, OptionValue.strings(ws).description, "\(name): \(r.keyword)", line: line)
                case nil: XCTAssertEqual(text, "n", "\(name): \(r.keyword)", line: line)
                }
            }
        }
        try check("grpo", GRPOConfig.optionRules, GRPOConfig())
        try check("sft", SFTConfig.optionRules, SFTConfig())
        try check("sampler", SamplerConfig.optionRules, SamplerConfig())
        try check("sample", SamplerConfig.optionRules, SamplerConfig())
        try check("eval", Evaluator.optionRules, Evaluator.defaults)
        // A few written out, so that a default changed in the library shows up here too.
        let grpo = try shownDefaults("grpo"), eval = try shownDefaults("eval")
        XCTAssertEqual(grpo["lr"], "1e-4"); XCTAssertEqual(GRPOConfig().learningRate, 1e-4)
        XCTAssertEqual(grpo["beta"], "0.04"); XCTAssertEqual(GRPOConfig().beta, 0.04)
        XCTAssertEqual(grpo["loss"], "\"grpo\"|\"bnpo\"|\"dr_grpo\"|\"dapo\"|\"cispo\"|\"sapo\""); XCTAssertEqual(GRPOConfig().lossType, .grpo)
        XCTAssertEqual(grpo["loss_type"], grpo["loss"])
        XCTAssertEqual(grpo["scale_rewards"], "\"group\"|\"batch\"|\"none\""); XCTAssertEqual(GRPOConfig().scaleRewards, .group)
        XCTAssertEqual(grpo["importance_sampling_level"], "\"token\"|\"sequence\"")
        XCTAssertEqual(grpo["top_entropy_quantile"], "1")
        XCTAssertEqual(grpo["adam_eps"], "1e-8"); XCTAssertEqual(GRPOConfig().adamEps, 1e-8)
        XCTAssertEqual(grpo["max_tokens"], "64"); XCTAssertEqual(GRPOConfig().maxTokens, 64)
        XCTAssertEqual(eval["greedy"], "true"); XCTAssertEqual(Evaluator.defaults.sampler.greedy, true)
        // t.config of a trainer made without options holds the defaults the help shows.
        let (s, sink, _) = try session()
        sink.clear()
        XCTAssertEqual(s.run(source: """
        let t = grpo(m, data)
        for k in keys(t.config) { print(k, repr(t.config[k])) }
        """, file: "t.medr1"), .ok, sink.text)
        var fromConfig: [String: String] = [:]
        for line in sink.text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            fromConfig[parts[0]] = parts[1]
        }
        var compared = 0
        for r in GRPOConfig.optionRules where !r.isPart {
            let text = try XCTUnwrap(fromConfig[r.keyword], "t.config has no \(r.keyword)")
            let help = try XCTUnwrap(grpo[r.keyword])
            if let x = Double(text) { XCTAssertEqual(Double(help), x, r.keyword) } else { XCTAssertTrue(help.hasPrefix(text), "\(r.keyword): \(help) vs \(text)") }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 15)
    }
}
