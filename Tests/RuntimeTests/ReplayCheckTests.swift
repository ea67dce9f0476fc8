import XCTest
import MedR1Lib
import Runtime

/// The bit-for-bit comparison behind `replay`, on recordings written by hand.
final class ReplayCheckTests: XCTestCase {
    let header = #"{"script_hash": "ab12", "seed": 7, "threads": 2, "version": "0.1.0"}"#

    func recording(_ lines: [String]) throws -> Recording {
        try Recording(text: ([header] + lines).joined(separator: "\n") + "\n", name: "run.jsonl")
    }

    func testIdenticalRecordingsReproduce() throws {
        let lines = [#"{"step": 1, "mode": "grpo", "reward": 0.1, "kl": 0, "seconds": 1.5}"#,
                     #"{"step": 2, "mode": "grpo", "reward": 0.30000000000000004, "kl": 1e-05, "seconds": 1.4}"#]
        let a = try recording(lines), b = try recording(lines)
        XCTAssertEqual(a.header?["seed"], .number("7"))
        XCTAssertEqual(a.steps.count, 2)
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: b), .reproduced(steps: 2))
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: b).message, "reproduced 2 steps exactly")
    }

    /// A recording made before steps carried their run id still replays.
    func testRunIdsAreNotCompared() throws {
        let old = try recording([#"{"step": 1, "mode": "grpo", "reward": 0.1}"#])
        let new = try recording([#"{"run": "grpo-1", "step": 1, "mode": "grpo", "reward": 0.1}"#])
        XCTAssertEqual(ReplayComparison.compare(recorded: old, replayed: new), .reproduced(steps: 1))
        XCTAssertEqual(ReplayComparison.compare(recorded: new, replayed: old), .reproduced(steps: 1))
    }

    func testLastBitDifferenceIsADivergence() throws {
        let a = try recording([#"{"step": 1, "mode": "grpo", "reward": 0.1}"#,
                               #"{"step": 2, "mode": "grpo", "reward": 0.30000000000000004, "kl": 2}"#])
        let b = try recording([#"{"step": 1, "mode": "grpo", "reward": 0.1}"#,
                               #"{"step": 2, "mode": "grpo", "reward": 0.3, "kl": 2}"#])
        let verdict = ReplayComparison.compare(recorded: a, replayed: b)
        XCTAssertEqual(verdict, .diverged(step: "2 (grpo)", metric: "reward", recorded: "0.30000000000000004", replayed: "0.3"))
        XCTAssertEqual(verdict.message,
                       "diverged at step 2 (grpo), metric reward: recorded 0.30000000000000004, replayed 0.3")
    }

    func testSameNumberWrittenDifferentlyIsEqualButSignedZeroIsNot() throws {
        let a = try recording([#"{"step": 1, "x": 1e-5, "y": 0}"#])
        let b = try recording([#"{"step": 1, "x": 0.00001, "y": 0}"#])
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: b), .reproduced(steps: 1))
        let c = try recording([#"{"step": 1, "x": 1e-5, "y": -0.0}"#])
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: c),
                       .diverged(step: "1", metric: "y", recorded: "0", replayed: "-0.0"))
    }

    func testTimingIsIgnoredAndExtraKeysCanBe() throws {
        let a = try recording([#"{"step": 1, "loss": 2.5, "seconds": 1.0, "note": "a"}"#])
        let b = try recording([#"{"step": 1, "loss": 2.5, "seconds": 9.0, "note": "b"}"#])
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: b),
                       .diverged(step: "1", metric: "note", recorded: "\"a\"", replayed: "\"b\""))
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: b, ignoring: ["note"]), .reproduced(steps: 1))
    }

    func testMissingAndExtraMetricsAndLengths() throws {
        let a = try recording([#"{"step": 1, "loss": 2.5, "kl": 0.5}"#])
        let b = try recording([#"{"step": 1, "loss": 2.5}"#])
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: b),
                       .diverged(step: "1", metric: "kl", recorded: "0.5", replayed: "(missing)"))
        XCTAssertEqual(ReplayComparison.compare(recorded: b, replayed: a),
                       .diverged(step: "1", metric: "kl", recorded: "(missing)", replayed: "0.5"))
        let c = try recording([#"{"step": 1, "loss": 2.5}"#, #"{"step": 2, "loss": 2.4}"#])
        XCTAssertEqual(ReplayComparison.compare(recorded: c, replayed: b).message,
                       "diverged in length: the recording has 2 steps, the replay 1 (all shared steps agree)")
    }

    func testNestedValuesAndNullCompareByPath() throws {
        let a = try recording([#"{"step": 1, "rewards": {"format": [1, 0.5]}, "entropy": null}"#])
        let b = try recording([#"{"step": 1, "rewards": {"format": [1, 0.25]}, "entropy": null}"#])
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: b),
                       .diverged(step: "1", metric: "rewards.format[1]", recorded: "0.5", replayed: "0.25"))
    }

    func testMalformedLineNamesFileLineAndColumn() {
        XCTAssertThrowsError(try Recording(text: "{\"step\": 1}\n{\"step\": 2, \"x\": }\n", name: "run.jsonl")) { error in
            XCTAssertEqual("\(error)", "run.jsonl:2: column 18: unexpected character '}'")
        }
        XCTAssertThrowsError(try Recording(text: "[1, 2]\n", name: "r.jsonl")) { error in
            XCTAssertEqual("\(error)", "r.jsonl:1: expected a JSON object per line, found [1, 2]")
        }
    }

    /// A recording path that is a FIFO is refused before reading (it would block).
    func testRecordingThatIsAFIFOIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medr1-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let fifo = dir.appendingPathComponent("run.jsonl").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        XCTAssertThrowsError(try Recording(contentsOf: fifo)) { error in
            XCTAssertEqual("\(error)", "cannot read recording \(fifo): is not a regular file (it is a FIFO): give the path of a file")
        }
        XCTAssertThrowsError(try Recording(contentsOf: fifo + ".missing")) { error in
            XCTAssertEqual("\(error)", "cannot read recording \(fifo).missing: no such file")
        }
    }

    func testStringEscapesAreDecoded() throws {
        let r = try Recording(text: #"{"step": 1, "a\"b": "x\nyé\u00e9\ud83d\ude00"}"#, name: "r.jsonl")
        XCTAssertEqual(r.steps, [.object([(key: "step", value: .number("1")), (key: "a\"b", value: .string("x\nyéé😀"))])])
    }

    /// A line nested deeper than the reader allows is an error, not a stack overflow.
    func testDeeplyNestedLineIsAnError() {
        // The object is the first level, so the 1000th bracket (column 9 + 1000) is one too many.
        let deep = "{\"step\": " + String(repeating: "[", count: 100_000) + "\n"
        XCTAssertThrowsError(try Recording(text: deep, name: "r.jsonl")) { error in
            XCTAssertEqual("\(error)", "r.jsonl:1: column 1009: arrays and objects nested deeper than 1000 levels")
        }
    }

    /// A divergence in a string shows it as JSON: quotes and control characters escaped.
    func testStringDivergenceShowsEscapedText() throws {
        let a = try recording([#"{"step": 1, "note": "a\"b"}"#])
        let b = try recording([#"{"step": 1, "note": "a\nb\u001b[2J"}"#])
        XCTAssertEqual(ReplayComparison.compare(recorded: a, replayed: b).message,
                       #"diverged at step 1, metric note: recorded "a\"b", replayed "a\nb\u001b[2J""#)
    }
}
