import XCTest
import Foundation
@testable import Runtime

/// Hostile scripts: values nested too deep, deep recursion, huge ranges,
/// catastrophic regexes, endless loops and unknown keywords. Each gives a
/// clear error (or stops at Ctrl-C) and the session lives on.
final class LimitsTests: XCTestCase {
    func session(interactive: Bool = false) throws -> (Session, CollectingSink) {
        let sink = CollectingSink()
        let s = Session(options: SessionOptions(seed: 1, interactive: interactive, sink: sink,
                                                baseDirectory: try TestSupportDir.make()))
        return (s, sink)
    }

    /// Runs `source` as a script and returns what it printed (errors included).
    @discardableResult
    func run(_ s: Session, _ sink: CollectingSink, _ source: String, file: String = "t.medr1") -> String {
        sink.clear()
        _ = s.run(source: source, file: file)
        return sink.text
    }

    /// The first line of each error, and printed text, one entry per event.
    func lines(_ sink: CollectingSink) -> [String] {
        sink.events.compactMap { e -> String? in
            switch e {
            case .text(let t): return t
            case .error(let t): return String(t.split(separator: "\n")[0])
            default: return nil
            }
        }
    }

    /// Runs each script and checks that its only output is the error line given.
    func expectErrors(_ s: Session, _ sink: CollectingSink, _ cases: [(source: String, error: String)],
                      file: StaticString = #filePath, line: UInt = #line) {
        for c in cases {
            run(s, sink, c.source)
            XCTAssertEqual(lines(sink), [c.error], c.source, file: file, line: line)
        }
    }

    static let tooDeep = "lists and records nested deeper than 1000 levels; use a flatter value (a list of records, a record of lists)"

    // MARK: - Deep values

    /// `x = [x]` 100,000 times used to crash when x was freed, printed,
    /// compared, ...; now the 1000th level is an error and every operation on
    /// the deepest allowed value works.
    func testDeepListsStopAtTheNestingLimit() throws {
        let (s, sink) = try session(interactive: true)
        XCTAssertEqual(s.push("let x = []"), .ran(ok: true))
        XCTAssertEqual(s.push("for i in 0..<100000 { x = [x] }"), .ran(ok: false))
        XCTAssertEqual(lines(sink), ["<stdin>:1:28: error: \(Self.tooDeep)"])
        sink.clear()
        // x is now 1000 levels deep: print, interpolate, compare, JSON, sort, show, :vars.
        let deepText = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        XCTAssertEqual(s.push("print(x)"), .ran(ok: true))
        XCTAssertEqual(sink.text, deepText)
        sink.clear()
        XCTAssertEqual(s.push("x"), .ran(ok: true))
        XCTAssertEqual(sink.text, deepText)
        sink.clear()
        XCTAssertEqual(s.push("print(len(\"${x}\"), len(str(x)), len(repr(x)), x == x, x == [x[0]], x == [])"), .ran(ok: true))
        XCTAssertEqual(sink.text, "2000 2000 2000 true true false")
        sink.clear()
        XCTAssertEqual(s.push("write_json(\"deep.json\", x)"), .ran(ok: true))
        XCTAssertEqual(s.push("print(read_json(\"deep.json\") == x)"), .ran(ok: true))
        XCTAssertEqual(s.push("print(len(sort([x[0], [1], x[0][0]], by: fn(v) => len(str(v)))))"), .ran(ok: true))
        XCTAssertEqual(s.push("print(contains([x[0]], x[0]), len(filter([x[0]], fn(v) => v == x[0])))"), .ran(ok: true))
        XCTAssertEqual(sink.text, "true\n3\ntrue 1")
        XCTAssertEqual(s.variables().first { $0.name == "x" }?.summary.count, 100)
        sink.clear()
        XCTAssertEqual(s.push("x = 0"), .ran(ok: true))
        XCTAssertEqual(s.push("print(\"alive\", x)"), .ran(ok: true))
        XCTAssertEqual(sink.text, "alive 0")
    }

