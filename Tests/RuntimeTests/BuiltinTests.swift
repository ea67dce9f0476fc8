import XCTest
import Foundation
@testable import Runtime

/// A context for calling builtins without the interpreter.
final class DirectContext: CallContext {
    let sink = CollectingSink()
    var baseDirectory: URL
    var isInteractive: Bool { false }
    var useColor: Bool { false }
    init(base: URL = FileManager.default.temporaryDirectory) { baseDirectory = base }
    func call(_ f: Value, _ args: [Value]) throws -> Value {
        guard case .function(let c) = f else { throw RuntimeError("not callable: \(f.typeName)") }
        return try c.call(Arguments(callee: c.name, positional: args), self)
    }
    func emit(_ event: OutputEvent) { sink.emit(event) }
}

final class BuiltinTests: XCTestCase {
    let lib = Builtins.library()
    let ctx = DirectContext()

    func call(_ name: String, _ args: Value..., named: [(name: String, value: Value)] = []) throws -> Value {
        try lib[name]!.call(Arguments(callee: name, positional: args, named: named), ctx)
    }

    func s(_ x: String) -> Value { .string(x) }
    func n(_ x: Double) -> Value { .number(x) }
    func l(_ xs: Value...) -> Value { .list(xs) }

    func testNumberPrinting() {
        XCTAssertEqual(formatNumber(3), "3")
        XCTAssertEqual(formatNumber(-0.0), "0")
        XCTAssertEqual(formatNumber(0.1 + 0.2), "0.30000000000000004")
        XCTAssertEqual(formatNumber(2.5), "2.5")
        XCTAssertEqual(formatNumber(1e20), "1e+20")
        XCTAssertEqual(formatNumber(.infinity), "inf")
        XCTAssertEqual(Value.list([n(1), s("a"), .bool(true), .null]).repr, "[1, \"a\", true, nil]")
        XCTAssertEqual(Value.record(Record([("b", n(1)), ("a", n(2.5))])).repr, "{b: 1, a: 2.5}")
        XCTAssertEqual(Value.range(RangeValue(lower: 0, upper: 3, closed: false)).repr, "0..<3")
        XCTAssertEqual(Value.string("say \"hi\"\n").repr, "\"say \\\"hi\\\"\\n\"")
    }

    func testStrings() throws {
        XCTAssertEqual(try call("len", s("héllo")), n(5))
        XCTAssertEqual(try call("len", l(n(1), n(2))), n(2))
        XCTAssertEqual(try call("lower", s("CT Scan")), s("ct scan"))
        XCTAssertEqual(try call("upper", s("b")), s("B"))
        XCTAssertEqual(try call("trim", s("  B \n")), s("B"))
        XCTAssertEqual(try call("split", s(" a  b\tc ")), l(s("a"), s("b"), s("c")))
        XCTAssertEqual(try call("split", s("a,,b"), s(",")), l(s("a"), s(""), s("b")))
        XCTAssertEqual(try call("join", l(n(1), s("x")), s("-")), s("1-x"))
        XCTAssertEqual(try call("contains", s("<think>"), s("think")), .bool(true))
        XCTAssertEqual(try call("contains", l(n(1), n(2)), n(3)), .bool(false))
        XCTAssertEqual(try call("starts_with", s("<think>x"), s("<think>")), .bool(true))
        XCTAssertEqual(try call("ends_with", s("x</answer>"), s("</b>")), .bool(false))
        XCTAssertEqual(try call("replace", s("a-b-c"), s("-"), s("+")), s("a+b+c"))
        XCTAssertEqual(try call("num", s(" 0.5")), n(0.5))
        XCTAssertEqual(try call("num", s("abc")), .null)
        XCTAssertEqual(try call("str", l(s("a"))), s("[\"a\"]"))
    }

    func testRegex() throws {
        let text = "<think>bright</think><answer> B </answer>"
        XCTAssertEqual(try call("find", s(text), s("[A-D]")), s("B"))
        XCTAssertEqual(try call("find", s("xyz"), s("[0-9]")), .null)
        XCTAssertEqual(try call("find_all", s("a1b22c"), s("[0-9]+")), l(s("1"), s("22")))
        let m = try call("match", s(text), s("<answer>\\s*(.*?)\\s*</answer>"))
        XCTAssertEqual(m, .record(Record([("text", s("<answer> B </answer>")), ("groups", l(s("B"))), ("start", n(21))])))
        // full: true is Python's fullmatch, including across newlines and not before a final newline.
        let fmt = "<think>.*?</think>\\s*<answer>.*?</answer>"
        XCTAssertNotEqual(try call("match", s("<think>a\nb</think><answer>C</answer>"), s(fmt), named: [("full", .bool(true))]), .null)
        XCTAssertEqual(try call("match", s("<think>a</think><answer>C</answer>\n"), s(fmt), named: [("full", .bool(true))]), .null)
        XCTAssertEqual(try call("match", s("x <think>a</think><answer>C</answer>"), s(fmt), named: [("full", .bool(true))]), .null)
        XCTAssertEqual(try call("match", s("ab"), s("(x)?b")), .record(Record([("text", s("b")), ("groups", l(.null)), ("start", n(1))])))
        XCTAssertThrowsError(try call("find", s("a"), s("("))) { e in
            XCTAssertEqual((e as! RuntimeError).message, "find: invalid regular expression \"(\": check brackets and escapes (write \\\\s for \\s inside a string)")
        }
        XCTAssertEqual(try Regexes.test("The answer: C", "answer:\\s*[A-D]"), true)
    }

