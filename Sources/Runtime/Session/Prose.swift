// Prose cells: Markdown written by the notebook's author, rendered with Ink
// (JohnSundell/Ink, from the package mirror). Ink passes raw HTML through and
// puts link and image addresses into attributes as written, so `<` outside
// code is escaped before Ink reads the text, and its modifiers escape raw HTML
// as text, keep only http(s), mailto and relative
// addresses, and escape those: a notebook's text cannot bring a script or an
// attribute into the page.
import Foundation
import Ink

public enum Prose {
    /// Markdown as an HTML fragment (headings, lists, emphasis, code, links,
    /// images, tables, quotes), well-formed as XML like the rest of the page.
    public static func html(_ markdown: String) -> String {
        var parser = MarkdownParser()
        parser.addModifier(Modifier(target: .html) { Escaping.html(String($0.markdown)) })
        parser.addModifier(Modifier(target: .links) { link($0.html) })
        parser.addModifier(Modifier(target: .images) { image(String($0.markdown)) })
        // Escaping `<` first keeps Ink's HTML reader, which swallows the rest
        // of the text after an unclosed tag, from ever starting.
        return parser.html(from: Prose.markdown(markdown))
            .replacingOccurrences(of: "<br>", with: "<br />")
            .replacingOccurrences(of: "<hr>", with: "<hr />")
    }

    /// Markdown for a Markdown page or a notebook's markdown cell: the text as
    /// written, with `<` outside code spans and fenced blocks escaped, so a
    /// viewer shows raw HTML as text instead of running it.
    public static func markdown(_ markdown: String) -> String {
        var out = ""
        var fence: String?
        for (i, line) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if i > 0 { out += "\n" }
            let trimmed = line.drop { $0 == " " }
            if let open = fence {
                if trimmed.hasPrefix(open) { fence = nil }
                out += line
                continue
            }
            if let marker = ["```", "~~~"].first(where: { trimmed.hasPrefix($0) }) {
                fence = String(trimmed.prefix { $0 == marker.first })
                out += line
                continue
            }
            // Code spans: a run of n backticks up to the next run of exactly n.
            var chars = Array(line)
            var k = 0
            var escaped = ""
            while k < chars.count {
                if chars[k] == "`" {
                    var n = 0
                    while k + n < chars.count && chars[k + n] == "`" { n += 1 }
                    var j = k + n
                    var close: Int?
                    while j < chars.count {
                        if chars[j] == "`" {
                            var m = 0
                            while j + m < chars.count && chars[j + m] == "`" { m += 1 }
                            if m == n { close = j; break }
                            j += m
                        } else { j += 1 }
                    }
                    let end = close.map { $0 + n } ?? k + n
                    escaped += String(chars[k..<end])
                    k = end
                } else {
                    escaped += chars[k] == "<" ? "&lt;" : String(chars[k])
                    k += 1
                }
            }
            chars.removeAll()
            out += escaped
        }
        return out
    }

    /// Ink's `<a href="URL">TITLE</a>`, with the address checked and escaped.
    /// Ink escapes the title's text but not the address, which may hold `">`:
    /// the last `">` is the one Ink wrote, so what follows is the title.
    static func link(_ html: String) -> String {
        let open = "<a href=\""
        guard html.hasPrefix(open), html.hasSuffix("</a>"),
              let separator = html.range(of: "\">", options: .backwards),
              separator.lowerBound >= html.index(html.startIndex, offsetBy: open.count) else {
            return Escaping.html(html)
        }
        let address = String(html[html.index(html.startIndex, offsetBy: open.count)..<separator.lowerBound])
        let title = html[separator.upperBound..<html.index(html.endIndex, offsetBy: -4)]
        return "<a href=\"\(Escaping.html(safeAddress(address)))\">\(title)</a>"
    }

    /// `![alt](address)` as an image with escaped alt text and a checked
    /// address; anything else (a reference image) as text.
    static func image(_ markdown: String) -> String {
        guard markdown.hasPrefix("!["), markdown.hasSuffix(")") else { return Escaping.html(markdown) }
        // The address runs back from the final `)` to its balancing `(`.
        var depth = 0
        var index = markdown.endIndex
        while index > markdown.startIndex {
            index = markdown.index(before: index)
            if markdown[index] == ")" { depth += 1 }
            if markdown[index] == "(" { depth -= 1; if depth == 0 { break } }
        }
        guard depth == 0, index > markdown.startIndex, markdown[markdown.index(before: index)] == "]" else {
            return Escaping.html(markdown)
        }
        let address = String(markdown[markdown.index(after: index)..<markdown.index(before: markdown.endIndex)])
        let alt = String(markdown[markdown.index(markdown.startIndex, offsetBy: 2)..<markdown.index(before: index)])
        return "<img src=\"\(Escaping.html(safeAddress(address)))\" alt=\"\(Escaping.html(alt))\" />"
    }

    /// The address when it is relative or http(s)/mailto; `#` otherwise
    /// (`javascript:`, `data:` and other schemes run or embed content).
    /// Browsers ignore blanks and controls inside a scheme, so they go first.
    static func safeAddress(_ address: String) -> String {
        let cleaned = String(String.UnicodeScalarView(address.unicodeScalars.filter {
            !Escaping.isControl($0) && $0 != " " }))
        guard let colon = cleaned.firstIndex(of: ":") else { return address }
        let scheme = cleaned[..<colon]
        if scheme.contains(where: { "/?#".contains($0) }) { return address }
        return ["http", "https", "mailto"].contains(scheme.lowercased()) ? address : "#"
    }
}