    /// Every way of putting a value into a container checks the limit.
    func testEveryConstructionChecksNesting() throws {
        let (s, sink) = try session()
        run(s, sink, "let x = []\nfor i in 0..<999 { x = [x] }\nprint(\"ready\")")
        XCTAssertEqual(sink.text, "ready")
        let cases: [(String, String)] = [
            ("let r = {a: x}", "t.medr1:1:13"),
            ("let r = [1, x]", "t.medr1:1:13"),
            ("let r = {a: 1}\nr.a = x", "t.medr1:2:1"),
            ("let r = [1]\nr[0] = x", "t.medr1:2:1"),
            ("let r = {a: [1]}\nr.a[0] = [x[0]]", "t.medr1:2:1"),
            ("append([], x)", "t.medr1:1:1"),
            ("map([1], fn(i) => x)", "t.medr1:1:1"),
            ("zip([x[0]], [1])", "t.medr1:1:1"),
        ]
        for (src, at) in cases {
            run(s, sink, src)
            let message = at + ": error: " + (src.hasPrefix("let r = {a: x}") || src.hasPrefix("let r = [")
                                                 || src.contains("\nr") ? "" : src.prefix(while: { $0 != "(" }) + ": ") + Self.tooDeep
            XCTAssertEqual(lines(sink), [message], src)
        }
        // One level less is fine.
        XCTAssertEqual(run(s, sink, "print(len(append([], x[0])), len(zip([x[0][0]], [1])))"), "1 1")
    }

