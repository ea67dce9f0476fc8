// Lexer: UTF-8 bytes -> [Token], in one linear pass (a 1 MB line costs O(n)).
//
// Strings with `${…}` interpolation are lexed with a small mode stack instead
// of recursion: inside a string we emit `stringText` / `interpStart`; inside an
// interpolation we lex ordinary tokens and count braces until the `}` that
// closes it (`interpEnd`). So `"a ${f("b ${c}")} d"` is a flat token stream
// and no input can overflow the stack here.
//
// Newlines are tokens; the Parser decides where they end a statement.
// Comments (`#` to end of line) are dropped, except a line whose first
// non-blank characters are `# %%`: that is a `cell` token carrying the title.

final class Lexer {
    private let bytes: [UInt8]
    private let file: String
    private let source: SourceText
    private var pos = 0
    private var line = 1
    private var column = 1
    private var scalar = 0
    private var spaceBefore = false
    /// only blanks so far on the current line (for `# %%`)
    private var atLineStart = true
    private(set) var tokens: [Token] = []
    /// texts of identifier, string-text and cell tokens (`Token.textIndex`)
    private(set) var texts: [String] = []
    private(set) var diagnostics: [Diagnostic] = []
    /// true when the lexer gave up after `maxDiagnostics` errors
    private(set) var stoppedEarly = false
    /// end of the last real token: where "end of input" errors point
    private var lastEnd = (line: 1, column: 1, scalar: 0, offset: 0)

    private enum Mode {
        /// inside a string literal; the opening quote's span start for "unterminated" errors
        case string(Token)
        /// inside `${ … }`; the number of unclosed `{` within it
        case interpolation(Int)
    }
    private var modes: [Mode] = []

    /// Maximum diagnostics before the lexer gives up (garbage input stays cheap).
    static let maxDiagnostics = 50

    init(bytes: [UInt8], file: String, source: SourceText) {
        self.bytes = bytes
        self.file = file
        self.source = source
        tokens.reserveCapacity(bytes.count / 3 + 1)
    }

    // MARK: - Driver

    func run() {
        while true {
            if case .string(let open)? = modes.last {
                lexStringContent(open: open)
                continue
            }
            skipBlanks()
            guard pos < bytes.count, diagnostics.count < Lexer.maxDiagnostics else { break }
            lexToken()
        }
        stoppedEarly = diagnostics.count >= Lexer.maxDiagnostics
        for mode in modes.reversed() {
            if case .string(let open) = mode {
                report("unterminated string; add a closing '\"'", at: span(open), incomplete: true)
                break
            }
        }
        tokens.append(Token(kind: .eof, start: lastEnd.offset, end: lastEnd.offset,
                            scalarStart: lastEnd.scalar, scalarEnd: lastEnd.scalar,
                            line: lastEnd.line, column: lastEnd.column, spaceBefore: spaceBefore))
    }

    // MARK: - Position helpers

    private var peekByte: UInt8 { pos < bytes.count ? bytes[pos] : 0 }
    private func byte(at i: Int) -> UInt8 { i < bytes.count ? bytes[i] : 0 }

    private func advance() {
        let b = bytes[pos]
        pos += 1
        if b == 0x0A {
            line += 1; column = 1; scalar += 1
        } else if b & 0xC0 != 0x80 {
            column += 1; scalar += 1
        }
    }

    private struct Mark { var pos: Int; var line: Int; var column: Int; var scalar: Int }
    private var mark: Mark { Mark(pos: pos, line: line, column: column, scalar: scalar) }

    private func here(length: Int) -> SourceSpan {
        SourceSpan(file: file, line: line, column: column, length: length, offset: pos, endOffset: pos)
    }

    private func span(_ t: Token) -> SourceSpan {
        SourceSpan(file: file, line: t.line, column: t.column, length: t.scalarEnd - t.scalarStart,
                   offset: t.start, endOffset: t.end)
    }

    private func span(from m: Mark) -> SourceSpan {
        SourceSpan(file: file, line: m.line, column: m.column, length: scalar - m.scalar,
                   offset: m.pos, endOffset: pos)
    }

    private func emit(_ kind: TokenKind, from m: Mark, text: String? = nil, number: Double = 0) {
        var index: Int32 = -1
        if let text {
            index = Int32(texts.count)
            texts.append(text)
        }
        tokens.append(Token(kind: kind, start: m.pos, end: pos, scalarStart: m.scalar, scalarEnd: scalar,
                            line: m.line, column: m.column, spaceBefore: spaceBefore,
                            textIndex: index, number: number))
        spaceBefore = false
        if kind == .newline {
            atLineStart = true
        } else {
            atLineStart = false
            lastEnd = (line, column, scalar, pos)
        }
    }

