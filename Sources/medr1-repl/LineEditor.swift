// Reading lines: libedit on a terminal, plain readLine() on a pipe, behind one
// small protocol so the REPL loop is tested without a terminal. Also the SIGINT
// handling: a sigaction handler that only sets a flag and asks the Runtime to
// interrupt long work. libedit passes ^C at the prompt on to that handler, and
// `readline` then returns nil with the flag set (clear the line, carry on). A
// DispatchSource signal source would not do: it needs SIGINT ignored first,
// after which ^C at the prompt does nothing.
@preconcurrency import CEditLine
import Foundation
import Runtime

/// What reading one line produced.
enum LineEvent: Equatable {
    /// A line, without its newline.
    case line(String)
    /// A line whose bytes are not valid UTF-8, as read (without its newline).
    case undecodable([UInt8])
    /// Ctrl-C at the prompt: drop the line being typed and prompt again.
    case interrupt
    /// Ctrl-D on an empty line, or the end of piped input.
    case endOfInput
}

extension LineEvent {
    /// `.line` when the bytes are UTF-8, else `.undecodable`.
    init(_ bytes: [UInt8]) {
        if let text = String(validating: bytes, as: UTF8.self) { self = .line(text) } else { self = .undecodable(bytes) }
    }
}

/// A source of lines for the REPL loop.
protocol LineEditor: AnyObject {
    /// Reads one line after showing `prompt` (editors on a pipe show nothing).
    func readLine(prompt: String) -> LineEvent
    /// Records one complete statement (possibly several lines) in the history.
    func addHistory(_ entry: String)
    /// Every history entry, oldest first (including those loaded from the file).
    var history: [String] { get }
    /// Where completion candidates come from: (line, cursor) -> replacements of the word at the cursor.
    var completer: ((String, Int) -> [String])? { get set }
}

// MARK: - Pipe

/// Reads stdin with `Swift.readLine()`: no prompt, no editing, history in memory only.
final class PipeLineReader: LineEditor {
    private(set) var history: [String] = []
    var completer: ((String, Int) -> [String])?

    func readLine(prompt: String) -> LineEvent {
        guard var bytes = Self.readRawLine() else { return .endOfInput }
        if bytes.last == 0x0A { bytes.removeLast(); if bytes.last == 0x0D { bytes.removeLast() } }
        return LineEvent(bytes)
    }

    /// One line of stdin as bytes, newline included; nil at the end of input.
    /// (Swift.readLine would replace invalid UTF-8 with U+FFFD.)
    private static func readRawLine() -> [UInt8]? {
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        let n = getline(&buffer, &capacity, stdin)
        guard n > 0, let buffer else { return nil }
        return Array(UnsafeRawBufferPointer(start: buffer, count: n))
    }

    func addHistory(_ entry: String) { history.append(entry) }
}

// MARK: - SIGINT

/// Set by the SIGINT handler; read and cleared by the REPL loop.
nonisolated(unsafe) private var sigintFlag: sig_atomic_t = 0

/// Installs the SIGINT handler (sigaction, flags 0 so `read` is interrupted and
/// libedit returns to us). The handler only stores flags: it must be async-signal-safe.
enum InterruptSignal {
    static func install() {
        // Touch the Runtime's interrupt state now, so the handler never runs a lazy initialiser.
        RuntimeInterrupt.prepare()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            sigintFlag = 1
            RuntimeInterrupt.request()
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
    }

    /// Whether ^C arrived since the last call; clears the flag and the Runtime's request.
    static func consume() -> Bool {
        let was = sigintFlag != 0
        sigintFlag = 0
        RuntimeInterrupt.clear()
        return was
    }
}

// MARK: - libedit

/// Candidates of the completion in progress, read by the C generator below.
nonisolated(unsafe) private var completionCandidates: [String] = []
/// The completer of the one active libedit editor (C callbacks cannot capture).
nonisolated(unsafe) private var activeCompleter: ((String, Int) -> [String])?

/// libedit's readline emulation with persistent history and tab completion.
final class LibEditLineEditor: LineEditor {
    /// The history file (`~/.medr1_history`, or `$MEDR1_HISTORY`); nil: keep history in memory.
    let historyPath: String?
    var completer: ((String, Int) -> [String])? {
        didSet { activeCompleter = completer }
    }
    /// Longest history kept in the file.
    static let historyLimit: Int32 = 2000