    /// read_json of 20,000 `[` used to overflow the parser's stack.
    func testDeepJSONIsAnError() throws {
        let (s, sink) = try session()
        let dir = s.options.baseDirectory
        try (String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000))
            .write(to: dir.appendingPathComponent("deep.json"), atomically: true, encoding: .utf8)
        try ("{\"a\":\n" + String(repeating: "[", count: 999) + String(repeating: "]", count: 999) + "}")
            .write(to: dir.appendingPathComponent("ok.json"), atomically: true, encoding: .utf8)
        run(s, sink, "let v = read_json(\"deep.json\")")
        XCTAssertEqual(lines(sink), ["t.medr1:1:9: error: \(dir.path)/deep.json:1:1001: invalid JSON: arrays and objects nested deeper than 1000 levels"])
        XCTAssertEqual(run(s, sink, "let v = read_json(\"ok.json\")\nprint(len(str(v)))"), "2003")
    }

    /// read_text and read_json check the file before reading it: a device
    /// (endless) or a file over the limit is an error, not a hang or gigabytes.
    func testReadsAreBounded() throws {
        let (s, sink) = try session()
        let dir = s.options.baseDirectory
        let big = dir.appendingPathComponent("big.json")
        FileManager.default.createFile(atPath: big.path, contents: nil)
        let h = try FileHandle(forWritingTo: big)
        try h.truncate(atOffset: UInt64(Files.maxReadBytes + 1))   // sparse: no disk used
        try h.close()
        expectErrors(s, sink, [
            ("read_text(\"/dev/zero\")", "t.medr1:1:1: error: read_text: cannot read /dev/zero: is not a regular file (it is a character device): give the path of a file"),
            ("read_json(\"big.json\")", "t.medr1:1:1: error: read_json: cannot read \(big.path): is 67108865 bytes, more than the 67108864 bytes allowed for a file read by read_json"),
        ])
    }

    /// A chain of 100,000 closures (each holding the previous one) used to
    /// overflow the stack when it was dropped.
    func testLongClosureChainsAreFreed() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let g = fn() => 0
        for i in 0..<100000 { let h = g; g = fn() => h() }
        g = 0
        print("freed", g)
        """)
        XCTAssertEqual(out, "freed 0")
    }

    /// Deep recursion through deeply nested expressions used to overflow the
    /// stack long before the 200-call limit.
    func testDeepRecursionThroughNestedExpressions() throws {
        let (s, sink) = try session()
        let body = String(repeating: "1+(", count: 90) + "f(n-1)" + String(repeating: ")", count: 90)
        XCTAssertEqual(run(s, sink, "fn f(n) = if n <= 0 then 0 else \(body)\nprint(f(100))"), "9000")
        run(s, sink, "fn f(n) = if n <= 0 then 0 else \(body)\nprint(f(190))")
        XCTAssertEqual(lines(sink).first?.hasSuffix("error: too deep nesting (over 10000 levels of expressions and calls); split the expression with 'let' or check the base case of a recursive function"), true, sink.text)
        run(s, sink, "fn loop(n) = loop(n + 1)\nloop(0)")
        XCTAssertEqual(lines(sink), ["t.medr1:1:14: error: too deep recursion (over 200 nested calls) in loop: check its base case"])
        XCTAssertEqual(run(s, sink, "print(\"alive\")"), "alive")
    }

    // MARK: - Ranges

    func testRangesAreLazy() throws {
        let (s, sink) = try session()
        XCTAssertEqual(run(s, sink, "print(len(0..<1e10), contains(0..<1e12, 5), contains(0..<1e12, 5.5), contains(0..<1e12, 1e12), (0..<1e12)[7], (0..<1e12)[-1])"),
                       "10000000000 true false false 7 999999999999")
        XCTAssertEqual(run(s, sink, "let n = 0\nfor i in 0..<1e10 { if i > 2 { break }; n += 1 }\nprint(n, len(0..<1e8))"), "3 100000000")
        XCTAssertEqual(run(s, sink, "print(len(0.5..<3), 0.5..<3 == 0.5..<3, len(1...3), len(3..<1), len(2...2), map(0.5..<3, fn(x) => x), sum(1...4))"),
                       "3 true 3 0 1 [0.5, 1.5, 2.5] 10")
        XCTAssertEqual(run(s, sink, "let xs = []\nfor i in 1...3 { xs = append(xs, i) }\nprint(xs, (1...3)[2], contains(1...3, 3))"), "[1, 2, 3] 3 true")
        expectErrors(s, sink, [
            ("print(sum(0..<1e10))", "t.medr1:1:7: error: sum: 'xs' is the range 0..<10000000000 of 10000000000 elements, too long for a list (over 10 million)"),
            ("write_json(\"r.json\", 0..<1e12)", "t.medr1:1:1: error: write_json: cannot write the range 0..<1000000000000 of 1000000000000 elements as JSON (over 10 million)"),
            ("print((0..<3)[3])", "t.medr1:1:7: error: index 3 out of range: the list has 3 elements"),
        ])
    }

    /// Indexes beyond Int's range (1e300, -1e300, inf) used to trap converting
    /// to Int before the range check; now they are out of range like any other.
    func testIndexesBeyondIntsRangeAreErrors() throws {
        let (s, sink) = try session()
        expectErrors(s, sink, [
            ("print([1, 2][1e300])", "t.medr1:1:7: error: index 1e+300 out of range: the list has 2 elements"),
            ("print(\"abc\"[-1e300])", "t.medr1:1:7: error: index -1e+300 out of range: the list has 3 elements"),
            ("print(split(\"a,b\", \",\")[1e300])", "t.medr1:1:7: error: index 1e+300 out of range: the list has 2 elements"),
            ("print(match(\"ab\", \"(a)\").groups[1e300])", "t.medr1:1:7: error: index 1e+300 out of range: the list has 1 element"),
            ("print(keys({a: 1})[-1e300])", "t.medr1:1:7: error: index -1e+300 out of range: the list has 1 element"),
            ("print([1][exp(1000)])", "t.medr1:1:7: error: index inf out of range: the list has 1 element"),
            ("let xs = [1]\nxs[-1e300] = 2", "t.medr1:2:4: error: index -1e+300 out of range: the list has 1 element"),
        ])
        XCTAssertEqual(run(s, sink, "print([1, 2][-2], \"abc\"[-1], (0..<5)[-5])"), "1 c 0")
    }

    /// write_text and write_json onto a FIFO are refused and the FIFO stays: the
    /// rename of the new version used to put a regular file in its place (and,
    /// for root, in place of a device such as /dev/null).
    func testWritesReplaceOnlyRegularFiles() throws {
        let (s, sink) = try session()
        let fifo = s.options.baseDirectory.appendingPathComponent("p").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        expectErrors(s, sink, [
            ("write_text(\"p\", \"x\")", "t.medr1:1:1: error: write_text: cannot write \(fifo): it is a FIFO, not a regular file"),
            ("write_json(\"p\", [1])", "t.medr1:1:1: error: write_json: cannot write \(fifo): it is a FIFO, not a regular file"),
        ])
        var st = stat()
        XCTAssertEqual(stat(fifo, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
    }

    // MARK: - Regular expressions

    func testCatastrophicRegexStopsAtTheStepBudget() throws {
        let (s, sink) = try session()
        // 2^30 steps: minutes before, the budget's 50 million now.
        run(s, sink, "let s = \"${join(map(range(30), fn(i) => \"a\"), \"\")}!\"\nprint(s ~ \"(a+)+$\")")
        XCTAssertEqual(lines(sink), ["t.medr1:2:9: error: ~: the regular expression \"(a+)+$\" takes too long on this text (over 50 million steps); avoid nested repetition such as (a+)+"])
        run(s, sink, "print(match(\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\", \"(a|aa)+$\"))")
        XCTAssertTrue(lines(sink).first?.contains("error: match: the regular expression \"(a|aa)+$\" takes too long") ?? false, sink.text)
        // A long text with an ordinary pattern is not "too long": the budget grows with the text.
        XCTAssertEqual(run(s, sink, "let t = join(map(range(50000), fn(i) => \"ab\"), \"\")\nprint(len(find_all(t, \"b\")), find(t, \"c\"), t ~ \"a{3}\")"), "50000 nil false")
    }

    // MARK: - Ctrl-C

    /// Runs `source` while another thread presses Ctrl-C every 5 ms from
    /// 100 ms on (so that a builtin is under way), and returns the first line
    /// of what it printed.
    func interrupted(_ s: Session, _ sink: CollectingSink, _ source: String) -> String {
        let done = ManagedAtomicFlag()
        let presser = Thread {
            usleep(100_000)
            while !done.isSet {
                Interrupt.request()
                usleep(5_000)
            }
        }
        presser.start()
        sink.clear()
        _ = s.run(source: source, file: "t.medr1")
        done.set()
        while !presser.isFinished { usleep(1_000) }
        Interrupt.clear()
        return lines(sink).first ?? ""
    }

    func testCtrlCStopsLoopsRecursionBuiltinsAndRegexes() throws {
        let (s, sink) = try session()
        run(s, sink, "let xs = range(1e6)\nlet a = \"${join(map(range(44), fn(i) => \"a\"), \"\")}!\"\nlet n = 0")
        XCTAssertEqual(sink.text, "")
        XCTAssertEqual(interrupted(s, sink, "while n < 1e8 { }"), "interrupted: loop at t.medr1:1:1")
        XCTAssertEqual(interrupted(s, sink, "for i in 0..<1e8 { }"), "interrupted: loop at t.medr1:1:1")
        XCTAssertEqual(interrupted(s, sink, "fn f(n) = if n == 0 then 0 else f(n - 1) + f(n - 1)\nf(40)").prefix(21), "interrupted: call at ")
        XCTAssertEqual(interrupted(s, sink, "sort(xs)"), "interrupted: sort")
        XCTAssertEqual(interrupted(s, sink, "map(xs, str)"), "interrupted: map")
        XCTAssertEqual(interrupted(s, sink, "filter(xs, str)"), "interrupted: filter")
        XCTAssertEqual(interrupted(s, sink, "let big = range(1e7)"), "interrupted: range")
        XCTAssertEqual(interrupted(s, sink, "a ~ \"(a+)+$\""), "interrupted: regular expression \"(a+)+$\"")
        // Generating a data set (it ran to the end, minutes for a million images).
        XCTAssertTrue(interrupted(s, sink, "synth(n: 1000000, size: 16, to: \"big\")")
            .hasPrefix("interrupted: synth: stopped before all 1000000 images were written; "), sink.text)
        XCTAssertEqual(run(s, sink, "print(\"alive\", len(xs))"), "alive 1000000")
    }

    // MARK: - Keyword arguments

    /// Each builtin rejects a keyword it does not declare, before doing anything.
    func testEveryBuiltinRejectsUnknownKeywords() throws {
        let (s, sink) = try session()
        var checked = 0
        for entry in HelpTable.all where !entry.name.contains(".") {
            guard case .function(let f as Builtin)? = s.interpreter.builtins.lookup(entry.name) else {
                XCTFail("\(entry.name) is in the help table but not a builtin"); continue
            }
            // Every keyword the help shows is accepted.
            let shown = entry.signature.matches(of: /([a-z_0-9]+):/).map { String($0.1) }
            for k in shown { XCTAssertTrue(f.options.contains(k), "\(entry.name): help shows \(k): but it is not declared") }
            sink.clear()
            XCTAssertThrowsError(try f.call(Arguments(callee: entry.name, named: [("zzz", .number(1))]), s.interpreter), entry.name) { e in
                let want = "\(entry.name) has no option 'zzz'; "
                    + (f.options.isEmpty ? "it takes none: \(entry.signature)" : "options: \(f.options.joined(separator: ", "))")
                XCTAssertEqual((e as? RuntimeError)?.message, want)
            }
            XCTAssertTrue(sink.events.isEmpty, "\(entry.name) ran before rejecting the keyword")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 60)
        expectErrors(s, sink, [
            ("round(2.345, digits: 2)", "t.medr1:1:1: error: round has no option 'digits'; it takes none: round(x, digits)"),
            ("join([1, 2], sep: \"-\")", "t.medr1:1:1: error: join has no option 'sep'; it takes none: join(xs, sep)"),
            ("let w = \"a,b\".split(sep: \",\")", "t.medr1:1:9: error: split has no option 'sep'; it takes none: split(s, sep)"),
            ("sort([2, 1], reverse: true)", "t.medr1:1:1: error: sort has no option 'reverse'; options: by, descending"),
        ])
        XCTAssertEqual(run(s, sink, "print(round(2.345, 2), join([1, 2], \"-\"), split(\"a,b\", \",\"), sort([1, 2], descending: true))"),
                       "2.35 1-2 [\"a\", \"b\"] [2, 1]")
    }

    /// Host methods in the help table reject unknown keywords the same way.
    func testEveryMethodRejectsUnknownKeywords() throws {
        let (s, sink) = try session()
        XCTAssertEqual(run(s, sink, """
        let data = synth(n: 8, seed: 3, size: 16, to: "d")
        let tok = data.tokenizer(vocab: 300)
        let m = model(tokenizer: tok, seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
        let t = grpo(m, data, rewards: [format()], group: 2, prompts: 1, max_tokens: 3, seed: 1)
        let r = format()
        """), "")
        let objects = ["dataset": "data", "reward": "r", "trainer": "t"]
        var checked = 0
        for entry in HelpTable.all where entry.name.contains(".") {
            let parts = entry.name.split(separator: ".").map(String.init)
            // Methods of types this test does not build are left to their own tests.
            guard let variable = objects[parts[0]], case .host(let h)? = s.interpreter.globals.lookup(variable) else { continue }
            let options = h.methodOptions(parts[1])
            let shown = entry.signature.matches(of: /([a-z_0-9]+):/).map { String($0.1) }
            for k in shown { XCTAssertTrue(options.contains(k), "\(entry.name): help shows \(k): but it is not declared") }
            run(s, sink, "\(variable).\(parts[1])(zzz: 1)")
            let want = "\(entry.name) has no option 'zzz'; "
                + (options.isEmpty ? "it takes none: \(entry.signature)" : "options: \(options.joined(separator: ", "))")
            XCTAssertEqual(lines(sink).first?.hasSuffix("error: " + want), true, "\(entry.name): \(sink.text)")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 8)
        expectErrors(s, sink, [
            ("data.shuffle(sed: 2)", "t.medr1:1:1: error: dataset.shuffle has no option 'sed'; options: seed"),
            ("data.take(2, seed: 1)", "t.medr1:1:1: error: dataset.take has no option 'seed'; it takes none: data.take(n)"),
            ("tok.encode(\"a\", bos: true)", "t.medr1:1:1: error: tokenizer.encode has no option 'bos'; it takes none: tokenizer.encode(...)"),
            ("counts(data).column(\"all\", x: 1)", "t.medr1:1:1: error: table.column has no option 'x'; it takes none: table.column(...)"),
        ])
        XCTAssertEqual(run(s, sink, "print(len(data.shuffle(seed: 2)), len(data.take(2)), t.set(lr: 1e-3))"), "8 2 nil")
    }
}

/// A flag one thread sets and another polls.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
