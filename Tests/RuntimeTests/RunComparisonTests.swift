import XCTest
import Foundation
import MedR1Lib
@testable import Runtime

/// Comparing runs: overlays, mean ± std bands, eval results side by side,
/// CSV and JSONL exports.
final class RunComparisonTests: XCTestCase {
    func session() throws -> (Session, CollectingSink) {
        let sink = CollectingSink()
        let s = Session(options: SessionOptions(seed: 5, sink: sink, baseDirectory: try TestSupportDir.make()))
        return (s, sink)
    }

    @discardableResult
    func run(_ s: Session, _ sink: CollectingSink, _ src: String, expect: RunOutcome = .ok) -> String {
        sink.clear()
        XCTAssertEqual(s.run(source: src, file: "t.medr1"), expect, sink.text)
        return sink.text
    }

    private var probes = 0
    /// The value of an expression, through a `let` in the session.
    func value(_ s: Session, _ sink: CollectingSink, _ expr: String) throws -> Value {
        probes += 1
        run(s, sink, "let probe\(probes) = \(expr)")
        return try XCTUnwrap(s.interpreter.globals.lookup("probe\(probes)"))
    }

    /// Three hand-written histories; seed 3 misses step 2 and has no reward at step 3.
    static let histories = """
        let h1 = [{step: 1, mode: "grpo", reward: 1}, {step: 2, mode: "grpo", reward: 2}, {step: 3, mode: "grpo", reward: 3}]
        let h2 = [{step: 1, mode: "grpo", reward: 3}, {step: 2, mode: "grpo", reward: 4}, {step: 3, mode: "grpo", reward: 5}]
        let h3 = [{step: 1, mode: "grpo", reward: 5}, {step: 3, mode: "grpo", kl: 0.5}]
        """

    func testBandIsMeanAndSampleStdPerStep() throws {
        let (s, sink) = try session()
        run(s, sink, Self.histories)
        let out = run(s, sink, "print(band({seed1: h1, seed2: h2, seed3: h3}, \"reward\"))")
        XCTAssertEqual(out, "[{step: 1, mean: 3, std: 2, runs: 3}, {step: 2, mean: 3, std: 1.4142135623730951, runs: 2}, "
                       + "{step: 3, mean: 4, std: 1.4142135623730951, runs: 2}]")
        XCTAssertEqual(run(s, sink, "band([h1, 3], \"reward\")", expect: .runtimeError).components(separatedBy: "\n")[0],
                       "t.medr1:1:1: error: band: runs must be a list or record of histories (trainers or t.history), got list")
    }

    func testRunsAreNamedByKeysOrPosition() throws {
        let (s, sink) = try session()
        run(s, sink, Self.histories)
        let list = try XCTUnwrap(Bindings.runs(try value(s, sink, "[h1, h2]")))
        XCTAssertEqual(list.map(\.name), ["run 1", "run 2"])
        let record = try XCTUnwrap(Bindings.runs(try value(s, sink, "{a: h1, \"seed 2\": h2}")))
        XCTAssertEqual(record.map(\.name), ["a", "seed 2"])
        // A single history, or lists of numbers, are not runs: plot draws them as before.
        XCTAssertNil(Bindings.runs(try value(s, sink, "h1")))
        XCTAssertNil(Bindings.runs(try value(s, sink, "{a: [1, 2], b: [3]}")))
    }

    /// The overlay has one line per run named by the legend; the band plot a
    /// filled band and a mean line per metric; both render to PNG.
    func testOverlayAndBandPlots() throws {
        let (s, sink) = try session()
        run(s, sink, Self.histories)
        let a = Arguments(callee: "plot")
        let runs = try XCTUnwrap(Bindings.runs(try value(s, sink, "{seed1: h1, seed2: h2}")))
        let overlay = try Bindings.runsPlotSpec(runs, keys: nil, title: nil, smooth: 1, band: false, a)
        guard case .lines(let series, _) = overlay.kind else { return XCTFail("\(overlay.kind)") }
        XCTAssertEqual(series.map(\.name), ["seed1", "seed2"])
        XCTAssertEqual(series[1].y, [3, 4, 5])
        let band = try Bindings.runsPlotSpec(runs, keys: ["reward"], title: nil, smooth: 1, band: true, a)
        XCTAssertEqual(band.title, "reward: mean ± std over 2 runs")
        let script = Plotter.script(band, target: .pngData(width: 400, height: 300))
        XCTAssertTrue(script.contains("with filledcurves fc rgb '#1f77b4' fs transparent solid 0.2 noborder title 'reward ± std'"), script)
        XCTAssertTrue(script.contains("'-' using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'reward mean'"), script)
        // x, mean - std, mean + std at step 1: mean 2, std sqrt(2).
        XCTAssertTrue(script.contains("\n1.0 0.5857864376269049 3.414213562373095\n"), script)
        run(s, sink, "plot {seed1: h1, seed2: h2}, [\"reward\"], band: true, to: \"b.png\"\nplot [h1, h2], to: \"o.png\"")
        for name in ["b.png", "o.png"] {
            let png = try Data(contentsOf: s.options.baseDirectory.appendingPathComponent(name))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        }
        XCTAssertEqual(run(s, sink, "plot h1, band: true", expect: .runtimeError).components(separatedBy: "\n")[0],
                       "t.medr1:1:1: error: plot: band: needs several runs: a list or record of histories (trainers or t.history)")
        XCTAssertEqual(run(s, sink, "plot [h1, h2], [\"nope\"]", expect: .runtimeError).components(separatedBy: "\n")[0],
                       "t.medr1:1:1: error: plot: no metric 'nope' in any run; metrics: step, mode, reward")
    }

