// The session the REPL, `run`, `notebook` and `replay` drive: it buffers
// lines until the parser has a whole statement, runs statements one at a
// time (an error costs one statement, the bindings stay), remembers the
// statements that succeeded (for :save), and sends all output to a sink.
// No terminal I/O happens here: it is tested without a terminal.

import Foundation
import Lang
import MedR1Lib

public struct SessionOptions {
    /// Seed of every random choice the script does not seed itself.
    public var seed: UInt64 = 0
    /// Threads for BLAS and the project's parallel loops (nil: the library default).
    public var threads: Int? = nil
    /// Where trainers append one JSON line per step, after a header line.
    public var metricsPath: String? = nil
    /// ANSI colour (images as 24-bit half blocks, coloured errors).
    public var color: Bool = false
    /// At a prompt: echo bare expressions, progress bars, plots as terminal text.
    public var interactive: Bool = false
    /// Where output goes (stdout/stderr by default; notebooks collect it).
    public var sink: OutputSink = StandardOutputSink()
    /// Relative paths in scripts resolve against this directory.
    public var baseDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    /// Where trainers also write TensorBoard event files, one folder per run.
    public var tensorboardPath: String? = nil

    public init(seed: UInt64 = 0, threads: Int? = nil, metricsPath: String? = nil, color: Bool = false,
                interactive: Bool = false, sink: OutputSink = StandardOutputSink(),
                baseDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.seed = seed
        self.threads = threads
        self.metricsPath = metricsPath
        self.color = color
        self.interactive = interactive
        self.sink = sink
        self.baseDirectory = baseDirectory
    }
}

public enum PushResult: Equatable, Sendable {
    /// The statement is not finished (open bracket, trailing operator): read another line.
    case needsMore
    /// A complete input ran; `ok` is false after a syntax or runtime error (already reported).
    case ran(ok: Bool)
}

public enum RunOutcome: Equatable, Sendable {
    case ok
    /// exit code 65
    case syntaxError
    /// exit code 70
    case runtimeError
}

/// One `# %%` cell after it ran.
public struct CellResult {
    /// The text after `# %%` (nil for statements before the first marker, "" for a bare marker).
    public var title: String?
    /// The cell's source text, as written (marker line excluded).
    public var source: String
    /// Everything the cell printed, in order (text, tables, plots with PNG bytes, images, errors).
    public var outputs: [OutputEvent]
    /// False when a statement of the cell failed (the later cells still run).
    public var ok: Bool
    /// A prose cell (`# %% [markdown]`): `source` is its Markdown, and nothing ran.
    public var isMarkdown = false
}

/// A script file that is not UTF-8: its diagnostics, rendered.
public struct ScriptEncodingError: Error, CustomStringConvertible {
    public var diagnostics: [String]
    public var description: String { diagnostics.joined(separator: "\n") }
}

public final class Session {
    public let options: SessionOptions
    public let interpreter: Interpreter
    /// The statements that ran without error, in order, as typed; an
    /// interrupted `step t, n` as the steps it completed, and any other
    /// interrupted statement that took trainer steps as comment lines (`leftOut`).
    public private(set) var successfulStatements: [String] = []
    /// Trainer steps taken in this session (any trainer), to tell whether an
    /// interrupted statement changed a trainer.
    private var stepsTaken = 0
    private var pending: [String] = []
    /// Source texts by file name, for carets under runtime errors.
    private var sources: [String: SourceText] = [:]
    /// How plots without `to:` are drawn: terminal text, or PNG bytes in notebooks.
    var plotToPNG = false
    /// Trainer metrics recording (opened at the first step when `metricsPath` is set).
    let metrics: MetricsRecorder?
    /// TensorBoard event files (with `tensorboardPath`).
    let tensorboard: TensorBoardWriter?
    /// Seeds handed out to bindings called without `seed:` (deterministic per session).
    var seedCounter: UInt64 = 0
    /// Run ids by trainer (the trainer is kept, so its identifier is never reused).
    private var runIDs: [ObjectIdentifier: (trainer: AnyObject, id: String)] = [:]
    /// Hash of the source being run (named in the metrics header).
    var scriptHash = MetricsRecorder.hash("")
    /// Preprocessed images by model image size ("32x3"), shared by trainers, `sample` and `eval`.
    var imageCaches: [String: ImageCache] = [:]

    public init(options: SessionOptions = SessionOptions()) {
        self.options = options
        interpreter = Interpreter(sink: options.sink, baseDirectory: options.baseDirectory,
                                  interactive: options.interactive, color: options.color)
        metrics = options.metricsPath.map { MetricsRecorder(path: $0) }
        tensorboard = options.tensorboardPath.map { TensorBoardWriter(directory: URL(fileURLWithPath: $0)) }
        interpreter.session = self
        Bindings.configure(threads: options.threads)
    }

