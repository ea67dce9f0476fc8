import XCTest
final class MedR1LibTestsSmoke: XCTestCase {
    func testSampleLetter() { XCTAssertEqual(String(UnicodeScalar(UInt8(65 + 2))), "C") }
}