    func testCSVOfRunsQuotesAndDefusesFormulas() throws {
        let (s, sink) = try session()
        run(s, sink, Self.histories + """

            write_csv("runs.csv", {seed1: h1, seed3: h3})
            write_csv("odd.csv", [{name: "=cmd|' /C calc'!A0", note: "a, \\"b\\"\\nc", x: -1.5, y: nil}])
            """)
        let dir = s.options.baseDirectory
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("runs.csv"), encoding: .utf8), """
            run,step,mode,reward,kl
            seed1,1,grpo,1,
            seed1,2,grpo,2,
            seed1,3,grpo,3,
            seed3,1,grpo,5,
            seed3,3,grpo,,0.5

            """)
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("odd.csv"), encoding: .utf8),
                       "name,note,x,y\n'=cmd|' /C calc'!A0,\"a, \"\"b\"\"\nc\",-1.5,\n")
    }

    /// `write_json(t.last.completions)` used to fail on the sample inside each
    /// completion; rollouts now write as data, and as TRL-style JSONL rows.
    func testRolloutsExportAsJSONAndJSONL() throws {
        let (s, sink) = try session()
        run(s, sink, TrainingBindingTests.setup + """

            let t = grpo(m, data, group: 2, prompts: 2, max_tokens: 4, seed: 1)
            step t, quiet: true
            write_json("c.json", t.last.completions)
            write_jsonl("r.jsonl", t.last)
            write_jsonl("h.jsonl", t.history)
            write_csv("r.csv", t.last)
            """)
        let dir = s.options.baseDirectory
        let completions = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("c.json"))) as? [[String: Any]])
        XCTAssertEqual(completions.count, 4)
        let sample = try XCTUnwrap(completions[0]["sample"] as? [String: Any])
        XCTAssertEqual(Set(sample.keys), ["id", "question", "options", "answer", "answer_index", "modality", "question_type", "dataset"])
        let lines = try String(contentsOf: dir.appendingPathComponent("r.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        let row = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertTrue(lines[0].hasPrefix("{\"step\":1,\"prompt\":\""), String(lines[0]))
        XCTAssertEqual(Set(row.keys), ["step", "prompt", "completion", "format", "accuracy", "reward", "advantage", "sample",
                                      "answer", "length", "finish_reason"])
        XCTAssertEqual(row["step"] as? Int, 1)
        let history = try String(contentsOf: dir.appendingPathComponent("h.jsonl"), encoding: .utf8)
        XCTAssertTrue(history.hasPrefix("{\"step\":1,\"mode\":\"grpo\",\"loss\":"), history)
        let csv = try String(contentsOf: dir.appendingPathComponent("r.csv"), encoding: .utf8)
        XCTAssertTrue(csv.hasPrefix("step,prompt,completion,format,accuracy,reward,advantage,sample,answer,length,finish_reason\n1,"), csv)
    }

    /// Eval results side by side, one column per run, then mean and std.
    func testCompareEvalsSideBySide() throws {
        let (s, sink) = try session()
        run(s, sink, TrainingBindingTests.setup + """

            let m2 = model(tokenizer: tok, seed: 2, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
            let c = compare({seed1: eval(m, data, max_tokens: 4), seed2: eval(m2, data, max_tokens: 4)})
            let one = compare([eval(m, data, max_tokens: 4, name: "only")])
            """)
        guard case .host(let c as TableValue)? = s.interpreter.globals.lookup("c"),
              case .host(let one as TableValue)? = s.interpreter.globals.lookup("one") else { return XCTFail() }
        XCTAssertEqual(c.columns, ["", "seed1", "seed2", "mean", "std"])
        XCTAssertEqual(Array(c.rows.map { $0[0] }.prefix(2)), [.string("accuracy"), .string("format")])
        // Accuracy, format, then the modalities and question types the 16 samples have.
        XCTAssertEqual(c.rows.count, 13, c.render())
        // Untrained models answer nothing: every accuracy is 0, so the mean and std are 0.
        XCTAssertEqual(c.rows[0], [.string("accuracy"), .number(0), .number(0), .number(0), .number(0)])
        XCTAssertEqual(one.columns, ["", "only"])
        XCTAssertEqual(run(s, sink, "compare([1])", expect: .runtimeError).components(separatedBy: "\n")[0],
                       "t.medr1:1:1: error: compare: evals[0] must be an eval result, got number")
    }
}