    // MARK: - REPL

    /// Feed one line. Incomplete input is buffered until the parser says it is whole.
    public func push(_ line: String) -> PushResult {
        pending.append(line)
        let text = pending.joined(separator: "\n")
        switch Parser.parse(source: text, file: "<stdin>") {
        case .needsMore:
            return .needsMore
        case .errors(let diags, _):
            pending = []
            for d in diags { emit(.error(d.rendered())) }
            return .ran(ok: false)
        case .complete(let program):
            pending = []
            sources["<stdin>"] = SourceText(text)
            scriptHash = MetricsRecorder.hash((successfulStatements + [text]).joined(separator: "\n"))
            return .ran(ok: runStatements(program.statements, source: SourceText(text), echo: options.interactive))
        }
    }

    /// Feed one line as read, bytes that may not be UTF-8. Invalid UTF-8 is a
    /// syntax error at its position (`<stdin>:1:8: error: invalid UTF-8 byte
    /// 0xFF; ...`), never silently replaced; the statement it is in is dropped.
    public func push(bytes: [UInt8]) -> PushResult {
        if let line = String(validating: bytes, as: UTF8.self) { return push(line) }
        let text = Array(pending.map { $0 + "\n" }.joined().utf8) + bytes
        pending = []
        if case .errors(let diags, _) = Parser.parse(bytes: text, file: "<stdin>") {
            for d in diags { emit(.error(d.rendered())) }
        }
        return .ran(ok: false)
    }

    /// The text of a script file read from disk, or, when it is not UTF-8,
    /// every diagnostic of the file rendered (`file:3:7: error: invalid UTF-8
    /// byte 0xFF; save the file as UTF-8` with its caret), as for a syntax error.
    public static func scriptText(_ bytes: [UInt8], file: String) -> Result<String, ScriptEncodingError> {
        if let text = String(validating: bytes, as: UTF8.self) { return .success(text) }
        let (_, diags) = Parser.parseScript(bytes: bytes, file: file)
        return .failure(ScriptEncodingError(diagnostics: diags.map { $0.rendered() }))
    }

    /// Forget a half-typed statement (Ctrl-C at the continuation prompt).
    public func discardPending() { pending = [] }

    public var hasPending: Bool { !pending.isEmpty }

    // MARK: - Scripts

    /// Run a whole script: a syntax error anywhere runs nothing (65); a runtime
    /// error stops the script at that statement (70).
    public func run(source: String, file: String) -> RunOutcome {
        let (program, diags) = Parser.parseScript(source: source, file: file)
        if !diags.isEmpty {
            for d in diags { emit(.error(d.rendered())) }
            return .syntaxError
        }
        let text = SourceText(source)
        sources[file] = text
        scriptHash = MetricsRecorder.hash(source)
        return runStatements(program.statements, source: text, echo: false) ? .ok : .runtimeError
    }

