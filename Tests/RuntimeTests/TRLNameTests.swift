import XCTest
import Foundation
import MedR1Lib
@testable import Runtime

/// TRL's option names as aliases of medr1's: the same config either way, both spellings
/// of one option refused, and true/false still accepted where an option became a word.
final class TRLNameTests: XCTestCase {
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
}
