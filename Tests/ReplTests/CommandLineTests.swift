import XCTest
import TestSupport

/// The built binary end to end: exit codes, piped statements, and a real
/// terminal (tmux) for editing, history and completion.
final class CommandLineTests: XCTestCase {
    func testUsageErrorsExit64() throws {
        let unknown = try BinaryHarness.run(["--frobnicate"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.stderr.contains("Error: Unknown option '--frobnicate'"), unknown.stderr)
        let badOutput = try BinaryHarness.run(["notebook", "x.medr1", "-o", "x.pdf"])
        XCTAssertEqual(badOutput.status, 64)
        XCTAssertTrue(badOutput.stderr.contains("Error: -o must end in .html, .md or .ipynb, got 'x.pdf'"), badOutput.stderr)
        let missingArgument = try BinaryHarness.run(["replay", "x.medr1"])
        XCTAssertEqual(missingArgument.status, 64)
        XCTAssertTrue(missingArgument.stderr.contains("Missing expected argument '--check <RUN.jsonl>'"), missingArgument.stderr)
        let badThreads = try BinaryHarness.run(["run", "x.medr1", "--threads", "0"])
        XCTAssertEqual(badThreads.status, 64)
        XCTAssertTrue(badThreads.stderr.contains("--threads must be in 1...1024, got 0"), badThreads.stderr)
        // A thread count beyond Int32 trapped in openblas_set_num_threads(Int32(n)).
        let hugeThreads = try BinaryHarness.run(["run", "x.medr1", "--threads", "3000000000"])
        XCTAssertEqual(hugeThreads.status, 64)
        XCTAssertTrue(hugeThreads.stderr.contains("--threads must be in 1...1024, got 3000000000"), hugeThreads.stderr)
        let replayThreads = try BinaryHarness.run(["replay", "x.medr1", "--check", "r.jsonl", "--threads", "0"])
        XCTAssertEqual(replayThreads.status, 64)
        XCTAssertTrue(replayThreads.stderr.contains("--threads must be in 1...1024, got 0"), replayThreads.stderr)
    }

    func testMissingScriptExits66AndNamesIt() throws {
        let result = try BinaryHarness.run(["run", "no/such/script.medr1"])
        XCTAssertEqual(result.status, 66)
        XCTAssertEqual(result.stderr, "medr1-repl: cannot read no/such/script.medr1: no such file\n")
    }

    /// A script on the command line may be a pipe (`run /dev/stdin`, `run <(gen)`);
    /// a folder is refused with what it is.
    func testScriptFromAPipeRunsAndAFolderIsRefused() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-folder")
        // Its paths resolve against the working directory (a pipe has no folder).
        let piped = try BinaryHarness.run(["run", "/dev/stdin"], stdin: "write_text(\"o.txt\", \"x\")\nprint(41 + 1)\n", directory: dir)
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(piped.stdout, "42\n")
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("o.txt"), encoding: .utf8), "x")
        let folder = try BinaryHarness.run(["run", dir.path])
        XCTAssertEqual(folder.status, 66)
        XCTAssertEqual(folder.stderr, "medr1-repl: cannot read \(dir.path): is not a regular file (it is a directory): give the path of a file\n")
    }

    /// A script file and piped input with invalid UTF-8: the documented error
    /// at line:col with a caret, exit 65 for a file; on a pipe the statement
    /// holding the bytes fails and the others run.
    func testInvalidUTF8IsAPositionedError() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-utf8")
        let script = dir.appendingPathComponent("bad.medr1")
        try Data("print(1)\nprint(\"ab".utf8 + [0xFF] + "c\")\n".utf8).write(to: script)
        let file = try BinaryHarness.run(["run", script.path])
        XCTAssertEqual(file.status, 65)
        XCTAssertEqual(file.stdout, "")
        XCTAssertTrue(file.stderr.hasPrefix("\(script.path):2:10: error: invalid UTF-8 byte 0xFF; save the file as UTF-8\n"), file.stderr)
        let notebook = try BinaryHarness.run(["notebook", script.path, "-o", dir.appendingPathComponent("p.html").path])
        XCTAssertEqual(notebook.status, 65)
        XCTAssertTrue(notebook.stderr.hasPrefix("\(script.path):2:10: error: invalid UTF-8 byte 0xFF"), notebook.stderr)

        let piped = try BinaryHarness.run([], stdinBytes: Data("print(1)\nprint(\"ab".utf8 + [0xFE, 0xFF] + "c\")\nprint(2)\n".utf8))
        XCTAssertEqual(piped.stdout, "1\n2\n")
        XCTAssertTrue(piped.stderr.hasPrefix("<stdin>:1:10: error: invalid UTF-8 byte 0xFE; save the file as UTF-8\n"), piped.stderr)
        XCTAssertEqual(piped.status, 70)
        let loaded = try BinaryHarness.run([], stdin: ":load \(script.path)\nprint(3)\n")
        XCTAssertEqual(loaded.stdout, "3\n")
        XCTAssertTrue(loaded.stderr.hasPrefix("\(script.path):2:10: error: invalid UTF-8 byte 0xFF"), loaded.stderr)
    }

    /// A recording is read back from disk: its text in replay's messages is shown, not obeyed.
    func testReplayMessagesShowControlCharactersOfTheRecording() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-replay-esc")
        let script = dir.appendingPathComponent("s.medr1")
        try "print(1)\n".write(to: script, atomically: true, encoding: .utf8)
        let recording = dir.appendingPathComponent("r.jsonl")
        try "\u{1B}]0;pwned\u{7}\u{1B}[2J\n".write(to: recording, atomically: true, encoding: .utf8)
        let result = try BinaryHarness.run(["replay", script.path, "--check", recording.path])
        XCTAssertEqual(result.status, 66)
        XCTAssertTrue(result.stderr.hasSuffix(#"r.jsonl:1: column 1: unexpected character '\u{1B}'"# + "\n"), result.stderr)
        XCTAssertFalse(result.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, result.stderr)
    }

    /// A recording whose header names an impossible thread count is refused, not handed to BLAS.
    func testReplayRefusesAHeaderThreadCountOutOfRange() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-repl-replay-threads")
        let script = dir.appendingPathComponent("s.medr1")
        try "print(1)\n".write(to: script, atomically: true, encoding: .utf8)
        let recording = dir.appendingPathComponent("r.jsonl")
        try #"{"header": "medr1-metrics", "script_hash": "x", "seed": 0, "threads": 99999999999, "version": "0.1.0"}"#
            .appending("\n").write(to: recording, atomically: true, encoding: .utf8)
        let result = try BinaryHarness.run(["replay", script.path, "--check", recording.path])
        XCTAssertEqual(result.status, 66)
        XCTAssertEqual(result.stderr, "medr1-repl: \(recording.path): the header's threads is 99999999999, outside 1...1024; give --threads\n")
    }

    func testVersion() throws {
        let result = try BinaryHarness.run(["--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count, 3)
    }

    func testPipedMetaCommandErrorsGoToStderrWithoutPrompts() throws {
        let result = try BinaryHarness.run([], stdin: ":vars\n:nope\n")
        XCTAssertEqual(result.status, 70)
        XCTAssertFalse(result.stdout.contains("medr1> "), result.stdout)
        XCTAssertEqual(result.stderr, "error: unknown meta-command ':nope': type :help for the list\n")
    }

    // MARK: - A real terminal

    /// One private tmux server running the REPL in a pane.
    final class TmuxPane {
        let socket = "medr1-repl-test-\(UUID().uuidString.prefix(8))"

        init(command: String, environment: [String: String]) throws {
            let env = environment.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
            // Foundation's Process would wait for every holder of its exit-watch socket,
            // and the tmux server forked from this client keeps it: spawn directly instead.
            let argv = ["tmux", "-L", socket, "new-session", "-d", "-x", "100", "-y", "30", "env \(env) \(command)"]
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
            defer { cArgs.forEach { free($0) } }
            var pid = pid_t()
            guard posix_spawnp(&pid, "tmux", &actions, nil, &cArgs, environ) == 0 else {
                throw XCTSkip("cannot start tmux")
            }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            socketPath = (try? tmux(["display-message", "-p", "#{socket_path}"]))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }

        /// The server's socket file, removed by close().
        private var socketPath = ""

        @discardableResult
        func tmux(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["tmux", "-L", socket] + arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }

        func send(_ keys: String...) throws { try tmux(["send-keys", "-t", "0"] + keys) }

        var screen: String { (try? tmux(["capture-pane", "-p", "-t", "0"])) ?? "" }

        /// Waits until the screen satisfies `condition` (up to 30 s, for a loaded machine); returns the screen.
        @discardableResult
        func waitFor(_ what: String, _ condition: (String) -> Bool) -> String {
            let deadline = Date().addingTimeInterval(30)
            var text = screen
            while !condition(text) && Date() < deadline {
                usleep(50_000)
                text = screen
            }
            XCTAssertTrue(condition(text), "timed out waiting for \(what); screen:\n\(text)")
            return text
        }

        var isRunning: Bool {
            (try? tmux(["list-panes", "-t", "0", "-F", "#{pane_dead}"]))?.hasPrefix("0") ?? false
        }

        /// Stops the server and removes its socket file (kill-server leaves it behind).
        func close() {
            _ = try? tmux(["kill-server"])
            if socketPath.hasSuffix(socket) { try? FileManager.default.removeItem(atPath: socketPath) }
        }
    }

    func testEditingHistoryAndCompletionInATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            throw XCTSkip("tmux is not installed")
        }
        let dir = try TestSupport.temporaryDirectory("medr1-repl-pty")
        let historyFile = dir.appendingPathComponent("history").path
        let environment = ["MEDR1_HISTORY": historyFile, "NO_COLOR": "1"]  // TERM: tmux's own

        let first = try TmuxPane(command: BinaryHarness.binary.path, environment: environment)
        defer { first.close() }
        first.waitFor("the welcome line and prompt") { $0.contains("Type :help for help") && $0.contains("medr1>") }
        try first.send("let x = [1,", "Enter")
        first.waitFor("the continuation prompt") { $0.contains("  ...>") }
        try first.send("2]", "Enter")
        // Completion of a bound name through the session.
        try first.send("let tokens_seen = 41", "Enter")
        try first.send("tokens_s", "Tab")
        first.waitFor("completion of tokens_s") { $0.contains("medr1> tokens_seen") }
        try first.send(" + 1", "Enter")  // no space after a completed name
        first.waitFor("the echoed value") { $0.contains("\n42\n") }
        // A completed function name stays a call: `zzfun(2) * 3`, not the command `zzfun (2) * 3`.
        try first.send("fn zzfun(x) = x + 1", "Enter")
        try first.send("zzf", "Tab")
        first.waitFor("completion of zzf") { $0.contains("medr1> zzfun") }
        try first.send("(2) * 3", "Enter")
        first.waitFor("the call's value") { $0.contains("medr1> zzfun(2) * 3\n9\n") }
        // Completion of a meta-command name, then run it: history holds one entry for the two lines.
        try first.send(":hist", "Tab")
        first.waitFor("completion of :hist") { $0.contains("medr1> :history") }
        try first.send("Enter")
        first.waitFor("the history listing") { $0.contains("1  let x = [1,\n   2]\n2  let tokens_seen = 41\n3  tokens_seen + 1\n4  fn zzfun(x) = x + 1\n5  zzfun(2) * 3\n6  :history") }
        // Ctrl-C during long work interrupts it and the session lives on.
        try first.send("let n = 0", "Enter")
        try first.send("while true { n = n + 1 }", "Enter")
        usleep(400_000)
        try first.send("C-c")
        first.waitFor("the interrupted loop") { $0.contains("interrupted: loop at <stdin>:1:1") }
        try first.send("n > 0", "Enter")
        first.waitFor("the session still answering") { $0.contains("\ntrue\n") }
        // Ctrl-C at the continuation prompt drops the whole unfinished statement.
        try first.send("let dropped = [1,", "Enter")
        first.waitFor("the continuation prompt again") { $0.contains("medr1> let dropped = [1,\n  ...>") }
        try first.send("C-c")
        try first.send("dropped", "Enter")
        first.waitFor("the dropped statement") { $0.contains("'dropped' is not defined") }
        // Ctrl-C at the prompt clears the typed text and prompts again.
        try first.send("garbage", "C-c")
        try first.send(":quit", "Enter")
        let deadline = Date().addingTimeInterval(10)
        while first.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(first.isRunning, "the REPL did not exit on :quit; screen:\n\(first.screen)")
        let saved = try String(contentsOfFile: historyFile, encoding: .utf8)
        XCTAssertTrue(saved.hasPrefix("_HiStOrY_V2_\n"), saved)
        XCTAssertTrue(saved.contains(":history"), saved)
        XCTAssertFalse(saved.contains("garbage"), saved)

        // A second session loads the file: Up recalls the last entries.
        let second = try TmuxPane(command: BinaryHarness.binary.path, environment: environment)
        defer { second.close() }
        second.waitFor("the prompt") { $0.contains("medr1>") }
        // Newest first: :quit, dropped, n > 0, while, let n, :history, four statements, then the first.
        try second.send("Up", "Up", "Up", "Up", "Up", "Up", "Up", "Up", "Up", "Up", "Up")
        second.waitFor("the recalled statement") { $0.contains("medr1> let x = [1,") }
        try second.send("C-d")
    }
}
