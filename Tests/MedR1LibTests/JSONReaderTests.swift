import XCTest
@testable import MedR1Lib

/// The one JSON reader: escapes, numbers kept as written, key order, exact
/// error positions, and bounds on nesting and size.
final class JSONReaderTests: XCTestCase {
    func error(_ text: String, maxDepth: Int = JSONReader.defaultMaxDepth, maxBytes: Int = JSONReader.defaultMaxBytes) -> String {
        do { _ = try JSONReader.parse(text, maxDepth: maxDepth, maxBytes: maxBytes); return "no error" } catch { return "\(error)" }
    }

    func testEscapesDecodeToTheirCharacters() throws {
        // \n is a newline (a reader once turned it into the letter n), and every other escape of RFC 8259.
        XCTAssertEqual(try JSONReader.parse(#""a\nb""#), .string("a\nb"))
        XCTAssertEqual(try JSONReader.parse(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{8}\u{C}\n\r\t"))
        XCTAssertEqual(try JSONReader.parse(#""\u00e9\u4E2D\u0041""#), .string("é中A"))
        // A surrogate pair is one character; a lone surrogate becomes U+FFFD.
        XCTAssertEqual(try JSONReader.parse(#""\ud83d\ude00!""#), .string("😀!"))
        XCTAssertEqual(try JSONReader.parse(#""\uD83D\uDE00""#), .string("😀"))
        XCTAssertEqual(try JSONReader.parse(#""\ud83dx\ude00""#), .string("\u{FFFD}x\u{FFFD}"))
        XCTAssertEqual(try JSONReader.parse(#""\ud83d\u0041""#), .string("\u{FFFD}A"))
        XCTAssertEqual(error(#""\u12G4""#), #"1:4: bad \u escape"#)
    }

    func testNumbersKeepTheirTextAndObjectsTheirOrder() throws {
        let v = try JSONReader.parse(#" {"z": 1e-5, "a": [0.10000000000000001, -0.0, 3], "m": {"t": true, "n": null}} "#)
        XCTAssertEqual(v, .object([(key: "z", value: .number("1e-5")),
                                   (key: "a", value: .array([.number("0.10000000000000001"), .number("-0.0"), .number("3")])),
                                   (key: "m", value: .object([(key: "t", value: .bool(true)), (key: "n", value: .null)]))]))
        XCTAssertEqual(v["z"]?.double, 1e-5)
        XCTAssertEqual(v.literal, #"{"z":1e-5,"a":[0.10000000000000001,-0.0,3],"m":{"t":true,"n":null}}"#)
    }

    func testErrorsGiveLineAndColumn() {
        XCTAssertEqual(error("{\"a\": 1,\n \"b\" 2}"), #"2:6: expected ':' after key "b""#)
        XCTAssertEqual(error("[1, 2"), "1:6: unexpected end of input in an array")
        XCTAssertEqual(error("[1, ?]"), "1:5: unexpected character '?'")
        XCTAssertEqual(error("\"abc"), "1:5: unterminated string")
        XCTAssertEqual(error("{} x"), "1:4: unexpected text after the JSON value")
        XCTAssertEqual(error("[é, 1]"), "1:2: unexpected character 'é'")
        XCTAssertEqual(error("tru"), "1:4: expected 'true'")
    }

    func testNestingAndSizeAreBounded() {
        // 100,000 levels would overflow the stack of a recursive parser: the bound stops it first.
        XCTAssertEqual(error(String(repeating: "[", count: 100_000)), "1:1001: arrays and objects nested deeper than 1000 levels")
        XCTAssertEqual(error("[[[1]]]", maxDepth: 2), "1:3: arrays and objects nested deeper than 2 levels")
        XCTAssertEqual(error("[[1]]", maxDepth: 2), "no error")
        XCTAssertEqual(error("[1, 2, 3]", maxBytes: 8), "the text has 9 bytes, over the limit of 8 bytes")
    }
}
