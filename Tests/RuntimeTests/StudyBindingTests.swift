import XCTest
import Foundation
import MedR1Lib
@testable import Runtime

/// `study(...)` end to end through the language on the training tests' tiny model.
final class StudyBindingTests: XCTestCase {
    func testHeatmapCellLabelsKeepOnlyNumberCharacters() throws {
        let heat = PlotSpec(title: "change", kind: .heatmap(rows: ["CT", "MRI"], columns: ["CT", "MRI"], values: [[0.1, -0.2], [nil, 0.5]],
                                                            labels: [["+0.10±0.02", "-0.20±0.01"], ["x", "+0.50±0.00'\nsystem \"rm\""]],
                                                            signed: true))
        let dir = try TestSupportDir.make()
        let svg = dir.appendingPathComponent("h.svg")
        _ = try Plotter.render(heat, to: .svgFile(svg, width: 500, height: 300))
        let text = try String(contentsOf: svg, encoding: .utf8)
        XCTAssertTrue(text.contains("+0.10±0.02"), text)
        XCTAssertTrue(text.contains("+0.50±0.00"), text)
        XCTAssertFalse(text.contains("system"), text)
    }

    func testStudyTablesPlotAndErrors() throws {
        let sink = CollectingSink()
        let s = Session(options: SessionOptions(seed: 5, sink: sink, baseDirectory: try TestSupportDir.make()))
        XCTAssertEqual(s.run(source: TrainingBindingTests.setup, file: "setup.medr1"), .ok, sink.text)
        sink.clear()
        let outcome = s.run(source: """
        let parts = data.split(train: 0.5, seed: 1)
        let st = study(m, parts.train, parts.test, by: "question_type", method: "sft", steps: 2, seeds: [1, 2], batch: 4, max_tokens: 6)
        print(st.table.column("trained on")[0] == st.groups[0], len(st.seeds), len(st.base) == len(st.groups))
        print(st.table.rows[len(st.groups)][0], st.change.rows[0][1] == st.table.rows[0][1] - st.base[0])
        print(st.seen.std >= 0, st.unseen.mean >= 0)
        show st
        plot st, to: "p/study.png"
        plot st, ["change"], to: "p/change.png"
        """, file: "t.medr1")
        XCTAssertEqual(outcome, RunOutcome.ok, sink.text)
        let out = sink.text
        XCTAssertTrue(out.contains("true 2 true"), out)
        XCTAssertTrue(out.contains("base true"), out)
        XCTAssertTrue(out.contains("true true"), out)
        XCTAssertTrue(out.contains("study sft by question_type"), out)
        XCTAssertTrue(out.contains(" ± "), out)
        for f in ["p/study.png", "p/change.png"] {
            let png = try Data(contentsOf: s.options.baseDirectory.appendingPathComponent(f))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], f)
        }
        sink.clear()
        XCTAssertNotEqual(s.run(source: "study(m, data, data, method: \"sft\", beta: 0.1)", file: "bad.medr1"), RunOutcome.ok)
        XCTAssertTrue(sink.text.contains("beta: is a grpo option; method \"sft\" does not use it"), sink.text)
        sink.clear()
        XCTAssertNotEqual(s.run(source: "study(m, data, data, by: \"organ\")", file: "bad.medr1"), RunOutcome.ok)
        XCTAssertTrue(sink.text.contains("unknown by: \"organ\"; use \"modality\" or \"question_type\""), sink.text)
        sink.clear()
        XCTAssertNotEqual(s.run(source: "study(m, data, data, seeds: [])", file: "bad.medr1"), RunOutcome.ok)
        XCTAssertTrue(sink.text.contains("seeds is empty"), sink.text)
        XCTAssertNotNil(HelpTable.entry("study"))
    }
}
