// `--metrics FILE.jsonl`: every trainer step appends one JSON line, tagged
// with its run (`"run": "grpo-2"`: the trainer's kind and its place among the
// session's trainers), so the steps of several trainers in one file, or of
// several files put together, stay apart. The file starts with a header line
// naming the script's hash, the seed, the thread count, the program version
// and the first trainer, so `replay` can check it is comparing like with like.

import Foundation
import MedR1Lib

final class MetricsRecorder {
    let path: String
    /// Open for appending after the first line; -1 before.
    private var fd: Int32 = -1
    /// Bytes of whole lines in the file.
    private var written = 0

    init(path: String) { self.path = path }

    /// The header line: {"header": "medr1-metrics", "script_hash": ..., "seed": ..., "threads": ...,
    /// "version": ..., "trainer": "grpo", "run": "grpo-1"} (the trainer of the first step).
    static func header(scriptHash: String, seed: UInt64, threads: Int, version: String,
                       trainer: String? = nil, run: String? = nil) -> String {
        var line = "{\"header\": \"medr1-metrics\", \"script_hash\": \"\(scriptHash)\", \"seed\": \(seed), \"threads\": \(threads), \"version\": \"\(version)\""
        if let trainer { line += ", \"trainer\": " + JSONLiteral.string(trainer) }
        if let run { line += ", \"run\": " + JSONLiteral.string(run) }
        return line + "}"
    }

    /// A step's JSON object with `"run"` as its first key.
    static func tagged(_ line: String, run: String) -> String {
        guard line.hasPrefix("{"), line.count > 2 else { return line }
        return "{\"run\": " + JSONLiteral.string(run) + ", " + line.dropFirst()
    }

    /// Append one line, writing the header first when the file is opened. A
    /// failed write (full disk, file-size limit) is a runtime error naming the file.
    func append(_ line: String, header: () -> String) throws {
        var text = line + "\n"
        if fd < 0 {
            let url = URL(fileURLWithPath: path)
            do {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            } catch {
                throw RuntimeError("cannot write metrics to \(path): \(Files.reason(error))")
            }
            // A FIFO would block the first step until some process reads it (and
            // Ctrl-C cannot end that wait): only files, and devices such as /dev/null.
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & S_IFMT != S_IFCHR, let what = FileIO.notARegularFile(st.st_mode) {
                throw RuntimeError("cannot write metrics to \(path): it is \(what), not a file; give the path of a file")
            }
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0o644)
            guard fd >= 0 else { throw RuntimeError("cannot write metrics to \(path): \(FileIO.reason(errno: errno))") }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            text = header() + "\n" + text
        }
        do { try FileIO.writeAll(fd, Data(text.utf8), path: path) } catch {
            // Keep the file a sequence of whole lines: drop the part of this one that was written.
            _ = ftruncate(fd, off_t(written))
            throw RuntimeError("cannot write metrics to \(path): \(Files.reason(error))")
        }
        written += text.utf8.count
    }

    /// FNV-1a 64-bit of the UTF-8 bytes, as 16 hex digits: names a script, not a security hash.
    static func hash(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return String(format: "%016llx", h)
    }

    deinit { if fd >= 0 { close(fd) } }
}
