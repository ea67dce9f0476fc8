import XCTest
import Foundation
import Lang

/// Guards against accidentally quadratic parsing. The real figure is measured
/// in an optimised build (docs/language.md, section 9: ~60 ms CPU for these
/// 10,000 lines); this debug-build bound is loose on purpose.
final class SpeedTests: XCTestCase {
    static func tenThousandLines() -> String {
        var lines: [String] = []
        var i = 0
        while lines.count < 10_000 {
            lines += [
                "# %% block \(i)",
                "let data\(i) = synth(n: 2000, seed: \(i))   # a comment",
                "let tr = data\(i).split(train: 0.8, seed: 1)",
                "show tr.train[\(i % 7)]",
                "sft m, tr.train, steps: 300, lr: 3e-3",
                "fn brevity\(i)(c) = if len(c.think) < 200 then 0.1 else 0.0",
                "let t = grpo(m, tr.train, rewards: [format(), accuracy(), brevity\(i)],",
                "             weights: [1, 1, 0.5], group: 8, beta: 0.04, lr: 1e-4, seed: 3)",
                "for k in 0..<10 {",
                "    if k % 2 == 0 { continue } else { step t, k }",
                "    let msg = \"step ${k}: reward ${t.last.reward * 100}%\"",
                "}",
                "plot t.metrics, [\"reward\", \"reward/accuracy\", \"kl\"]",
                "rescore t.last with: [fn(c) => c.text ~ \"<answer>\\\\s*[A-D]\\\\s*</answer>\"]",
            ]
            i += 1
        }
        return lines.prefix(10_000).joined(separator: "\n") + "\n"
    }

    func testTenThousandLines() {
        let source = Self.tenThousandLines()
        let start = clock()
        let (program, diagnostics) = Parser.parseScript(source: source, file: "bench.medr1")
        let seconds = Double(clock() - start) / Double(CLOCKS_PER_SEC)
        XCTAssertEqual(diagnostics.count, 0)
        XCTAssertEqual(program.statements.count, 7_144)
        XCTAssertLessThan(seconds, 10, "10,000 lines took \(seconds) s of CPU in this build")
        print("LangTests: 10,000 lines parsed in \(Int(seconds * 1000)) ms CPU (this build)")
    }
}
