import XCTest
@testable import medr1_repl

/// Meta-command parsing: a table of input -> command or exact error text.
final class MetaCommandTests: XCTestCase {
    func testParsesEveryCommand() throws {
        let table: [(String, MetaCommand)] = [
            (":help", .help(topic: nil)),
            (":help grpo", .help(topic: "grpo")),
            ("  :h   step  ", .help(topic: "step")),
            (":quit", .quit),
            (":q", .quit),
            (":exit", .quit),
            (":history", .history),
            (":vars", .vars),
            (":save session.medr1", .save(path: "session.medr1")),
            (":save \"my run.medr1\"", .save(path: "my run.medr1")),
            (":sa x.medr1", .save(path: "x.medr1")),
            (":load runs/a.medr1", .load(path: "runs/a.medr1")),
            (":time step t, 5", .time(statement: "step t, 5")),
            (":reset", .reset),
            (":RESET", .reset),
        ]
        for (line, expected) in table {
            XCTAssertEqual(try MetaCommand.parse(line), expected, "parsing \(line)")
        }
    }

    func testErrorsSayHowToFix() {
        let table: [(String, String)] = [
            (":frobnicate", "unknown meta-command ':frobnicate': type :help for the list"),
            (":", "empty meta-command: type :help for the list"),
            (":save", ":save needs a file name, e.g. :save session.medr1"),
            (":load   ", ":load needs a file name, e.g. :load session.medr1"),
            (":time", ":time needs a statement, e.g. :time step t, 5"),
            (":quit now", ":quit takes no argument (got 'now')"),
            (":vars x", ":vars takes no argument (got 'x')"),
            (":xyz now", "unknown meta-command ':xyz': type :help for the list"),
        ]
        for (line, message) in table {
            XCTAssertThrowsError(try MetaCommand.parse(line), line) { error in
                XCTAssertEqual("\(error)", message, "parsing \(line)")
            }
        }
    }

    func testAmbiguousPrefixListsCandidates() {
        // :s could be :save only; "r" could be :reset only; "h" is the alias of help
        XCTAssertEqual(try MetaCommand.parse(":r"), .reset)
        XCTAssertEqual(try MetaCommand.parse(":s a"), .save(path: "a"))
        XCTAssertEqual(try MetaCommand.parse(":hi"), .history)
    }

    func testRecognisesMetaLinesOnly() {
        XCTAssertTrue(MetaCommand.isMetaCommand(":help"))
        XCTAssertTrue(MetaCommand.isMetaCommand("   :q"))
        XCTAssertFalse(MetaCommand.isMetaCommand("let x = {a: 1}"))
        XCTAssertFalse(MetaCommand.isMetaCommand(""))
    }

    func testCompletesNames() {
        XCTAssertEqual(MetaCommand.completions(for: ":h"), [":help", ":history"])
        XCTAssertEqual(MetaCommand.completions(for: ":"), MetaCommand.catalogue.map { ":" + $0.name })
        XCTAssertEqual(MetaCommand.completions(for: ":save x"), [])
    }

    func testOverviewListsEveryCommandAligned() {
        let lines = MetaCommand.overview.split(separator: "\n")
        XCTAssertEqual(lines.count, 1 + MetaCommand.catalogue.count)
        XCTAssertEqual(lines[1], "  :help [topic]  help on a builtin or topic; without a topic, this list")
        XCTAssertEqual(lines[5], "  :save FILE     write the statements that succeeded as a script")
    }
}
