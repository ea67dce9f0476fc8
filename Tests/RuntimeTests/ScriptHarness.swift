import XCTest
import Foundation
@testable import Runtime

/// Runs every Scripts/*.medr1 and compares what it prints with its
/// `# expect: text` lines, in order (craftinginterpreters' test harness).
/// Output is taken line by line: printed text, echoed commands, and for an
/// error its first line (`file:line:col: error: message`) plus its `  at`
/// stack lines. Scripts run as notebooks, so an error ends its `# %%` cell
/// and the next cell goes on: one script can pin several errors.
final class ScriptHarness: XCTestCase {
    static func scriptsDirectory() -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Scripts")
    }

    static func expectations(_ source: String) -> [String] {
        source.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line in
            guard let r = line.range(of: "# expect: ") else { return nil }
            return String(line[r.upperBound...])
        }
    }

    static func outputLines(_ cells: [CellResult]) -> [String] {
        var out: [String] = []
        for c in cells {
            for e in c.outputs {
                switch e {
                case .text(let s): out += s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                case .table(_, _, _, let t): out += t.split(separator: "\n").map(String.init)
                case .error(let s):
                    let lines = s.split(separator: "\n").map(String.init)
                    out.append(lines[0])
                    out += lines.dropFirst().filter { $0.hasPrefix("  at ") }
                default: break
                }
            }
        }
        return out
    }

    func testScripts() throws {
        let dir = Self.scriptsDirectory()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".medr1") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 5, "scripts missing from \(dir.path)")
        for f in files {
            let source = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            let work = try TestSupportDir.make()
            let session = Session(options: SessionOptions(seed: 1, sink: CollectingSink(), baseDirectory: work))
            let cells = session.runNotebook(source: source, file: f)
            let got = Self.outputLines(cells)
            let want = Self.expectations(source)
            for i in 0..<max(got.count, want.count) {
                let g = i < got.count ? got[i] : "<nothing>"
                let w = i < want.count ? want[i] : "<nothing>"
                if g != w {
                    XCTFail("\(f): output line \(i + 1): expected \(w.debugDescription), got \(g.debugDescription)\nall output:\n\(got.joined(separator: "\n"))")
                    break
                }
            }
        }
    }
}
