import XCTest
@testable import medr1_repl
import Runtime

/// The interactive loop without a terminal: scripted lines in, text out.
final class ReplLoopTests: XCTestCase {
    /// A session that needs more while brackets are open and records what ran.
    final class FakeSession: ReplSession {
        var pending: [String] = []
        var ran: [String] = []
        var successfulStatements: [String] = []
        var discarded = 0
        var resets = 0
        var loaded: [(String, String)] = []

        func push(_ line: String) -> ReplPush {
            pending.append(line)
            let text = pending.joined(separator: "\n")
            let depth = text.filter { $0 == "[" }.count - text.filter { $0 == "]" }.count
            if depth > 0 { return .needsMore }
            pending = []
            ran.append(text)
            let ok = !text.contains("boom")
            if ok { successfulStatements.append(text) }
            return .ran(ok: ok)
        }
        func discardPending() { pending = []; discarded += 1 }
        func run(source: String, file: String) -> ReplRunOutcome { loaded.append((source, file)); return .ok }
        func notebookCells(source: String, file: String, pageDirectory: URL?) -> [NotebookCell] { [] }
        func completions(line: String, cursor: Int) -> [String] { ["train", "trainer"] }
        func variables() -> [(name: String, summary: String)] { [("t", "trainer <grpo, step 3>"), ("model", "model <1.2M params>")] }
        func reset() { resets += 1 }
        func help(_ topic: String?) -> String { "HELP(\(topic ?? "-"))" }
    }

    final class ScriptedEditor: LineEditor {
        var events: [LineEvent]
        var prompts: [String] = []
        var history: [String] = []
        var completer: ((String, Int) -> [String])?
        init(_ events: [LineEvent]) { self.events = events }
        func readLine(prompt: String) -> LineEvent {
            prompts.append(prompt)
            return events.isEmpty ? .endOfInput : events.removeFirst()
        }
        func addHistory(_ entry: String) { history.append(entry) }
    }

    func drive(_ events: [LineEvent], session: FakeSession = FakeSession()) -> (FakeSession, ScriptedEditor, String, String, ReplLoop) {
        let editor = ScriptedEditor(events)
        var out = "", err = ""
        let loop = ReplLoop(session: session, editor: editor, color: false, out: { out += $0 }, err: { err += $0 })
        loop.run()
        return (session, editor, out, err, loop)
    }

    func testContinuationPromptAndOneHistoryEntryPerStatement() {
        let (session, editor, _, _, loop) = drive([.line("let x = [1,"), .line("2]"), .line("x")])
        XCTAssertEqual(editor.prompts, ["medr1> ", "  ...> ", "medr1> ", "medr1> "])
        XCTAssertEqual(session.ran, ["let x = [1,\n2]", "x"])
        XCTAssertEqual(editor.history, ["let x = [1,\n2]", "x"])
        XCTAssertFalse(loop.anyFailure)
    }

    func testInterruptDropsTheHalfTypedStatement() {
        let (session, editor, out, _, _) = drive([.line("let x = [1,"), .interrupt, .line("y")])
        XCTAssertEqual(session.discarded, 1)
        XCTAssertEqual(session.ran, ["y"])
        XCTAssertEqual(editor.prompts, ["medr1> ", "  ...> ", "medr1> ", "medr1> "])
        XCTAssertEqual(out, "\n")
    }

    /// A ^C that libedit handled itself (the line typed after it comes back with the flag
    /// set) still drops the unfinished statement; the line after it starts a new one.
    func testLineReadAfterAHandledInterruptStartsANewStatement() {
        XCTAssertEqual(LibEditLineEditor.afterRead(.line("dropped"), interrupted: true), [.interrupt, .line("dropped")])
        XCTAssertEqual(LibEditLineEditor.afterRead(.line("x"), interrupted: false), [.line("x")])
        let (session, _, _, _, _) = drive([.line("let dropped = [1,")] + LibEditLineEditor.afterRead(.line("dropped"), interrupted: true))
        XCTAssertEqual(session.discarded, 1)
        XCTAssertEqual(session.ran, ["dropped"])
    }

    func testRecalledMultiLineEntryIsPushedLineByLine() {
        let (session, editor, _, _, _) = drive([.line("let x = [1,\n2]")])
        XCTAssertEqual(session.ran, ["let x = [1,\n2]"])
        XCTAssertEqual(editor.history, ["let x = [1,\n2]"])
    }

    func testQuitStopsReading() {
        let (session, _, _, _, _) = drive([.line(":quit"), .line("never")])
        XCTAssertEqual(session.ran, [])
    }

