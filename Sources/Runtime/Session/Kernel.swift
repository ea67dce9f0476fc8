// The machine-readable side of a session, for the Jupyter kernel
// (`medr1-repl kernel`, driven by the Python package in jupyter/): one JSON
// request per line in, JSON lines out.
//
//   {"type": "execute", "id": 1, "code": "..."}
//       -> {"type": "output", "id": 1, "output": {nbformat 4 output}} per output, as it comes
//       -> {"type": "done", "id": 1, "ok": true, "execution_count": 1}
//   {"type": "complete", "id": 2, "code": "...", "cursor": 7}
//       -> {"type": "complete", "id": 2, "matches": [...], "cursor_start": 5, "cursor_end": 7}
//   {"type": "inspect", "id": 3, "code": "...", "cursor": 7}
//       -> {"type": "inspect", "id": 3, "found": true, "text": "help on the word at the cursor"}
//   {"type": "shutdown", "id": 4} -> {"type": "done", "id": 4, "ok": true}
//
// Training steps and evaluation show their progress as one display updated
// in place (Jupyter's display_data with a display_id, then
// update_display_data): the first output carries the display's id, the
// later ones the same id and "update": true, the last one the final state.
//       -> {"type": "output", "id": 1, "display_id": "medr1-progress-…-1", "output": {display_data}}
//       -> {"type": "output", "id": 1, "display_id": "medr1-progress-…-1", "update": true, "output": {display_data}}
// Updates come after a step ends, at most one per `progressInterval` seconds,
// and always for the final state.
//
// Interrupting is SIGINT to the process, as Ctrl-C at a terminal: one stops
// after the current training step, a second aborts it. Cursors count
// Unicode code points, as Jupyter's do.
import Foundation

public final class KernelServer {
    let session: Session
    /// Cells run so far (Jupyter's execution count).
    public private(set) var executionCount = 0

    /// The least time between two updates of a progress display, in seconds
    /// (0: after every step); the final state is always shown.
    public var progressInterval: Double = 0.5
    /// Seconds on a monotonic clock, for the rate and the elapsed time shown.
    public var clock: () -> Double = { ProcessInfo.processInfo.systemUptime }
    /// Begins every display id: unique per session, so a display of an earlier
    /// kernel in the same notebook is never updated.
    public var displayPrefix = "medr1-progress-" + UUID().uuidString.prefix(8).lowercased()
    private var displays = 0

    public init(session: Session) { self.session = session }

    struct Reply: Encodable {
        var type: String
        var id: Int
        var output: Ipynb.Output?
        var ok: Bool?
        var execution_count: Int?
        var matches: [String]?
        var cursor_start: Int?
        var cursor_end: Int?
        var found: Bool?
        var text: String?
        var error: String?
        var display_id: String?
        var update: Bool?
    }

    /// Sends each output of a running cell as soon as it is emitted.
    /// Progress goes to an updating display.
    final class StreamingSink: OutputSink, ProgressSink {
        let id: Int
        let shownPath: (String) -> String
        let send: (Reply) -> Void
        let server: KernelServer
        init(id: Int, server: KernelServer, send: @escaping (Reply) -> Void) {
            self.id = id
            self.server = server
            self.shownPath = server.session.interpreter.shownPath
            self.send = send
        }
        func emit(_ event: OutputEvent) {
            for output in NotebookOutput.outputs(of: [event], shownPath: shownPath) {
                send(Reply(type: "output", id: id, output: NotebookRenderer.ipynbOutput(output)))
            }
        }
        func beginProgress(label: String, total: Int) -> ProgressDisplay {
            server.displays += 1
            return Display(sink: self, displayID: "\(server.displayPrefix)-\(server.displays)", label: label, total: total)
        }
    }

    /// One progress display: shown at 0 when the loop begins, updated at a bounded rate.
    final class Display: ProgressDisplay {
        let sink: StreamingSink
        let displayID: String
        let label: String
        let total: Int
        let start: Double
        var lastSent: Double
        var done = 0
        var status: [String] = []
        var shown: String
        var ended = false

        init(sink: StreamingSink, displayID: String, label: String, total: Int) {
            self.sink = sink
            self.displayID = displayID
            self.label = label
            self.total = total
            start = sink.server.clock()
            lastSent = start
            shown = ""
            shown = send(stopped: false, now: start, update: false)
        }

        /// Sends the current state; returns its text.
        @discardableResult
        func send(stopped: Bool, now: Double, update: Bool) -> String {
            let text = ProgressBar.displayText(label: label, done: done, total: total, status: status,
                                               elapsed: now - start, stopped: stopped)
            let output = Ipynb.Output(output_type: "display_data",
                                      data: ["text/html": [ProgressBar.displayHTML(done: done, total: total, text: text)],
                                             "text/plain": [text]], metadata: [:])
            sink.send(Reply(type: "output", id: sink.id, output: output, display_id: displayID, update: update ? true : nil))
            lastSent = now
            return text
        }

