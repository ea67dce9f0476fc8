import XCTest
import Foundation
import Lang

/// Any byte sequence gives diagnostics, never a crash or a hang.
final class BadInputTests: XCTestCase {
    func headers(_ bytes: [UInt8]) -> [String] {
        Parser.parseScript(bytes: bytes, file: "bad.medr1").1.map(\.header)
    }

    func testInvalidUTF8IsOneDiagnosticPerRun() {
        var bytes = Array("let x = \"a".utf8) + [0xFF, 0xFE] + Array("b\"\nlet y = ".utf8)
        bytes += [0xC0, 0xAF] + Array(" 1\nlet z = 2\n".utf8)
        XCTAssertEqual(headers(bytes), [
            "bad.medr1:1:11: error: invalid UTF-8 byte 0xFF; save the file as UTF-8",
            "bad.medr1:2:9: error: invalid UTF-8 byte 0xC0; save the file as UTF-8",
        ])
        // the rest of the file still parses
        let (program, _) = Parser.parseScript(bytes: bytes, file: "bad.medr1")
        XCTAssertEqual(ASTDump.dump(program), "(let x \"a  b\")\n(let y 1)\n(let z 2)")
    }

    func testTruncatedMultiByteSequenceAtEnd() {
        XCTAssertEqual(headers(Array("show \"é".utf8).dropLast()), [
            "bad.medr1:1:6: error: unterminated string; add a closing '\"'",
            "bad.medr1:1:7: error: invalid UTF-8 byte 0xC3; save the file as UTF-8",
        ])
    }

    func testNulByte() {
        XCTAssertEqual(headers(Array("let x = 1\u{0}\nlet s = \"a\u{0}b\"\n".utf8)), [
            "bad.medr1:1:10: error: NUL byte (0x00) in source; remove it",
            "bad.medr1:2:11: error: NUL byte (0x00) in string; write \\0 if you mean it",
        ])
    }

