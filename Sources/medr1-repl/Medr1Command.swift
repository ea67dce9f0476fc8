// The command line (swift-argument-parser): with no subcommand an interactive
// session; `run`, `notebook` and `replay` for scripts. Only this file exits the
// process, with the exit codes of sysexits.h as other language tools use them
// (clox, CPython's -m py_compile): 64 usage, 65 syntax error in the script
// (EX_DATAERR), 66 input file missing (EX_NOINPUT), 70 runtime error (EX_SOFTWARE).
import ArgumentParser
import Runtime
import Foundation
import MedR1Lib

/// Exit statuses of the program.
enum ExitStatus {
    static let usage: Int32 = 64
    static let syntax: Int32 = 65
    static let noInput: Int32 = 66
    static let runtime: Int32 = 70
    /// `replay` found a value that differs from the recording.
    static let diverged: Int32 = 1
}

/// Options every way of running a session shares.
struct SessionFlags: ParsableArguments {
    @Option(help: "Seed of every random choice the script does not seed itself.")
    var seed: UInt64 = 0

    @Option(help: "Threads for BLAS and parallel loops (default: the library's choice).")
    var threads: Int?

    @Option(help: ArgumentHelp("Record one JSON line per trainer step (after a header line) here.", valueName: "FILE.jsonl"))
    var metrics: String?

    @Option(help: ArgumentHelp("Also write each trainer step to TensorBoard event files, one folder per run, under this folder.", valueName: "DIR"))
    var tensorboard: String?

    @Flag(name: .customLong("no-color"), help: "No ANSI colour (also off when output is not a terminal, or NO_COLOR is set).")
    var noColor = false

    func validate() throws {
        if let threads, !SessionFlags.threadRange.contains(threads) {
            throw ValidationError("--threads must be in \(SessionFlags.threadRange), got \(threads)")
        }
    }

    /// Thread counts accepted from the command line and from a recording's header.
    static let threadRange = 1...1024

    /// Session options; `interactive` when reading from a terminal.
    func options(interactive: Bool) -> ReplSessionOptions {
        let colourAllowed = !noColor && isatty(STDOUT_FILENO) == 1
            && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
        return ReplSessionOptions(seed: seed, threads: threads, metricsPath: metrics, tensorboardPath: tensorboard,
                                  color: colourAllowed, interactive: interactive)
    }
}

/// Writes session output to stdout right away (progress goes to stderr, so keep order).
func writeOut(_ text: String) { writeAll(STDOUT_FILENO, text) }

/// Writes a message to stderr.
func writeErr(_ text: String) { writeAll(STDERR_FILENO, text) }

/// write(2) until every byte is out (unbuffered, so stdout and stderr keep their order).
private func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 { if errno == EINTR { continue } else { return } }
        offset += n
    }
}

/// Reads the script a subcommand was given, or exits 66 saying which file is
/// missing, or 65 with the position of every invalid UTF-8 byte.
func loadScriptOrExit(_ path: String) throws -> String {
    do {
        return try readScript(path, allowPipe: true)
    } catch let e as ScriptEncodingError {
        writeErr(Escaping.terminal(e.description) + "\n")
        throw ExitCode(ExitStatus.syntax)
    } catch {
        writeErr("medr1-repl: \(error)\n")
        throw ExitCode(ExitStatus.noInput)
    }
}

@main
struct Medr1REPL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medr1-repl",
        abstract: "GRPO training of a tiny vision-language model on medical VQA, interactively.",
        discussion: """
        With no subcommand: an interactive session (line editing, history in \
        ~/.medr1_history or $MEDR1_HISTORY, tab completion, :help). When stdin \
        is not a terminal, statements are read from it without prompts.
        Paths a script names resolve against the script's folder under run, \
        notebook and replay, and against the working directory at the prompt.
        Exit codes: 64 usage, 65 syntax error, 66 missing input file, 70 runtime error.
        """,
        version: medr1Version,
        subcommands: [RunScript.self, RenderNotebook.self, ReplayRun.self, KernelMode.self])

    /// Picks OpenBLAS's fast kernels before anything runs (BLASEnvironment.swift).
    static func main() {
        BLASEnvironment.ensureFastKernels()
        // Past a file-size limit (ulimit -f) a write fails with EFBIG, reported as a
        // runtime error naming the file, instead of the signal killing the process.
        signal(SIGXFSZ, SIG_IGN)
        main(nil)
    }

    @OptionGroup var flags: SessionFlags

    mutating func run() throws {
        let onTerminal = isatty(STDIN_FILENO) == 1
        // Prompt semantics (a bare expression echoes its value) on a pipe too, so
        // `echo '1 + 2' | medr1-repl` prints 3; progress bars check the terminal themselves.
        let options = flags.options(interactive: true)
        let session = makeSession(options: options)
        InterruptSignal.install()
        let editor: LineEditor = onTerminal
            ? LibEditLineEditor(historyPath: LibEditLineEditor.defaultHistoryPath())
            : PipeLineReader()
        let loop = ReplLoop(session: session, editor: editor, color: options.color, out: writeOut, err: writeErr)
        if onTerminal { writeOut(ReplLoop.welcome(version: medr1Version)) }
        loop.run()
        if onTerminal { writeOut("\n") }
        // On a pipe, a failed statement fails the run (as `python3 < script` does).
        if !onTerminal && loop.anyFailure { throw ExitCode(ExitStatus.runtime) }
    }
}