    func testNumbers() throws {
        XCTAssertEqual(try call("abs", n(-2)), n(2))
        XCTAssertEqual(try call("min", n(3), n(1), n(2)), n(1))
        XCTAssertEqual(try call("max", l(n(3), n(7), n(2))), n(7))
        XCTAssertEqual(try call("round", n(2.345), n(2)), n(2.35))
        XCTAssertEqual(try call("round", n(-2.5)), n(-3))
        // Digits beyond what a Double holds leave x as it is (they gave nan).
        XCTAssertEqual(try call("round", n(1.5), n(400)), n(1.5))
        XCTAssertEqual(try call("round", n(123.456), n(1e14)), n(123.456))
        XCTAssertEqual(try call("round", n(0), n(400)), n(0))
        XCTAssertEqual(try call("round", n(1.5), n(-400)), n(0))
        XCTAssertEqual(try call("round", n(1234), n(-2)), n(1200))
        XCTAssertEqual(try call("sqrt", n(16)), n(4))
        XCTAssertEqual(try call("log", n(1)), n(0))
        XCTAssertEqual(try call("exp", n(0)), n(1))
        XCTAssertThrowsError(try call("sqrt", n(-1))) { e in
            XCTAssertEqual((e as! RuntimeError).message, "sqrt: square root of a negative number (-1)")
        }
        XCTAssertThrowsError(try call("abs", s("x"))) { e in
            XCTAssertEqual((e as! RuntimeError).message, "abs: 'x' must be a number, got string \"x\"")
        }
        XCTAssertThrowsError(try call("max", l())) { e in
            XCTAssertEqual((e as! RuntimeError).message, "max: needs at least one number: max(1, 2) or max([1, 2])")
        }
        XCTAssertThrowsError(try call("len")) { e in
            XCTAssertEqual((e as! RuntimeError).message, "len takes 1 argument, got 0: use len(x)")
        }
    }

    func testLists() throws {
        let double = Value.function(Builtin("double") { a, _ in .number(try a.number(0, "x") * 2) })
        let even = Value.function(Builtin("even") { a, _ in .bool(try a.number(0, "x").truncatingRemainder(dividingBy: 2) == 0) })
        let add = Value.function(Builtin("add") { a, _ in .number(try a.number(0, "a") + a.number(1, "b")) })
        XCTAssertEqual(try call("map", l(n(1), n(2)), double), l(n(2), n(4)))
        XCTAssertEqual(try call("filter", .range(RangeValue(lower: 0, upper: 5, closed: false)), even), l(n(0), n(2), n(4)))
        XCTAssertEqual(try call("reduce", l(n(1), n(2), n(3)), n(10), add), n(16))
        XCTAssertEqual(try call("sum", l()), n(0))
        XCTAssertEqual(try call("mean", l(n(1), n(2), n(6))), n(3))
        // n - 1 by default (torch.std, GRPO's group std): sqrt(2 / 1); sqrt(32 / 7).
        XCTAssertEqual(try call("std", l(n(1), n(3))), n(2.0.squareRoot()))
        XCTAssertEqual(try call("std", l(n(2), n(4), n(4), n(4), n(5), n(5), n(7), n(9))), n((32.0 / 7).squareRoot()))
        XCTAssertEqual(try call("std", l(n(5))), n(0))
        // population: true divides by n.
        XCTAssertEqual(try call("std", l(n(1), n(3)), named: [("population", .bool(true))]), n(1))
        XCTAssertEqual(try call("std", l(n(2), n(4), n(4), n(4), n(5), n(5), n(7), n(9)), named: [("population", .bool(true))]), n(2))
        XCTAssertEqual(try call("sort", l(n(3), n(1), n(2))), l(n(1), n(2), n(3)))
        XCTAssertEqual(try call("sort", l(s("b"), s("a"))), l(s("a"), s("b")))
        let neg = Value.function(Builtin("neg") { a, _ in .number(-(try a.number(0, "x"))) })
        XCTAssertEqual(try call("sort", l(n(1), n(3), n(2)), named: [("by", neg)]), l(n(3), n(2), n(1)))
        XCTAssertEqual(try call("sort", l(n(1), n(3), n(2)), named: [("descending", .bool(true))]), l(n(3), n(2), n(1)))
        XCTAssertThrowsError(try call("sort", l(n(1), s("a"))))
        XCTAssertEqual(try call("zip", l(n(1), n(2), n(3)), l(s("a"), s("b"))), l(l(n(1), s("a")), l(n(2), s("b"))))
        XCTAssertEqual(try call("range", n(3)), l(n(0), n(1), n(2)))
        XCTAssertEqual(try call("range", n(5), n(0), n(-2)), l(n(5), n(3), n(1)))
        XCTAssertEqual(try call("take", l(n(5), n(6), n(7)), n(2)), l(n(5), n(6)))
        XCTAssertEqual(try call("append", l(n(1)), n(2)), l(n(1), n(2)))
        XCTAssertEqual(try call("any", l(.bool(false), .null)), .bool(false))
        XCTAssertEqual(try call("all", l(n(0), s(""))), .bool(true))
    }

