import XCTest
import Foundation
@testable import Runtime

final class SessionTests: XCTestCase {
    func makeSession(interactive: Bool = true, metrics: String? = nil) throws -> (Session, CollectingSink) {
        let sink = CollectingSink()
        let s = Session(options: SessionOptions(seed: 3, metricsPath: metrics, interactive: interactive, sink: sink,
                                                baseDirectory: try TestSupportDir.make()))
        return (s, sink)
    }

    func testPushNeedsMoreThenRuns() throws {
        let (s, sink) = try makeSession()
        XCTAssertEqual(s.push("fn add(a, b) {"), .needsMore)
        XCTAssertEqual(s.push("  a + b"), .needsMore)
        XCTAssertEqual(s.push("}"), .ran(ok: true))
        XCTAssertEqual(s.push("add(2,"), .needsMore)
        XCTAssertEqual(s.push("  3)"), .ran(ok: true))
        XCTAssertEqual(sink.text, "5")
        XCTAssertEqual(s.successfulStatements, ["fn add(a, b) {\n  a + b\n}", "add(2,\n  3)"])
    }

    func testErrorsCostOneStatement() throws {
        let (s, sink) = try makeSession()
        XCTAssertEqual(s.push("let x = 41"), .ran(ok: true))
        XCTAssertEqual(s.push("x + nope"), .ran(ok: false))
        XCTAssertEqual(sink.text, "<stdin>:1:5: error: 'nope' is not defined\nx + nope\n    ^~~~")
        sink.clear()
        XCTAssertEqual(s.push("let = 3"), .ran(ok: false))
        XCTAssertTrue(sink.text.hasPrefix("<stdin>:1:5: error:"), sink.text)
        sink.clear()
        XCTAssertEqual(s.push("x + 1"), .ran(ok: true))
        XCTAssertEqual(sink.text, "42")
        XCTAssertEqual(s.successfulStatements, ["let x = 41", "x + 1"])
        XCTAssertEqual(s.variables().map(\.name), ["x"])
        XCTAssertEqual(s.variables().map(\.summary), ["41"])
    }

    func testEchoOnlyInteractive() throws {
        let (s, sink) = try makeSession(interactive: false)
        XCTAssertEqual(s.run(source: "1 + 1\nprint(\"shown\")\nlet y = 2\n", file: "a.medr1"), .ok)
        XCTAssertEqual(sink.text, "shown")
    }

    func testRunOutcomes() throws {
        let (s, sink) = try makeSession(interactive: false)
        XCTAssertEqual(s.run(source: "print(1)\nlet = \n", file: "bad.medr1"), .syntaxError)
        XCTAssertEqual(sink.events.count, 1, "a syntax error runs nothing: \(sink.text)")
        sink.clear()
        XCTAssertEqual(s.run(source: "print(1)\nprint(1 / 0)\nprint(3)\n", file: "rt.medr1"), .runtimeError)
        XCTAssertEqual(sink.text, "1\nrt.medr1:2:9: error: division by zero\nprint(1 / 0)\n        ^")
        XCTAssertEqual(s.run(source: "print(2)", file: "ok.medr1"), .ok)
    }

    func testNotebookCells() throws {
        let (s, _) = try makeSession(interactive: false)
        let src = """
        let a = 1
        # %% first
        print("a is ${a}")
        a + 1
        # %% broken
        print(nope)
        print("not reached")
        # %%
        print("after")
        """
        let cells = s.runNotebook(source: src, file: "nb.medr1")
        XCTAssertEqual(cells.map(\.title), [nil, "first", "broken", ""])
        XCTAssertEqual(cells.map(\.source), ["let a = 1", "print(\"a is ${a}\")\na + 1", "print(nope)\nprint(\"not reached\")", "print(\"after\")"])
        XCTAssertEqual(cells.map(\.ok), [true, true, false, true])
        XCTAssertEqual(cells[1].outputs.count, 2)
        if case .text(let t) = cells[1].outputs[1] { XCTAssertEqual(t, "2") } else { XCTFail("\(cells[1].outputs)") }
        if case .error(let e) = cells[2].outputs[0] { XCTAssertTrue(e.hasPrefix("nb.medr1:6:7: error: 'nope' is not defined"), e) } else { XCTFail() }
        XCTAssertEqual(cells[3].outputs.count, 1)
    }

    func testResetAndHelp() throws {
        let (s, _) = try makeSession()
        _ = s.push("let z = [1, 2, 3]")
        XCTAssertEqual(s.variables().first?.summary, "[1, 2, 3]")
        s.reset()
        XCTAssertTrue(s.variables().isEmpty)
        XCTAssertTrue(s.successfulStatements.isEmpty)
        XCTAssertEqual(s.push("len([1])"), .ran(ok: true), "builtins survive reset")
        XCTAssertTrue(s.help(nil).hasPrefix("Help topics: strings, numbers"))
        XCTAssertEqual(s.help("trim"), "trim(s)\n  The string without leading and trailing whitespace and newlines.\n  example: trim(\"  B \")  # \"B\"")
        XCTAssertTrue(s.help("nonsense").hasPrefix("no help for 'nonsense'"))
    }

