import Foundation
import XCTest

/// docs/architecture.md draws the package's module arrows; this test reads the
/// arrows Package.swift declares and checks them against the document's two
/// tables: every listed target depends on exactly what the document says, and
/// no target reaches, directly or through others, a target the document
/// forbids. Targets the document does not list are checked only against the
/// forbidden arrows.
final class ArchitectureTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func testPackageArrowsMatchTheArchitectureDocument() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        let graph = ModuleArrows.targets(inManifest: manifest)
        let listed = try ModuleArrows.table(in: doc, under: "## The arrows")
        let forbidden = try ModuleArrows.table(in: doc, under: "## Arrows that must never exist")
        // The tables are there and parsed, so the checks below cannot pass vacuously.
        XCTAssertGreaterThanOrEqual(graph.count, 10, "Package.swift: too few targets parsed: \(graph.keys.sorted())")
        XCTAssertGreaterThanOrEqual(listed.count, 10, "docs/architecture.md: the arrows table has \(listed.count) rows")
        XCTAssertGreaterThanOrEqual(forbidden.count, 5, "docs/architecture.md: the forbidden arrows table has \(forbidden.count) rows")
        XCTAssertEqual(ModuleArrows.problems(graph: graph, listed: listed, forbidden: forbidden), [])
    }

    /// The checker itself, on a small manifest with one wrong arrow of each kind.
    func testCheckerReportsAMissingArrowAnExtraArrowAndAForbiddenPath() throws {
        let manifest = """
            let package = Package(
                name: "demo",
                dependencies: [.package(url: "https://example.com/x", from: "1.0.0")],
                targets: [
                    .target(name: "Lang", dependencies: ["Util"]),  // a comment with "Quoted"
                    .target(name: "Util", dependencies: [.target(name: "MedR1Lib")], path: "Sources/(x)"),
                    .target(name: "MedR1Lib", dependencies: ["CBLAS"]),
                    .executableTarget(name: "tool", dependencies: [
                        "Lang", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                    ]),
                    .systemLibrary(name: "CBLAS", pkgConfig: "openblas"),
                ]
            )
            """
        let graph = ModuleArrows.targets(inManifest: manifest)
        XCTAssertEqual(graph["tool"], ["Lang", "ArgumentParser"])
        XCTAssertEqual(graph["Util"], ["MedR1Lib"])
        XCTAssertEqual(graph["CBLAS"], [])
        let doc = """
            ## The arrows

            | target | depends on |
            |---|---|
            | Lang | – |
            | MedR1Lib | CBLAS, CPNG |
            | tool | Lang, ArgumentParser |

            ## Arrows that must never exist

            | from | must never reach | why |
            |---|---|---|
            | Lang | MedR1Lib | no ML in the language |
            | tool | CBLAS | only through the library |
            """
        let listed = try ModuleArrows.table(in: doc, under: "## The arrows")
        let forbidden = try ModuleArrows.table(in: doc, under: "## Arrows that must never exist")
        XCTAssertEqual(ModuleArrows.problems(graph: graph, listed: listed, forbidden: forbidden), [
            "target Lang: Package.swift has dependencies [Util], docs/architecture.md lists []",
            "target MedR1Lib: Package.swift has dependencies [CBLAS], docs/architecture.md lists [CBLAS, CPNG]",
            "Lang reaches MedR1Lib (Lang -> Util -> MedR1Lib): docs/architecture.md forbids it (no ML in the language)",
            "tool reaches CBLAS (tool -> Lang -> Util -> MedR1Lib -> CBLAS): docs/architecture.md forbids it (only through the library)",
        ])
    }

    func testATableThatIsMissingIsAnErrorNamingItsHeading() {
        XCTAssertThrowsError(try ModuleArrows.table(in: "# nothing here\n", under: "## The arrows")) { e in
            XCTAssertEqual("\(e)", "docs/architecture.md has no table under '## The arrows'")
        }
    }
}

/// Reading module arrows out of Package.swift and docs/architecture.md.
enum ModuleArrows {
    struct MissingTable: Error, CustomStringConvertible {
        let heading: String
        var description: String { "docs/architecture.md has no table under '\(heading)'" }
    }

    /// Every target of a manifest with its direct dependencies (target names,
    /// and product names for `.product(name:package:)`), in manifest order.
    static func targets(inManifest text: String) -> [String: [String]] {
        let code = Array(withoutComments(text))
        var out: [String: [String]] = [:]
        let kinds = ["target", "executableTarget", "testTarget", "systemLibrary", "binaryTarget", "macro", "plugin"]
        var i = 0
        while i < code.count {
            guard code[i] == ".", let kind = kinds.first(where: { matches(code, at: i + 1, "\($0)(") }) else { i += 1; continue }
            let open = i + 1 + kind.count
            let close = matchingClose(code, from: open)
            let call = String(code[(open + 1)..<close])
            // A `.target(name:)` inside another call's dependency list is a reference, not a declaration:
            // declarations are the calls that carry `name:` first, outside any `dependencies:` list.
            if let name = firstMatch(#"^\s*name:\s*"([^"]+)""#, in: call), !insideDependencyList(code, at: i) {
                out[name] = dependencies(ofCall: call)
            }
            i = open + 1
        }
        return out
    }