    /// 10,000 of each nesting construct, closed and unclosed: one "nesting too deep" error.
    func testDeepNestingIsAnErrorNotAStackOverflow() {
        let n = 10_000
        let cases: [(String, String)] = [
            ("parens", "let x = " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n)),
            ("unclosed parens", "let x = " + String(repeating: "(", count: n)),
            ("brackets", String(repeating: "[", count: n) + String(repeating: "]", count: n)),
            ("records", String(repeating: "{a: ", count: n) + "1" + String(repeating: "}", count: n)),
            ("minus", "let x = " + String(repeating: "-", count: n) + "1"),
            ("not", "let x = " + String(repeating: "not ", count: n) + "y"),
            ("power", "let x = " + Array(repeating: "2", count: n).joined(separator: " ** ")),
            ("ifs", String(repeating: "if c { ", count: n) + String(repeating: "} ", count: n)),
            ("loops", String(repeating: "while c {\n", count: n) + String(repeating: "}\n", count: n)),
            ("strings", String(repeating: "\"${", count: n) + String(repeating: "}\"", count: n)),
            ("lambdas", "let f = " + String(repeating: "fn(x) => ", count: n) + "x"),
            ("else if", "if a { 1 }" + String(repeating: " else if a { 1 }", count: n)),
        ]
        for (name, source) in cases {
            let (program, diagnostics) = parseOnSmallStack(source)
            XCTAssertEqual(diagnostics.count, 1, name)
            XCTAssertTrue(diagnostics.first?.message.hasPrefix("nesting too deep (more than 200 levels)") ?? false,
                          "\(name): \(diagnostics.first?.header ?? "no diagnostic")")
            XCTAssertEqual(program.statements.count, 0, name)
        }
        // just under the limit is fine
        let ok = "let x = " + String(repeating: "(", count: 150) + "1" + String(repeating: ")", count: 150)
        XCTAssertEqual(parseOnSmallStack(ok).1.count, 0)
    }

    /// Parses on a thread with a 512 KB stack (the size of a secondary thread), debug build.
    func parseOnSmallStack(_ source: String) -> (Program, [Diagnostic]) {
        final class Box: @unchecked Sendable { var result: (Program, [Diagnostic])? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = Parser.parseScript(source: source, file: "deep.medr1")
            done.signal()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        done.wait()
        return box.result!
    }

    func testOneMegabyteLine() {
        // a valid 1 MB line (a flat list), the same line with an error at its very
        // end, and a 1 MB operator chain (too deep a tree: one clear error)
        let items = Array(repeating: "x1", count: 250_000).joined(separator: ", ")
        let (program, diagnostics) = Parser.parseScript(source: "let v = [" + items + "]\n", file: "big.medr1")
        XCTAssertEqual(diagnostics.count, 0)
        guard case .binding(let l)? = program.statements.first, case .list(let xs, _) = l.value else {
            return XCTFail("expected a let of a list")
        }
        XCTAssertEqual(xs.count, 250_000)

        let (_, bad) = Parser.parseScript(source: "let v = [" + items + " )\n", file: "big.medr1")
        XCTAssertEqual(bad.map(\.header), ["big.medr1:1:\(10 + items.count + 1): error: expected ']' to close '[' at 1:9"])
        // the rendering shows a window of the line, not 1 MB
        let rendered = bad[0].rendered()
        XCTAssertLessThan(rendered.utf8.count, 600)
        XCTAssertTrue(rendered.hasSuffix("x1, x1 )\n " + String(repeating: " ", count: 159) + "^"), rendered)

        let chain = Array(repeating: "x1", count: 350_000).joined(separator: "+")
        let (_, deep) = Parser.parseScript(source: "let v = " + chain + "\n", file: "big.medr1")
        XCTAssertEqual(deep.map(\.header),
                       ["big.medr1:1:609: error: nesting too deep (more than 200 levels); split the expression with 'let'"])
    }

    func testOneMegabyteString() {
        let text = String(repeating: "abcdefghij", count: 100_000)
        let (program, diagnostics) = Parser.parseScript(source: "let s = \"\(text)\"", file: "s.medr1")
        XCTAssertEqual(diagnostics.count, 0)
        XCTAssertEqual(ASTDump.dump(program).utf8.count, text.utf8.count + "(let s \"\")".utf8.count)
    }

    /// Random bytes (seeded) never crash; the diagnostic count stays bounded.
    func testRandomBytes() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<300 {
            let n = Int(rng.next() % 400)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let (_, diagnostics) = Parser.parseScript(bytes: bytes, file: "r.medr1")
            XCTAssertLessThanOrEqual(diagnostics.count, 51)
        }
    }

    /// Random soups of real tokens: no crash, and whatever parses round-trips.
    func testRandomTokenSoup() {
        let pieces = ["let", "x", "=", "1", "(", ")", "[", "]", "{", "}", ",", ":", "\n", "if", "else", "then",
                      "fn", "=>", "+", "-", "*", "**", "..<", "not", "and", "\"s ${", "\"", "for", "in", "while",
                      "return", "break", ".", "y", "3e-4", "# %% c\n", ";", "~", "show", " ", "a:"]
        var rng = SplitMix64(seed: 7)
        var parsed = 0
        for _ in 0..<2_000 {
            let n = 1 + Int(rng.next() % 12)
            let source = (0..<n).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined(separator: " ")
            let (_, diagnostics) = Parser.parseScript(source: source, file: "soup.medr1")
            if diagnostics.isEmpty {
                parsed += 1
                assertRoundTrip(source: source, name: source)
            }
            // every prefix of the input is either complete, needs more, or errors: never a crash
            _ = Parser.parse(source: String(source.prefix(source.count / 2)), file: "soup.medr1")
        }
        XCTAssertGreaterThan(parsed, 50, "the soup should contain some valid programs")
    }
}

/// Seeded RNG (SplitMix64, Steele et al. 2014), so the fuzz inputs are the same on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
