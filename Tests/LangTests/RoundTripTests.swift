import XCTest
import Lang

/// parse(print(tree)) == tree, on the scripts (ScriptHarnessTests) and here on
/// random trees: a seeded generator builds trees of the shape the parser
/// produces (spans `.none`), the Printer writes them, the Parser reads them back
/// with `recordSpans: false`, and the two trees must be equal field for field.
final class RoundTripTests: XCTestCase {
    func testRandomTrees() {
        var gen = TreeGen(seed: 2024)
        for i in 0..<400 {
            let tree = Program(statements: (0..<(1 + gen.int(6))).map { _ in gen.stmt(4, inLoop: false, inFunction: false) },
                               file: "gen.medr1")
            let text = Printer.print(tree)
            let (back, diagnostics) = Parser.parseScript(source: text, file: "gen.medr1",
                                                         options: ParseOptions(recordSpans: false))
            XCTAssertEqual(diagnostics.map(\.header), [], "tree \(i) printed as:\n\(text)")
            if back != tree {
                XCTFail("tree \(i) changed in the round trip.\nprinted:\n\(text)\nwant: \(ASTDump.dump(tree))\ngot:  \(ASTDump.dump(back))")
                return
            }
        }
    }

    func testPrintedForms() {
        let cases: [(String, String)] = [
            ("let x=1+2*3", "let x = 1 + 2 * 3\n"),
            ("show(-1)", "show(-1)\n"),
            ("show -1", "show -1\n"),
            ("let s = \"a\\tb ${x}$\"", "let s = \"a\\tb ${x}$\"\n"),
            ("let s = \"cost: \\$${x}\"", "let s = \"cost: \\$${x}\"\n"),
            ("if a { b } else if c { d }", "if a {\n    b\n} else if c {\n    d\n}\n"),
            ("fn f(x, y = {a: 1}) = x", "fn f(x, y = {a: 1}) = x\n"),
            ("while ({a: 1}).a { }", "while ({a: 1}).a {}\n"),
            ("let f = fn(c) => c.text ~ \"x\"", "let f = fn(c) => c.text ~ \"x\"\n"),
            ("let r = {\"reward/kl\": 1, in: 2}", "let r = {\"reward/kl\": 1, in: 2}\n"),
            ("# %%   title  ", "# %% title\n"),
            ("x = (a - b) - (c - d)", "x = a - b - (c - d)\n"),
            ("x = not (a and b)", "x = not (a and b)\n"),
            ("x = (0..<3)[1]", "x = (0..<3)[1]\n"),
        ]
        for (source, printed) in cases {
            XCTAssertEqual(Printer.print(program(source)), printed, source)
            assertRoundTrip(source: source, name: source)
        }
    }
}

/// Random trees in the parser's canonical shape (what parsing can produce).
struct TreeGen {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
    mutating func chance(_ percent: Int) -> Bool { int(100) < percent }

    let none = SourceSpan.none
    let names = ["a", "b", "xs", "t", "step", "show", "data", "_x1", "reward"]
    let labels = ["with", "in", "seed", "lr", "by", "if"]

    mutating func expr(_ depth: Int) -> Expr {
        if depth <= 0 || chance(20) { return leaf() }
        let d = depth - 1
        switch int(14) {
        case 0: return .list((0..<int(4)).map { _ in expr(d) }, none)
        case 1:
            var keys = Set<String>()
            var fields: [RecordField] = []
            for _ in 0..<int(4) {
                let k = pick(["lr", "group", "reward/kl", "for", "a b", "é"])
                if keys.insert(k).inserted { fields.append(RecordField(key: k, keySpan: none, value: expr(d))) }
            }
            return .record(fields, none)
        case 2: return .range(RangeExpr(lower: expr(d), upper: expr(d), inclusive: chance(50), span: none))
        case 3: return .unary(UnaryExpr(op: pick([.negate, .plus, .not]), operand: expr(d), span: none))
        case 4, 5:
            return .binary(BinaryExpr(op: pick(BinaryOp.allCases), lhs: expr(d), rhs: expr(d), opSpan: none, span: none))
        case 6: return .call(CallExpr(callee: expr(d), arguments: args(d), isCommand: false, span: none))
        case 7: return .member(MemberExpr(object: expr(d), name: pick(names + ["in", "if"]), nameSpan: none, span: none))
        case 8: return .index(IndexExpr(object: expr(d), index: expr(d), span: none))
        case 9: return .conditional(conditional(d))
        case 10: return .function(function(name: nil, d))
        case 11: return string(d)
        default: return leaf()
        }
    }

