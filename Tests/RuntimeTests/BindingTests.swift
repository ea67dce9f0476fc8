import XCTest
import Foundation
@testable import Runtime

/// Bindings end to end through the language, on a tiny SynthMed set.
final class BindingTests: XCTestCase {
    func session() throws -> (Session, CollectingSink) {
        let sink = CollectingSink()
        return (Session(options: SessionOptions(seed: 5, sink: sink, baseDirectory: try TestSupportDir.make())), sink)
    }

    func run(_ s: Session, _ sink: CollectingSink, _ src: String) -> String {
        sink.clear()
        let outcome = s.run(source: src, file: "t.medr1")
        XCTAssertEqual(outcome, .ok, sink.text)
        return sink.text
    }

    /// Runs each one-line script and checks it fails with the error given, at 1:1.
    func expectErrors(_ s: Session, _ sink: CollectingSink, _ cases: [(String, String)],
                      file: StaticString = #filePath, line: UInt = #line) {
        for (source, message) in cases {
            sink.clear()
            XCTAssertEqual(s.run(source: source, file: "e.medr1"), .runtimeError, source, file: file, line: line)
            XCTAssertTrue(sink.text.hasPrefix("e.medr1:1:1: error: \(message)"), "\(source): \(sink.text)", file: file, line: line)
        }
    }

