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

    /// The six settings that trained to all-NaN weights without a word.
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

    /// Every option in the library's tables is one the builtins accept under that name.
    func testOptionTablesMatchTheBuiltinsOptions() {
        XCTAssertEqual(Set(GRPOConfig.optionRules.map(\.keyword)).subtracting(Bindings.grpoSettable), [])
        XCTAssertEqual(Set(SFTConfig.optionRules.map(\.keyword)).subtracting(Bindings.sftSettable), [])
        XCTAssertEqual(Set(SamplerConfig.optionRules.map(\.keyword)).subtracting(Bindings.samplerOptions), [])
        XCTAssertEqual(HelpTable.entry("grpo")?.options.count, GRPOConfig.optionRules.count)
        XCTAssertTrue(HelpTable.text(for: "sft")!.contains("\n  allowed values:\n    batch in [1, 4096]: sequences per step\n"))
    }
}
