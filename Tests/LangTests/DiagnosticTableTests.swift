import XCTest
import Lang

/// Input -> exact rendered diagnostics (swift-argument-parser's style of
/// error-message tests). Each row is the whole output of `rendered()`.
final class DiagnosticTableTests: XCTestCase {
    static let table: [(input: String, rendered: String)] = [
        ("let x = f(1, 2\nlet y = 3\n", """
        q.medr1:2:1: error: expected ')' to close '(' at 1:10
        let y = 3
        ^~~
        """),
        ("show t.last.groups[0 1]", """
        q.medr1:1:22: error: expected ']' to close '[' at 1:19
        show t.last.groups[0 1]
                             ^
        """),
        ("let r = {lr: 3e-4, group 8}", """
        q.medr1:1:26: error: expected ':' after the field name 'group', found number '8'
        let r = {lr: 3e-4, group 8}
                                 ^
        """),
        ("let = 3", """
        q.medr1:1:5: error: expected a name after 'let', found '='
        let = 3
            ^
        """),
        ("let if = 3", """
        q.medr1:1:5: error: 'if' is a keyword and cannot be a name
        let if = 3
            ^~
        """),
        ("let x 3", """
        q.medr1:1:7: error: expected '=' after 'let x', found number '3'
        let x 3
              ^
        """),
        ("a < b < c", """
        q.medr1:1:7: error: comparisons cannot be chained; write 'a < b and b < c'
        a < b < c
              ^
        """),
        ("0..<3..<5", """
        q.medr1:1:6: error: ranges cannot be chained; put the inner range in parentheses
        0..<3..<5
             ^~~
        """),
        ("if a && b { }", """
        q.medr1:1:6: error: '&&' is not an operator; use 'and'
        if a && b { }
             ^~
        """),
        ("if !a { }", """
        q.medr1:1:4: error: '!' is not an operator; use 'not'
        if !a { }
           ^
        """),
        ("let r = 0..5", """
        q.medr1:1:10: error: '..' is not an operator; use '..<' (upper bound excluded) or '...' (included)
        let r = 0..5
                 ^~
        """),
        ("if x = 1 { }", """
        q.medr1:1:6: error: expected '{' after the condition of 'if' (or write 'then'), found '='; use '==' to compare
        if x = 1 { }
             ^
        """),
        ("f(x) = 3", """
        q.medr1:1:1: error: cannot assign to this expression; assign to a name (x), a field (a.b) or an element (a[i])
        f(x) = 3
        ^~~~
        """),
        ("let s = \"bad \\q\"", """
        q.medr1:1:14: error: invalid escape '\\q' in string; valid escapes are \\n \\t \\r \\0 \\\\ \\" \\$ \\u{…}
        let s = "bad \\q"
                     ^~
        """),
        ("let s = \"\\u{D800}\"", """
        q.medr1:1:10: error: invalid unicode escape; write \\u{1F600} with 1 to 8 hex digits of a valid code point
        let s = "\\u{D800}"
                 ^~~~~~~~
        """),
        ("let x = 3e", """
        q.medr1:1:9: error: malformed number '3e'; an exponent needs digits (3e-4) and a name cannot start with a digit
        let x = 3e
                ^~
        """),
        ("let x = 1e999", """
        q.medr1:1:9: error: number '1e999' is too large (the largest is about 1.8e308)
        let x = 1e999
                ^~~~~
        """),
        ("let x = 'a'", """
        q.medr1:1:9: error: strings use double quotes: write "a"
        let x = 'a'
                ^~~
        """),
        ("let x = @", """
        q.medr1:1:9: error: unexpected character '@'
        let x = @
                ^
        """),
        ("let p = $x", """
        q.medr1:1:9: error: unexpected character '$'; interpolation '${…}' works only inside a string
        let p = $x
                ^
        """),
        ("foo bar baz", """
        q.medr1:1:9: error: expected ',' between arguments or the end of the line, found 'baz'
        foo bar baz
                ^~~
        """),
        ("t.step 10", """
        q.medr1:1:8: error: only a plain name can be called without parentheses; write t.step(…)
        t.step 10
               ^~
        """),
        ("let x = 1 2", """
        q.medr1:1:11: error: expected the statement to end here (a new line or ';'), found number '2'
        let x = 1 2
                  ^
        """),
        ("}", """
        q.medr1:1:1: error: unmatched '}'
        }
        ^
        """),
        ("else { }", """
        q.medr1:1:1: error: 'else' without 'if'; put 'else' after the '}' that closes the 'if' block
        else { }
        ^~~~
        """),
        ("continue", """
        q.medr1:1:1: error: 'continue' outside of a loop; it can only be used inside 'for' or 'while'
        continue
        ^~~~~~~~
        """),
        ("return 1", """
        q.medr1:1:1: error: 'return' outside of a function
        return 1
        ^~~~~~
        """),
        ("fn f(a, a) = 1", """
        q.medr1:1:9: error: duplicate parameter 'a'
        fn f(a, a) = 1
                ^
        """),
        ("fn f(a) a", """
        q.medr1:1:9: error: expected '=', '=>' or '{' after the parameters of 'fn f', found 'a'
        fn f(a) a
                ^
        """),
        ("let g = fn h(x) => x", """
        q.medr1:1:9: error: a named function is a statement of its own; here write an anonymous 'fn(…) => …'
        let g = fn h(x) => x
                ^~
        """),
        ("let r = {a: 1, a: 2}", """
        q.medr1:1:16: error: duplicate field 'a' in record
        let r = {a: 1, a: 2}
                       ^
        """),
        ("for x xs { }", """
        q.medr1:1:7: error: expected 'in' after 'for x', found 'xs'
        for x xs { }
              ^~
        """),
        ("while x == {a: 1} { }", """
        q.medr1:1:12: error: expected an expression before '{' (a record here must be in parentheses: ({…}))
        while x == {a: 1} { }
                   ^
        """),
        ("a == not b", """
        q.medr1:1:6: error: 'not' must be in parentheses here: write (not …)
        a == not b
             ^~~
        """),
        ("let x = (1 + )", """
        q.medr1:1:14: error: expected an expression, found ')'
        let x = (1 + )
                     ^
        """),
        ("show \"${}\"", """
        q.medr1:1:9: error: expected an expression, found '}'
        show "${}"
                ^
        """),
        ("let x = then", """
        q.medr1:1:9: error: expected an expression, found the keyword 'then'
        let x = then
                ^~~~
        """),
        ("\tlet x = (\t1 2)", """
        q.medr1:1:14: error: expected ')' to close '(' at 1:10
        \tlet x = (\t1 2)
        \t         \t  ^
        """),
        ("let s = \"é ${x y}\"", """
        q.medr1:1:16: error: expected '}' to close '${' at 1:12
        let s = "é ${x y}"
                       ^
        """),
    ]

