import XCTest
@testable import Runtime
import TestSupport

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

    /// Prose cells render as HTML prose: headings, lists, emphasis, code spans, links, tables.
    func testProseCellsRenderAsHTML() throws {
        let prose = "# Results\n\nSome *emphasis*, **bold** and `a < b`.\n\n- one\n- two\n\n"
            + "See [the docs](docs/tutorial.md).\n\n| seed | accuracy |\n|---|---|\n| 1 | 0.5 |\n\n---\n"
        let cells = [NotebookCell(kind: .markdown, title: nil, source: prose, outputs: []),
                     NotebookCell(title: "train", source: "1 + 1", outputs: [.text("2\n")])]
        let html = NotebookRenderer(title: "t", subtitle: "s").html(cells)
        let summary = try XMLSummary.parse(html)
        XCTAssertTrue(html.contains("<section class=\"prose\" id=\"prose-1\">\n<h1>Results</h1><p>Some <em>emphasis</em>, "
            + "<strong>bold</strong> and <code>a &lt; b</code>.</p><ul><li>one</li><li>two</li></ul>"
            + "<p>See <a href=\"docs/tutorial.md\">the docs</a>.</p><table><thead><tr><th>seed</th><th>accuracy</th></tr></thead>"
            + "<tbody><tr><td>1</td><td>0.5</td></tr></tbody></table><hr />"), html)
        // The code cell after the prose is the first one with an execution count.
        XCTAssertTrue(html.contains("<section class=\"cell\" id=\"cell-1\">\n<h2><span class=\"number\">[1]</span> train</h2>"), html)
        XCTAssertEqual(summary.count(of: "section"), 2)
    }

    /// A notebook's text cannot bring a script, an event handler or a
    /// `javascript:` address into the page: raw HTML shows as text.
    func testProseCannotInjectHTML() throws {
        let prose = "<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)> there\n\n"
            + "[a](javascript:alert(1)) [b](http://x.org/\"onmouseover=\"alert(1)) [c\">d](https://ok.org)\n\n"
            + "![x\" onerror=\"alert(1)](p.png) ![y](JaVa\tScRiPt:alert(1))\n"
        let html = Prose.html(prose)
        _ = try XMLSummary.parse("<div>" + html + "</div>")
        XCTAssertFalse(html.contains("<script") || html.contains("<img src=x") || html.contains("javascript:")
            || html.contains("\"onmouseover") || html.contains("\" onerror"), html)
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), html)
        XCTAssertTrue(html.contains("<a href=\"#\">a</a>"), html)
        XCTAssertTrue(html.contains("<a href=\"http://x.org/&quot;onmouseover=&quot;alert(1)\">b</a>"), html)
        XCTAssertTrue(html.contains("<img src=\"p.png\" alt=\"x&quot; onerror=&quot;alert(1)\" />"), html)
        XCTAssertTrue(html.contains("<img src=\"#\" alt=\"y\" />"), html)
    }

    /// In Markdown output prose stays Markdown; raw HTML outside code is escaped.
    func testProseInMarkdownKeepsMarkupAndEscapesHTML() {
        let cells = [NotebookCell(kind: .markdown, title: nil, source: "## Why\n\n*x* <b>y</b> `<i>`\n\n```\n<pre>\n```", outputs: []),
                     NotebookCell(title: nil, source: "1", outputs: [])]
        let text = NotebookRenderer(title: "t", subtitle: "s").markdown(cells, assetDirectory: "x").text
        XCTAssertTrue(text.contains("\n## Why\n\n*x* &lt;b>y&lt;/b> `<i>`\n\n```\n<pre>\n```\n\n## [1]\n"), text)
    }

    /// `# %% [markdown]` marks prose; its comment marks come off.
    func testCellMarkerAndProseLines() {
        XCTAssertTrue(CellMarker.parse("[markdown]") == ("", true))
        XCTAssertTrue(CellMarker.parse("Intro [md]") == ("Intro", true))
        XCTAssertTrue(CellMarker.parse("train") == ("train", false))
        XCTAssertEqual(CellMarker.prose(["# # Title", "#", "# text  with *x*", "#   indented"]), "# Title\n\ntext  with *x*\n  indented")
    }

    /// nbformat 4: cells with ids, execution counts only on code cells, outputs by kind.
    func testIpynbStructure() throws {
        let all = [NotebookCell(kind: .markdown, title: nil, source: "# Hi <b>", outputs: [])] + cells
        let data = NotebookRenderer(title: "demo.medr1", subtitle: "seed 1").ipynb(all)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(json["nbformat"] as? Int, 4)
        XCTAssertEqual(json["nbformat_minor"] as? Int, 5)
        let kernel = try XCTUnwrap((json["metadata"] as? [String: Any])?["kernelspec"] as? [String: String])
        XCTAssertEqual(kernel, ["name": "medr1", "display_name": "medr1", "language": "medr1"])
        let nb = try XCTUnwrap(json["cells"] as? [[String: Any]])
        XCTAssertEqual(nb.map { $0["cell_type"] as? String }, ["markdown", "code", "code", "code", "code"])
        XCTAssertEqual(nb.map { $0["id"] as? String }, ["cell-1", "cell-2", "cell-3", "cell-4", "cell-5"])
        XCTAssertEqual(nb[0]["source"] as? [String], ["# Hi &lt;b>"])
        XCTAssertNil(nb[0]["execution_count"])
        XCTAssertEqual(nb.dropFirst().map { $0["execution_count"] as? Int }, [1, 2, 3, 4])
        XCTAssertEqual(nb[1]["source"] as? [String], ["let d = synth(n: 8)\n", "d"])
        let outputs = nb.map { $0["outputs"] as? [[String: Any]] ?? [] }
        XCTAssertEqual(outputs[1][0]["output_type"] as? String, "stream")
        XCTAssertEqual(outputs[1][0]["text"] as? [String], ["dataset <8 samples> & \"more\"\n"])
        let image = try XCTUnwrap(outputs[2][0]["data"] as? [String: [String]])
        XCTAssertEqual(image["image/png"], [png.base64EncodedString()])
        let table = try XCTUnwrap(outputs[3][0]["data"] as? [String: [String]])
        XCTAssertEqual(table["text/plain"]?.joined(), "accuracy\nmodality  acc|uracy\n--------  ---------\nCT        0.5\nMRI       <1>")
        XCTAssertTrue(table["text/html"]?.joined().contains("<tr><td>MRI</td><td>&lt;1&gt;</td></tr>") == true)
        XCTAssertEqual(outputs[4][0]["output_type"] as? String, "error")
        XCTAssertEqual(outputs[4][0]["evalue"] as? String, "error: x.medr1:7:4: expected an expression")
    }

    func testStripANSI() {
        XCTAssertEqual(Escaping.strippingANSI("\u{1B}[1;38;2;10;20;30mred\u{1B}[0m plain"), "red plain")
    }
}

