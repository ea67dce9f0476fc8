import Foundation
import XCTest
@testable import Runtime

/// docs/reference.md is generated from the help table, the one place builtins
/// are described; this test keeps the committed file in step with the code.
/// Regenerate with: MEDR1_UPDATE_DOCS=1 swift test --filter ReferenceDocTests
final class ReferenceDocTests: XCTestCase {
    func testReferenceDocMatchesHelpTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let url = root.appendingPathComponent("docs/reference.md")
        let expected = HelpTable.markdown()
        if ProcessInfo.processInfo.environment["MEDR1_UPDATE_DOCS"] == "1" {
            try expected.write(to: url, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(committed, expected,
                       "docs/reference.md is out of date: MEDR1_UPDATE_DOCS=1 swift test --filter ReferenceDocTests")
    }
}