    /// NaN is unordered under <, which left it anywhere (and the rest out of order) in a sort.
    func testSortPutsNaNLastInInputOrderEitherWay() throws {
        let keyOf: [String: Double] = ["a": 2, "n1": .nan, "b": 1, "n2": .nan, "c": 2]
        let key = Value.function(Builtin("key") { a, _ in
            guard case .string(let x) = a.positional[0] else { return .null }
            return .number(keyOf[x]!)
        })
        let items = l(s("n1"), s("a"), s("b"), s("n2"), s("c"))
        XCTAssertEqual(try call("sort", items, named: [("by", key)]), l(s("b"), s("a"), s("c"), s("n1"), s("n2")))
        XCTAssertEqual(try call("sort", items, named: [("by", key), ("descending", .bool(true))]),
                       l(s("a"), s("c"), s("b"), s("n1"), s("n2")))
        // A long list (past the sort's small-input path): numbers ascending, then every NaN.
        let xs: [Double] = (0..<200).map { $0 % 7 == 3 ? .nan : Double(($0 * 37) % 101) }
        guard case .list(let sorted) = try call("sort", .list(xs.map { n($0) })) else { return XCTFail("not a list") }
        let got = sorted.map { v -> Double in if case .number(let x) = v { return x } else { return -1 } }
        let numbers = xs.filter { !$0.isNaN }.sorted()
        XCTAssertEqual(Array(got.prefix(numbers.count)), numbers)
        XCTAssertEqual(got.suffix(from: numbers.count).filter(\.isNaN).count, xs.count - numbers.count)
        guard case .list(let down) = try call("sort", .list(xs.map { n($0) }), named: [("descending", .bool(true))]) else {
            return XCTFail("not a list")
        }
        let gotDown = down.map { v -> Double in if case .number(let x) = v { return x } else { return -1 } }
        XCTAssertEqual(Array(gotDown.prefix(numbers.count)), numbers.reversed())
        XCTAssertEqual(gotDown.suffix(from: numbers.count).filter(\.isNaN).count, xs.count - numbers.count)
    }

    func testRecords() throws {
        let r = Value.record(Record([("lr", n(0.001)), ("group", n(8))]))
        XCTAssertEqual(try call("keys", r), l(s("lr"), s("group")))
        XCTAssertEqual(try call("values", r), l(n(0.001), n(8)))
        XCTAssertEqual(try call("has", r, s("group")), .bool(true))
        XCTAssertEqual(try call("has", r, s("beta")), .bool(false))
    }

