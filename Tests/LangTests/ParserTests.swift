import XCTest
import Lang

/// Parses and returns the S-expression dump, failing the test on any diagnostic.
func dumpOf(_ source: String, file: StaticString = #filePath, line: UInt = #line) -> String {
    switch Parser.parse(source: source, file: "t.medr1") {
    case .complete(let p): return ASTDump.dump(p)
    case .needsMore(let d): XCTFail("needs more: \(d.rendered())", file: file, line: line)
    case .errors(let ds, _): XCTFail(ds.map { $0.rendered() }.joined(separator: "\n"), file: file, line: line)
    }
    return ""
}

final class ParserTests: XCTestCase {
    func testCommandCallsAndSigns() {
        XCTAssertEqual(dumpOf("step t, 10"), "(command step t 10)")
        XCTAssertEqual(dumpOf("show -1"), "(command show (neg 1))")
        XCTAssertEqual(dumpOf("x - 1"), "(- x 1)")
        XCTAssertEqual(dumpOf("x-1"), "(- x 1)")
        XCTAssertEqual(dumpOf("rescore t.last with: [1]"), "(command rescore (. t last) with: (list 1))")
    }
}