    /// The rows of the first Markdown table after `heading`, as (first column, second column, third column).
    static func table(in doc: String, under heading: String) throws -> [(String, [String], String)] {
        let lines = doc.components(separatedBy: "\n")
        guard let h = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == heading }) else {
            throw MissingTable(heading: heading)
        }
        var rows: [(String, [String], String)] = []
        var tableLines = 0
        for line in lines[(h + 1)...] {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("#") { break }
            guard t.hasPrefix("|") else { if tableLines > 0 { break } else { continue } }
            tableLines += 1
            if tableLines <= 2 { continue }  // the header row and the separator
            let cells = t.dropFirst().dropLast().components(separatedBy: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let names = cells.count > 1 ? cells[1].components(separatedBy: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && $0 != "–" && $0 != "-" } : []
            rows.append((cells[0], names, cells.count > 2 ? cells[2] : ""))
        }
        if rows.isEmpty { throw MissingTable(heading: heading) }
        return rows
    }

    /// Disagreements between the manifest's graph and the document's tables, one sentence each.
    static func problems(graph: [String: [String]], listed: [(String, [String], String)],
                         forbidden: [(String, [String], String)]) -> [String] {
        var out: [String] = []
        for (target, deps, _) in listed {
            guard let actual = graph[target] else {
                out.append("target \(target): listed in docs/architecture.md but not declared in Package.swift")
                continue
            }
            if Set(actual) != Set(deps) {
                out.append("target \(target): Package.swift has dependencies [\(actual.joined(separator: ", "))], "
                    + "docs/architecture.md lists [\(deps.joined(separator: ", "))]")
            }
        }
        for (from, targets, why) in forbidden {
            guard graph[from] != nil else {
                out.append("target \(from): named in the forbidden arrows but not declared in Package.swift")
                continue
            }
            for to in targets {
                if let path = path(graph, from: from, to: to) {
                    out.append("\(from) reaches \(to) (\(path.joined(separator: " -> "))): docs/architecture.md forbids it (\(why))")
                }
            }
        }
        return out
    }

    // MARK: - Helpers

    /// The shortest chain of arrows from `from` to `to`, nil if there is none.
    static func path(_ graph: [String: [String]], from: String, to: String) -> [String]? {
        var parent: [String: String] = [:]
        var queue = [from], seen: Set<String> = [from]
        while !queue.isEmpty {
            let n = queue.removeFirst()
            for d in graph[n] ?? [] where !seen.contains(d) {
                seen.insert(d); parent[d] = n; queue.append(d)
                if d == to {
                    var chain = [to]
                    while let p = parent[chain[0]] { chain.insert(p, at: 0) }
                    return chain
                }
            }
        }
        return nil
    }

    /// The names in a target call's `dependencies: [...]` list.
    static func dependencies(ofCall call: String) -> [String] {
        let c = Array(call)
        guard let r = call.range(of: #"dependencies:\s*\["#, options: .regularExpression) else { return [] }
        let open = call.distance(from: call.startIndex, to: r.upperBound) - 1
        var list = String(c[(open + 1)..<matchingClose(c, from: open)])
        // `.product(name: "A", package: "B")`, `.target(name: "A")`, `.byName(name: "A")` -> "A"
        list = list.replacingOccurrences(of: #"\.(product|target|byName)\(\s*name:\s*("[^"]+")[^)]*\)"#,
                                         with: "$2", options: .regularExpression)
        return allMatches(#""([^"]+)""#, in: list)
    }

    /// Whether position `i` lies inside the bracket of a `dependencies: [` list.
    static func insideDependencyList(_ c: [Character], at i: Int) -> Bool {
        var depth = 0, j = i - 1
        while j >= 0 {
            if c[j] == "]" { depth += 1 } else if c[j] == "[" {
                if depth == 0 {
                    let before = String(c[max(0, j - 40)..<j])
                    return before.range(of: #"dependencies:\s*$"#, options: .regularExpression) != nil
                }
                depth -= 1
            }
            j -= 1
        }
        return false
    }

    /// Index of the bracket closing the one at `open`, skipping string literals.
    static func matchingClose(_ c: [Character], from open: Int) -> Int {
        var depth = 0, i = open, inString = false
        while i < c.count {
            let ch = c[i]
            if inString {
                if ch == "\\" { i += 1 } else if ch == "\"" { inString = false }
            } else if ch == "\"" {
                inString = true
            } else if ch == "(" || ch == "[" {
                depth += 1
            } else if ch == ")" || ch == "]" {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return c.count
    }

    /// The text with `//` comments blanked out (string literals kept).
    static func withoutComments(_ text: String) -> String {
        var out = "", inString = false
        let it = Array(text)
        var i = 0
        while i < it.count {
            let ch = it[i]
            if inString {
                out.append(ch)
                if ch == "\\", i + 1 < it.count { out.append(it[i + 1]); i += 1 } else if ch == "\"" { inString = false }
            } else if ch == "\"" {
                inString = true; out.append(ch)
            } else if ch == "/", i + 1 < it.count, it[i + 1] == "/" {
                while i < it.count, it[i] != "\n" { i += 1 }
                continue
            } else {
                out.append(ch)
            }
            i += 1
        }
        return out
    }

    static func matches(_ c: [Character], at i: Int, _ word: String) -> Bool {
        let w = Array(word)
        return i + w.count <= c.count && Array(c[i..<(i + w.count)]) == w
    }

    static func firstMatch(_ pattern: String, in s: String) -> String? { allMatches(pattern, in: s).first }

    static func allMatches(_ pattern: String, in s: String) -> [String] {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return [] }
        return re.matches(in: s, range: NSRange(s.startIndex..., in: s)).compactMap {
            Range($0.range(at: 1), in: s).map { String(s[$0]) }
        }
    }
}