        func update(done: Int, status: [String]) {
            guard !ended else { return }
            self.done = done
            self.status = status
            let now = sink.server.clock()
            if now - lastSent >= sink.server.progressInterval { shown = send(stopped: false, now: now, update: true) }
        }

        /// The final state, unless the last update already showed it.
        func end() {
            guard !ended else { return }
            ended = true
            let stopped = done < total
            let unsent = ProgressBar.displayText(label: label, done: done, total: total, status: status,
                                                 elapsed: lastSent - start, stopped: stopped) != shown
            if stopped || unsent { send(stopped: stopped, now: sink.server.clock(), update: true) }
        }
    }

    /// Handles one request line; `send` gets each reply as one line of JSON
    /// (without its newline). Returns false after a shutdown request.
    public func handle(_ line: String, send: @escaping (String) -> Void) -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let reply: (Reply) -> Void = { r in
            // Plain strings, numbers and lists: encoding cannot fail.
            if let data = try? encoder.encode(r) { send(String(decoding: data, as: UTF8.self)) }
        }
        let request: Record
        do {
            guard case .record(let r) = try JSONValue.parse(line, source: "request") else {
                reply(Reply(type: "error", id: 0, error: "a request is a JSON object, got: \(line.prefix(60))"))
                return true
            }
            request = r
        } catch {
            reply(Reply(type: "error", id: 0, error: "\(error)"))
            return true
        }
        let id = request["id"]?.asNumber.map { Int(exactly: $0) ?? 0 } ?? 0
        guard case .string(let type)? = request["type"] else {
            reply(Reply(type: "error", id: id, error: "the request has no \"type\": execute, complete, inspect or shutdown"))
            return true
        }
        let code: String
        if case .string(let c)? = request["code"] { code = c } else { code = "" }
        let cursor = min(max(0, Int(request["cursor"]?.asNumber ?? Double(code.unicodeScalars.count))), code.unicodeScalars.count)
        switch type {
        case "execute":
            executionCount += 1
            Interrupt.clear()
            let sink = StreamingSink(id: id, server: self, send: reply)
            let ok = session.runCell(source: code, file: "cell[\(executionCount)]", sink: sink)
            reply(Reply(type: "done", id: id, ok: ok, execution_count: executionCount))
        case "complete":
            // Jupyter counts code points; the session counts characters.
            let line = Self.lineAt(code, cursor: cursor)
            let matches = session.completions(line: line.text, cursor: line.cursor)
            let start = session.completionStart(line: line.text, cursor: line.cursor)
            let startScalars = line.offset + String(Array(line.text)[0..<start]).unicodeScalars.count
            reply(Reply(type: "complete", id: id, matches: matches, cursor_start: startScalars, cursor_end: cursor))
        case "inspect":
            let line = Self.lineAt(code, cursor: cursor)
            let word = Self.word(in: line.text, at: line.cursor)
            let text = word.isEmpty ? "" : session.help(word)
            let found = !word.isEmpty && !text.hasPrefix("no help for")
            reply(Reply(type: "inspect", id: id, found: found, text: found ? text : nil))
        case "shutdown":
            reply(Reply(type: "done", id: id, ok: true))
            return false
        default:
            reply(Reply(type: "error", id: id, error: "unknown request type '\(type)': execute, complete, inspect or shutdown"))
        }
        return true
    }

    /// The line of `code` holding the code-point offset `cursor`: its text,
    /// the cursor as a character offset in it, and the line's start in code points.
    static func lineAt(_ code: String, cursor: Int) -> (text: String, cursor: Int, offset: Int) {
        let scalars = Array(code.unicodeScalars)
        var start = min(cursor, scalars.count)
        while start > 0 && scalars[start - 1] != "\n" { start -= 1 }
        var end = min(cursor, scalars.count)
        while end < scalars.count && scalars[end] != "\n" { end += 1 }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<end])
        let text = String(view)
        var before = String.UnicodeScalarView()
        before.append(contentsOf: scalars[start..<min(cursor, scalars.count)])
        return (text, String(before).count, start)
    }

    /// The name (with dots) around a character offset: what `help` is asked about.
    static func word(in line: String, at cursor: Int) -> String {
        let chars = Array(line)
        let isName: (Character) -> Bool = { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
        var start = min(cursor, chars.count), end = start
        while start > 0 && isName(chars[start - 1]) { start -= 1 }
        while end < chars.count && isName(chars[end]) { end += 1 }
        return String(chars[start..<end]).trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}