    /// Run a `# %%` script cell by cell, collecting each cell's output. A
    /// syntax error is reported in the cell that holds it; a runtime error ends
    /// its cell, and later cells still run (as a notebook does).
    public func runNotebook(source: String, file: String) -> [CellResult] {
        let (program, diags) = Parser.parseScript(source: source, file: file)
        let text = SourceText(source)
        sources[file] = text
        scriptHash = MetricsRecorder.hash(source)
        let saved = interpreter.sink
        let savedPNG = plotToPNG
        plotToPNG = true
        defer { interpreter.sink = saved; plotToPNG = savedPNG }
        // Cells by marker lines, with their raw text.
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var markers: [(line: Int, title: String)] = []
        for (i, l) in lines.enumerated() where l.hasPrefix("# %%") {
            markers.append((i + 1, String(l.dropFirst(4)).trimmingCharacters(in: .whitespaces)))
        }
        var cells: [(title: String?, first: Int, last: Int)] = []
        let firstMarker = markers.first?.line ?? lines.count + 1
        if lines[0..<(firstMarker - 1)].contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) || markers.isEmpty {
            cells.append((nil, 1, firstMarker - 1))
        }
        for (k, m) in markers.enumerated() {
            cells.append((m.title, m.line + 1, k + 1 < markers.count ? markers[k + 1].line - 1 : lines.count))
        }
        var results: [CellResult] = []
        for c in cells {
            if let title = c.title, case let marker = CellMarker.parse(title), marker.markdown {
                var body = c.first <= c.last ? Array(lines[(c.first - 1)..<c.last]) : []
                while let l = body.last, l.trimmingCharacters(in: .whitespaces).isEmpty { body.removeLast() }
                while let l = body.first, l.trimmingCharacters(in: .whitespaces).isEmpty { body.removeFirst() }
                results.append(CellResult(title: marker.title.isEmpty ? nil : marker.title,
                                          source: CellMarker.prose(body), outputs: [], ok: true, isMarkdown: true))
                continue
            }
            let collector = CollectingSink()
            interpreter.sink = collector
            var cellLines = c.first <= c.last ? Array(lines[(c.first - 1)..<c.last]) : []
            while let l = cellLines.last, l.trimmingCharacters(in: .whitespaces).isEmpty { cellLines.removeLast() }
            while let l = cellLines.first, l.trimmingCharacters(in: .whitespaces).isEmpty { cellLines.removeFirst() }
            let cellDiags = diags.filter { $0.span.line >= c.first && $0.span.line <= c.last }
            var ok = true
            if !cellDiags.isEmpty {
                for d in cellDiags { collector.emit(.error(d.rendered())) }
                ok = false
            } else {
                let stmts = program.statements.filter {
                    if case .cell = $0 { return false }
                    return $0.span.line >= c.first && $0.span.line <= c.last
                }
                // Notebook cells echo a bare expression at the end, as Jupyter does.
                ok = runStatements(stmts, source: text, echo: false, echoLast: true)
            }
            results.append(CellResult(title: c.title, source: cellLines.joined(separator: "\n"), outputs: collector.events, ok: ok))
        }
        return results
    }

    /// Runs one cell typed in a notebook front end (the Jupyter kernel): its
    /// outputs go to `sink` as they come, plots as PNG, and a bare expression
    /// at the end is shown. False when a statement failed (reported to `sink`).
    public func runCell(source: String, file: String, sink: OutputSink) -> Bool {
        let saved = interpreter.sink
        let savedPNG = plotToPNG
        interpreter.sink = sink
        plotToPNG = true
        defer { interpreter.sink = saved; plotToPNG = savedPNG }
        let (program, diags) = Parser.parseScript(source: source, file: file)
        if !diags.isEmpty {
            for d in diags { sink.emit(.error(d.rendered())) }
            return false
        }
        let text = SourceText(source)
        sources[file] = text
        scriptHash = MetricsRecorder.hash((successfulStatements + [source]).joined(separator: "\n"))
        return runStatements(program.statements, source: text, echo: false, echoLast: true)
    }

    // MARK: - Running statements

    /// Run statements in order; stop at the first error (reported). Records each
    /// successful statement's text. Echoes values of bare expressions when
    /// `echo`, of command calls (`step t`, `eval m, d`) always, and of the last
    /// expression statement when `echoLast`.
    private func runStatements(_ stmts: [Stmt], source: SourceText, echo: Bool, echoLast: Bool = false) -> Bool {
        Interrupt.clear()
        for (i, s) in stmts.enumerated() {
            if case .cell = s { continue }
            let stepsBefore = stepsTaken
            do {
                let v = try interpreter.execute(s)
                if case .expression(let e) = s, v != .null {
                    let isCommand: Bool = { if case .call(let c) = e { return c.isCommand } else { return false } }()
                    let isAssignmentLike: Bool = { if case .conditional = e { return false } else { return true } }()
                    if (echo || isCommand || (echoLast && i == stmts.count - 1)) && isAssignmentLike {
                        show(v)
                    }
                }
                let t = source.text(of: s.span)
                successfulStatements.append(t.isEmpty ? "" : t)
            } catch let e as RuntimeError {
                emit(.error(render(e)))
                return false
            } catch let e as InterruptedError {
                emit(.error(e.description))
                Interrupt.clear()
                if let done = e.stepsDone, done > 0, let t = Self.statement(s, source: source, stepsDone: done) {
                    successfulStatements.append(t)
                } else if stepsTaken > stepsBefore {
                    successfulStatements.append(Self.leftOut(source.text(of: s.span), steps: stepsTaken - stepsBefore))
                }
                return false
            } catch {
                emit(.error("error: \(error)"))
                return false
            }
        }
        return true
    }

    /// The statement that does what an interrupted `step t, n` did before it
    /// stopped, for `:save`: the same text with `n` replaced by the steps that
    /// completed (`step t, 100` stopped after 7 is saved as `step t, 7`). Nil
    /// when the statement is not a `step` call of its own (a loop around one).
    static func statement(_ s: Stmt, source: SourceText, stepsDone: Int) -> String? {
        guard case .expression(.call(let c)) = s, case .identifier("step", _) = c.callee else { return nil }
        let positional = c.arguments.filter { $0.label == nil }
        guard positional.count == 2 else { return nil }
        let whole = s.span, count = positional[1].value.span
        guard whole.offset <= count.offset, count.endOffset <= whole.endOffset else { return nil }
        let before = source.text(of: SourceSpan(file: whole.file, line: whole.line, column: whole.column, length: 0,
                                                offset: whole.offset, endOffset: count.offset))
        let after = source.text(of: SourceSpan(file: whole.file, line: whole.line, column: whole.column, length: 0,
                                               offset: count.endOffset, endOffset: whole.endOffset))
        return before + String(stepsDone) + after
    }

    /// The first line of what `:save` writes in place of an interrupted
    /// statement that trained but is not a `step` call of its own.
    public static let leftOutMarker = "# left out by :save: interrupted after "

    /// An interrupted loop or function call that ran trainer steps, as
    /// comment lines: run again it would not stop where Ctrl-C stopped it, so
    /// a replay of the saved file has fewer steps than the session had.
    static func leftOut(_ text: String, steps: Int) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { "# " + $0 }
        return leftOutMarker + "\(steps) trainer step\(steps == 1 ? "" : "s"); a replay has fewer steps\n"
            + lines.joined(separator: "\n")
    }

    /// Echo a value: host objects may emit rich output (tables), others print.
    func show(_ v: Value) {
        if case .host(let t as TableValue) = v { emit(t.event); return }
        emit(.text(v.repr))
    }

    /// `file:3:5: error: message`, the line with a caret, then the call stack.
    public func render(_ e: RuntimeError) -> String {
        var out: String
        if let l = e.location, let src = sources[l.file], l.line > 0 {
            let span = SourceSpan(file: l.file, line: l.line, column: l.column, length: l.length)
            out = Diagnostic(message: e.message, span: span, source: src).rendered()
        } else {
            out = e.location.map { "\($0): " } ?? ""
            out += "error: \(e.message)"
        }
        // The stack only when a function was involved (the <script> frame alone adds nothing).
        // Runs of the same frame (deep recursion) print once with a count.
        if e.frames.count > 1 {
            var i = 0
            while i < e.frames.count {
                let f = e.frames[i]
                var j = i + 1
                while j < e.frames.count, e.frames[j] == f { j += 1 }
                out += "\n  at \(f.function)" + (f.location.map { " (\($0))" } ?? "")
                if j - i > 1 { out += "\n  ... the same frame \(j - i - 1) more times" }
                i = j
            }
        }
        return out
    }

    func emit(_ e: OutputEvent) { interpreter.emit(e) }

    // MARK: - Inspection

    /// Bound names in binding order, each with a one-line summary.
    public func variables() -> [(name: String, summary: String)] {
        interpreter.globals.bindings.map { ($0.name, $0.value.summary) }
    }

    /// Forget every binding and the statement history.
    public func reset() {
        interpreter.reset()
        successfulStatements = []
        pending = []
    }

    /// Help on a builtin or topic; the overview when nil.
    public func help(_ topic: String?) -> String {
        if let t = HelpTable.text(for: topic) { return t }
        if let topic, case .host(let h)? = interpreter.globals.lookup(topic),
           case .string(let s)? = try? interpreter.helpBuiltin(Arguments(callee: "help", positional: [.host(h)])) {
            return s
        }
        return "no help for '\(topic ?? "")'; topics: " + HelpTable.topics.joined(separator: ", ")
    }

    /// Append one trainer step's JSON line to the `--metrics` file (no-op
    /// without one), tagged with its run id; called after every trainer step,
    /// which it counts. The first call writes the header: script hash, seed,
    /// threads and version, which `replay` compares, and the trainer.
    public func recordMetrics(jsonLine: String, trainer: AnyObject? = nil, mode: String? = nil) throws {
        stepsTaken += 1
        let run = trainer.map { runID(for: $0, mode: mode ?? "trainer") }
        if let tensorboard, let step = try? StepMetrics(jsonLine: jsonLine) {
            // TRL's TensorBoard tags: "train/" + the metric's name; wall-clock seconds are left out.
            let scalars = zip(step.names, step.values).filter { $0.0 != "seconds" }.map { (tag: "train/" + $0.0, value: $0.1) }
            try tensorboard.append(run: run ?? step.mode, step: step.step, scalars: scalars)
        }
        guard let metrics else { return }
        try metrics.append(run.map { MetricsRecorder.tagged(jsonLine, run: $0) } ?? jsonLine) {
            MetricsRecorder.header(scriptHash: scriptHash, seed: options.seed,
                                   threads: options.threads ?? Parallelism.threads, version: Medr1Version.version,
                                   trainer: mode, run: run)
        }
    }

    /// A trainer's run id: its kind and its place among this session's
    /// trainers ("sft-1", "grpo-2"); the same for every step it takes.
    func runID(for trainer: AnyObject, mode: String) -> String {
        let key = ObjectIdentifier(trainer)
        if let id = runIDs[key]?.id { return id }
        let id = "\(mode)-\(runIDs.count + 1)"
        runIDs[key] = (trainer, id)
        return id
    }

    /// A seed for a binding called without `seed:`: the session seed, then +1 per use.
    func nextSeed() -> UInt64 {
        defer { seedCounter += 1 }
        return options.seed &+ seedCounter
    }
}
