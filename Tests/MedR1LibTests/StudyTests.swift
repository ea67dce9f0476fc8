import XCTest
@testable import MedR1Lib

/// Med-R1's studies on the trainer tests' tiny world: CT questions answer "ct", the other
/// modalities "mr", so a copy trained on CT alone answers "ct" everywhere and one trained on
/// MRI answers "mr": the matrix shows it.
final class StudyTests: XCTestCase {
    func config(_ method: StudyMethod, steps: Int, seeds: [UInt64]) -> StudyConfig {
        var c = StudyConfig()
        c.method = method
        c.steps = steps
        c.seeds = seeds
        c.sft.batchSize = 4
        c.sft.learningRate = 1e-2
        c.grpo = RLFixture.grpoConfig()
        c.template = .tiny
        c.evalMaxTokens = 12
        return c
    }

    func testSFTStudyMatrixShowsWhatEachCopyLearnedAndLeavesTheBaseAlone() throws {
        let tok = RLFixture.tokenizer()
        let base = try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1)
        let before = base.flatValues
        let ds = RLFixture.dataset
        let r = try Study.run(base: base, tokenizer: tok, train: ds, test: ds,
                              config: config(.sft, steps: 30, seeds: [1, 2]), images: RLFixture.images())
        XCTAssertTrue(base.flatValues == before, "the base model must not change")
        XCTAssertEqual(r.groups, ["CT", "MRI", "X-Ray", "Ultrasound"])
        XCTAssertEqual(r.accuracy.count, 4)
        XCTAssertTrue(r.accuracy.allSatisfy { $0.count == 4 && $0.allSatisfy { $0.count == 2 } })
        XCTAssertEqual(r.base.count, 4)
        // trained on CT: right on CT, wrong on MRI; trained on MRI: the reverse
        XCTAssertEqual(r.cell(0, 0).mean, 1, accuracy: 1e-12, "\(r.accuracy)")
        XCTAssertEqual(r.cell(0, 1).mean, 0, accuracy: 1e-12, "\(r.accuracy)")
        XCTAssertEqual(r.cell(1, 1).mean, 1, accuracy: 1e-12, "\(r.accuracy)")
        XCTAssertEqual(r.cell(1, 0).mean, 0, accuracy: 1e-12, "\(r.accuracy)")
        XCTAssertEqual(r.change(0, 0).mean, 1 - r.base[0], accuracy: 1e-12)
        XCTAssertTrue(r.markdown().contains("| CT | **1.000 ± 0.000** | 0.000 ± 0.000 |"), r.markdown())
        XCTAssertEqual(r.meanTable.rowLabels, ["CT", "MRI", "X-Ray", "Ultrasound", "base"])
        // same settings, same matrix
        let again = try Study.run(base: base, tokenizer: tok, train: ds, test: ds,
                                  config: config(.sft, steps: 30, seeds: [1, 2]), images: RLFixture.images())
        XCTAssertEqual(again.accuracy, r.accuracy)
    }

    func testGRPOStudyAndQuestionTypeAxis() throws {
        let tok = RLFixture.tokenizer()
        let base = try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1)
        var c = config(.grpo, steps: 1, seeds: [3])
        c.axis = .questionType
        let r = try Study.run(base: base, tokenizer: tok, train: RLFixture.dataset, test: RLFixture.dataset,
                              config: c, images: RLFixture.images())
        XCTAssertEqual(r.groups, ["Modality Recognition", "Anatomy Identification"])
        XCTAssertTrue(r.accuracy.allSatisfy { $0.count == 2 && $0.allSatisfy { $0.count == 1 && (0...1).contains($0[0]) } })
        XCTAssertEqual(r.cell(0, 1).std, 0)
    }

    func testMeanStdAndBadSettings() throws {
        let m = MeanStd([0.5, 0.7, .nan])
        XCTAssertEqual(m.n, 2)
        XCTAssertEqual(m.mean, 0.6, accuracy: 1e-12)
        XCTAssertEqual(m.std, 0.02.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(m.text, "0.600 ± 0.141")
        XCTAssertEqual(MeanStd([]).text, "-")
        let tok = RLFixture.tokenizer()
        let base = try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1)
        XCTAssertThrowsError(try Study.run(base: base, tokenizer: tok, train: RLFixture.dataset, test: RLFixture.dataset,
                                           config: config(.sft, steps: 1, seeds: []), images: RLFixture.images())) {
            XCTAssertEqual("\($0)", "study: seeds is empty; give at least one, e.g. [1, 2, 3]")
        }
    }
}