    func testCompletions() throws {
        let (s, _) = try makeSession()
        _ = s.push("let config = {lr: 0.001, group: 8}")
        _ = s.push("let conf_b = 1")
        XCTAssertEqual(s.completions(line: "con", cursor: 3), ["conf_b", "config", "contains", "continue"])
        XCTAssertEqual(s.completions(line: "print(config.g", cursor: 14), ["config.group"])
        XCTAssertEqual(s.completions(line: "sort(xs, de", cursor: 11), ["descending:"])
        let dir = s.options.baseDirectory
        try "x".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("nested"), withIntermediateDirectories: true)
        XCTAssertEqual(s.completions(line: "read_text(\"no", cursor: 13), ["notes.txt"])
        XCTAssertEqual(s.completions(line: "read_text(\"ne", cursor: 13), ["nested/"])
    }

    /// `zzf<Tab>(2) * 3` must stay a call: no space after a completed name.
    func testCompletionSuffix() throws {
        let (s, sink) = try makeSession()
        _ = s.push("fn zzfun(x) = x + 1")
        XCTAssertEqual(s.completions(line: "zzf", cursor: 3), ["zzfun"])
        XCTAssertEqual(s.push("let v = zzfun" + Session.completionSuffix(for: "zzfun") + "(2) * 3"), .ran(ok: true))
        _ = s.push("print(v)")
        _ = s.push("zzfun (2) * 3")  // what a space made of it: a command call passing (2) * 3
        XCTAssertEqual(sink.text, "9\n7")
        XCTAssertEqual(Session.completionSuffix(for: "len"), "")
        XCTAssertEqual(Session.completionSuffix(for: "config.group"), "")
        XCTAssertEqual(Session.completionSuffix(for: "nested/"), "")
        XCTAssertEqual(Session.completionSuffix(for: "notes.txt"), "")
        XCTAssertEqual(Session.completionSuffix(for: "let"), " ")
        XCTAssertEqual(Session.completionSuffix(for: "descending:"), " ")
        XCTAssertEqual(Session.completionSuffix(for: ":save"), " ")
        XCTAssertEqual(Session.completionSuffix(for: "let", textAfter: "(x)"), "")
        XCTAssertEqual(Session.completionSuffix(for: "let", textAfter: " x"), "")
    }

    /// Names from data reach the completion list only in a form that cannot drive the terminal.
    func testCompletionsHoldNoControlCharacters() throws {
        let (s, _) = try makeSession()
        _ = s.push(#"let r = {"a\u{1B}]0;pwn\u{7}": 1, ab: 2}"#)
        XCTAssertEqual(s.completions(line: "r.a", cursor: 3), ["r.ab"])
        let dir = s.options.baseDirectory
        try "x".write(to: dir.appendingPathComponent("q\"\u{1B}[2J\\.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(s.completions(line: "read_text(\"q", cursor: 12), [#"q\"\u{1B}[2J\\.txt"#])
    }

    func testInterruptStopsLoop() throws {
        let (s, sink) = try makeSession()
        _ = s.push("fn stop() = 1")
        // A loop whose body requests an interrupt (as Ctrl-C would): the loop stops, the session lives.
        s.interpreter.globals.define("press", .function(Builtin("press") { _, _ in Interrupt.request(); return .null }))
        XCTAssertEqual(s.push("let i = 0"), .ran(ok: true))
        XCTAssertEqual(s.push("while true { i += 1; if i == 3 { press() } }"), .ran(ok: false))
        XCTAssertTrue(sink.text.hasPrefix("interrupted"), sink.text)
        sink.clear()
        XCTAssertEqual(s.push("i"), .ran(ok: true))
        XCTAssertEqual(sink.text, "3")
        XCTAssertFalse(Interrupt.isRequested)
    }

    func testMetricsRecordingHeader() throws {
        let path = try TestSupportDir.make().appendingPathComponent("m/run.jsonl").path
        let (s, _) = try makeSession(interactive: false, metrics: path)
        XCTAssertEqual(s.run(source: "print(1)", file: "a.medr1"), .ok)
        try s.recordMetrics(jsonLine: "{\"step\": 1, \"reward\": 0.5}")
        try s.recordMetrics(jsonLine: "{\"step\": 2, \"reward\": 0.75}")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[0].hasPrefix("{\"header\": \"medr1-metrics\", \"script_hash\": \"\(MetricsRecorder.hash("print(1)"))\", \"seed\": 3, \"threads\": "), lines[0])
        XCTAssertTrue(lines[0].hasSuffix("\"version\": \"\(Medr1Version.version)\"}"), lines[0])
        XCTAssertEqual(lines[2], "{\"step\": 2, \"reward\": 0.75}")
        XCTAssertEqual(MetricsRecorder.hash(""), "cbf29ce484222325")
    }

    /// `--metrics` naming a FIFO or a folder is an error at the first step; a
    /// FIFO no process reads used to block that step for good (Ctrl-C too).
    func testMetricsToAFIFOOrAFolderIsAnError() throws {
        let dir = try TestSupportDir.make()
        let fifo = dir.appendingPathComponent("run.jsonl").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        for (path, what) in [(fifo, "a FIFO"), (dir.path, "a directory")] {
            nonisolated(unsafe) let (s, _) = try makeSession(interactive: false, metrics: path)
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var message = ""
            Thread {
                do { try s.recordMetrics(jsonLine: "{\"step\": 1}") } catch let e as RuntimeError { message = e.message } catch { message = "\(error)" }
                done.signal()
            }.start()
            guard done.wait(timeout: .now() + 20) == .success else { return XCTFail("recordMetrics blocked on \(what)") }
            XCTAssertEqual(message, "cannot write metrics to \(path): it is \(what), not a file; give the path of a file")
        }
    }
}
