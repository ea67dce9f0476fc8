// `--metrics FILE.jsonl`: every trainer step appends one JSON line. The file
// starts with a header line naming the script's hash, the seed, the thread
// count and the program version, so `replay` can check it is comparing like
// with like.

import Foundation

final class MetricsRecorder {
    let path: String
    private var handle: FileHandle?

    init(path: String) { self.path = path }

    /// The header line: {"header": "medr1-metrics", "script_hash": ..., "seed": ..., "threads": ..., "version": ...}.
    static func header(scriptHash: String, seed: UInt64, threads: Int, version: String) -> String {
        "{\"header\": \"medr1-metrics\", \"script_hash\": \"\(scriptHash)\", \"seed\": \(seed), \"threads\": \(threads), \"version\": \"\(version)\"}"
    }

    /// Append one line, writing the header first when the file is opened.
    func append(_ line: String, header: () -> String) throws {
        if handle == nil {
            let url = URL(fileURLWithPath: path)
            do {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try (header() + "\n").write(to: url, atomically: true, encoding: .utf8)
                handle = try FileHandle(forWritingTo: url)
                try handle?.seekToEnd()
            } catch {
                throw RuntimeError("cannot write metrics to \(path): \(Files.reason(error))")
            }
        }
        handle?.write((line + "\n").data(using: .utf8)!)
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

    deinit { try? handle?.close() }
}