/// `medr1-repl run FILE`
struct RunScript: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a script. Exit 65 on a syntax error, 70 on a runtime error.")

    @Argument(help: ArgumentHelp("The script to run.", valueName: "FILE"))
    var file: String

    @OptionGroup var flags: SessionFlags

    mutating func run() throws {
        let source = try loadScriptOrExit(file)
        var options = flags.options(interactive: false)
        options.baseDirectory = scriptDirectory(file)
        let session = makeSession(options: options)
        InterruptSignal.install()
        switch session.run(source: source, file: file) {
        case .ok: return
        case .syntaxError: throw ExitCode(ExitStatus.syntax)
        case .runtimeError: throw ExitCode(ExitStatus.runtime)
        }
    }
}

/// `medr1-repl notebook FILE -o OUT.html|OUT.md|OUT.ipynb`
struct RenderNotebook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notebook",
        abstract: "Run a `# %%`-cell script and render it as one HTML page, Markdown with images beside it, or a Jupyter notebook.")

    @Argument(help: ArgumentHelp("The script; cells start at lines `# %% [title]`, prose cells at `# %% [markdown]`.", valueName: "FILE"))
    var file: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The page to write: .html (self-contained), .md (images in NAME_files/) or .ipynb (nbformat 4).", valueName: "OUT"))
    var output: String

    @Flag(help: "Exit 0 even when a cell failed (the error is shown in its cell either way).")
    var allowErrors = false

    @OptionGroup var flags: SessionFlags

    func validate() throws {
        let ext = (output as NSString).pathExtension.lowercased()
        if !["html", "htm", "md", "markdown", "ipynb"].contains(ext) {
            throw ValidationError("-o must end in .html, .md or .ipynb, got '\(output)'")
        }
    }

    mutating func run() throws {
        let source = try loadScriptOrExit(file)
        var options = flags.options(interactive: false)
        options.color = false
        options.baseDirectory = scriptDirectory(file)
        let session = makeSession(options: options)
        InterruptSignal.install()
        let outURL = URL(fileURLWithPath: expandTilde(output)).standardizedFileURL
        let cells = session.notebookCells(source: source, file: file, pageDirectory: outURL.deletingLastPathComponent())
        let threads = flags.threads.map(String.init) ?? "default"
        let renderer = NotebookRenderer(
            title: (file as NSString).lastPathComponent,
            subtitle: "medr1 \(medr1Version) - seed \(flags.seed), threads \(threads)")
        let ext = outURL.pathExtension.lowercased()
        var images = cells.flatMap(\.outputs).filter {
            switch $0 { case .png, .svg: return true; default: return false }
        }.count
        do {
            switch ext {
            case "md", "markdown":
                let stem = outURL.deletingPathExtension().lastPathComponent
                let assetDir = stem + "_files"
                let page = renderer.markdown(cells, assetDirectory: assetDir)
                if !page.assets.isEmpty {
                    let dir = outURL.deletingLastPathComponent().appendingPathComponent(assetDir)
                    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                    for asset in page.assets {
                        try FileIO.writeAtomically(asset.data, to: dir.appendingPathComponent(asset.name))
                    }
                }
                images = page.assets.count
                try FileIO.writeAtomically(Data(page.text.utf8), to: outURL)
            case "ipynb":
                try FileIO.writeAtomically(renderer.ipynb(cells), to: outURL)
            default:
                try FileIO.writeAtomically(Data(renderer.html(cells).utf8), to: outURL)
            }
        } catch {
            writeErr("medr1-repl: cannot write \(output): \(FileIO.reason(error))\n")
            throw ExitCode(ExitStatus.runtime)
        }
        let failed = cells.filter(\.failed).count
        let plural: (Int, String) -> String = { "\($0) \($1)\($0 == 1 ? "" : "s")" }
        writeErr("wrote \(output): \(plural(cells.count, "cell")), \(plural(images, "image"))\(failed > 0 ? ", \(failed) failed" : "")\n")
        if failed > 0 && !allowErrors { throw ExitCode(ExitStatus.runtime) }
    }
}

