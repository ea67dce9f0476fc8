// The seam between the terminal program and the Runtime: everything the REPL,
// `run`, `notebook` and `replay` need from a session, as a protocol. The real
// Runtime.Session conforms in an extension below; tests drive the REPL loop with
// a scripted fake through the same protocol (STYLE.md item 9).
import Foundation
import Runtime

/// What one pushed line did.
enum ReplPush: Equatable {
    /// The statement is incomplete (open bracket, trailing operator, open block): keep reading.
    case needsMore
    /// A complete statement ran; `ok` is false after a syntax or runtime error
    /// (already reported through the session's output).
    case ran(ok: Bool)
}

/// How a whole script ended; decides the exit code of `run`.
enum ReplRunOutcome: Equatable {
    case ok
    case syntaxError
    case runtimeError
}

/// Options a session is created with (mirrors Runtime's SessionOptions).
struct ReplSessionOptions {
    /// Seed of every random choice the script does not seed itself.
    var seed: UInt64 = 0
    /// Threads for BLAS and the project's parallel loops (nil: the library default).
    var threads: Int? = nil
    /// Where trainers record one JSON line per step (with a header line).
    var metricsPath: String? = nil
    /// ANSI colour in output (off when not on a terminal, or with --no-color).
    var color: Bool = false
    /// At a prompt: echo bare expressions, show progress bars, plot to the terminal.
    var interactive: Bool = false
}

/// The REPL's view of a Runtime session.
protocol ReplSession: AnyObject {
    /// Feeds one line typed at the prompt; the session buffers incomplete statements.
    func push(_ line: String) -> ReplPush
    /// Forgets a half-typed statement (Ctrl-C at the continuation prompt).
    func discardPending()
    /// Runs a whole script (`run`, `:load`).
    func run(source: String, file: String) -> ReplRunOutcome
    /// Runs a `# %%`-cell script and returns each cell with its outputs.
    func runNotebook(source: String, file: String) -> [NotebookCell]
    /// Candidate replacements for the word that ends at `cursor` (a character offset in `line`).
    func completions(line: String, cursor: Int) -> [String]
    /// The statements that ran without error, in order: `:save` writes them.
    var successfulStatements: [String] { get }
    /// Bound names with a one-line summary of each value.
    func variables() -> [(name: String, summary: String)]
    /// Forgets every binding.
    func reset()
    /// Help on a topic or builtin; the overview when `topic` is nil.
    func help(_ topic: String?) -> String
}

// MARK: - Notebook cells (what the renderer draws)

/// One `# %%` cell after it ran: its source and everything it produced, in order.
struct NotebookCell: Equatable {
    /// The text after `# %%` on the marker line, if any.
    var title: String?
    /// The cell's statements as written (without the marker line).
    var source: String
    /// Printed text, tables, images and errors in the order they appeared.
    var outputs: [NotebookOutput]
}

/// One piece of cell output.
enum NotebookOutput: Equatable {
    /// Printed text (may contain ANSI escapes; the renderer strips them).
    case text(String)
    /// A table: column headers and rows of already-formatted cells.
    case table(columns: [String], rows: [[String]])
    /// An image to embed: PNG bytes (a plot, or a sample shown with `show`).
    case png(Data, caption: String?)
    /// An SVG document to embed (plots written with `to: "x.svg"`).
    case svg(String, caption: String?)
    /// A syntax or runtime error, as the session rendered it (with location and caret).
    case error(String)
}

// MARK: - The placeholder until Runtime.Session lands on main

/// Stands in for Runtime.Session until it exists: it decides "needs more" by
/// bracket depth only and runs nothing. Replaced by the real session adapter.
final class PlaceholderSession: ReplSession {
    private var pending: [String] = []
    private(set) var successfulStatements: [String] = []
    private let output: (String) -> Void

    init(options: ReplSessionOptions, output: @escaping (String) -> Void) {
        self.output = output
    }

    func push(_ line: String) -> ReplPush {
        pending.append(line)
        let text = pending.joined(separator: "\n")
        var depth = 0
        for ch in text {
            if "([{".contains(ch) { depth += 1 } else if ")]}".contains(ch) { depth -= 1 }
        }
        if depth > 0 { return .needsMore }
        pending = []
        if text.trimmingBlanks().isEmpty { return .ran(ok: true) }
        successfulStatements.append(text)
        output("(runtime not available yet) \(text)\n")
        return .ran(ok: true)
    }

    func discardPending() { pending = [] }

    func run(source: String, file: String) -> ReplRunOutcome {
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            _ = push(String(line))
        }
        return .ok
    }

    func runNotebook(source: String, file: String) -> [NotebookCell] {
        NotebookCell.split(source).map { NotebookCell(title: $0.title, source: $0.source, outputs: []) }
    }

    func completions(line: String, cursor: Int) -> [String] { [] }
    func variables() -> [(name: String, summary: String)] { [] }
    func reset() { successfulStatements = []; pending = [] }
    func help(_ topic: String?) -> String { "(help is provided by the runtime, not available yet)" }
}

extension NotebookCell {
    /// Splits a script at `# %%` lines (the percent format of Jupytext and VS Code).
    /// Text before the first marker is a cell of its own when it holds anything
    /// but blank lines.
    static func split(_ source: String) -> [(title: String?, source: String)] {
        var cells: [(title: String?, lines: [String])] = []
        var current: (title: String?, lines: [String]) = (nil, [])
        var sawMarker = false
        for raw in source.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("# %%") {
                if sawMarker || current.lines.contains(where: { !$0.trimmingBlanks().isEmpty }) {
                    cells.append(current)
                }
                sawMarker = true
                let title = String(line.dropFirst(4)).trimmingBlanks()
                current = (title.isEmpty ? nil : title, [])
            } else {
                current.lines.append(line)
            }
        }
        if sawMarker || current.lines.contains(where: { !$0.trimmingBlanks().isEmpty }) {
            cells.append(current)
        }
        return cells.map { cell in
            var lines = cell.lines
            while let last = lines.last, last.trimmingBlanks().isEmpty { lines.removeLast() }
            while let first = lines.first, first.trimmingBlanks().isEmpty { lines.removeFirst() }
            return (cell.title, lines.joined(separator: "\n"))
        }
    }
}

/// Creates the session every command uses.
func makeSession(options: ReplSessionOptions, output: @escaping (String) -> Void) -> ReplSession {
    PlaceholderSession(options: options, output: output)
}

/// The program's version (from the Runtime, so the REPL and recordings agree).
let medr1Version = Medr1Version.version

/// Forwards ^C to the Runtime's interrupt flag (polled by long work such as `step t, 50`).
enum RuntimeInterrupt {
    /// Initialises the Runtime's state before the signal handler may touch it.
    static func prepare() {}
    /// Called from the SIGINT handler: must only store a flag.
    static func request() {}
    /// Called before each prompt: work is over, the request is spent.
    static func clear() {}
}
