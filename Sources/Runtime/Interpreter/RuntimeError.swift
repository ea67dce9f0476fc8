// Run-time errors: a message plus the script's call stack, one frame per
// active call with the place (file:line:col) it was called from. An error
// costs one statement; the session lives on.

import Foundation

/// A place in a script. Mirrors Lang's SourceSpan so that builtins and host
/// objects can name places without depending on the parser.
public struct SourceLocation: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var length: Int

    public init(file: String, line: Int, column: Int, length: Int = 1) {
        self.file = file
        self.line = line
        self.column = column
        self.length = length
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One active call when the error happened.
public struct StackFrame: Equatable, Sendable {
    /// The function's name, or "<script>" for top-level code.
    public var function: String
    /// Where in the script this frame was executing.
    public var location: SourceLocation?

    public init(function: String, location: SourceLocation?) {
        self.function = function
        self.location = location
    }
}

/// An error raised while running a statement. Builtins throw it with only a
/// message; the interpreter adds the location and the frames as it unwinds.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The innermost place the error was raised at (the expression).
    public var location: SourceLocation?
    /// Innermost first: the function that failed, then its callers.
    public var frames: [StackFrame] = []

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    /// `file:3:5: error: message` followed by `  at f (file:3:5)` per frame.
    public var description: String {
        var out = ""
        if let l = location { out += "\(l): " }
        out += "error: \(message)"
        for f in frames {
            out += "\n  at \(f.function)"
            if let l = f.location { out += " (\(l))" }
        }
        return out
    }
}

/// Raised by long work stopped with Ctrl-C; not a user mistake.
public struct InterruptedError: Error, CustomStringConvertible, Sendable {
    public var what: String
    /// Trainer steps that completed before a `step t, n` stopped (they stay done).
    public var stepsDone: Int?
    public init(_ what: String, stepsDone: Int? = nil) { self.what = what; self.stepsDone = stepsDone }
    public var description: String { "interrupted: \(what)" }
}