    func testMetaCommandsOutput() throws {
        let dir = try TestSupportDirectory.make()
        let savePath = dir.appendingPathComponent("s.medr1").path
        let (session, editor, out, err, loop) = drive([
            .line("a"), .line("boom"), .line("b"),
            .line(":vars"), .line(":save \(savePath)"), .line(":help grpo"), .line(":help :save"),
            .line(":history"), .line(":reset"), .line(":nope"),
        ])
        XCTAssertEqual(try String(contentsOfFile: savePath, encoding: .utf8), "a\nb\n")
        XCTAssertEqual(out, """
        t      trainer <grpo, step 3>
        model  model <1.2M params>
        saved 2 statements to \(savePath)
        HELP(grpo)
        :save FILE
          write the statements that succeeded as a script
        1  a
        2  boom
        3  b
        4  :vars
        5  :save \(savePath)
        6  :help grpo
        7  :help :save
        8  :history
        session reset: every binding forgotten (history kept)

        """)
        XCTAssertEqual(err, "error: unknown meta-command ':nope': type :help for the list\n")
        XCTAssertEqual(session.resets, 1)
        XCTAssertEqual(editor.history.count, 10)
        XCTAssertTrue(loop.anyFailure)
    }

    /// `:save` counts an interrupted statement kept as comments apart from the statements.
    func testSaveSaysWhenAnInterruptedStatementIsLeftOut() throws {
        let dir = try TestSupportDirectory.make()
        let savePath = dir.appendingPathComponent("s.medr1").path
        let session = FakeSession()
        session.successfulStatements = ["let a = 1", Session.leftOutMarker + "3 trainer steps; a replay has fewer steps\n# loop()"]
        let (_, _, out, _, _) = drive([.line(":save \(savePath)")], session: session)
        XCTAssertEqual(out, "saved 1 statement to \(savePath); 1 interrupted statement that trained left out as comments (a replay has fewer trainer steps)\n")
        XCTAssertEqual(try String(contentsOfFile: savePath, encoding: .utf8),
                       "let a = 1\n# left out by :save: interrupted after 3 trainer steps; a replay has fewer steps\n# loop()\n")
    }

    func testLoadRunsTheFileAndMissingFileIsAnError() throws {
        let dir = try TestSupportDirectory.make()
        let path = dir.appendingPathComponent("in.medr1").path
        try "let a = 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (session, _, _, err, _) = drive([.line(":load \(path)"), .line(":load \(path).missing")])
        XCTAssertEqual(session.loaded.map(\.0), ["let a = 1\n"])
        XCTAssertEqual(session.loaded.map(\.1), [path])
        XCTAssertEqual(err, "error: cannot read \(path).missing: no such file\n")
    }

    /// A FIFO or a folder given as a script is refused with what it is, before
    /// anything is read (a FIFO would block the REPL).
    func testLoadOfAFIFOOrAFolderSaysWhatItIs() throws {
        let dir = try TestSupportDirectory.make()
        let fifo = dir.appendingPathComponent("f.medr1").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let (session, _, _, err, _) = drive([.line(":load \(fifo)"), .line(":load \(dir.path)")])
        XCTAssertTrue(session.loaded.isEmpty)
        XCTAssertEqual(err, """
            error: cannot read \(fifo): is not a regular file (it is a FIFO): give the path of a file
            error: cannot read \(dir.path): is not a regular file (it is a directory): give the path of a file

            """)
    }

    func testTimePrintsWallTime() {
        let (session, _, out, _, _) = drive([.line(":time x")])
        XCTAssertEqual(session.ran, ["x"])
        XCTAssertTrue(out.hasPrefix("time: ") && out.hasSuffix(" ms\n"), out)
    }

    func testCompleterRoutesMetaCommandsAndStatements() {
        let editor = ScriptedEditor([])
        _ = ReplLoop(session: FakeSession(), editor: editor, color: false, out: { _ in }, err: { _ in })
        XCTAssertEqual(editor.completer?(":sa", 3), [":save"])
        XCTAssertEqual(editor.completer?("tr", 2), ["train", "trainer"])
    }

    func testHistoryPathFromEnvironment() {
        XCTAssertEqual(LibEditLineEditor.defaultHistoryPath(environment: ["MEDR1_HISTORY": "/x/h", "HOME": "/home/u"]), "/x/h")
        XCTAssertEqual(LibEditLineEditor.defaultHistoryPath(environment: ["HOME": "/home/u"]), "/home/u/.medr1_history")
        XCTAssertNil(LibEditLineEditor.defaultHistoryPath(environment: [:]))
    }

    func testSecondsFormatting() {
        XCTAssertEqual(ReplLoop.formatSeconds(0.01234), "12.3 ms")
        XCTAssertEqual(ReplLoop.formatSeconds(2.5), "2.5 s")
    }
}

import TestSupport
enum TestSupportDirectory {
    static func make() throws -> URL { try TestSupport.temporaryDirectory("medr1-repl") }
}