    func testSynthSplitCountsShow() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let data = synth(n: 16, seed: 7, size: 16, to: "d")
        print(len(data), data.count)
        let tr = data.split(train: 0.75, seed: 1)
        print(len(tr.train), len(tr.test))
        let ct = data.filter(fn(s) => s.modality == "CT")
        print(all(map(ct.take(100).take(3), fn(s) => s.modality == "CT")))
        let s0 = data[0]
        print(s0.options[s0.answer_index] == s0.answer, len(s0.options))
        let c = data.counts()
        print(c.column("total")[-1])
        show s0
        """)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(5)), ["16 16", "12 4", "true", "true 4", "16"])
        XCTAssertTrue(out.contains("<- answer"), out)
        // show emitted a half-block image before the text.
        XCTAssertTrue(sink.events.contains { if case .image(let png, let t) = $0 { return png != nil && t.contains("▀") == false && !t.isEmpty } else { return false } }, "\(sink.events)")
        // Reloading the generated folder gives the same samples.
        let again = run(s, sink, "let d2 = load(\"d\")\nprint(len(d2), d2[0].id == data[0].id)")
        XCTAssertEqual(again, "16 true")
    }

    func testBadInputsAreClearErrors() throws {
        let (s, sink) = try session()
        XCTAssertEqual(s.run(source: "synth(n: 4, bogus: 1)", file: "e.medr1"), .runtimeError)
        XCTAssertTrue(sink.text.hasPrefix("e.medr1:1:1: error: synth has no option 'bogus'; options: n, seed"), sink.text)
        sink.clear()
        XCTAssertEqual(s.run(source: "load(\"nowhere\")", file: "e.medr1"), .runtimeError)
        XCTAssertTrue(sink.text.contains("does not exist"), sink.text)
    }

    /// Host objects indexed beyond Int's range, token ids that are not whole
    /// numbers and negative seeds are errors, not traps.
    func testHugeIndexesIdsAndNegativeSeedsAreErrors() throws {
        let (s, sink) = try session()
        XCTAssertEqual(run(s, sink, "let data = synth(n: 4, seed: 3, size: 16, to: \"d\")\nlet tok = data.tokenizer(vocab: 300)"), "")
        let cases = [
            ("data[1e300]", "index 1e+300 out of range: SynthMed has 4 samples"),
            ("data[-1e300]", "index -1e+300 out of range: SynthMed has 4 samples"),
            ("data.counts()[1e300]", "row 1e+300 out of range: the table has 4 rows"),
            ("tok.decode([1e300])", "tokenizer.decode: 'ids'[0] must be a whole number, got 1e+300"),
            ("tok.decode([65, 0.5])", "tokenizer.decode: 'ids'[1] must be a whole number, got 0.5"),
            ("synth(n: 2, seed: -1, to: \"e\")", "synth: seed must be a whole number 0 or more, got -1"),
            ("data.shuffle(seed: -1)", "dataset.shuffle: seed must be a whole number 0 or more, got -1"),
            ("model(tokenizer: tok, seed: -1)", "model: seed must be a whole number 0 or more, got -1"),
            ("data.split(train: 2)", "dataset.split: train must be a fraction in [0, 1], got 2"),
            ("data.split(train: exp(1000) - exp(1000))", "dataset.split: train must be a fraction in [0, 1], got nan"),
        ]
        expectErrors(s, sink, cases)
    }

    func testModelAndRewards() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let data = synth(n: 16, seed: 3, size: 16, to: "d")
        let tok = data.tokenizer(vocab: 300)
        let m = model(tokenizer: tok, seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
        print(m.config.d_model, m.config.vocab_size == tok.vocab_size, m.parameters > 0)
        print(format().score("<think>x</think><answer>A</answer>"), format().score("A"))
        let s0 = data[0]
        print(accuracy().score("<think>t</think><answer>${s0.answer}</answer>", sample: s0))
        let brief = reward(fn(c) => if c.length < 5 and c.answer != nil then 0.5 else 0, name: "brief")
        print(brief.name, brief.score("<answer>A</answer>"))
        fn decode_ok(t) = t.decode(t.encode("<think>hi</think>")) == "<think>hi</think>"
        print(decode_ok(tok))
        """)
        XCTAssertEqual(out, "16 true true\n1 0\n1\nbrief 0.5\ntrue")
    }

    /// Plot sizes are bounded before gnuplot sees them: 1e14 columns printed a
    /// blank screen and 100000 pixels a cairo error.
    func testPlotSizesAreBounded() throws {
        let (s, sink) = try session()
        let cases = [
            ("plot([1, 2, 3], width: 1e14, height: 10)", "plot: width must be in 10...500 characters for a plot in the terminal, got 100000000000000"),
            ("plot([1, 2, 3], width: 100000, height: 100, to: \"w.png\")", "plot: width must be in 16...10000 pixels for an image, got 100000"),
            ("plot([1, 2, 3], height: 0, to: \"w.svg\")", "plot: height must be in 16...10000 pixels for an image, got 0"),
            ("plot([1, 2, 3], smooth: -5)", "plot: smooth must be in 1...1000000 points (1 for no smoothing), got -5"),
            ("plot([1, 2, 3], smooth: 0, to: \"w.png\")", "plot: smooth must be in 1...1000000 points (1 for no smoothing), got 0"),
            ("plot([1, 2, 3], smooth: 1e7)", "plot: smooth must be in 1...1000000 points (1 for no smoothing), got 10000000"),
        ]
        expectErrors(s, sink, cases)
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.options.baseDirectory.appendingPathComponent("w.png").path))
    }

    func testPlotsFromScripts() throws {
        let (s, sink) = try session()
        _ = run(s, sink, """
        let hist = map(range(20), fn(i) => {step: i + 1, reward: i / 20, kl: 0.01 * i})
        plot(hist, ["reward", "kl"], to: "plots/r.png")
        plot([3, 1, 4, 1, 5, 9, 2, 6], width: 60, height: 15)
        """)
        let png = try Data(contentsOf: s.options.baseDirectory.appendingPathComponent("plots/r.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertGreaterThan(png.count, 2000)
        let dumb = sink.events.compactMap { e -> String? in if case .plot(_, _, let t?, _) = e { return t } else { return nil } }
        XCTAssertEqual(dumb.count, 1)
        XCTAssertGreaterThanOrEqual(dumb[0].split(separator: "\n").count, 10)
        // Notebooks get PNG bytes for a plot without `to:`.
        let cells = s.runNotebook(source: "# %%\nplot(synth(n: 8, seed: 1, size: 16, to: \"d\").counts())", file: "nb.medr1")
        let pngs = cells[0].outputs.compactMap { e -> Data? in if case .plot(_, let p?, _, _) = e { return p } else { return nil } }
        XCTAssertEqual(pngs.count, 1, "\(cells[0].outputs)")
        XCTAssertEqual(Array(pngs[0].prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }
}
