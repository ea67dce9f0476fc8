import XCTest
@testable import MedR1Lib

/// Metrics under TRL's names: step_time beside seconds, cumulative num_tokens counted as TRL
/// counts it (each completion's prompt tokens and its own), epoch = samples drawn / data size.
final class TRLMetricTests: XCTestCase {
    func testGRPOProgressMetrics() throws {
        let tok = RLFixture.tokenizer()
        let t = try GRPOTrainer(model: try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1), tokenizer: tok,
                                dataset: RLFixture.dataset, rewards: [.format], config: RLFixture.grpoConfig(), template: .tiny,
                                images: RLFixture.images())
        let enc = ExampleEncoder(tokenizer: tok, template: .tiny)
        var expected = 0.0
        for k in 1...3 {
            let m = try t.step()
            let ro = try XCTUnwrap(t.last)
            expected += Double(ro.completions.map { enc.tokens(for: $0.sample).prompt.count + $0.length }.reduce(0, +))
            XCTAssertEqual(m["num_tokens"], expected, "step \(k)")
            // 2 prompts per step over 8 samples.
            XCTAssertEqual(m["epoch"], Double(2 * k) / 8)
            XCTAssertEqual(m["step_time"], m["seconds"])
            XCTAssertNil(m.withoutTiming["step_time"])
        }
    }

    func testSFTProgressMetrics() throws {
        let tok = RLFixture.tokenizer()
        var c = SFTConfig()
        c.batchSize = 3
        let t = try SFTTrainer(model: try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1), tokenizer: tok,
                               dataset: RLFixture.dataset, config: c, template: .tiny, images: RLFixture.images())
        let m1 = try t.step(), m2 = try t.step()
        XCTAssertEqual(m1["epoch"], 3.0 / 8)
        XCTAssertEqual(m2["epoch"], 6.0 / 8)
        XCTAssertGreaterThan(m1["num_tokens"]!, 0)
        XCTAssertGreaterThan(m2["num_tokens"]!, m1["num_tokens"]!)
        XCTAssertEqual(m2["step_time"], m2["seconds"])
    }
}
