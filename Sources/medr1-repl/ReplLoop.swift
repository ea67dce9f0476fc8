// The interactive loop: prompt, read, hand the line to the session (or run a
// meta-command), keep the history one entry per complete statement. No terminal
// I/O of its own: lines come from a LineEditor and text leaves through two
// closures, so tests drive it with scripted lines.
import Foundation
import MedR1Lib
import Runtime

/// Drives one session from a line editor until `:quit`, Ctrl-D or end of input.
final class ReplLoop {
    /// The prompt of a fresh statement.
    static let prompt = "medr1> "
    /// The prompt while the session says the statement needs more lines.
    static let continuationPrompt = "  ...> "

    let session: ReplSession
    let editor: LineEditor
    /// Normal output (stdout).
    let out: (String) -> Void
    /// Messages about the REPL itself: meta-command errors (stderr).
    let err: (String) -> Void
    /// Colour for the REPL's own messages.
    let color: Bool
    /// Lines of the statement being typed (non-empty while the session needs more).
    private var pending: [String] = []
    /// Whether any statement or meta-command failed (decides the exit status on a pipe).
    private(set) var anyFailure = false
    /// Set by `:quit`.
    private var quitRequested = false

    init(session: ReplSession, editor: LineEditor, color: Bool,
         out: @escaping (String) -> Void, err: @escaping (String) -> Void) {
        self.session = session
        self.editor = editor
        self.color = color
        // Names, summaries and history hold text from data: its control
        // characters are shown as escapes, never sent to the terminal.
        self.out = { out(Escaping.terminal($0)) }
        self.err = err
        editor.completer = { line, cursor in
            if MetaCommand.isMetaCommand(line) { return MetaCommand.completions(for: String(line.prefix(cursor))) }
            return session.completions(line: line, cursor: cursor)
        }
    }

    /// The welcome line of an interactive session.
    static func welcome(version: String) -> String {
        "medr1 \(version) - GRPO on a tiny vision-language model. Type :help for help, :quit or Ctrl-D to leave.\n"
    }

    /// Reads and runs until the input ends or `:quit`.
    func run() {
        while !quitRequested {
            let event = editor.readLine(prompt: pending.isEmpty ? Self.prompt : Self.continuationPrompt)
            switch event {
            case .endOfInput:
                if !pending.isEmpty {
                    session.discardPending()
                    pending = []
                }
                return
            case .interrupt:
                // ^C at the prompt: forget the half-typed statement, prompt again.
                if !pending.isEmpty {
                    session.discardPending()
                    pending = []
                }
                out("\n")
            case .line(let line):
                handle(line)
            case .undecodable(let bytes):
                // The session reports where the bad bytes are; the statement is dropped.
                pending = []
                if case .ran(false) = session.push(bytes: bytes) { anyFailure = true }
            }
        }
    }

    /// Handles one line: a meta-command at a fresh prompt, else a piece of a statement.
    func handle(_ line: String) {
        if pending.isEmpty && MetaCommand.isMetaCommand(line) {
            editor.addHistory(line.trimmingBlanks())
            do {
                try execute(MetaCommand.parse(line))
            } catch {
                fail("\(error)")
            }
            return
        }
        // A recalled history entry may hold a whole multi-line statement.
        let pieces = line.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for piece in pieces {
            pending.append(piece)
            let result = session.push(piece)
            _ = InterruptSignal.consume()
            guard case .ran(let ok) = result else { continue }
            let entry = pending.joined(separator: "\n")
            pending = []
            if !entry.trimmingBlanks().isEmpty { editor.addHistory(entry) }
            if !ok { anyFailure = true }
        }
    }

    // MARK: - Meta-commands

