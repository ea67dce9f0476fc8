// Output of medr1-bench: result lines on standard output, messages on standard
// error, through write(2) so that a failed write (a full disk or a file-size
// limit under a redirection) is an error with its reason, not a trap.
import Foundation
import MedR1Lib
#if canImport(Glibc)
import Glibc
#endif

/// Writes `line` and a newline to standard output. A write that fails ends
/// the run with exit 1 and the reason on standard error: results that did
/// not reach their file must not look like a finished benchmark.
func writeLine(_ line: String) {
    do {
        try FileIO.writeAll(STDOUT_FILENO, Data((line + "\n").utf8), path: "standard output")
    } catch {
        writeError("medr1-bench: \(error)")
        exit(1)
    }
}

/// Writes `message` and a newline to standard error; nothing more can be done if that fails.
func writeError(_ message: String) {
    try? FileIO.writeAll(STDERR_FILENO, Data((message + "\n").utf8), path: "standard error")
}

/// A file-size limit (`ulimit -f`) makes an oversized write fail with EFBIG
/// instead of killing the process with SIGXFSZ, so it is reported in words.
func ignoreFileSizeSignal() {
    signal(SIGXFSZ, SIG_IGN)
}