    init(historyPath: String?) {
        self.historyPath = historyPath
        rl_readline_name = UnsafePointer(strdup("medr1"))
        // Without libedit's own signal handling, ^C interrupts read() and readline
        // returns nil with our flag set: the half-typed statement (also one spanning
        // continuation lines) is dropped, as CPython's prompt does. With it, libedit
        // only erased the current line and kept reading.
        rl_catch_signals = 0
        rl_initialize()
        using_history()
        stifle_history(Self.historyLimit)
        // Words end at blanks, brackets, operators and quotes, never at '.', ':' or '/':
        // the session completes `t.la` to `t.last` and `"data/sy` to the path, and
        // `:hi` stays whole for the meta-commands. libedit reads the "basic" set.
        let breaks = " \t\n\"'`@$><=;|&{}()[],+-*%!~"
        rl_basic_word_break_characters = UnsafePointer(strdup(breaks))
        rl_completer_word_break_characters = strdup(breaks)
        rl_attempted_completion_function = { text, start, end in
            rl_attempted_completion_over = 1
            guard let text, let completer = activeCompleter else { return nil }
            let line = rl_line_buffer.map { String(cString: $0) } ?? ""
            // rl_point is a byte offset; the session wants characters.
            let bytes = Array(line.utf8.prefix(Int(rl_point)))
            let cursor = String(decoding: bytes, as: UTF8.self).count
            let word = String(cString: text)
            completionCandidates = completer(line, cursor).filter { $0.hasPrefix(word) }
            if completionCandidates.isEmpty { return nil }
            // libedit types this after a single match: a space only where the session says so.
            let after = String(decoding: line.utf8.dropFirst(Int(rl_point)), as: UTF8.self)
            let suffix = completionCandidates.count == 1
                ? Session.completionSuffix(for: completionCandidates[0], textAfter: after) : ""
            rl_completion_append_character = suffix == " " ? 0x20 : 0
            return rl_completion_matches(text) { _, state in
                let index = Int(state)
                guard index < completionCandidates.count else { return nil }
                return strdup(completionCandidates[index])
            }
        }
        if let historyPath, FileManager.default.fileExists(atPath: historyPath) {
            read_history(historyPath)
        }
    }

    /// A line read after a ^C, handed out by the next `readLine` (see `afterRead`).
    private var queued: [LineEvent] = []

    func readLine(prompt: String) -> LineEvent {
        if !queued.isEmpty { return queued.removeFirst() }
        _ = InterruptSignal.consume()
        guard let raw = CEditLine.readline(prompt) else {
            // nil with ^C pending means the line was interrupted, not ended.
            if InterruptSignal.consume() { return .interrupt }
            return .endOfInput
        }
        defer { free(raw) }
        var events = Self.afterRead(LineEvent(Array(UnsafeRawBufferPointer(start: raw, count: strlen(raw)))),
                                    interrupted: InterruptSignal.consume())
        let first = events.removeFirst()
        queued = events
        return first
    }

    /// The events for a line read while a ^C arrived at this prompt. libedit sometimes
    /// handles the ^C itself (it clears the line and keeps reading) instead of returning:
    /// the ^C still ends the unfinished statement, as it does when libedit returns, and
    /// the line typed after it starts a new one.
    static func afterRead(_ line: LineEvent, interrupted: Bool) -> [LineEvent] {
        interrupted ? [.interrupt, line] : [line]
    }

    func addHistory(_ entry: String) {
        if history.last == entry { return }
        add_history(entry)
        if let historyPath { write_history(historyPath) }
    }

    var history: [String] {
        var entries: [String] = []
        let count = Int(history_length)
        for offset in 0..<count {
            if let entry = history_get(history_base + Int32(offset)), let line = entry.pointee.line {
                entries.append(String(cString: line))
            }
        }
        return entries
    }

    /// The history file the environment asks for: `$MEDR1_HISTORY`, else `~/.medr1_history`.
    static func defaultHistoryPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let path = environment["MEDR1_HISTORY"], !path.isEmpty { return path }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return (home as NSString).appendingPathComponent(".medr1_history")
    }
}
