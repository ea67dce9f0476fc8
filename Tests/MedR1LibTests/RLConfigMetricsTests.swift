import XCTest
import TestSupport
@testable import MedR1Lib

/// Learning-rate schedules, config defaults and validation, metrics JSON lines.
final class RLConfigMetricsTests: XCTestCase {
    func testSchedules() {
        XCTAssertEqual(LRSchedule.constant.lr(step: 123, base: 1e-4), 1e-4)
        let w = LRSchedule.warmup(steps: 4)
        XCTAssertEqual([0, 1, 3, 4, 10].map { w.factor(step: $0) }, [0.25, 0.5, 1, 1, 1])
        let c = LRSchedule.cosine(warmup: 2, total: 12, minFactor: 0.1)
        XCTAssertEqual(c.factor(step: 0), 0.5)
        XCTAssertEqual(c.factor(step: 1), 1.0)
        XCTAssertEqual(c.factor(step: 2), 1.0, accuracy: 1e-12)          // cosine starts at the top
        XCTAssertEqual(c.factor(step: 7), 0.55, accuracy: 1e-12)         // half-way: 0.1 + 0.9 * 0.5
        XCTAssertEqual(c.factor(step: 12), 0.1, accuracy: 1e-12)
        XCTAssertEqual(c.factor(step: 40), 0.1, accuracy: 1e-12)
        XCTAssertEqual(c.lr(step: 7, base: 2e-3), 1.1e-3, accuracy: 1e-15)
    }

    func testDefaults() throws {
        let g = GRPOConfig()
        XCTAssertEqual(g.group, 8); XCTAssertEqual(g.promptsPerStep, 16); XCTAssertEqual(g.beta, 0.04)
        XCTAssertEqual(g.epsLow, 0.2); XCTAssertEqual(g.epsHigh, 0.2); XCTAssertEqual(g.temperature, 1.0)
        XCTAssertEqual(g.maxTokens, 64); XCTAssertEqual(g.learningRate, 1e-4)
        XCTAssertEqual(g.lossType, .grpo); XCTAssertEqual(g.numIterations, 1)
        let s = SFTConfig()
        XCTAssertEqual(s.learningRate, 1e-3); XCTAssertEqual(s.batchSize, 64)
        try g.validate()
        var bad = g
        bad.group = 1
        XCTAssertThrowsError(try bad.validate()) { e in
            XCTAssertEqual(String(describing: e),
                "grpo: group must be a whole number in [2, 1024], got 1")
        }
        // Configs are Codable (saved with trainer state), schedules included.
        var h = g
        h.schedule = .cosine(warmup: 3, total: 50, minFactor: 0.2)
        let back = try JSONDecoder().decode(GRPOConfig.self, from: JSONEncoder().encode(h))
        XCTAssertEqual(back, h)
    }

    func testMetricsJSONLines() throws {
        var m = StepMetrics(step: 3, mode: "grpo")
        m.set("loss", 0.25)
        m.set("reward", 1.5)
        m.set("rewards/format/mean", 0.875)
        m.set("kl", .nan)
        m.set("loss", -0.125)   // replaces, keeps position
        XCTAssertEqual(m.jsonLine,
            "{\"step\": 3, \"mode\": \"grpo\", \"loss\": -0.125, \"reward\": 1.5, \"rewards/format/mean\": 0.875, \"kl\": null}")
        let back = try StepMetrics(jsonLine: m.jsonLine)
        XCTAssertEqual(back.names, m.names)
        XCTAssertEqual(back.loss, -0.125)
        XCTAssertTrue(back.kl.isNaN)
        XCTAssertEqual(back["rewards/format/mean"], 0.875)
        // Every number comes back bit for bit (replay compares them so), -0 included.
        var exact = StepMetrics(step: 9, mode: "grpo")
        let values: [Double] = [0.1 + 0.2, -0.0, 1e-300, 123456789.123456789, 3, 2.5e20, Double.ulpOfOne]
        for (i, v) in values.enumerated() { exact.set("m\(i)", v) }
        let reread = try StepMetrics(jsonLine: exact.jsonLine)
        XCTAssertEqual(reread.values.map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertThrowsError(try StepMetrics(jsonLine: "{\"step\": 1, \"mode\": \"sft\", \"loss\": abc}")) { e in
            XCTAssertEqual(String(describing: e), "the metrics line is not valid JSON (column 36: unexpected character 'a'): "
                           + "{\"step\": 1, \"mode\": \"sft\", \"loss\": abc}")
        }
        XCTAssertThrowsError(try StepMetrics(jsonLine: "{\"step\": 1, \"mode\": \"sft\", \"loss\": \"abc\"}")) { e in
            XCTAssertEqual(String(describing: e), "the value of \"loss\" in a metrics line is not a number: \"abc\"")
        }
        // Names with escapes (reward names come from scripts) come back as they were:
        // a newline once came back as the letter n.
        var named = StepMetrics(step: 2, mode: "grpo")
        named.set("rewards/say \"hi\"\n\\ok\t\u{1B}😀", 0.5)
        let renamed = try StepMetrics(jsonLine: named.jsonLine)
        XCTAssertEqual(renamed.names, ["rewards/say \"hi\"\n\\ok\t\u{1B}😀"])
        XCTAssertEqual(renamed.values, [0.5])

        let dir = try TestSupport.temporaryDirectory()
        let url = dir.appendingPathComponent("sub/metrics.jsonl")
        var hist = MetricsHistory(fileURL: url)
        var m2 = StepMetrics(step: 4, mode: "sft")
        m2.set("loss", 0.1)
        m2.set("learning_rate", 0.001)
        try hist.append(m)
        try hist.append(m2)
        let read = try MetricsHistory.read(url)
        XCTAssertEqual(read.map(\.step), [3, 4])
        XCTAssertEqual(read[1]["learning_rate"], 0.001)
        XCTAssertEqual(hist.series("loss"), [-0.125, 0.1])
        try "{\"step\": 1}\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MetricsHistory.read(url)) { e in
            XCTAssertEqual(String(describing: e),
                "metrics.jsonl:1: not a metrics line (a JSON object with \"step\" and \"mode\"): {\"step\": 1}")
        }
    }
}
