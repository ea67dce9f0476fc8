import XCTest
import TestSupport
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Scripts through the built binary with the real Runtime: piped sessions,
/// exit codes, `:save` then `run`, notebooks.
final class EndToEndTests: XCTestCase {
    func testPipedStatementsEchoValuesWithoutPrompts() throws {
        let result = try BinaryHarness.run([], stdin: "let x = [1,\n2]\nx\nlen(\"abc\")\nfn sq(a) = a * a\nsq(1.5)\n")
        XCTAssertEqual(result.stdout, "[1, 2]\n3\n2.25\n")
        XCTAssertEqual(result.stderr, "")
        XCTAssertEqual(result.status, 0)
    }

    /// Escape sequences in printed values, record keys and error messages are
    /// shown, not sent to the terminal; plain text and layout stay as they are.
    func testTextFromDataCannotDriveTheTerminal() throws {
        let result = try BinaryHarness.run([], stdin: #"""
            print("clear\u{1B}[2J\u{9B}H title\u{1B}]0;pwn\u{7} tab\tend")
            let r = {"k\u{1B}[31m": 1}
            r
            :vars
            nope_\u{1B}
            print("plain ünïcode\nline")

            """#)
        XCTAssertEqual(result.stdout, #"""
            clear\u{1B}[2J\u{9B}H title\u{1B}]0;pwn\u{7} tab\#tend
            {k\u{1B}[31m: 1}
            r  {k\u{1B}[31m: 1}
            plain ünïcode
            line

            """#)
        XCTAssertFalse(result.stderr.unicodeScalars.contains { $0.value == 0x1B }, result.stderr)
        XCTAssertTrue(result.stderr.contains(#"\u{1B}"#), result.stderr)
    }

    func testAnErrorCostsOneStatement() throws {
        let result = try BinaryHarness.run([], stdin: "let a = 2\nnope + 1\na * 10\n")
        XCTAssertEqual(result.stdout, "20\n")
        XCTAssertTrue(result.stderr.contains("error: 'nope' is not defined"), result.stderr)
        XCTAssertEqual(result.status, 70, "a failed statement on a pipe fails the run")
    }

    func testSyntaxErrorExits65AndRuntimeErrorExits70() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-exit")
        let syntax = dir.appendingPathComponent("syntax.medr1")
        try "print(1)\nlet = 3\n".write(to: syntax, atomically: true, encoding: .utf8)
        let s = try BinaryHarness.run(["run", syntax.path])
        XCTAssertEqual(s.status, 65)
        XCTAssertEqual(s.stdout, "", "a syntax error anywhere runs nothing")
        XCTAssertTrue(s.stderr.hasPrefix("\(syntax.path):2:5: error: "), s.stderr)
        XCTAssertTrue(s.stderr.contains("let = 3\n    ^"), s.stderr)

        let runtime = dir.appendingPathComponent("runtime.medr1")
        try "print(1)\nboom(2)\nprint(3)\n".write(to: runtime, atomically: true, encoding: .utf8)
        let r = try BinaryHarness.run(["run", runtime.path])
        XCTAssertEqual(r.status, 70)
        XCTAssertEqual(r.stdout, "1\n", "the script stops at the failing statement")
        XCTAssertTrue(r.stderr.hasPrefix("\(runtime.path):2:1: error: 'boom' is not defined"), r.stderr)

        let ok = dir.appendingPathComponent("ok.medr1")
        try "let xs = map(range(4), fn(x) => x * x)\nprint(sum(xs))\n".write(to: ok, atomically: true, encoding: .utf8)
        let o = try BinaryHarness.run(["run", ok.path])
        XCTAssertEqual(o.status, 0)
        XCTAssertEqual(o.stdout, "14\n")
    }

    func testSaveThenRunGivesTheSameResult() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-save")
        let saved = dir.appendingPathComponent("session.medr1").path
        let session = try BinaryHarness.run([], stdin: """
            let a = 3
            fn f(x) {
              return x * a
            }
            print(f(2))
            nope
            let words = split("grpo on tiny models")
            print("done", f(5), len(words))
            :save \(saved)

            """)
        XCTAssertEqual(session.stdout, "6\ndone 15 4\nsaved 5 statements to \(saved)\n")
        XCTAssertEqual(try String(contentsOfFile: saved, encoding: .utf8), """
            let a = 3
            fn f(x) {
              return x * a
            }
            print(f(2))
            let words = split("grpo on tiny models")
            print("done", f(5), len(words))

            """)
        let rerun = try BinaryHarness.run(["run", saved])
        XCTAssertEqual(rerun.status, 0)
        XCTAssertEqual(rerun.stdout, "6\ndone 15 4\n")
    }

    /// Under run, notebook and replay a script's paths resolve against its
    /// folder, from whatever directory it is started; at the prompt, against
    /// the working directory. Flags (--metrics, -o) stay relative to the latter.
    func testScriptPathsResolveAgainstTheScriptsFolder() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-paths")
        let sub = dir.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try "hello from sub".write(to: sub.appendingPathComponent("in.txt"), atomically: true, encoding: .utf8)
        try """
            print(read_text("in.txt"))
            write_text("out/written.txt", "x")
            let data = synth(n: 8, seed: 5, size: 16, to: "data")
            let m = model(tokenizer: data.tokenizer(vocab: 280), seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8, max_seq: 96)
            step sft(m, data, lr: 3e-3, batch: 4), 1
            plot [1, 2, 3], to: "out/p.png"

            """.write(to: sub.appendingPathComponent("s.medr1"), atomically: true, encoding: .utf8)
        let run = try BinaryHarness.run(["run", "sub/s.medr1", "--metrics", "m.jsonl"], directory: dir)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("hello from sub\n"), run.stdout)
        XCTAssertTrue(run.stdout.hasSuffix("plot written to \(sub.path)/out/p.png\n"), run.stdout)
        for file in ["out/written.txt", "out/p.png", "data"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: sub.appendingPathComponent(file).path), file)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), file)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("m.jsonl").path))
        try FileManager.default.removeItem(at: sub.appendingPathComponent("out"))

        let notebook = try BinaryHarness.run(["notebook", "sub/s.medr1", "-o", "page.html"], directory: dir)
        XCTAssertEqual(notebook.status, 0, notebook.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("page.html").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: sub.appendingPathComponent("out/p.png").path))
        XCTAssertTrue(try String(contentsOf: dir.appendingPathComponent("page.html"), encoding: .utf8).contains("hello from sub"))

        let replay = try BinaryHarness.run(["replay", "sub/s.medr1", "--check", "m.jsonl"], directory: dir)
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertTrue(replay.stdout.contains("hello from sub\n"), replay.stdout)
        XCTAssertTrue(replay.stdout.hasSuffix("reproduced 1 step exactly\n"), replay.stdout)

        let prompt = try BinaryHarness.run([], stdin: "write_text(\"typed.txt\", \"y\")\nprint(read_text(\"sub/in.txt\"))\n", directory: dir)
        XCTAssertEqual(prompt.stdout, "hello from sub\n", prompt.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("typed.txt").path))
    }

    /// A notebook with text, a plot, a shown sample, a table, a failing cell and
    /// a cell after it: the page is well-formed and carries every cell and image.
    func testNotebookPageCarriesEveryCellAndItsImages() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-notebook")
        let script = dir.appendingPathComponent("nb.medr1")
        try """
            # %% numbers
            let xs = [1, 4, 9, 16]
            print("squares", xs)
            mean(xs)
            # %% a plot
            plot(xs)
            # %% data
            let d = synth(n: 16, seed: 3, to: "data")
            show d[0]
            counts(d)
            # %% broken <cell>
            let y = nope + 1
            # %% after
            print("still running & fine")

            """.write(to: script, atomically: true, encoding: .utf8)
        let html = dir.appendingPathComponent("nb.html")
        let strict = try BinaryHarness.run(["notebook", script.path, "-o", html.path], directory: dir)
        XCTAssertEqual(strict.status, 70, "a failed cell fails the run unless --allow-errors")
        XCTAssertEqual(strict.stderr, "wrote \(html.path): 5 cells, 2 images, 1 failed\n")

        let page = try String(contentsOf: html, encoding: .utf8)
        let summary = try XMLSummary.parse(page)
        XCTAssertEqual(summary.count(of: "section"), 5)
        XCTAssertEqual(summary.count(of: "img"), 2)
        XCTAssertEqual(summary.count(of: "table"), 1)
        for src in summary.imageSources {
            XCTAssertTrue(src.hasPrefix("data:image/png;base64,"), String(src.prefix(40)))
            let png = Data(base64Encoded: String(src.dropFirst("data:image/png;base64,".count))) ?? Data()
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            XCTAssertGreaterThan(png.count, 100)
        }
        XCTAssertTrue(page.contains("<h2><span class=\"number\">[4]</span> broken &lt;cell&gt;</h2>"))
        XCTAssertTrue(page.contains("error: &#39;nope&#39; is not defined"))
        XCTAssertTrue(page.contains("<pre class=\"output\">still running &amp; fine\n</pre>"))
        XCTAssertTrue(page.contains("<pre class=\"output\">squares [1, 4, 9, 16]\n7.5\n</pre>"))

        let md = dir.appendingPathComponent("nb.md")
        let lenient = try BinaryHarness.run(["notebook", script.path, "-o", md.path, "--allow-errors"], directory: dir)
        XCTAssertEqual(lenient.status, 0)
        let text = try String(contentsOf: md, encoding: .utf8)
        XCTAssertTrue(text.contains("](nb_files/cell2-1.png)"))
        XCTAssertTrue(text.contains("](nb_files/cell3-1.png)"))
        let plot = try Data(contentsOf: dir.appendingPathComponent("nb_files/cell2-1.png"))
        XCTAssertEqual(Array(plot.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }
}

/// `run --metrics` then `replay --check`: an unchanged run reproduces bit for
/// bit; a recording altered in its last digit is caught at that step and metric.
final class ReplayEndToEndTests: XCTestCase {
    func testReplayReproducesAndFindsTheFirstDivergence() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-replay")
        let script = dir.appendingPathComponent("tiny.medr1")
        try """
            let data = synth(n: 12, seed: 5, to: "data")
            let m = model(tokenizer: data.tokenizer(vocab: 280), seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, max_seq: 96)
            step sft(m, data, lr: 3e-3, batch: 4), 2
            step grpo(m, data, group: 2, prompts: 2, max_tokens: 6), 1

            """.write(to: script, atomically: true, encoding: .utf8)
        let recording = dir.appendingPathComponent("run.jsonl")
        let first = try BinaryHarness.run(["run", script.path, "--seed", "3", "--threads", "1", "--metrics", recording.path],
                                          directory: dir)
        XCTAssertEqual(first.status, 0, first.stderr)
        let lines = try String(contentsOf: recording, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, "header + 2 sft steps + 1 grpo step")
        XCTAssertTrue(lines[0].contains("\"seed\": 3, \"threads\": 1"), lines[0])

        let same = try BinaryHarness.run(["replay", script.path, "--check", recording.path], directory: dir)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.hasSuffix("reproduced 3 steps exactly\n"), same.stdout)

        // Alter the last digit of step 2's loss.
        var step2 = lines[2]
        let lossRange = try XCTUnwrap(step2.range(of: #""loss": [-0-9.e]+"#, options: .regularExpression))
        let loss = String(step2[lossRange].dropFirst("\"loss\": ".count))
        let digit = Int(String(loss.last!))!
        let altered = String(loss.dropLast()) + String((digit + 1) % 10)
        step2.replaceSubrange(lossRange, with: "\"loss\": \(altered)")
        try ([lines[0], lines[1], step2, lines[3]].joined(separator: "\n") + "\n")
            .write(to: recording, atomically: true, encoding: .utf8)
        let changed = try BinaryHarness.run(["replay", script.path, "--check", recording.path], directory: dir)
        XCTAssertEqual(changed.status, 1)
        XCTAssertTrue(changed.stdout.hasSuffix("diverged at step 2 (sft), metric loss: recorded \(altered), replayed \(loss)\n"),
                      changed.stdout)
    }
}
