import XCTest
final class RuntimeTestsSmoke: XCTestCase {
    func testSampleLetter() { XCTAssertEqual(String(UnicodeScalar(UInt8(65 + 2))), "C") }
}
