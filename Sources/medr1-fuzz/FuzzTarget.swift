// One fuzz input: parse it (script mode and the REPL's incremental mode),
// print it back, and, when it parses, run it in a sandboxed session. The
// sandbox withholds every builtin that reads or writes files, starts a
// process (gnuplot) or builds, trains or evaluates a model, so an input can
// only exercise the parser, the interpreter and the pure builtins.
// A watchdog presses Ctrl-C (twice) when an input runs too long: a loop
// that honours it ends with "interrupted"; one that does not is a hang.

import Foundation
import Lang
import Runtime

enum FuzzTarget {
    /// Builtins the sandbox replaces with an error: files, processes, data
    /// generation, models, training and evaluation.
    static let withheld: [String] = [
        "read_text", "write_text", "read_json", "write_json",
        "synth", "load", "load_omnimed", "load_medr1", "load_model",
        "model", "sample", "sft", "grpo", "step", "eval", "rescore",
        "save", "resume", "plot", "show",
    ]

    /// How long an input runs before the watchdog presses Ctrl-C.
    nonisolated(unsafe) static var interruptAfter: Double = 1.0
    /// How long after that the watchdog reports a hang and aborts (nil: never;
    /// libFuzzer's -timeout decides).
    nonisolated(unsafe) static var hangAfter: Double? = nil
    /// Inputs started so far (the watchdog presses only for the current one).
    nonisolated(unsafe) static var generation: Int = 0
    nonisolated(unsafe) static var startedAt: Double = 0
    nonisolated(unsafe) static var running = false
    /// The last generation the watchdog pressed Ctrl-C for.
    nonisolated(unsafe) static var pressedGeneration = -1
    private static let lock = NSLock()
    private static let sandboxDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("medr1-fuzz-\(getpid())")

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Start the watchdog thread (once). It presses Ctrl-C once after
    /// `interruptAfter` seconds and again a second later; `hangAfter`
    /// seconds after the first press it reports a hang and aborts.
    static func startWatchdog() {
        let thread = Thread {
            var pressedFor = -1, pressedTwiceFor = -1
            while true {
                usleep(50_000)
                lock.lock()
                let (gen, start, busy) = (generation, startedAt, running)
                lock.unlock()
                guard busy else { continue }
                let elapsed = now() - start
                if elapsed > interruptAfter, pressedFor != gen {
                    pressedFor = gen
                    lock.lock()
                    pressedGeneration = gen
                    lock.unlock()
                    Interrupt.request()
                }
                if elapsed > interruptAfter + 1, pressedTwiceFor != gen {
                    pressedTwiceFor = gen
                    Interrupt.request()
                }
                if let hangAfter = FuzzTarget.hangAfter, elapsed > interruptAfter + hangAfter {
                    FileHandle.standardError.write(Data("medr1-fuzz: hang: the input ran \(Int(elapsed)) s and Ctrl-C did not stop it\n".utf8))
                    abort()
                }
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Run one input. A whole script that parses runs as `medr1-repl run`
    /// would; otherwise its lines go one by one to a REPL session (as typed
    /// at the prompt: a syntax error costs one statement), so most inputs
    /// reach the interpreter. Returns whether the whole script parsed.
    @discardableResult
    static func run(_ bytes: [UInt8]) -> Bool {
        // The REPL's parser entry point sees partial input.
        _ = Parser.parse(bytes: bytes, file: "<fuzz>")
        let (program, diags) = Parser.parseScript(bytes: bytes, file: "<fuzz>")
        for d in diags { _ = d.rendered() }
        if diags.isEmpty { _ = Printer.print(program) }
        let source = String(decoding: bytes, as: UTF8.self)
        let session = Session(options: SessionOptions(seed: 1, threads: 1, interactive: !diags.isEmpty,
                                                      sink: DiscardingSink(), baseDirectory: sandboxDirectory))
        let refuse = { (name: String) in
            Builtin(name) { _, _ in throw RuntimeError("'\(name)' is not available in the fuzzer's sandbox") }
        }
        for name in withheld { session.interpreter.globals.define(name, .function(refuse(name))) }
        if diags.isEmpty {
            startClock()
            _ = session.run(source: source, file: "<fuzz>")
        } else {
            // Each line has the whole wait before Ctrl-C; the first line that
            // needed it ends the input (the session clears the press).
            for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
                let gen = startClock()
                _ = session.push(String(line))
                lock.lock()
                let pressed = pressedGeneration == gen
                lock.unlock()
                if pressed { break }
            }
        }
        lock.lock()
        running = false
        lock.unlock()
        Interrupt.clear()
        return diags.isEmpty
    }

    /// A new generation for the watchdog: its wait before Ctrl-C starts now.
    @discardableResult
    private static func startClock() -> Int {
        lock.lock()
        defer { lock.unlock() }
        generation += 1
        startedAt = now()
        running = true
        return generation
    }
}

/// Output goes nowhere, but is rendered (rendering is code under test too).
final class DiscardingSink: OutputSink {
    func emit(_ event: OutputEvent) { _ = "\(event)" }
}
