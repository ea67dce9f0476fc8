// Source locations and diagnostics: a diagnostic carries where and what.
//
// Rendering follows clang/swiftc:
//
//     quick.medr1:3:12: error: expected ')' to close '(' at 3:4
//         let x = f(1, 2
//                   ^

// MARK: - SourceSpan

/// Where a node or token is. Line and column are 1-based; column and length
/// count Unicode scalars (what a terminal shows for most text). `offset` and
/// `endOffset` are UTF-8 byte offsets into the parsed source, so a caller can
/// cut the exact source text of a statement (`SourceText.text(of:)`).
public struct SourceSpan: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// in Unicode scalars; may run past the end of `line` for multi-line nodes
    public var length: Int
    public var offset: Int
    public var endOffset: Int

    public init(file: String, line: Int, column: Int, length: Int, offset: Int = 0, endOffset: Int = 0) {
        self.file = file; self.line = line; self.column = column; self.length = length
        self.offset = offset; self.endOffset = endOffset
    }

    /// A placeholder for nodes built by hand (and for `ParseOptions.recordSpans == false`).
    public static let none = SourceSpan(file: "", line: 0, column: 0, length: 0)

    /// `file:line:column`
    public var description: String { "\(file):\(line):\(column)" }
}

// MARK: - SourceText

/// Random access to the lines of a source text (for rendering and for cutting
/// statement text). Built once per source: O(n) then O(log n) per lookup.
public struct SourceText: Sendable {
    public let bytes: [UInt8]
    /// byte offset where each line starts (line 1 at index 0)
    private let lineStarts: [Int]

    public init(_ source: String) { self.init(bytes: Array(source.utf8)) }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        var starts = [0]
        for (i, b) in bytes.enumerated() where b == 0x0A { starts.append(i + 1) }
        lineStarts = starts
    }

    public var lineCount: Int { lineStarts.count }

    /// The text of 1-based line `n` without its line break ("" when out of range).
    public func line(_ n: Int) -> String {
        guard n >= 1 && n <= lineStarts.count else { return "" }
        let start = lineStarts[n - 1]
        var end = n < lineStarts.count ? lineStarts[n] - 1 : bytes.count
        if end > start && bytes[end - 1] == 0x0D { end -= 1 }
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }

    /// The exact source text a span covers (by byte offsets).
    public func text(of span: SourceSpan) -> String {
        let lo = max(0, min(span.offset, bytes.count)), hi = max(lo, min(span.endOffset, bytes.count))
        return String(decoding: bytes[lo..<hi], as: UTF8.self)
    }
}

// MARK: - Diagnostic

public struct Diagnostic: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning, note }

    public var severity: Severity
    public var message: String
    public var span: SourceSpan
    /// true when the error is only that the input ended too early (unclosed
    /// bracket, brace, string, trailing operator): the REPL asks for more lines.
    public var isIncomplete: Bool
    /// The source line the span starts on (cut to at most ~160 columns around
    /// the caret for very long lines); nil when unknown.
    public var lineText: String?
    /// The column (of the full line) where `lineText` starts: 1 unless a very long line was cut.
    public var lineTextStart: Int

    public init(severity: Severity = .error, message: String, span: SourceSpan,
                isIncomplete: Bool = false, lineText: String? = nil, lineTextStart: Int = 1) {
        self.severity = severity; self.message = message; self.span = span
        self.isIncomplete = isIncomplete; self.lineText = lineText; self.lineTextStart = lineTextStart
    }

    /// A diagnostic whose line text is taken from `source` (for Runtime errors at an AST span).
    public init(severity: Severity = .error, message: String, span: SourceSpan, source: SourceText) {
        self.init(severity: severity, message: message, span: span, isIncomplete: false, lineText: nil)
        (lineText, lineTextStart) = Diagnostic.excerpt(source.line(span.line), column: span.column)
    }

    /// The part of `line` worth keeping for the caret: all of it, or ~160 columns
    /// around `column` when the line is very long (a 1 MB line stays cheap).
    static func excerpt(_ line: String, column: Int) -> (String, Int) {
        guard line.utf8.count > 320 else { return (line, 1) }
        let scalars = Array(line.unicodeScalars)
        guard scalars.count > 320 else { return (line, 1) }
        let start = max(0, min(column - 1 - 80, scalars.count - 160))
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<min(scalars.count, start + 160)])
        return (String(view), start + 1)
    }

    /// `file:3:12: error: message` (one line, no source).
    public var header: String {
        "\(span.file):\(span.line):\(span.column): \(severity.rawValue): \(message)"
    }

    /// Header, the source line and a caret line (`^~~~` under the span, clamped to the line).
    public func rendered() -> String {
        guard let lineText, span.line > 0 else { return header }
        let scalars = Array(lineText.unicodeScalars)
        let column = max(1, span.column - lineTextStart + 1)
        let prefix = lineTextStart > 1 ? "…" : ""
        var caret = prefix.isEmpty ? "" : " "
        for (i, s) in scalars.enumerated() where i < column - 1 {
            caret.append(s == "\t" ? "\t" : " ")
        }
        if column - 1 > scalars.count { caret += String(repeating: " ", count: column - 1 - scalars.count) }
        let room = max(1, scalars.count - (column - 1))
        let underline = max(1, min(span.length, room))
        caret += "^" + String(repeating: "~", count: underline - 1)
        var shown = String.UnicodeScalarView()
        shown.append(contentsOf: scalars)
        return header + "\n" + prefix + String(shown) + "\n" + caret
    }

    public var description: String { rendered() }
}
