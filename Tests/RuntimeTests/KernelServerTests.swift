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
}
