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
}