    func testTable() {
        for (input, want) in Self.table {
            let (_, diagnostics) = Parser.parseScript(source: input, file: "q.medr1")
            XCTAssertEqual(diagnostics.map { $0.rendered() }.joined(separator: "\n"), want, "input: \(input)")
        }
    }

    /// Incomplete input: `.needsMore` with the diagnostic a file would get.
    static let incomplete: [(input: String, header: String)] = [
        ("let x = f(1, 2", "r:1:15: error: expected ')' to close '(' at 1:10"),
        ("let xs = [1,\n  2,", "r:2:5: error: expected ']' to close '[' at 1:10"),
        ("let r = {lr: 1,", "r:1:16: error: expected '}' to close '{' at 1:9"),
        ("for i in xs {\n  step t", "r:2:9: error: expected '}' to close '{' at 1:13"),
        ("fn f(c) {", "r:1:10: error: expected '}' to close '{' at 1:9"),
        ("let s = \"abc", "r:1:9: error: unterminated string; add a closing '\"'"),
        ("let s = \"a ${f(1", "r:1:9: error: unterminated string; add a closing '\"'"),
        ("let x = 1 +", "r:1:12: error: expected an expression, found end of input"),
        ("let x = a and\n", "r:1:14: error: expected an expression, found end of input"),
        ("let x =", "r:1:8: error: expected an expression, found end of input"),
        ("step t,", "r:1:8: error: expected an expression, found end of input"),
        ("let f = fn(c) =>", "r:1:17: error: expected an expression, found end of input"),
        ("if c then", "r:1:10: error: expected an expression, found end of input"),
        ("if c", "r:1:5: error: expected '{' after the condition of 'if' (or write 'then'), found end of input"),
        ("if c { 1 } else", "r:1:16: error: expected '{' after 'else' (or write 'else if'), found end of input"),
    ]

    func testNeedsMore() {
        for (input, header) in Self.incomplete {
            guard case .needsMore(let d) = Parser.parse(source: input, file: "r") else {
                XCTFail("\(input): expected needsMore, got \(Parser.parse(source: input, file: "r"))")
                continue
            }
            XCTAssertEqual(d.header, header, input)
            XCTAssertTrue(d.isIncomplete)
        }
    }

    /// Wrong (not merely incomplete) input is `.errors`, even at the end of the input.
    func testWrongIsNotIncomplete() {
        for input in ["let x = )", "f(1 2", "let x = [1, 2 3", "if c { let = 1", "x +\n)", "\"abc\" 1 ("] {
            guard case .errors(let ds, _) = Parser.parse(source: input, file: "r") else {
                XCTFail("\(input): expected errors, got \(Parser.parse(source: input, file: "r"))")
                continue
            }
            XCTAssertFalse(ds.isEmpty, input)
        }
    }

    /// Line by line, as the REPL feeds it: needsMore until the statement is whole.
    func testReplAccumulation() {
        let lines = ["let t = grpo(m, data,", "    rewards: [format(),", "              accuracy()],", "    group: 8)"]
        var buffer = ""
        var outcomes: [String] = []
        for line in lines {
            buffer += line + "\n"
            switch Parser.parse(source: buffer, file: "<stdin>") {
            case .complete: outcomes.append("complete")
            case .needsMore: outcomes.append("more")
            case .errors: outcomes.append("error")
            }
        }
        XCTAssertEqual(outcomes, ["more", "more", "more", "complete"])
    }

    func testRenderingUsesSourceForRuntimeErrors() {
        let source = SourceText("let a = 1\nlet b = a / zero\n")
        let span = SourceSpan(file: "s.medr1", line: 2, column: 13, length: 4, offset: 22, endOffset: 26)
        let d = Diagnostic(message: "undefined name 'zero'", span: span, source: source)
        XCTAssertEqual(d.rendered(), "s.medr1:2:13: error: undefined name 'zero'\nlet b = a / zero\n            ^~~~")
        XCTAssertEqual(source.text(of: span), "zero")
    }

    func testTooManyErrorsIsCapped() {
        let source = String(repeating: "let = 1\n", count: 200)
        let (_, ds) = Parser.parseScript(source: source, file: "many")
        XCTAssertEqual(ds.count, 51)
        XCTAssertEqual(ds.last?.header,
                       "many:50:5: note: too many errors; fix these first (the rest of the file was not checked)")
    }
}
