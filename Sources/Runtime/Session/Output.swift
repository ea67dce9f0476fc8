// Where a session's output goes. Everything a script shows (printed text,
// tables, plots, images, errors) is an event sent to a sink, so the REPL
// writes it to the terminal and a notebook run captures it per cell.

import Foundation
import MedR1Lib

public enum OutputEvent {
    /// Printed text, without a trailing newline (the sink adds line breaks).
    case text(String)
    /// A table; `text` is its aligned plain-text rendering.
    case table(title: String?, columns: [String], rows: [[String]], text: String)
    /// A plot: PNG bytes when rendered for a notebook or a file, and/or dumb text.
    case plot(title: String, png: Data?, text: String?, file: String?)
    /// A shown image: PNG bytes (for notebooks) and its terminal rendering.
    case image(png: Data?, text: String)
    /// An error message (already formatted with location and stack).
    case error(String)
}

public protocol OutputSink: AnyObject {
    func emit(_ event: OutputEvent)
}

/// Writes text, tables, dumb plots and terminal images to stdout, errors to stderr.
/// Text that comes from data (printed values, questions, completions, names in
/// tables, plots and errors) reaches the terminal with its control characters
/// shown as escapes, so it cannot move the cursor, retitle the window or clear
/// the screen; the colour codes of a terminal image are the sink's own.
public final class StandardOutputSink: OutputSink {
    public init() {}
    public func emit(_ event: OutputEvent) {
        let safe = Escaping.terminal
        switch event {
        case .text(let s): writeStdout(safe(s) + "\n")
        case .table(_, _, _, let text): writeStdout(safe(text) + "\n")
        case .plot(_, _, let text, let file):
            if let t = text { writeStdout(safe(t.hasSuffix("\n") ? t : t + "\n")) }
            if let f = file, text == nil { writeStdout("plot written to \(safe(f))\n") }
        case .image(_, let text): writeStdout(text.hasSuffix("\n") ? text : text + "\n")
        case .error(let s): writeStderr(safe(s) + "\n")
        }
    }
}

/// Keeps every event (notebook cells, tests).
public final class CollectingSink: OutputSink {
    public private(set) var events: [OutputEvent] = []
    public init() {}
    public func emit(_ event: OutputEvent) { events.append(event) }
    public func clear() { events.removeAll() }

    /// All text-like output joined by newlines (tables and dumb plots included).
    public var text: String {
        events.compactMap { e -> String? in
            switch e {
            case .text(let s): return s
            case .table(_, _, _, let t): return t
            case .plot(_, _, let t, let f): return t ?? f.map { "plot written to \($0)" }
            case .image(_, let t): return t
            case .error(let s): return s
            }
        }.joined(separator: "\n")
    }
}

/// Standard output; a failed write (a full disk under a redirection) is said once on stderr.
func writeStdout(_ s: String) {
    do { try FileIO.writeAll(STDOUT_FILENO, Data(s.utf8), path: "standard output") } catch {
        if !OutputFailure.reported {
            OutputFailure.reported = true
            writeStderr("medr1: cannot write standard output (\(Files.reason(error))); output is lost\n")
        }
    }
}

/// Standard error; nowhere left to report a failure of it.
func writeStderr(_ s: String) {
    try? FileIO.writeAll(STDERR_FILENO, Data(s.utf8), path: "standard error")
}

private enum OutputFailure {
    nonisolated(unsafe) static var reported = false
}
