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

func program(_ source: String, file: StaticString = #filePath, line: UInt = #line) -> Program {
    guard case .complete(let p) = Parser.parse(source: source, file: "t.medr1") else {
        XCTFail("does not parse: \(source)", file: file, line: line)
        return Program(statements: [], file: "")
    }
    return p
}

final class ParserTests: XCTestCase {
    func testCommandCallsAndSigns() {
        XCTAssertEqual(dumpOf("step t, 10"), "(command step t 10)")
        XCTAssertEqual(dumpOf("show -1"), "(command show (neg 1))")
        XCTAssertEqual(dumpOf("x - 1"), "(- x 1)")
        XCTAssertEqual(dumpOf("x-1"), "(- x 1)")
        XCTAssertEqual(dumpOf("rescore t.last with: [1]"), "(command rescore (. t last) with: (list 1))")
        // only at the start of a statement
        XCTAssertEqual(dumpOf("let y = show"), "(let y show)")
        XCTAssertEqual(dumpOf("if c { step t }"), "(if c (block (command step t)))")
        XCTAssertEqual(dumpOf("fn f() { show 1; show 2 }"), "(fn f () (block (command show 1) (command show 2)))")
    }

    func testStatementsContinueOverLines() {
        XCTAssertEqual(dumpOf("let x = 1 +\n  2"), "(let x (+ 1 2))")
        XCTAssertEqual(dumpOf("let x =\n  2"), "(let x 2)")
        XCTAssertEqual(dumpOf("f(1,\n  2\n)"), "(call f 1 2)")
        XCTAssertEqual(dumpOf("let r = {\n  lr: 1,\n  g: 2,\n}"), "(let r (record lr: 1 g: 2))")
        XCTAssertEqual(dumpOf("let x = (1\n + 2)"), "(let x (+ 1 2))")
        XCTAssertEqual(dumpOf("if c {\n  1\n}\nelse {\n  2\n}"), "(if c (block 1) (block 2))")
        XCTAssertEqual(dumpOf("let x = 1\n+ 2"), "(let x 1)\n(pos 2)")   // a new line ends the statement
        XCTAssertEqual(dumpOf("let x = 1; let y = 2"), "(let x 1)\n(let y 2)")
        XCTAssertEqual(dumpOf("map(xs, fn(x) {\n  let y = x * 2\n  y + 1\n})"),
                       "(call map xs (fn (x) (block (let y (* x 2)) (+ y 1))))")
    }

    func testCellsAreKeptWithTitles() {
        let p = program("let a = 0\n# %% data   \nlet b = 1\n#%%\n# %%notitle\nlet c = 2\n")
        XCTAssertEqual(ASTDump.dump(p), "(let a 0)\n(cell \"data\")\n(let b 1)\n(cell \"\")\n(cell \"notitle\")\n(let c 2)")
        let cells = p.cells
        XCTAssertEqual(cells.map(\.title), [nil, "data", "", "notitle"])
        XCTAssertEqual(cells.map(\.statements.count), [1, 1, 0, 1])
        XCTAssertEqual(cells[1].marker?.line, 2)
        // `# %%` after code on a line is a comment, and inside a block it is an error
        XCTAssertEqual(dumpOf("let x = 1 # %% not a cell"), "(let x 1)")
    }

    func testSpans() {
        let p = program("let x = f(1, key: \"é${y}\")\nstep t,\n  10\n")
        guard case .binding(let l) = p.statements[0], case .call(let c) = l.value else { return XCTFail() }
        XCTAssertEqual(l.span, SourceSpan(file: "t.medr1", line: 1, column: 1, length: 26, offset: 0, endOffset: 27))
        XCTAssertEqual(l.nameSpan, SourceSpan(file: "t.medr1", line: 1, column: 5, length: 1, offset: 4, endOffset: 5))
        XCTAssertEqual(c.span.column, 9)
        XCTAssertEqual(c.span.length, 18)
        XCTAssertEqual(c.arguments[1].labelSpan?.column, 14)
        guard case .string(let parts, let s) = c.arguments[1].value else { return XCTFail() }
        XCTAssertEqual(s.column, 19)
        XCTAssertEqual(s.length, 7) // "é${y}" counts é as one column
        XCTAssertEqual(s.endOffset - s.offset, 8) // but two bytes
        guard case .interpolation(.identifier("y", let ys)) = parts[1] else { return XCTFail() }
        XCTAssertEqual(ys.column, 23)
        // a statement over two lines: span from its first to its last token
        let cmd = p.statements[1].span
        XCTAssertEqual([cmd.line, cmd.column, cmd.offset, cmd.endOffset], [2, 1, 28, 40])
        XCTAssertEqual(SourceText("let x = f(1, key: \"é${y}\")\nstep t,\n  10\n").text(of: cmd), "step t,\n  10")
        // binary operator spans
        guard case .expression(.binary(let b)) = program("a  +  bb").statements[0] else { return XCTFail() }
        XCTAssertEqual([b.span.column, b.span.length, b.opSpan.column, b.opSpan.length], [1, 8, 4, 1])
    }

    func testNumbers() {
        XCTAssertEqual(dumpOf("[0, 7, 2.5, 3e-4, 1E3, 1e+2, 0.5e-1, 12345678901234567]"),
                       "(list 0 7 2.5 0.0003 1000 100 0.05 1.2345678901234568e+16)")
        XCTAssertEqual(Printer.number(3e-4), "0.0003")
        XCTAssertEqual(Printer.number(2), "2")
        XCTAssertEqual(Printer.number(-0.5), "-0.5")
    }

    func testKeywordsAsLabelsFieldsAndKeys() {
        XCTAssertEqual(dumpOf("f(in: 1, if: 2)"), "(call f in: 1 if: 2)")
        XCTAssertEqual(dumpOf("x.in"), "(. x in)")
        XCTAssertEqual(dumpOf("let r = {for: 1}"), "(let r (record for: 1))")
    }

    func testIfForms() {
        XCTAssertEqual(dumpOf("let a = if c then 1 else if d then 2 else 3"),
                       "(let a (if-then c 1 (if-then d 2 3)))")
        XCTAssertEqual(dumpOf("let a = if c { 1 } else if d { 2 } else { 3 }"),
                       "(let a (if c (block 1) (block (if d (block 2) (block 3)))))")
        XCTAssertEqual(dumpOf("f(if c then 1 else 2, 3)"), "(call f (if-then c 1 2) 3)")
        // in a condition `{` starts the body; a record there needs parentheses
        XCTAssertEqual(dumpOf("if ({a: 1}).a == 1 then 2"), "(if-then (== (. (record a: 1) a) 1) 2)")
        XCTAssertEqual(dumpOf("for x in f({a: 1}) { }"), "(for x (call f (record a: 1)) (block))")
    }
}
