import XCTest
@testable import medr1_repl
import Runtime
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The notebook page: every cell, escaped text, embedded images, well-formed markup.
final class NotebookRendererTests: XCTestCase {
    /// The 8-byte PNG signature plus a few bytes: enough to check the base64 round trip.
    let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 250])

    var cells: [NotebookCell] {
        [
            NotebookCell(title: "data", source: "let d = synth(n: 8)\nd", outputs: [.text("dataset <8 samples> & \"more\"\n")]),
            NotebookCell(title: nil, source: "plot [1, 2, 3]", outputs: [.png(png, caption: "a < b")]),
            NotebookCell(title: "table", source: "eval m, d", outputs: [
                .table(title: "accuracy", columns: ["modality", "acc|uracy"], rows: [["CT", "0.5"], ["MRI", "<1>"]]),
                .svg("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", caption: nil),
            ]),
            NotebookCell(title: "broken", source: "1 +", outputs: [.error("\u{1B}[31merror\u{1B}[0m: x.medr1:7:4: expected an expression")]),
        ]
    }

    func testHTMLIsWellFormedXMLWithEveryCellAndImage() throws {
        let html = NotebookRenderer(title: "demo.medr1", subtitle: "seed 1").html(cells)
        let summary = try XMLSummary.parse(html)
        XCTAssertEqual(summary.count(of: "section"), 4)
        XCTAssertEqual(summary.count(of: "img"), 2)
        XCTAssertEqual(summary.count(of: "table"), 1)
        XCTAssertEqual(summary.count(of: "td"), 4)
        let sources = summary.imageSources
        XCTAssertEqual(sources[0], "data:image/png;base64," + png.base64EncodedString())
        XCTAssertEqual(Data(base64Encoded: String(sources[0].dropFirst("data:image/png;base64,".count))), png)
        XCTAssertTrue(sources[1].hasPrefix("data:image/svg+xml;base64,"))
        // Escaped, not interpreted; ANSI colour stripped from errors.
        XCTAssertTrue(html.contains("dataset &lt;8 samples&gt; &amp; &quot;more&quot;"))
        XCTAssertTrue(html.contains("<pre class=\"error\">error: x.medr1:7:4: expected an expression</pre>"))
        XCTAssertTrue(html.contains("<section class=\"cell failed\" id=\"cell-4\">"))
        XCTAssertTrue(summary.text.contains("let d = synth(n: 8)"))
        XCTAssertTrue(html.contains("<tr><td>MRI</td><td>&lt;1&gt;</td></tr>"))
        XCTAssertTrue(html.contains("<tr><td>CT</td><td class=\"num\">0.5</td></tr>"))
    }

    func testMarkdownWritesImagesBesideIt() {
        let page = NotebookRenderer(title: "demo.medr1", subtitle: "seed 1").markdown(cells, assetDirectory: "demo_files")
        XCTAssertEqual(page.assets.map(\.name), ["cell2-1.png", "cell3-1.svg"])
        XCTAssertEqual(page.assets[0].data, png)
        XCTAssertTrue(page.text.contains("![a &lt; b](demo_files/cell2-1.png)"), page.text)
        XCTAssertTrue(page.text.contains("**accuracy**\n\n| modality | acc\\|uracy |\n| ---: | ---: |\n| CT | 0.5 |\n"))
        XCTAssertTrue(page.text.contains("## [4] broken\n\n```medr1\n1 +\n```\n\n**Error:**"))
        let escaped = NotebookRenderer(title: "t", subtitle: "s")
            .markdown([NotebookCell(title: "a <b>", source: "", outputs: [])], assetDirectory: "x").text
        XCTAssertTrue(escaped.contains("## [1] a &lt;b&gt;\n"), escaped)
    }

    /// Names from data (a caption, a table title, a column, a cell) cannot end
    /// the Markdown construct they sit in or bring raw HTML into the page.
    func testMarkdownEscapesTextFromData() {
        let cell = NotebookCell(title: "t **x**", source: "", outputs: [
            .png(png, caption: "x](javascript:alert(1)) <img src=x onerror=alert(1)>"),
            .table(title: "<script>alert(1)</script>**", columns: ["a|b", "c\nd"], rows: [["[e](f)", "g\\"]]),
        ])
        let text = NotebookRenderer(title: "<b>t</b>.medr1", subtitle: "s").markdown([cell], assetDirectory: "my (v2)_files").text
        XCTAssertTrue(text.hasPrefix("# &lt;b&gt;t&lt;/b&gt;.medr1\n"), text)
        XCTAssertTrue(text.contains("## [1] t \\*\\*x\\*\\*\n"), text)
        XCTAssertTrue(text.contains("![x\\](javascript:alert(1)) &lt;img src=x onerror=alert(1)&gt;](my%20%28v2%29_files/cell1-1.png)\n"), text)
        XCTAssertTrue(text.contains("**&lt;script&gt;alert(1)&lt;/script&gt;\\*\\***\n\n| a\\|b | c d |\n| ---: | ---: |\n| \\[e\\](f) | g\\\\ |\n"), text)
        XCTAssertFalse(text.contains("<img") || text.contains("<script"), text)
    }

    func testHTMLShowsControlCharactersFromData() throws {
        let cell = NotebookCell(title: "q\u{07}", source: "", outputs: [.text("bell\u{07} del\u{7F} csi\u{9B}2J\n")])
        let html = NotebookRenderer(title: "t", subtitle: "s").html([cell])
        XCTAssertTrue(html.contains("<pre class=\"output\">bell\\u{7} del\\u{7F} csi\\u{9B}2J\n</pre>"), html)
        XCTAssertTrue(html.contains("q\\u{7}</h2>"), html)
        XCTAssertFalse(html.unicodeScalars.contains { Escaping.isControl($0) && $0 != "\n" && $0 != "\t" })
        _ = try XMLSummary.parse(html)
    }

    func testFenceOutgrowsBackticksInside() {
        let cell = NotebookCell(title: nil, source: "let s = \"```\"", outputs: [])
        let page = NotebookRenderer(title: "t", subtitle: "s").markdown([cell], assetDirectory: "x")
        XCTAssertTrue(page.text.contains("````medr1\nlet s = \"```\"\n````\n"))
    }

    func testStripANSI() {
        XCTAssertEqual(stripANSI("\u{1B}[1;38;2;10;20;30mred\u{1B}[0m plain"), "red plain")
    }
}

/// Parses markup as XML and records element counts, image sources and text.
final class XMLSummary: NSObject, XMLParserDelegate {
    private var counts: [String: Int] = [:]
    private(set) var imageSources: [String] = []
    private(set) var text = ""

    static func parse(_ markup: String) throws -> XMLSummary {
        // XMLParser does not know HTML's doctype; drop it.
        let body = markup.replacingOccurrences(of: "<!DOCTYPE html>", with: "")
        let parser = XMLParser(data: Data(body.utf8))
        let summary = XMLSummary()
        parser.delegate = summary
        guard parser.parse() else {
            throw NSError(domain: "XMLSummary", code: 1, userInfo: [
                NSLocalizedDescriptionKey: "not well-formed at line \(parser.lineNumber), column \(parser.columnNumber): "
                    + "\(parser.parserError.map { "\($0)" } ?? "?")"])
        }
        return summary
    }

    func count(of element: String) -> Int { counts[element] ?? 0 }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
        if name == "img", let src = attributes["src"] { imageSources.append(src) }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}