    func testFilesAndJSON() throws {
        let dir = try TestSupportDir.make()
        let c = DirectContext(base: dir)
        let value = Value.record(Record([("z", n(1)), ("a", l(n(1.5), s("x\"y"), .bool(true), .null)), ("m", .record(Record()))]))
        _ = try lib["write_json"]!.call(Arguments(callee: "write_json", positional: [s("sub/v.json"), value]), c)
        let back = try lib["read_json"]!.call(Arguments(callee: "read_json", positional: [s("sub/v.json")]), c)
        XCTAssertEqual(back, value)
        XCTAssertEqual(try JSONValue.serialize(value), #"{"z":1,"a":[1.5,"x\"y",true,null],"m":{}}"#)
        _ = try lib["write_text"]!.call(Arguments(callee: "write_text", positional: [s("t.txt"), s("héllo\n")]), c)
        XCTAssertEqual(try lib["read_text"]!.call(Arguments(callee: "read_text", positional: [s("t.txt")]), c), s("héllo\n"))
        XCTAssertThrowsError(try lib["read_text"]!.call(Arguments(callee: "read_text", positional: [s("missing.txt")]), c)) { e in
            XCTAssertEqual((e as! RuntimeError).message, "read_text: cannot read \(dir.appendingPathComponent("missing.txt").path): no such file")
        }
        XCTAssertThrowsError(try JSONValue.parse("{\"a\": 1,\n \"b\" 2}", source: "x.json")) { e in
            XCTAssertEqual((e as! RuntimeError).message, "x.json:2:6: invalid JSON: expected ':' after key \"b\"")
        }
        XCTAssertEqual(try JSONValue.parse(#"["\u00e9\ud83d\ude00"]"#, source: "s"), l(s("é😀")))
        _ = try lib["print"]!.call(Arguments(callee: "print", positional: [s("a"), n(1), l(s("b"))]), c)
        XCTAssertEqual(c.sink.text, "a 1 [\"b\"]")
    }

    func testEveryBuiltinHasHelp() {
        for name in lib.keys.sorted() {
            XCTAssertNotNil(HelpTable.entry(name), "builtin \(name) has no entry in HelpTable")
        }
        XCTAssertEqual(HelpTable.text(for: "sqrt"), "sqrt(x)\n  The square root of a non-negative number.\n  example: sqrt(16)  # 4")
        XCTAssertTrue(HelpTable.text(for: "records")!.contains("keys(r)"))
        XCTAssertNil(HelpTable.text(for: "nonsense"))
        XCTAssertTrue(HelpTable.markdown().contains("- `len(x)`:"))
    }

    func testTableRendering() {
        let t = TableValue(title: "counts", columns: ["modality", "n", "acc"],
                           rows: [[s("CT"), n(12), n(0.5)], [s("X-Ray"), n(3), n(1.0 / 3)]])
        XCTAssertEqual(t.render(), """
        counts
        modality   n     acc
        --------  --  ------
        CT        12     0.5
        X-Ray      3  0.3333
        """)
        XCTAssertEqual(t.elements?.first, .record(Record([("modality", s("CT")), ("n", n(12)), ("acc", n(0.5))])))
    }

    /// Columns are measured in terminal columns: CJK and emoji take two, a
    /// combining accent none (counting characters misaligned every row after).
    func testTableColumnsAlignWithWideAndCombiningCharacters() {
        let t = TableValue(columns: ["modality", "n"],
                           rows: [[s("胸部 CT"), n(12)], [s("🫁 lung"), n(3)], [s("e\u{301}cho"), n(7)],
                                  [s("ｘ-ray"), n(1)], [s("❤️ heart"), n(2)], [s("X"), n(5)]])
        XCTAssertEqual(t.render(), """
        modality   n
        --------  --
        胸部 CT   12
        🫁 lung    3
        e\u{301}cho       7
        ｘ-ray     1
        ❤️ heart   2
        X          5
        """)
        XCTAssertEqual(["胸部", "🫁", "e\u{301}", "ｘ", "❤️", "👍🏽", "🇫🇷", "\u{200B}", "a"].map(DisplayWidth.of),
                       [4, 2, 1, 2, 2, 2, 2, 0, 1])
        // A wide header widens its column the same way.
        XCTAssertEqual(TableValue(columns: ["名前", "x"], rows: [[s("ab"), s("c")]]).render(), "名前  x\n----  -\nab    c")
    }

    /// Control characters from data are shown as escapes before columns are
    /// measured: the escaped cell is as wide as its column, the next column
    /// stays aligned, and a newline in a cell does not start a row.
    func testTableColumnsAlignWhenCellsHoldControlCharacters() {
        let t = TableValue(title: "t\u{1B}]0;x\u{7}", columns: ["na\tme", "n"],
                           rows: [[s("a\u{1B}[2Jb"), n(1)], [s("two\nlines"), n(22)], [s("ok"), n(3)]])
        XCTAssertEqual(t.render(), """
        t\\u{1B}]0;x\\u{7}
        na\\tme        n
        -----------  --
        a\\u{1B}[2Jb   1
        two\\nlines   22
        ok            3
        """)
        // Escaping for the terminal leaves the rendering as it is.
        XCTAssertEqual(Escaping.terminal(t.render()), t.render())
        // Notebooks get the cells as they are (their renderer escapes for HTML).
        XCTAssertEqual(t.stringRows[0][0], "a\u{1B}[2Jb")
    }
}

enum TestSupportDir {
    static func make() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("medr1-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
