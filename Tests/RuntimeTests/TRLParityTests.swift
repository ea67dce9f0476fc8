import XCTest
import Foundation
import MedR1Lib
@testable import Runtime

/// Parity with TRL as a script sees it: TRL's option names as aliases of medr1's (the same
/// config either way, both spellings of one option refused), the group std shown is the one
/// advantages use, and a completion's token ids score back to the log-probs the sampler gave.
final class TRLParityTests: XCTestCase {
    func session() throws -> (Session, CollectingSink) {
        let sink = CollectingSink()
        let s = Session(options: SessionOptions(seed: 5, sink: sink, baseDirectory: try TestSupportDir.make()))
        XCTAssertEqual(s.run(source: TrainingBindingTests.setup, file: "setup.medr1"), .ok, sink.text)
        return (s, sink)
    }

    func output(_ s: Session, _ sink: CollectingSink, _ src: String, line: UInt = #line) -> String {
        sink.clear()
        XCTAssertEqual(s.run(source: src, file: "t.medr1"), .ok, sink.text, line: line)
        return sink.text
    }

    func error(_ s: Session, _ sink: CollectingSink, _ src: String, line: UInt = #line) -> String {
        sink.clear()
        XCTAssertEqual(s.run(source: src, file: "t.medr1"), .runtimeError, sink.text, line: line)
        return sink.text.split(separator: "\n").first.map(String.init) ?? ""
    }

    func testTRLNamesGiveTheSameConfig() throws {
        let (s, sink) = try session()
        let out = output(s, sink, """
        let a = grpo(m, data, group: 4, lr: 3e-4, eps_low: 0.1, eps_high: 0.28, loss: "dapo", max_tokens: 12, mask_truncated: true, weights: [1, 0.5], warmup: 3, adam_eps: 1e-6, scale_rewards: false, seed: 1)
        let b = grpo(m, data, num_generations: 4, learning_rate: 3e-4, epsilon: 0.1, epsilon_high: 0.28, loss_type: "dapo", max_completion_length: 12, mask_truncated_completions: true, reward_weights: [1, 0.5], warmup_steps: 3, adam_epsilon: 1e-6, scale_rewards: "none", seed: 1)
        print(a.config == b.config)
        print(b.config.group, b.config.lr, b.config.eps_high, b.config.loss, b.config.scale_rewards, b.config.weights)
        b.set(learning_rate: 1e-5, num_iterations: 2)
        print(b.config.lr, b.config.num_iterations)
        let sp = sampler(max_completion_length: 7, seed: 1)
        print(sp.max_tokens)
        """)
        XCTAssertEqual(out, "true\n4 0.0003 0.28 dapo none [1, 0.5]\n1e-05 2\n7")
    }

    func testBothSpellingsOfOneOptionAreRefused() throws {
        let (s, sink) = try session()
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, group: 4, num_generations: 4)"),
                       "t.medr1:1:9: error: grpo: group: and num_generations: are the same option; give one of them")
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, weights: [1, 1], reward_weights: [1, 1])"),
                       "t.medr1:1:9: error: grpo: weights: and reward_weights: are the same option; give one of them")
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, scale_rewards: \"all\")"),
                       "t.medr1:1:9: error: grpo: unknown scale_rewards \"all\"; use one of \"group\", \"batch\", \"none\"")
        XCTAssertEqual(error(s, sink, "let t = grpo(m, data, learning_rate: 5)"),
                       "t.medr1:1:9: error: grpo: lr must be in [0, 1], got 5")
    }

    /// Rewards [1, 0, 0, 0]: mean 0.25, N-1 std sqrt(0.75 / 3) = 0.5 (population std would be
    /// 0.433); g.std, std(g.rewards) and the printed group std all show 0.5, and the advantage
    /// is (1 - 0.25) / (0.5 + 1e-4).
    func testGroupStdShownIsTheOneUsed() throws {
        let (s, sink) = try session()
        let out = output(s, sink, """
        let j = 0
        fn first_only(c) {
            j += 1
            return if j % 4 == 1 then 1 else 0
        }
        let g = sample(m, data[0], group: 4, rewards: [first_only], max_tokens: 3, seed: 2)
        print(g.std, std(g.rewards), std(g.rewards, population: true))
        print(g.advantages[0] == (1 - 0.25) / (g.std + 1e-4))
        show g
        """)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "0.5 0.5 0.4330127018922193")
        XCTAssertEqual(lines[1], "true")
        XCTAssertTrue(out.contains("reward mean 0.250, std 0.500"), out)
    }

    /// c.tokens scores back to the sampler's own log-probs exactly (Sampler.forcedLogProbs
    /// decodes the given tokens as the sampler decoded them), under the same options.
    func testScoreReproducesTheSamplersLogProbs() throws {
        let (s, sink) = try session()
        let out = output(s, sink, """
        let g = sample(m, data[0], group: 4, max_tokens: 6, temperature: 0.8, seed: 3)
        print(g.completions.map(fn(c) => score(m, data[0], c, temperature: 0.8).logprobs == c.logprobs))
        print(g.completions.map(fn(c) => score(m, data[0], c.tokens, temperature: 0.8).logprob == c.logprob))
        let one = score(m, data[0], g[0], temperature: 0.8)
        print(one.tokens == g[0].tokens, len(one.logprobs) == g[0].length)
        let t = score(m, data[0], "<answer>yes</answer>")
        print(len(t.tokens) == len(t.logprobs), len(t.tokens) == len(tok.encode("<answer>yes</answer>")) + 1, t.logprob < 0)
        """)
        XCTAssertEqual(out, "[true, true, true, true]\n[true, true, true, true]\ntrue true\ntrue true true")
        sink.clear()
        XCTAssertEqual(s.run(source: "score(m, data[0], [1, 99999])", file: "t.medr1"), .runtimeError)
        XCTAssertTrue(sink.text.hasPrefix("t.medr1:1:1: error: score: completion[1] must be a token id in [0, 300), got number 99999"), sink.text)
    }
}
