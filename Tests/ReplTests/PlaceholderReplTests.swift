import XCTest
final class ReplTestsSmoke: XCTestCase {
    func testSampleLetter() { XCTAssertEqual(String(UnicodeScalar(UInt8(65 + 2))), "C") }
}
