// Renders the cells of a `# %%` script after they ran: one self-contained HTML
// page (images as base64 data URIs, no external files or scripts), Markdown
// with its images written beside it in `<name>_files/` (as nbconvert does), or
// a Jupyter notebook (nbformat 4). Prose cells are Markdown (see Prose).
// The HTML is also well-formed XML (void elements closed, everything escaped),
// so tests parse it with XMLParser.
import Foundation

/// Turns executed notebook cells into a page.
public struct NotebookRenderer {
    /// The page title (the script's file name).
    public var title: String
    /// One line under the title: seed, threads, version.
    public var subtitle: String

    public init(title: String, subtitle: String) {
        self.title = title
        self.subtitle = subtitle
    }

    /// Execution counts: code cells are numbered 1, 2, ... in order; prose cells have none.
    static func numbers(_ cells: [NotebookCell]) -> [Int?] {
        var next = 0
        return cells.map { cell in
            guard cell.kind == .code else { return nil }
            next += 1
            return next
        }
    }

    // MARK: - HTML

    /// The whole page; `cells` in order, each with its source and outputs.
    public func html(_ cells: [NotebookCell]) -> String {
        var page = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>\(Escaping.html(title))</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <header><h1>\(Escaping.html(title))</h1><p class="meta">\(Escaping.html(subtitle))</p></header>

        """
        for (index, (cell, number)) in zip(cells, Self.numbers(cells)).enumerated() {
            if let number {
                page += htmlCell(cell, number: number)
            } else {
                page += "<section class=\"prose\" id=\"prose-\(index + 1)\">\n"
                    + (cell.title.map { "<h2>\(Escaping.html($0))</h2>\n" } ?? "")
                    + Prose.html(cell.source) + "\n</section>\n"
            }
        }
        page += "</body>\n</html>\n"
        return page
    }

    private func htmlCell(_ cell: NotebookCell, number: Int) -> String {
        var html = "<section class=\"cell\(cell.failed ? " failed" : "")\" id=\"cell-\(number)\">\n"
        let heading = cell.title.map { " " + Escaping.html($0) } ?? ""
        html += "<h2><span class=\"number\">[\(number)]</span>\(heading)</h2>\n"
        if !cell.source.isEmpty {
            html += "<pre class=\"source\"><code>\(Escaping.html(cell.source))</code></pre>\n"
        }
        if !cell.outputs.isEmpty {
            html += "<div class=\"outputs\">\n"
            for output in cell.outputs { html += htmlOutput(output) }
            html += "</div>\n"
        }
        return html + "</section>\n"
    }

    func htmlOutput(_ output: NotebookOutput) -> String {
        switch output {
        case .text(let text):
            return "<pre class=\"output\">\(Escaping.html(Escaping.strippingANSI(text)))</pre>\n"
        case .error(let text):
            return "<pre class=\"error\">\(Escaping.html(Escaping.strippingANSI(text)))</pre>\n"
        case .table(let title, let columns, let rows):
            var html = "<table>\n" + (title.map { "<caption>\(Escaping.html($0))</caption>\n" } ?? "") + "<thead><tr>"
            html += columns.map { "<th>\(Escaping.html($0))</th>" }.joined()
            html += "</tr></thead>\n<tbody>\n"
            for row in rows {
                html += "<tr>" + row.map { cell in
                    // Numbers right-aligned so digits line up; text (completions, names) left.
                    let numeric = Double(cell.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "+", with: "")) != nil
                    return (numeric ? "<td class=\"num\">" : "<td>") + Escaping.html(cell) + "</td>"
                }.joined() + "</tr>\n"
            }
            return html + "</tbody>\n</table>\n"
        case .png(let data, let caption):
            return figure(src: "data:image/png;base64," + data.base64EncodedString(), caption: caption)
        case .svg(let svg, let caption):
            return figure(src: "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString(), caption: caption)
        }
    }

    private func figure(src: String, caption: String?) -> String {
        let alt = Escaping.html(caption ?? "figure")
        var html = "<figure><img src=\"\(src)\" alt=\"\(alt)\" />"
        if let caption { html += "<figcaption>\(Escaping.html(caption))</figcaption>" }
        return html + "</figure>\n"
    }

    /// Plain, readable, printable; pixelated scaling keeps 32x32 samples crisp.
    static let css = """

    body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }
    header .meta { color: #666; font-size: 0.9em; }
    .cell { border-left: 4px solid #4a7ab5; margin: 1.5em 0; padding: 0.2em 1em 0.6em; background: #fafbfc; }
    .cell.failed { border-left-color: #c0392b; }
    h2 { font-size: 1.05em; margin: 0.6em 0; }
    h2 .number { color: #888; font-family: monospace; margin-right: 0.4em; }
    pre { white-space: pre-wrap; overflow-x: auto; padding: 0.6em; margin: 0.4em 0; font-size: 0.88em; }
    pre.source { background: #eef2f7; }
    pre.output { background: #fff; border: 1px solid #e3e3e3; }
    pre.error { background: #fdecea; color: #8e1c12; border: 1px solid #f3b8b0; }
    table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
    th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    th { background: #eef2f7; }
    figure { margin: 0.6em 0; }
    figure img { max-width: 100%; image-rendering: pixelated; min-width: 128px; }
    figcaption { color: #555; font-size: 0.85em; }
    .prose { margin: 1.5em 0; padding: 0 1.2em; line-height: 1.5; }
    .prose code { background: #eef2f7; padding: 0 0.2em; }
    .prose pre code { background: none; padding: 0; }
    .prose pre { background: #eef2f7; }

    """

    // MARK: - Markdown

    /// The Markdown text and the images to write into `assetDirectory` (a path
    /// relative to the Markdown file, used verbatim in the image links).
    public func markdown(_ cells: [NotebookCell], assetDirectory: String) -> (text: String, assets: [(name: String, data: Data)]) {
        var text = "# \(Escaping.markdownInline(title))\n\n_\(Escaping.markdownInline(subtitle))_\n"
        // The folder name comes from the page's file name: spaces or brackets there must not end the link.
        let assetLink = assetDirectory.addingPercentEncoding(withAllowedCharacters: Self.linkSafe) ?? assetDirectory
        var assets: [(name: String, data: Data)] = []
        for (cell, number) in zip(cells, Self.numbers(cells)) {
            guard let number else {
                text += "\n" + (cell.title.map { "## \(Escaping.markdownInline($0))\n\n" } ?? "") + Prose.markdown(cell.source).ensuringNewline
                continue
            }
            text += "\n## [\(number)]" + (cell.title.map { " " + Escaping.markdownInline($0) } ?? "") + "\n\n"
            if !cell.source.isEmpty { text += fenced(cell.source, info: "medr1") }
            var figure = 0
            for output in cell.outputs {
                switch output {
                case .text(let output):
                    text += fenced(Escaping.strippingANSI(output), info: "text")
                case .error(let message):
                    text += "**Error:**\n\n" + fenced(Escaping.strippingANSI(message), info: "text")
                case .table(let title, let columns, let rows):
                    if let title { text += "**\(Escaping.markdownInline(title))**\n\n" }
                    text += "| " + columns.map(Escaping.markdownInline).joined(separator: " | ") + " |\n"
                    text += "|" + String(repeating: " ---: |", count: columns.count) + "\n"
                    for row in rows { text += "| " + row.map(Escaping.markdownInline).joined(separator: " | ") + " |\n" }
                    text += "\n"
                case .png(let data, let caption):
                    figure += 1
                    let name = "cell\(number)-\(figure).png"
                    assets.append((name, data))
                    text += "![\(Escaping.markdownInline(caption ?? "figure"))](\(assetLink)/\(name))\n\n"
                case .svg(let svg, let caption):
                    figure += 1
                    let name = "cell\(number)-\(figure).svg"
                    assets.append((name, Data(svg.utf8)))
                    text += "![\(Escaping.markdownInline(caption ?? "figure"))](\(assetLink)/\(name))\n\n"
                }
            }
        }
        return (text, assets)
    }

    /// Characters left as they are in a Markdown link destination.
    public static let linkSafe = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "()<> "))

    /// A fenced block whose fence is longer than any run of backticks inside.
    private func fenced(_ body: String, info: String) -> String {
        var longest = 0, run = 0
        for ch in body {
            run = ch == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + info + "\n" + body.ensuringNewline + fence + "\n\n"
    }
}

extension String {
    /// The string with a final newline, added when missing (empty stays empty).
    public var ensuringNewline: String { isEmpty || hasSuffix("\n") ? self : self + "\n" }
}