    private func report(_ message: String, at span: SourceSpan, incomplete: Bool = false) {
        let (text, start) = Diagnostic.excerpt(source.line(span.line), column: span.column)
        diagnostics.append(Diagnostic(message: message, span: span, isIncomplete: incomplete,
                                      lineText: text, lineTextStart: start))
    }

    private func skipBlanks() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0D:
                advance(); spaceBefore = true
            case UInt8(ascii: "#"):
                if atLineStart && isCellMarker() { return }
                while pos < bytes.count && bytes[pos] != 0x0A { advance() }
                spaceBefore = true
            default:
                return
            }
        }
    }

    /// `#`, blanks, `%%` at the current position.
    private func isCellMarker() -> Bool {
        var i = pos + 1
        while byte(at: i) == 0x20 || byte(at: i) == 0x09 { i += 1 }
        return byte(at: i) == UInt8(ascii: "%") && byte(at: i + 1) == UInt8(ascii: "%")
    }

    // MARK: - Tokens

    private func lexToken() {
        let m = mark
        let c = bytes[pos]
        switch c {
        case 0x0A:
            advance(); emit(.newline, from: m)
        case UInt8(ascii: "#"):
            lexCell()
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            lexNumber()
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
            lexIdentifier()
        case UInt8(ascii: "\""):
            advance()
            emit(.stringStart, from: m)
            modes.append(.string(tokens[tokens.count - 1]))
        case UInt8(ascii: "{"):
            advance()
            if case .interpolation(let depth)? = modes.last { modes[modes.count - 1] = .interpolation(depth + 1) }
            emit(.lbrace, from: m)
        case UInt8(ascii: "}"):
            advance()
            if case .interpolation(let depth)? = modes.last {
                if depth == 0 {
                    modes.removeLast()
                    emit(.interpEnd, from: m)
                    return
                }
                modes[modes.count - 1] = .interpolation(depth - 1)
            }
            emit(.rbrace, from: m)
        default:
            lexOperator(m)
        }
    }

    private func lexOperator(_ m: Mark) {
        guard let (kind, length, message) = Lexer.operatorToken(bytes[pos], byte(at: pos + 1), byte(at: pos + 2))
        else {
            lexUnexpected(m)
            return
        }
        for _ in 0..<length { advance() }
        // `!`, `&&`, `||`, `..` are reported but read as `not`, `and`, `or`, `..<`,
        // so the rest of the statement still parses: one error, not two.
        if let message { report(message, at: span(from: m)) }
        emit(kind, from: m)
    }

    /// The operator starting with bytes c, next, third: its kind, its length in
    /// bytes, and an error message when it is a common mistake. A pure function
    /// (no copy of the lexer per call in debug builds).
    private static func operatorToken(_ c: UInt8, _ next: UInt8, _ third: UInt8) -> (TokenKind, Int, String?)? {
        let eq = next == UInt8(ascii: "=")
        switch c {
        case UInt8(ascii: "("): return (.lparen, 1, nil)
        case UInt8(ascii: ")"): return (.rparen, 1, nil)
        case UInt8(ascii: "["): return (.lbracket, 1, nil)
        case UInt8(ascii: "]"): return (.rbracket, 1, nil)
        case UInt8(ascii: ","): return (.comma, 1, nil)
        case UInt8(ascii: ":"): return (.colon, 1, nil)
        case UInt8(ascii: ";"): return (.semicolon, 1, nil)
        case UInt8(ascii: "~"): return (.tilde, 1, nil)
        case UInt8(ascii: "%"): return (.percent, 1, nil)
        case UInt8(ascii: "+"): return eq ? (.plusAssign, 2, nil) : (.plus, 1, nil)
        case UInt8(ascii: "-"): return eq ? (.minusAssign, 2, nil) : (.minus, 1, nil)
        case UInt8(ascii: "/"): return eq ? (.slashAssign, 2, nil) : (.slash, 1, nil)
        case UInt8(ascii: "*"):
            return next == UInt8(ascii: "*") ? (.starStar, 2, nil) : eq ? (.starAssign, 2, nil) : (.star, 1, nil)
        case UInt8(ascii: "="):
            return eq ? (.equal, 2, nil) : next == UInt8(ascii: ">") ? (.arrow, 2, nil) : (.assign, 1, nil)
        case UInt8(ascii: "<"): return eq ? (.lessEqual, 2, nil) : (.less, 1, nil)
        case UInt8(ascii: ">"): return eq ? (.greaterEqual, 2, nil) : (.greater, 1, nil)
        case UInt8(ascii: "!"):
            if eq { return (.notEqual, 2, nil) }
            if next == UInt8(ascii: "~") { return (.bangTilde, 2, nil) }
            return (.kwNot, 1, "'!' is not an operator; use 'not'")
        case UInt8(ascii: "&") where next == UInt8(ascii: "&"):
            return (.kwAnd, 2, "'&&' is not an operator; use 'and'")
        case UInt8(ascii: "|") where next == UInt8(ascii: "|"):
            return (.kwOr, 2, "'||' is not an operator; use 'or'")
        case UInt8(ascii: "."):
            guard next == UInt8(ascii: ".") else { return (.dot, 1, nil) }
            if third == UInt8(ascii: "<") { return (.halfOpenRange, 3, nil) }
            if third == UInt8(ascii: ".") { return (.closedRange, 3, nil) }
            return (.halfOpenRange, 2, "'..' is not an operator; use '..<' (upper bound excluded) or '...' (included)")
        default:
            return nil
        }
    }

    /// Reports one unexpected character (a whole UTF-8 sequence) and skips it.
    private func lexUnexpected(_ m: Mark) {
        let c = bytes[pos]
        advance()
        while pos < bytes.count && bytes[pos] & 0xC0 == 0x80 { advance() }
        let text = String(decoding: bytes[m.pos..<pos], as: UTF8.self)
        let message: String
        switch c {
        case 0: message = "NUL byte (0x00) in source; remove it"
        case UInt8(ascii: "'"):
            // 'text': one error, then read it as the string it was meant to be
            var end = pos
            while end < bytes.count && bytes[end] != UInt8(ascii: "'") && bytes[end] != 0x0A { end += 1 }
            if end < bytes.count && bytes[end] == UInt8(ascii: "'") {
                let textMark = mark
                while pos < end { advance() }
                let text = String(decoding: bytes[textMark.pos..<pos], as: UTF8.self)
                advance()
                report("strings use double quotes: write \"\(text)\"", at: span(from: m))
                pos = m.pos; line = m.line; column = m.column; scalar = m.scalar
                advance()
                emit(.stringStart, from: m)
                spaceBefore = false
                if !text.isEmpty {
                    while pos < end { advance() }
                    emit(.stringText, from: textMark, text: text)
                }
                let closeMark = mark
                advance()
                emit(.stringEnd, from: closeMark)
                return
            }
            message = "unexpected character \"'\"; strings use double quotes: \"text\""
        case UInt8(ascii: "$"): message = "unexpected character '$'; interpolation '${…}' works only inside a string"
        case 0x01..<0x20, 0x7F: message = "unexpected control character (0x\(hex(c)))"
        default: message = "unexpected character '\(text)'"
        }
        report(message, at: span(from: m))
        spaceBefore = true
    }

    private func lexCell() {
        let m = mark
        advance() // '#'
        while peekByte == 0x20 || peekByte == 0x09 { advance() }
        advance(); advance() // '%%'
        let titleStart = pos
        while pos < bytes.count && bytes[pos] != 0x0A { advance() }
        var title = String(decoding: bytes[titleStart..<pos], as: UTF8.self)
        title = String(title.drop(while: { $0 == " " || $0 == "\t" }))
        while let last = title.last, last == " " || last == "\t" || last == "\r" { title.removeLast() }
        emit(.cell, from: m, text: title)
    }

    private func lexIdentifier() {
        let m = mark
        while pos < bytes.count, Lexer.isIdentByte(bytes[pos]) { advance() }
        let name = String(decoding: bytes[m.pos..<pos], as: UTF8.self)
        // keywords are 2-8 lowercase letters: skip the dictionary for other names
        let length = pos - m.pos
        if length >= 2, length <= 8, bytes[m.pos] >= UInt8(ascii: "a"), let keyword = TokenKind.keywords[name] {
            emit(keyword, from: m) // text is its spelling
        } else {
            emit(.identifier, from: m, text: name)
        }
    }

    private static func isIdentByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// number -> digits ('.' digits)? ([eE] [+-]? digits)?   ("0..<3" is 0, ..<, 3)
    private func lexNumber() {
        let m = mark
        while Lexer.isDigit(peekByte) { advance() }
        if peekByte == UInt8(ascii: "."), Lexer.isDigit(byte(at: pos + 1)) {
            advance()
            while Lexer.isDigit(peekByte) { advance() }
        }
        var malformed = false
        if peekByte == UInt8(ascii: "e") || peekByte == UInt8(ascii: "E") {
            var i = pos + 1
            if byte(at: i) == UInt8(ascii: "+") || byte(at: i) == UInt8(ascii: "-") { i += 1 }
            if Lexer.isDigit(byte(at: i)) {
                while pos < i { advance() }
                while Lexer.isDigit(peekByte) { advance() }
            } else {
                malformed = true
            }
        }
        if malformed || Lexer.isIdentByte(peekByte) {
            while pos < bytes.count, Lexer.isIdentByte(bytes[pos]) { advance() }
            let text = String(decoding: bytes[m.pos..<pos], as: UTF8.self)
            report("malformed number '\(text)'; an exponent needs digits (3e-4) and a name cannot start with a digit",
                   at: span(from: m))
            emit(.number, from: m, number: 0)
            return
        }
        let text = String(decoding: bytes[m.pos..<pos], as: UTF8.self)
        let value = Double(text) ?? 0
        if !value.isFinite {
            report("number '\(text)' is too large (the largest is about 1.8e308)", at: span(from: m))
        }
        emit(.number, from: m, number: value.isFinite ? value : 0)
    }

    // MARK: - Strings

    /// Lexes string text up to the closing quote, a `${`, or end of input.
    private func lexStringContent(open: Token) {
        var text: [UInt8] = []
        var textMark = mark
        func flush(_ lexer: Lexer) {
            if !text.isEmpty {
                lexer.spaceBefore = false
                lexer.emit(.stringText, from: textMark, text: String(decoding: text, as: UTF8.self))
                text.removeAll(keepingCapacity: true)
            }
        }
        while true {
            if pos >= bytes.count || diagnostics.count >= Lexer.maxDiagnostics {
                flush(self)
                modes.removeAll()
                if pos >= bytes.count {
                    report("unterminated string; add a closing '\"'", at: span(open), incomplete: true)
                }
                return
            }
            let b = bytes[pos]
            if text.isEmpty { textMark = mark }
            switch b {
            case UInt8(ascii: "\""):
                flush(self)
                let m = mark
                advance()
                spaceBefore = false
                emit(.stringEnd, from: m)
                modes.removeLast()
                return
            case UInt8(ascii: "$") where byte(at: pos + 1) == UInt8(ascii: "{"):
                flush(self)
                let m = mark
                advance(); advance()
                spaceBefore = false
                emit(.interpStart, from: m)
                modes.append(.interpolation(0))
                return
            case UInt8(ascii: "\\"):
                lexEscape(into: &text)
            case 0:
                let m = mark
                advance()
                report("NUL byte (0x00) in string; write \\0 if you mean it", at: span(from: m))
            default:
                text.append(b)
                advance()
            }
        }
    }

    /// escape -> '\' ( n | t | r | 0 | \ | " | $ | u{hex} )
    private func lexEscape(into text: inout [UInt8]) {
        let m = mark
        advance() // backslash
        guard pos < bytes.count else { return }
        let c = bytes[pos]
        switch c {
        case UInt8(ascii: "n"): text.append(0x0A); advance()
        case UInt8(ascii: "t"): text.append(0x09); advance()
        case UInt8(ascii: "r"): text.append(0x0D); advance()
        case UInt8(ascii: "0"): text.append(0x00); advance()
        case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "$"): text.append(c); advance()
        case UInt8(ascii: "u") where byte(at: pos + 1) == UInt8(ascii: "{"):
            advance(); advance()
            var value: UInt32 = 0
            var digits = 0
            while let d = Lexer.hexValue(peekByte), digits < 8 { value = value &* 16 &+ d; digits += 1; advance() }
            if peekByte == UInt8(ascii: "}"), digits > 0, let s = Unicode.Scalar(value) {
                advance()
                text.append(contentsOf: Array(String(Character(s)).utf8))
            } else {
                if peekByte == UInt8(ascii: "}") { advance() }
                report("invalid unicode escape; write \\u{1F600} with 1 to 8 hex digits of a valid code point",
                       at: span(from: m))
            }
        default:
            advance()
            while pos < bytes.count && bytes[pos] & 0xC0 == 0x80 { advance() }
            let shown = String(decoding: bytes[m.pos..<pos], as: UTF8.self)
            report("invalid escape '\(shown)' in string; valid escapes are \\n \\t \\r \\0 \\\\ \\\" \\$ \\u{…}",
                   at: span(from: m))
        }
    }

    private static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: return UInt32(b - 0x30)
        case 0x61...0x66: return UInt32(b - 0x61 + 10)
        case 0x41...0x46: return UInt32(b - 0x41 + 10)
        default: return nil
        }
    }
}

func hex(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}
