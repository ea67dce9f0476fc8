import XCTest
import Foundation
@testable import Runtime

/// The JSON-lines protocol behind the Jupyter kernel, without Jupyter.
final class KernelServerTests: XCTestCase {
    func replies(_ server: KernelServer, _ request: String) -> [[String: Any]] {
        var lines: [String] = []
        _ = server.handle(request) { lines.append($0) }
        return lines.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? ["unparsed": $0] }
    }

    func server() throws -> KernelServer {
        KernelServer(session: Session(options: SessionOptions(seed: 1, sink: CollectingSink(), baseDirectory: try TestSupportDir.make())))
    }

    func testExecuteStreamsOutputsThenDone() throws {
        let k = try server()
        let r = replies(k, #"{"type": "execute", "id": 7, "code": "print(\"a <b>\")\n[1, 2]"}"#)
        XCTAssertEqual(r.count, 3)
        XCTAssertEqual(r[0]["type"] as? String, "output")
        XCTAssertEqual(r[0]["id"] as? Int, 7)
        XCTAssertEqual(r[0]["output"] as? NSDictionary, ["output_type": "stream", "name": "stdout", "text": ["a <b>\n"]])
        XCTAssertEqual(r[1]["output"] as? NSDictionary, ["output_type": "stream", "name": "stdout", "text": ["[1, 2]\n"]])
        XCTAssertEqual(r[2] as NSDictionary, ["type": "done", "id": 7, "ok": true, "execution_count": 1])
        // Bindings persist between cells; an error is an error output and ok false.
        let failed = replies(k, #"{"type": "execute", "id": 8, "code": "let y = 2\ny + nope"}"#)
        XCTAssertEqual((failed[0]["output"] as? [String: Any])?["evalue"] as? String, "cell[2]:2:5: error: 'nope' is not defined")
        XCTAssertEqual(failed[1] as NSDictionary, ["type": "done", "id": 8, "ok": false, "execution_count": 2])
        XCTAssertEqual(replies(k, #"{"type": "execute", "id": 9, "code": "y"}"#)[0]["output"] as? NSDictionary,
                       ["output_type": "stream", "name": "stdout", "text": ["2\n"]])
    }

    /// Cursors count code points: "é" before the word does not shift it.
    func testCompleteAndInspect() throws {
        let k = try server()
        _ = replies(k, #"{"type": "execute", "id": 1, "code": "let meanings = 1"}"#)
        let c = replies(k, #"{"type": "complete", "id": 2, "code": "\"é\"\nprint(mea", "cursor": 13}"#)
        XCTAssertEqual(c[0] as NSDictionary, ["type": "complete", "id": 2, "matches": ["mean", "meanings"], "cursor_start": 10, "cursor_end": 13])
        let i = replies(k, #"{"type": "inspect", "id": 3, "code": "step t, 5", "cursor": 2}"#)
        XCTAssertEqual(i[0]["found"] as? Bool, true)
        XCTAssertTrue((i[0]["text"] as? String)?.hasPrefix("step t or step t, n") == true, "\(i)")
        let none = replies(k, #"{"type": "inspect", "id": 4, "code": "zzz", "cursor": 1}"#)
        XCTAssertEqual(none[0] as NSDictionary, ["type": "inspect", "id": 4, "found": false])
    }

    func testBadRequestsAreAnsweredAndShutdownEnds() throws {
        let k = try server()
        XCTAssertEqual(replies(k, "[1]")[0]["error"] as? String, "a request is a JSON object, got: [1]")
        XCTAssertEqual(replies(k, #"{"id": 3}"#)[0] as NSDictionary,
                       ["type": "error", "id": 3, "error": "the request has no \"type\": execute, complete, inspect or shutdown"])
        XCTAssertEqual(replies(k, #"{"type": "run", "id": 4}"#)[0]["error"] as? String,
                       "unknown request type 'run': execute, complete, inspect or shutdown")
        var lines: [String] = []
        XCTAssertFalse(k.handle(#"{"type": "shutdown", "id": 5}"#) { lines.append($0) })
        XCTAssertEqual(lines, [#"{"id":5,"ok":true,"type":"done"}"#])
    }

    static let tinyTrainer = """
        let data = synth(n: 8, seed: 3, size: 16, to: "d")
        let m = model(tokenizer: data.tokenizer(vocab: 300), seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
        let t = grpo(m, data, group: 2, prompts: 2, max_tokens: 4, seed: 1)
        """

    /// The progress replies of a cell: (display id, update flag, text/plain, text/html).
    func progress(_ r: [[String: Any]]) -> [(id: String, update: Bool, text: String, html: String)] {
        r.compactMap { reply in
            guard let id = reply["display_id"] as? String, let output = reply["output"] as? [String: Any],
                  let data = output["data"] as? [String: [String]] else { return nil }
            XCTAssertEqual(output["output_type"] as? String, "display_data")
            return (id, reply["update"] as? Bool ?? false, data["text/plain"]?.joined() ?? "", data["text/html"]?.joined() ?? "")
        }
    }

    /// "reward R  kl K" (kl when the trainer has one) of each printed step line, as the display formats them.
    func statuses(_ r: [[String: Any]]) -> [String] {
        r.compactMap { reply -> String? in
            guard let text = ((reply["output"] as? [String: Any])?["text"] as? [String])?.joined(), text.hasPrefix("grpo step "),
                  let reward = text.firstMatch(of: #/  reward (\S+)/#) else { return nil }
            return "reward \(reward.1)" + (text.firstMatch(of: #/  kl (\S+)/#).map { "  kl \($0.1)" } ?? "")
        }
    }

    /// `step` in a cell shows one display, updated after every step with the same id
    /// (interval 0, a clock that ticks one second per reading), ending in the final state.
    func testStepsUpdateOneProgressDisplay() throws {
        let k = try server()
        k.progressInterval = 0
        k.displayPrefix = "p"
        nonisolated(unsafe) var now = 10.0
        k.clock = { now += 1; return now }
        XCTAssertEqual(replies(k, #"{"type": "execute", "id": 1, "code": \#(Self.json(Self.tinyTrainer))}"#).last?["ok"] as? Bool, true)
        let r = replies(k, #"{"type": "execute", "id": 2, "code": "step t, 3, every: 1"}"#)
        let s = statuses(r)
        XCTAssertEqual(s.count, 3, "\(r)")
        let shown = progress(r)
        XCTAssertEqual(shown.map(\.id), ["p-1", "p-1", "p-1", "p-1"])
        XCTAssertEqual(shown.map(\.update), [false, true, true, true])
        XCTAssertEqual(shown.map(\.text), ["grpo step 0/3  0.0 s", "grpo step 1/3  \(s[0])  1.0 s",
                                           "grpo step 2/3  \(s[1])  2.0 s", "grpo step 3/3  \(s[2])  3.0 s"])
        XCTAssertEqual(shown[3].html, "<div class=\"medr1-progress\"><progress value=\"3\" max=\"3\" style=\"width: 20em; "
            + "vertical-align: middle\"></progress> <code>grpo step 3/3  \(s[2])  3.0 s</code></div>")
        // The display comes first, before the first printed step line; the cell still ends with done.
        XCTAssertNotNil(r.first?["display_id"])
        XCTAssertEqual(r.last?["type"] as? String, "done")

        // At most one update per interval (0.5 s, the clock ticks 0.3 s): steps 1 and 3 fall
        // inside it; the final state is shown when the loop ends. A second loop gets a new id.
        k.progressInterval = 0.5
        now = 0
        k.clock = { now += 0.3; return now }
        let limited = progress(replies(k, #"{"type": "execute", "id": 3, "code": "step t, 3, quiet: true"}"#))
        XCTAssertEqual(limited.map(\.id), ["p-2", "p-2", "p-2"])
        XCTAssertEqual(limited.map(\.update), [false, true, true])
        XCTAssertEqual(limited.map { String($0.text.prefix(14)) }, ["grpo step 0/3 ", "grpo step 2/3 ", "grpo step 3/3 "])
        XCTAssertTrue(limited[1].text.hasSuffix("  0.6 s") && limited[2].text.hasSuffix("  1.2 s"), "\(limited)")
    }

    /// A loop that ends early leaves its display saying so; text from data is escaped in HTML.
    func testProgressDisplayEndsStoppedAndEscapes() throws {
        let k = try server()
        k.displayPrefix = "q"
        nonisolated(unsafe) var now = 0.0
        k.clock = { now += 2; return now }
        var sent: [String] = []
        let sink = KernelServer.StreamingSink(id: 5, server: k) { sent.append($0.output?.data?["text/plain"]?.joined() ?? "") }
        let display = sink.beginProgress(label: "eval", total: 4)
        display.update(done: 1, status: ["accuracy 0.500"])
        display.end()
        display.end()
        XCTAssertEqual(sent, ["eval 0/4  0.0 s", "eval 1/4  accuracy 0.500  2.0 s", "eval 1/4  accuracy 0.500  4.0 s  stopped"])
        XCTAssertEqual(ProgressBar.displayHTML(done: 7, total: 2, text: "a <b> & \"c\""),
                       "<div class=\"medr1-progress\"><progress value=\"2\" max=\"2\" style=\"width: 20em; vertical-align: middle\">"
                       + "</progress> <code>a &lt;b&gt; &amp; &quot;c&quot;</code></div>")
    }

    static func json(_ s: String) -> String {
        String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
    }
}