/// `medr1-repl kernel`: the machine-readable session the Jupyter kernel drives.
struct KernelMode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "A session for the Jupyter kernel: JSON requests on stdin (execute, complete, inspect, shutdown), JSON lines on stdout.",
        discussion: "SIGINT interrupts as Ctrl-C does: once stops after the current step, twice aborts it. Install the kernel with scripts/jupyter-kernel.")

    @OptionGroup var flags: SessionFlags

    @Option(name: .customLong("progress-interval"),
            help: "Least seconds between two updates of a progress display (0: after every step; default 0.5, or $MEDR1_PROGRESS_INTERVAL).")
    var progressInterval: Double?

    mutating func validate() throws {
        if let v = progressInterval, !(v.isFinite && v >= 0) {
            throw ValidationError("--progress-interval takes a number of seconds, 0 or more, got \(v)")
        }
    }

    mutating func run() throws {
        var options = flags.options(interactive: false)
        options.color = false
        var sessionOptions = SessionOptions(
            seed: options.seed, threads: options.threads, metricsPath: options.metricsPath, color: false, interactive: false,
            sink: StandardOutputSink(), baseDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        sessionOptions.tensorboardPath = options.tensorboardPath
        let session = Session(options: sessionOptions)
        let server = KernelServer(session: session)
        if let v = progressInterval ?? ProcessInfo.processInfo.environment["MEDR1_PROGRESS_INTERVAL"].flatMap(Double.init),
           v.isFinite, v >= 0 {
            server.progressInterval = v
        }
        InterruptSignal.install()
        while let line = readLine(strippingNewline: true) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            if !server.handle(line, send: { writeOut($0 + "\n") }) { break }
        }
    }
}

/// `medr1-repl replay FILE --check RUN.jsonl`
struct ReplayRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a script again and compare every recorded metric of every step, bit for bit.",
        discussion: "Seed and threads come from the recording's header unless given. Exit 1 on the first divergence.")

    @Argument(help: ArgumentHelp("The script that made the recording.", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("The recording made with --metrics.", valueName: "RUN.jsonl"))
    var check: String

    @Option(help: "Seed (default: the recording's).")
    var seed: UInt64?

    @Option(help: "Threads (default: the recording's).")
    var threads: Int?

    func validate() throws {
        if let threads, !SessionFlags.threadRange.contains(threads) {
            throw ValidationError("--threads must be in \(SessionFlags.threadRange), got \(threads)")
        }
    }

    @Option(help: ArgumentHelp("Also ignore this metric (repeatable); wall-clock times are always ignored.", valueName: "NAME"))
    var ignore: [String] = []

    @Option(help: ArgumentHelp("Keep the new recording here (default: a temporary file).", valueName: "FILE.jsonl"))
    var metrics: String?

    mutating func run() throws {
        let source = try loadScriptOrExit(file)
        let recorded: Recording
        do {
            recorded = try Recording(contentsOf: check)
        } catch {
            // The message quotes the recording's text: shown, never sent to the terminal.
            writeErr(Escaping.terminal("medr1-repl: \(error)") + "\n")
            throw ExitCode(ExitStatus.noInput)
        }
        let headerSeed = recorded.header?["seed"].flatMap { UInt64($0.literal) }
        let headerThreads = recorded.header?["threads"].flatMap { Int($0.literal) }
        if threads == nil, let t = headerThreads, !SessionFlags.threadRange.contains(t) {
            writeErr(Escaping.terminal("medr1-repl: \(check): the header's threads is \(t), outside \(SessionFlags.threadRange); give --threads") + "\n")
            throw ExitCode(ExitStatus.noInput)
        }
        let newPath = metrics ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("medr1-replay-\(getpid())-\(UUID().uuidString).jsonl").path
        defer { if metrics == nil { try? FileManager.default.removeItem(atPath: newPath) } }
        let options = ReplSessionOptions(seed: seed ?? headerSeed ?? 0, threads: threads ?? headerThreads,
                                         metricsPath: newPath, color: false, interactive: false,
                                         baseDirectory: scriptDirectory(file))
        let session = makeSession(options: options)
        InterruptSignal.install()
        let outcome = session.run(source: source, file: file)
        let replayed: Recording
        do {
            replayed = try Recording(contentsOf: newPath)
        } catch {
            replayed = Recording(header: nil, steps: [])
        }
        if let old = recorded.header, let new = replayed.header {
            for key in ["script_hash", "version"] where old[key] != nil && old[key] != new[key] {
                writeErr(Escaping.terminal("note: \(key) differs: recorded \(old[key]!.literal), now \(new[key]?.literal ?? "(none)")") + "\n")
            }
        }
        let verdict = ReplayComparison.compare(recorded: recorded, replayed: replayed, ignoring: Set(ignore))
        writeOut(Escaping.terminal(verdict.message) + "\n")
        switch outcome {
        case .syntaxError: throw ExitCode(ExitStatus.syntax)
        case .runtimeError: throw ExitCode(ExitStatus.runtime)
        case .ok: break
        }
        if case .reproduced = verdict { return }
        throw ExitCode(ExitStatus.diverged)
    }
}
