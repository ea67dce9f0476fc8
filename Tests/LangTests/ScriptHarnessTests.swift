import XCTest
import Foundation
import Lang

/// Runs every Scripts/*.medr1 file and checks the expectations written in it
/// (craftinginterpreters' test/*.lox style). Expectation comments:
///
///     stmt                # expect ast: (let x 1)        the statement starting on this line dumps as this
///     stmt                # expect: let x = 0.0003       ... and prints (Printer) as this
///     # expect error: 3:12: expected ')' to close '(' at 3:4
///     # expect needs more: 7:1: expected '}' to close '{' at 5:8
///
/// Errors are matched exactly and completely (every diagnostic must be
/// expected, every expectation must occur). A file with `expect needs more`
/// must parse to `.needsMore` with that diagnostic. Every file's (recovered)
/// program must also survive a print/parse round trip.
final class ScriptHarnessTests: XCTestCase {
    struct Expectations {
        var ast: [Int: String] = [:]
        var printed: [Int: String] = [:]
        var errors: [String] = []
        var needsMore: String? = nil
    }

    static func expectations(in source: String) -> Expectations {
        var e = Expectations()
        for (i, line) in source.components(separatedBy: "\n").enumerated() {
            guard let hash = line.range(of: "# expect") else { continue }
            let rest = String(line[hash.upperBound...])
            func value(after prefix: String) -> String? {
                rest.hasPrefix(prefix) ? String(rest.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) : nil
            }
            if let v = value(after: " ast:") { e.ast[i + 1] = v }
            else if let v = value(after: " error:") { e.errors.append(v) }
            else if let v = value(after: " needs more:") { e.needsMore = v }
            else if let v = value(after: ":") { e.printed[i + 1] = v }
        }
        return e
    }

    func scriptURLs() throws -> [URL] {
        let dir = try XCTUnwrap(Bundle.module.url(forResource: "Scripts", withExtension: nil))
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "medr1" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    func testScripts() throws {
        let urls = try scriptURLs()
        XCTAssertGreaterThanOrEqual(urls.count, 8, "expected the script files to be bundled")
        for url in urls {
            let source = try String(contentsOf: url, encoding: .utf8)
            check(source: source, name: url.lastPathComponent)
        }
    }

    func check(source: String, name: String) {
        let e = Self.expectations(in: source)
        let (program, diagnostics) = Parser.parseScript(source: source, file: name)

        // diagnostics: exact set, in order of position
        let got = diagnostics.map { "\($0.span.line):\($0.span.column): \($0.message)" }
        if let more = e.needsMore {
            guard case .needsMore(let d) = Parser.parse(source: source, file: name) else {
                XCTFail("\(name): expected needs more (\(more)), got \(got)")
                return
            }
            XCTAssertEqual("\(d.span.line):\(d.span.column): \(d.message)", more, "\(name)")
        } else {
            XCTAssertEqual(got, e.errors, "\(name): diagnostics differ")
        }

        // per-statement AST dumps and printed forms, keyed by the line the statement starts on
        // (statements inside blocks count too; an outer statement wins its line)
        var byLine: [Int: Stmt] = [:]
        for s in allStatements(program.statements) { byLine[s.span.line] = byLine[s.span.line] ?? s }
        for (line, want) in e.ast.sorted(by: { $0.key < $1.key }) {
            guard let s = byLine[line] else { XCTFail("\(name):\(line): no statement starts on this line"); continue }
            XCTAssertEqual(ASTDump.dump(s), want, "\(name):\(line)")
        }
        for (line, want) in e.printed.sorted(by: { $0.key < $1.key }) {
            guard let s = byLine[line] else { XCTFail("\(name):\(line): no statement starts on this line"); continue }
            XCTAssertEqual(Printer.print(s), want, "\(name):\(line)")
        }

        // round trip of whatever parsed
        assertRoundTrip(source: source, name: name)
    }
}

/// Statements in pre-order, descending into the blocks of fn, if, for, while
/// (also when the if/fn is a let value, an expression statement or a call argument).
func allStatements(_ statements: [Stmt]) -> [Stmt] {
    var out: [Stmt] = []
    func blocks(_ e: Expr) -> [Block] {
        switch e {
        case .conditional(let c): return [c.thenBranch] + (c.elseBranch.map { [$0] } ?? [])
        case .function(let f): if case .block(let b) = f.body { return [b] } else { return [] }
        case .call(let c): return c.arguments.flatMap { blocks($0.value) }
        default: return []
        }
    }
    func visit(_ s: Stmt) {
        out.append(s)
        var inner: [Block] = []
        switch s {
        case .binding(let l): inner = blocks(l.value)
        case .expression(let e): inner = blocks(e)
        case .functionDecl(let f): if case .block(let b) = f.body { inner = [b] }
        case .forIn(let f): inner = [f.body]
        case .whileLoop(let w): inner = [w.body]
        default: break
        }
        for b in inner { b.statements.forEach(visit) }
    }
    statements.forEach(visit)
    return out
}

/// parse(print(tree)) == tree with spans ignored: both trees are parsed with
/// `recordSpans: false`, so `==` compares structure only (every field, not a dump).
func assertRoundTrip(source: String, name: String, file: StaticString = #filePath, line: UInt = #line) {
    let noSpans = ParseOptions(recordSpans: false)
    let tree = Parser.parseScript(source: source, file: name, options: noSpans).0
    let printed = Printer.print(tree)
    let (again, diagnostics) = Parser.parseScript(source: printed, file: name, options: noSpans)
    XCTAssertEqual(diagnostics.map(\.header), [], "\(name): printed program does not parse:\n\(printed)",
                   file: file, line: line)
    XCTAssertEqual(again, tree, "\(name): parse(print(tree)) != tree; printed:\n\(printed)", file: file, line: line)
}