    mutating func leaf() -> Expr {
        switch int(6) {
        case 0: return .number(pick([0, 1, 2.5, 3e-4, 1e20, 0.1, 12345]), none)
        case 1: return .boolean(chance(50), none)
        case 2: return .nilLiteral(none)
        case 3: return .string([.text(pick(["", "a\"b", "tab\t", "$", "${not}", "\\", "é\n"]))].filter { $0 != .text("") }, none)
        default: return .identifier(pick(names), none)
        }
    }

    mutating func string(_ d: Int) -> Expr {
        var parts: [StringPart] = []
        for _ in 0..<(1 + int(4)) {
            if chance(50), parts.last.map({ if case .text = $0 { return false } else { return true } }) ?? true {
                parts.append(.text(pick(["x", "$", " ${", "\"", "a$"])))
            } else {
                parts.append(.interpolation(expr(d)))
            }
        }
        return .string(parts, none)
    }

    mutating func args(_ d: Int) -> [Argument] {
        (0..<int(4)).map { _ in
            let label: String? = chance(40) ? pick(labels) : nil
            return Argument(label: label, labelSpan: label == nil ? nil : none, value: expr(d))
        }
    }

    /// > 0 while generating a block's statements (cell markers are top-level only)
    var blockDepth = 0

    mutating func block(_ d: Int, inLoop: Bool, inFunction: Bool) -> Block {
        blockDepth += 1
        defer { blockDepth -= 1 }
        return Block(statements: (0..<int(3)).map { _ in stmt(d, inLoop: inLoop, inFunction: inFunction) }, span: none)
    }

    mutating func conditional(_ d: Int) -> IfExpr {
        if chance(50) {
            let then = Block(statements: [.expression(expr(d))], span: none)
            let els = chance(60) ? Block(statements: [.expression(expr(d))], span: none) : nil
            return IfExpr(condition: expr(d), thenBranch: then, elseBranch: els, usesThen: true, span: none)
        }
        var els: Block? = nil
        if chance(30) {
            els = Block(statements: [.expression(.conditional(conditional(d - 1)))], span: none)
        } else if chance(50) {
            els = block(d, inLoop: false, inFunction: false)
        }
        return IfExpr(condition: expr(d), thenBranch: block(d, inLoop: false, inFunction: false), elseBranch: els,
                      usesThen: false, span: none)
    }

    mutating func function(name: String?, _ d: Int) -> FunctionExpr {
        var params: [Param] = []
        var seen = Set<String>()
        for _ in 0..<int(3) {
            let n = pick(names)
            if seen.insert(n).inserted { params.append(Param(name: n, span: none, defaultValue: chance(30) ? expr(d) : nil)) }
        }
        let body: FunctionBody = chance(50) ? .expression(expr(d)) : .block(block(d, inLoop: false, inFunction: true))
        return FunctionExpr(name: name, nameSpan: name == nil ? nil : none, params: params, body: body, span: none)
    }

    mutating func stmt(_ depth: Int, inLoop: Bool, inFunction: Bool) -> Stmt {
        let d = max(0, depth - 1)
        switch int(12) {
        case 0: return .binding(LetStmt(name: pick(names), nameSpan: none, value: expr(d), span: none))
        case 1:
            let target: Expr = pick([.identifier(pick(names), none),
                                     .member(MemberExpr(object: leafName(), name: "lr", nameSpan: none, span: none)),
                                     .index(IndexExpr(object: leafName(), index: expr(d), span: none))])
            return .assignment(AssignStmt(target: target, op: pick([nil, .add, .subtract, .multiply, .divide]),
                                          value: expr(d), span: none))
        case 2:
            var a = args(d)
            if a.isEmpty { a = [Argument(label: nil, labelSpan: nil, value: expr(d))] }
            return .expression(.call(CallExpr(callee: .identifier(pick(names), none), arguments: a, isCommand: true, span: none)))
        case 3: return .functionDecl(function(name: pick(names), d))
        case 4 where inFunction: return .returnStmt(ReturnStmt(value: chance(70) ? expr(d) : nil, span: none))
        case 5 where depth > 0:
            return .forIn(ForStmt(variable: pick(names), variableSpan: none, iterable: expr(d),
                                  body: block(d, inLoop: true, inFunction: inFunction), span: none))
        case 6 where depth > 0:
            return .whileLoop(WhileStmt(condition: expr(d), body: block(d, inLoop: true, inFunction: inFunction), span: none))
        case 7 where inLoop: return chance(50) ? .breakStmt(none) : .continueStmt(none)
        case 8 where blockDepth == 0: return .cell(CellMarker(title: pick(["", "data", "step it"]), span: none))
        default: return .expression(expr(depth))
        }
    }

    mutating func leafName() -> Expr { .identifier(pick(names), none) }
}
