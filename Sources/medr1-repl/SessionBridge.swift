// The seam between the terminal program and the Runtime: everything the REPL,
// `run`, `notebook` and `replay` need from a session, as a protocol. The real
// Runtime.Session conforms in an extension below; tests drive the REPL loop with
// a scripted fake through the same protocol.
import Foundation
import Runtime

/// What one pushed line did: `.needsMore` or `.ran(ok:)` (Runtime's type).
typealias ReplPush = PushResult
/// How a whole script ended (`.ok`, `.syntaxError` -> 65, `.runtimeError` -> 70).
typealias ReplRunOutcome = RunOutcome

/// Options a session is created with (mirrors Runtime's SessionOptions).
struct ReplSessionOptions {
    /// Seed of every random choice the script does not seed itself.
    var seed: UInt64 = 0
    /// Threads for BLAS and the project's parallel loops (nil: the library default).
    var threads: Int? = nil
    /// Where trainers record one JSON line per step (with a header line).
    var metricsPath: String? = nil
    /// Where trainers also write TensorBoard event files (one folder per run).
    var tensorboardPath: String? = nil
    /// ANSI colour in output (off when not on a terminal, or with --no-color).
    var color: Bool = false
    /// At a prompt: echo bare expressions, show progress bars, plot to the terminal.
    var interactive: Bool = false
    /// Where relative paths in statements resolve: the script's folder for
    /// `run`, `notebook` and `replay`; nil for the working directory (the REPL).
    var baseDirectory: URL? = nil
}

/// The folder of a script given on the command line, as an absolute URL.
func scriptDirectory(_ file: String) -> URL {
    // A script read from a pipe (`run /dev/stdin`, `run <(gen)`) has no folder
    // of its own: its paths resolve against the working directory.
    if isPipeOrTerminal(file) { return URL(fileURLWithPath: FileManager.default.currentDirectoryPath) }
    return URL(fileURLWithPath: expandTilde(file)).standardizedFileURL.deletingLastPathComponent()
}

/// Whether `path` names a pipe (FIFO) or a character device such as a terminal.
func isPipeOrTerminal(_ path: String) -> Bool {
    var st = stat()
    guard stat(expandTilde(path), &st) == 0 else { return false }
    return st.st_mode & S_IFMT == S_IFIFO || st.st_mode & S_IFMT == S_IFCHR
}

/// The REPL's view of a Runtime session.
protocol ReplSession: AnyObject {
    /// Feeds one line typed at the prompt; the session buffers incomplete statements.
    func push(_ line: String) -> ReplPush
    /// Feeds one line that is not valid UTF-8: the session reports the bad bytes' position.
    func push(bytes: [UInt8]) -> ReplPush
    /// Forgets a half-typed statement (Ctrl-C at the continuation prompt).
    func discardPending()
    /// Runs a whole script (`run`, `:load`).
    func run(source: String, file: String) -> ReplRunOutcome
    /// Runs a `# %%`-cell script and returns each cell with its outputs;
    /// paths it shows are relative to `pageDirectory`, the folder of the page.
    func notebookCells(source: String, file: String, pageDirectory: URL?) -> [NotebookCell]
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

extension ReplSession {
    /// Sessions without their own byte handling see the bytes decoded with U+FFFD.
    func push(bytes: [UInt8]) -> ReplPush { push(String(decoding: bytes, as: UTF8.self)) }
}

// MARK: - Runtime.Session

extension Session: ReplSession {}

/// Creates the session every command uses; output goes to stdout, errors to stderr.
func makeSession(options: ReplSessionOptions) -> ReplSession {
    var sessionOptions = SessionOptions(seed: options.seed, threads: options.threads, metricsPath: options.metricsPath,
                                        color: options.color, interactive: options.interactive,
                                        sink: StandardOutputSink(),
                                        baseDirectory: options.baseDirectory
                                            ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    sessionOptions.tensorboardPath = options.tensorboardPath
    return Session(options: sessionOptions)
}

/// The program's version (from the Runtime, so the REPL and recordings agree).
let medr1Version = Medr1Version.version

/// Forwards ^C to the Runtime's interrupt counter (polled by long work such as
/// `step t, 50`: one press stops after the current step, two abort it).
enum RuntimeInterrupt {
    /// Nothing to initialise: the Runtime's counter is a plain static word.
    static func prepare() { _ = Interrupt.isRequested }
    /// Called from the SIGINT handler: only increments a word.
    static func request() { Interrupt.request() }
    /// Called before each prompt: work is over, the presses are spent.
    static func clear() { Interrupt.clear() }
}
