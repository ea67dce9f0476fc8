// Text from values (record keys, metric and modality names, questions,
// completions) on its way to another interpreter: gnuplot's command stream,
// an HTML page, the user's terminal, or the language itself (a string shown
// as a literal). One function per target; every place that hands data text
// to one of them goes through it.

import Foundation
import Lang

public enum Escaping {
    /// A string literal of the language that reads back as `text` (Lang's
    /// printer: quote, backslash, control characters and `$` before `{`
    /// escaped): how a value shows a string in the REPL and inside lists.
    public static func literal(_ text: String) -> String { Printer.quote(text) }

    /// Whether `s` is a control character: C0 (U+0000-U+001F), DEL or C1 (U+0080-U+009F).
    public static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (0x7F...0x9F).contains(s.value)
    }

    /// `text` with every control character except those in `keeping` written
    /// out as the language's string escapes (`\n`, `\t`, `\r`, `\0`, `\u{1B}`),
    /// so it shows what the data holds and cannot act on what reads it.
    public static func visibleControls(_ text: String, keeping: Set<Unicode.Scalar> = []) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) && !keeping.contains($0) }) else { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            guard isControl(s), !keeping.contains(s) else { out.append(s); continue }
            let shown: String
            switch s {
            case "\n": shown = "\\n"
            case "\t": shown = "\\t"
            case "\r": shown = "\\r"
            case "\0": shown = "\\0"
            default: shown = "\\u{" + String(s.value, radix: 16, uppercase: true) + "}"
            }
            out.append(contentsOf: shown.unicodeScalars)
        }
        return String(out)
    }

    /// Text for the terminal: escape sequences and other control characters
    /// are shown as escapes; newlines and tabs, the layout, stay.
    public static func terminal(_ text: String) -> String {
        visibleControls(text, keeping: ["\n", "\t"])
    }

    /// A gnuplot string literal holding `text` as plain text. Single quotes,
    /// because gnuplot expands backquotes (command substitution) and `@`
    /// macros inside double quotes but nothing inside single quotes, where
    /// `''` is the only escape. Control characters are shown as escapes: a
    /// newline would end the command and start another.
    public static func gnuplot(_ text: String) -> String {
        "'" + visibleControls(text).replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// Text for HTML (or XML) element content and quoted attribute values.
    /// Control characters other than tab and newline, which XML 1.0 does not
    /// allow, are shown as escapes.
    public static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in visibleControls(text, keeping: ["\n", "\t"]).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Text from data inside a line of Markdown: HTML-escaped (Markdown passes
    /// raw HTML through), and the Markdown characters that could end the
    /// construct it sits in (`]` of an image's alt text, `|` of a table cell,
    /// `*` of bold) backslash-escaped; a newline becomes a space.
    public static func markdownInline(_ text: String) -> String {
        var out = ""
        for ch in html(text) {
            switch ch {
            case "\\", "[", "]", "|", "*", "_", "`": out += "\\" + String(ch)
            case "\n", "\r\n": out += " "
            default: out.append(ch)
            }
        }
        return out
    }

    /// Removes ANSI escape sequences (colour, cursor movement) from terminal text.
    public static func strippingANSI(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            guard scalar == "\u{1B}" else { result.append(scalar); continue }
            guard let next = scalars.next() else { break }
            if next == "[" {
                // CSI: parameters and intermediates up to a final byte in @...~
                while let c = scalars.next(), !(0x40...0x7E).contains(c.value) {}
            } else if next == "]" {
                // OSC: up to BEL or ESC \
                while let c = scalars.next(), c != "\u{07}", c != "\u{1B}" {}
            }
        }
        return String(result)
    }
}