    func execute(_ command: MetaCommand) throws {
        switch command {
        case .quit:
            quitRequested = true
        case .help(let topic):
            if let topic, topic.hasPrefix(":") {
                let name = String(topic.dropFirst())
                guard let entry = MetaCommand.catalogue.first(where: { $0.name == name }) else {
                    throw MetaCommandError(description: "no meta-command ':\(name)': type :help for the list")
                }
                out("\(entry.usage)\n  \(entry.summary)\n")
            } else if let topic {
                out(session.help(topic).ensuringNewline)
            } else {
                out(session.help(nil).ensuringNewline + "\n" + MetaCommand.overview + "\n")
            }
        case .history:
            let entries = editor.history
            let width = String(entries.count).count
            for (index, entry) in entries.enumerated() {
                let number = String(index + 1)
                let lead = String(repeating: " ", count: width - number.count) + number + "  "
                let indent = String(repeating: " ", count: lead.count)
                out(lead + entry.replacingOccurrences(of: "\n", with: "\n" + indent) + "\n")
            }
        case .vars:
            let bound = session.variables()
            if bound.isEmpty {
                out("(nothing bound yet)\n")
            } else {
                let width = bound.map(\.name.count).max() ?? 0
                for (name, summary) in bound {
                    out(name + String(repeating: " ", count: width - name.count) + "  " + summary + "\n")
                }
            }
        case .save(let path):
            let statements = session.successfulStatements
            let text = statements.map { $0.ensuringNewline }.joined()
            let url = URL(fileURLWithPath: expandTilde(path))
            do {
                try FileIO.writeAtomically(Data(text.utf8), to: url)
            } catch {
                throw MetaCommandError(description: "cannot write \(path): \(FileIO.reason(error))")
            }
            let leftOut = statements.filter { $0.hasPrefix(Session.leftOutMarker) }.count
            let saved = statements.count - leftOut
            var line = "saved \(saved) statement\(saved == 1 ? "" : "s") to \(path)"
            if leftOut > 0 {
                line += "; \(leftOut) interrupted statement\(leftOut == 1 ? "" : "s") that trained left out as comments (a replay has fewer trainer steps)"
            }
            out(line + "\n")
        case .load(let path):
            let source: String
            do {
                source = try readScript(path)
            } catch let e as ScriptEncodingError {
                anyFailure = true
                err(Escaping.terminal(e.description) + "\n")
                return
            }
            if session.run(source: source, file: path) != .ok { anyFailure = true }
        case .time(let statement):
            let start = DispatchTime.now().uptimeNanoseconds
            var finished = false
            for piece in statement.split(separator: "\n", omittingEmptySubsequences: false) {
                let result = session.push(String(piece))
                if case .ran(let ok) = result {
                    finished = true
                    if !ok { anyFailure = true }
                }
            }
            _ = InterruptSignal.consume()
            guard finished else {
                session.discardPending()
                throw MetaCommandError(description: ":time needs a complete statement on one line")
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            out("time: \(Self.formatSeconds(seconds))\n")
        case .reset:
            session.reset()
            out("session reset: every binding forgotten (history kept)\n")
        }
    }

    /// Seconds with three significant digits, in s or ms.
    static func formatSeconds(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: "%.3g ms", seconds * 1000) }
        return String(format: "%.3g s", seconds)
    }

    private func fail(_ message: String) {
        anyFailure = true
        err((color ? "\u{1B}[31merror:\u{1B}[0m " : "error: ") + Escaping.terminal(message) + "\n")
    }
}

/// The largest script `run`, `notebook`, `replay` and `:load` read.
let maxScriptBytes = 64 << 20

/// Reads a script file, with an error that names the file and says what to do;
/// a file that is not UTF-8 throws ScriptEncodingError with positioned diagnostics.
/// Only a regular file, unless `allowPipe`: a script named on the command line
/// may be a pipe or a terminal (`run <(gen)`, `run /dev/stdin`), read to its
/// end; `:load` of one would block the session.
func readScript(_ path: String, allowPipe: Bool = false) throws -> String {
    let expanded = expandTilde(path)
    if allowPipe, isPipeOrTerminal(path) {
        return try Session.scriptText(Array(try readPipe(expanded, path: path)), file: path).get()
    }
    let data: Data
    do {
        data = try FileInput.read(URL(fileURLWithPath: expanded), limit: maxScriptBytes, what: "a script")
    } catch let e as FileInputError {
        throw MetaCommandError(description: "cannot read \(path): " + (e.missing ? "no such file" : e.message))
    }
    return try Session.scriptText(Array(data), file: path).get()
}

/// A pipe's bytes to its end, at most `maxScriptBytes`.
private func readPipe(_ expanded: String, path: String) throws -> Data {
    guard let handle = FileHandle(forReadingAtPath: expanded) else {
        throw MetaCommandError(description: "cannot read \(path): cannot be opened")
    }
    defer { try? handle.close() }
    var data = Data()
    do {
        while let chunk = try handle.read(upToCount: 1 << 16), !chunk.isEmpty {
            data.append(chunk)
            guard data.count <= maxScriptBytes else {
                throw MetaCommandError(description: "cannot read \(path): more than the \(maxScriptBytes) bytes allowed for a script")
            }
        }
    } catch let e as MetaCommandError {
        throw e
    } catch {
        throw MetaCommandError(description: "cannot read \(path): \(FileIO.reason(error))")
    }
    return data
}

/// `~/x` -> `$HOME/x`; other paths unchanged.
func expandTilde(_ path: String) -> String {
    (path as NSString).expandingTildeInPath
}
