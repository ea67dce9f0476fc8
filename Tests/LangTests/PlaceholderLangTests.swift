import XCTest
final class LangTestsSmoke: XCTestCase {
    func testSampleLetter() { XCTAssertEqual(String(UnicodeScalar(UInt8(65 + 2))), "C") }
}
