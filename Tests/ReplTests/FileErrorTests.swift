import Foundation
import XCTest
import TestSupport

/// Write failures of the built binary: a file-size limit (ulimit -f) hit while
/// writing metrics, a checkpoint or a text file is a runtime error (exit 70)
/// naming the file and saying why; and saves killed at random moments leave
/// a whole version (scripts/crash-saves, a few trials).
final class FileErrorTests: XCTestCase {
    static let setup = """
    let data = synth(n: 8, seed: 3, size: 16, to: "d")
    let m = model(tokenizer: data.tokenizer(vocab: 300), seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)

    """

    /// Runs `medr1-repl run script.medr1 extra...` under `ulimit -f blocks` (1024-byte blocks) in `dir`.
    func runLimited(_ script: String, blocks: Int, extra: String = "", in dir: URL) throws -> BinaryHarness.Result {
        try script.write(to: dir.appendingPathComponent("script.medr1"), atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "ulimit -f \(blocks); exec \"$0\" run script.medr1 \(extra)", BinaryHarness.binary.path]
        p.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return BinaryHarness.Result(status: p.terminationReason == .uncaughtSignal ? -p.terminationStatus : p.terminationStatus,
                                    stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func testMetricsFileSizeLimitIsARuntimeErrorNamingTheFile() throws {
        let dir = try TestSupport.temporaryDirectory()
        // The data set's PNGs are small; each SFT metrics line is about 150 bytes.
        let r = try runLimited(Self.setup + "let t = sft(m, data, batch: 2, seed: 4)\nstep t, 40, quiet: true\n",
                               blocks: 4, extra: "--metrics run.jsonl", in: dir)
        XCTAssertEqual(r.status, 70, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("script.medr1:4:1: error: cannot write metrics to run.jsonl: file too large (the file-size limit was reached)\n"), r.stderr)
        // The file keeps whole lines only: the header and the steps written before the limit.
        let lines = try String(contentsOf: dir.appendingPathComponent("run.jsonl"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.last, "")
        XCTAssertTrue(lines.dropLast().allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") }, "\(lines)")
        XCTAssertGreaterThan(lines.count, 3)
    }

    func testCheckpointAndTextFileSizeLimit() throws {
        let dir = try TestSupport.temporaryDirectory()
        // The model file is about 70 KB: within 200 blocks; the trainer checkpoint's optimiser file is not.
        let r = try runLimited(Self.setup + """
            let t = sft(m, data, batch: 2, seed: 4)
            step t, quiet: true
            save t, "m.safetensors"
            save t, "x.ckpt"
            """, blocks: 100, in: dir)
        XCTAssertEqual(r.status, 70, r.stderr)
        XCTAssertTrue(r.stderr.contains("cannot save to x.ckpt: cannot write optimizer.safetensors (file too large (the file-size limit was reached)); the checkpoint at this path is unchanged"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["d", "m.safetensors", "script.medr1"],
                       "no temporary folder is left")
        let w = try runLimited("write_text(\"big.txt\", join(map(range(3000), fn(i) { \"line\" }), \"\\n\"))\n", blocks: 8, in: dir)
        XCTAssertEqual(w.status, 70, w.stderr)
        XCTAssertTrue(w.stderr.contains("write_text: cannot write \(dir.path)/big.txt: file too large (the file-size limit was reached)"), w.stderr)
    }

    /// medr1-bench's result lines under a file-size limit: exit 1 with the
    /// reason, not a trap in FileHandle.write and not a silent exit 0.
    func testBenchOutputFileSizeLimitIsAnError() throws {
        let bench = BinaryHarness.productsDirectory.appendingPathComponent("medr1-bench")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: bench.path), "medr1-bench is not built (swift build --build-tests builds it)")
        let dir = try TestSupport.temporaryDirectory()
        for args in ["--help", "learn-check --help"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", "ulimit -f 0; exec \"$0\" \(args) > out.jsonl", bench.path]
            p.currentDirectoryURL = dir
            let err = Pipe()
            p.standardError = err
            try p.run()
            let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .exit, args)
            XCTAssertEqual(p.terminationStatus, 1, args)
            XCTAssertEqual(e, "medr1-bench: standard output: cannot write (file too large (the file-size limit was reached))\n", args)
        }
    }

    func testKilledSavesLeaveAWholeVersion() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/crash-saves")
        let p = Process()
        p.executableURL = script
        p.arguments = ["3"]
        p.environment = ProcessInfo.processInfo.environment.merging(["MEDR1_REPL": BinaryHarness.binary.path]) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("crash-saves: 3 kills, 0 failed;"), text)
        XCTAssertEqual(text.components(separatedBy: ": ok (step ").count - 1, 3, text)
    }
}
