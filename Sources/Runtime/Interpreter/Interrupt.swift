// Ctrl-C for long work. The SIGINT handler only counts presses; long loops
// poll. One press: stop after the current step (the trainer stays
// consistent). A second press: abort the current step, leaving the model as
// before that step. The REPL installs the handler; tests call request().

import Foundation

public enum Interrupt {
    /// Presses since the last `clear()`. Written by the signal handler, so a
    /// plain word (sig_atomic_t-like); read by polling loops.
    nonisolated(unsafe) static var presses: Int32 = 0

    /// Record one Ctrl-C (what the SIGINT handler does).
    public static func request() { presses &+= 1 }

    /// At least one press: stop at the next safe point.
    public static var isRequested: Bool { presses > 0 }

    /// Two or more presses: abandon the work in progress.
    public static var isAbortRequested: Bool { presses > 1 }

    /// Throws `InterruptedError(what)` after a press: for loops in builtins.
    public static func check(_ what: @autoclosure () -> String) throws {
        if isRequested { throw InterruptedError(what()) }
    }

    /// Forget presses (before starting a statement).
    public static func clear() { presses = 0 }

    /// Install a SIGINT handler (sigaction, flags 0) that only calls request().
    /// Safe to call more than once.
    public static func installHandler() {
        var action = sigaction()
        #if os(Linux)
        action.__sigaction_handler.sa_handler = { _ in Interrupt.presses &+= 1 }
        #else
        action.__sigaction_u.__sa_handler = { _ in Interrupt.presses &+= 1 }
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
    }
}
