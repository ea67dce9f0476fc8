import Foundation

// Parser: tokens -> Program, recursive descent with precedence climbing for
// binary operators (docs/language.md has the grammar and the precedence table).
//
// Three properties the REPL and the notebook runner rely on:
// - One error costs one statement: after a diagnostic the parser skips to the
//   end of the broken statement (counting brackets) and goes on (clox's
//   panic mode + synchronize). Lexer errors inside a statement suppress the
//   parser's own error there, so one mistake gives one message.
// - "Incomplete" is decided here (Lua's REPL rule): if every error sits at the
//   end of the input (unclosed bracket/brace/string, trailing operator), the
//   outcome is `.needsMore` and the REPL shows a continuation prompt.
// - Nesting depth is bounded (`ParseOptions.maxDepth`), so 10,000 `(` give a
//   "nesting too deep" error instead of a stack overflow.

/// What `Parser.parse` found.
public enum ParseOutcome: Equatable, Sendable {
    /// No diagnostics.
    case complete(Program)
    /// The input ends too early (unclosed bracket, brace, string, `${`, or a
    /// trailing operator / comma / `=`). The diagnostic says what is missing;
    /// in a file this is an error, at the prompt it means "read another line".
    case needsMore(Diagnostic)
    /// One or more errors, sorted by position; `Program` holds the statements
    /// that did parse (each broken statement is left out).
    case errors([Diagnostic], Program)
}

public struct ParseOptions: Sendable {
    /// false: every span is `SourceSpan.none`, so trees from different texts
    /// compare equal when they have the same structure (the round-trip test).
    public var recordSpans = true
    /// Deepest allowed nesting of expressions and blocks (each bracket,
    /// prefix operator or block is one level). ~200 keeps the recursion far
    /// from the stack limit of a 512 KB secondary thread in debug builds.
    public var maxDepth = 200
    public init(recordSpans: Bool = true, maxDepth: Int = 200) {
        self.recordSpans = recordSpans
        self.maxDepth = maxDepth
    }
}

public enum Parser {
    /// Parses REPL input or a whole file. See `ParseOutcome`.
    public static func parse(source: String, file: String, options: ParseOptions = ParseOptions()) -> ParseOutcome {
        parse(bytes: Array(source.utf8), file: file, options: options)
    }

    /// Parses raw bytes (a file read from disk): invalid UTF-8 is a diagnostic, not a crash.
    public static func parse(bytes: [UInt8], file: String, options: ParseOptions = ParseOptions()) -> ParseOutcome {
        let (program, diagnostics) = parseScript(bytes: bytes, file: file, options: options)
        if diagnostics.isEmpty { return .complete(program) }
        if diagnostics.allSatisfy(\.isIncomplete) { return .needsMore(diagnostics[0]) }
        return .errors(diagnostics, program)
    }

    /// For files: never "needs more"; returns the recovered program and every
    /// diagnostic (incomplete input is an error like any other).
    public static func parseScript(source: String, file: String,
                                   options: ParseOptions = ParseOptions()) -> (Program, [Diagnostic]) {
        parseScript(bytes: Array(source.utf8), file: file, options: options)
    }

    public static func parseScript(bytes input: [UInt8], file: String,
                                   options: ParseOptions = ParseOptions()) -> (Program, [Diagnostic]) {
        // Recursive descent needs ~8 KB of stack per nesting level in a debug
        // build; at the 200-level limit that is more than a 512 KB secondary
        // thread has. So the parse always runs on a thread of its own with a
        // large stack, whichever thread calls (cost: ~0.1 ms per call).
        LargeStack.run { parseOnCurrentThread(bytes: input, file: file, options: options) }
    }

    static func parseOnCurrentThread(bytes input: [UInt8], file: String,
                                     options: ParseOptions) -> (Program, [Diagnostic]) {
        var bytes = input
        let invalid = UTF8Check.replaceInvalid(&bytes)
        let source = SourceText(bytes: bytes)
        let lexer = Lexer(bytes: bytes, file: file, source: source)
        lexer.run()
        var lexDiagnostics = invalid.prefix(Lexer.maxDiagnostics).map { bad -> Diagnostic in
            let (line, column) = UTF8Check.position(of: bad.offset, in: bytes)
            let span = SourceSpan(file: file, line: line, column: column, length: 1,
                                  offset: bad.offset, endOffset: bad.offset + 1)
            let (text, start) = Diagnostic.excerpt(source.line(line), column: column)
            return Diagnostic(message: "invalid UTF-8 byte 0x\(hex(bad.byte)); save the file as UTF-8",
                              span: span, lineText: text, lineTextStart: start)
        }
        lexDiagnostics += lexer.diagnostics
        lexDiagnostics.sort { $0.span.offset < $1.span.offset }
        let parser = ParserCore(tokens: lexer.tokens, texts: lexer.texts, file: file, source: source, options: options,
                                lexerDiagnostics: lexDiagnostics)
        let statements = parser.parseProgram()
        var all = lexDiagnostics + parser.diagnostics
        all.sort { ($0.span.offset, $0.span.line) < ($1.span.offset, $1.span.line) }
        if all.count > Lexer.maxDiagnostics || lexer.stoppedEarly || parser.stoppedEarly {
            all.removeLast(max(0, all.count - Lexer.maxDiagnostics))
            var last = all[all.count - 1]
            last.message = "too many errors; fix these first (the rest of the file was not checked)"
            last.severity = .note
            last.isIncomplete = false
            all.append(last)
        }
        return (Program(statements: statements, file: file), all)
    }
}

/// Thrown after a diagnostic has been recorded; caught at the statement loop.
struct ParseAbort: Error {}

/// One open bracket, brace or `${` (for messages, newline handling and recovery).
struct OpenDelimiter {
    var token: Token
    /// inside ( [ record-{ ${ newlines are layout only; inside a block they end statements
    var ignoresNewlines: Bool
}

final class ParserCore {
    let tokens: [Token]
    let texts: [String]
    let file: String
    let source: SourceText
    let options: ParseOptions
    let lexerOffsets: [Int]
    var pos = 0
    /// last token consumed (the end of the node being built)
    var previous: Token
    var opens: [OpenDelimiter] = [] {
        didSet { ignoringNewlines = opens.last?.ignoresNewlines ?? false }
    }
    /// inside ( [ record-{ ${ (the innermost open delimiter): newlines are layout only
    private(set) var ignoringNewlines = false
    var depth = 0
    /// for "'break' outside of a loop" / "'return' outside of a function"
    var loopDepth = 0
    var functionDepth = 0
    /// while parsing the condition of if/while or a for's sequence, `{` starts the body, not a record
    var noRecordLiteral = false
    /// byte offset where the innermost statement being parsed starts
    var statementStart = 0
    var diagnostics: [Diagnostic] = []
    /// set by "nesting too deep": block-level recovery must not resume inside the deep statement
    var abandonStatement = false
    /// true when parsing stopped after `Lexer.maxDiagnostics` errors
    var stoppedEarly = false

    init(tokens: [Token], texts: [String], file: String, source: SourceText, options: ParseOptions,
         lexerDiagnostics: [Diagnostic]) {
        self.tokens = tokens
        self.texts = texts
        self.file = file
        self.source = source
        self.options = options
        self.lexerOffsets = lexerDiagnostics.map(\.span.offset)
        self.previous = tokens[0]
    }

    // MARK: - Token access

    /// The name, label, string text or cell title a token carries.
    func textOf(_ t: Token) -> String {
        t.textIndex >= 0 ? texts[Int(t.textIndex)] : t.kind.spelling
    }

    /// The current token; inside brackets newline tokens are skipped.
    func peek() -> Token {
        if ignoringNewlines { while tokens[pos].kind == .newline { pos += 1 } }
        return tokens[pos]
    }

    var kind: TokenKind { peek().kind }

    /// The raw token after the current one (no newline skipping).
    var nextRaw: Token { tokens[min(pos + 1, tokens.count - 1)] }

    @discardableResult
    func advance() -> Token {
        let t = peek()
        if t.kind != .eof { pos += 1 }
        previous = t
        return t
    }

    func match(_ k: TokenKind) -> Bool {
        if kind == k { advance(); return true }
        return false
    }

    /// After an operator, `=`, `,`, `then`, `else`, `=>`: the expression may continue on the next line.
    func skipNewlines() {
        while tokens[pos].kind == .newline { pos += 1 }
    }

    func push(_ t: Token, ignoresNewlines: Bool) {
        opens.append(OpenDelimiter(token: t, ignoresNewlines: ignoresNewlines))
    }

    func pop() { opens.removeLast() }

    // MARK: - Spans and errors

    func span(_ t: Token) -> SourceSpan {
        guard options.recordSpans else { return .none }
        return SourceSpan(file: file, line: t.line, column: t.column, length: t.scalarEnd - t.scalarStart,
                          offset: t.start, endOffset: t.end)
    }

    /// From `start` to the last consumed token.
    func span(from start: Token) -> SourceSpan {
        guard options.recordSpans else { return .none }
        let end = max(previous.scalarEnd, start.scalarEnd)
        return SourceSpan(file: file, line: start.line, column: start.column, length: end - start.scalarStart,
                          offset: start.start, endOffset: max(previous.end, start.end))
    }

    /// Records a diagnostic at `t` (unless the lexer already reported an error
    /// in this statement) and aborts the statement.
    func fail(_ message: String, at t: Token) throws -> Never {
        try fail(message, span: SourceSpan(file: file, line: t.line, column: t.column,
                                           length: max(t.scalarEnd - t.scalarStart, t.kind == .eof ? 0 : 1),
                                           offset: t.start, endOffset: t.end),
                 incomplete: t.kind == .eof)
    }

    func fail(_ message: String, span: SourceSpan, incomplete: Bool = false) throws -> Never {
        // characters the lexer skipped (and reported) lie before the current token
        let hi = tokens[pos].kind == .eof ? Int.max : max(span.endOffset, tokens[pos].start)
        if !lexerReported(from: statementStart, to: hi) {
            let (text, start) = Diagnostic.excerpt(source.line(span.line), column: span.column)
            diagnostics.append(Diagnostic(message: message, span: span, isIncomplete: incomplete,
                                          lineText: text, lineTextStart: start))
        }
        throw ParseAbort()
    }

    /// Is there a lexer diagnostic at a byte offset in [lo, hi]? (binary search)
    private func lexerReported(from lo: Int, to hi: Int) -> Bool {
        var a = 0, b = lexerOffsets.count
        while a < b {
            let mid = (a + b) / 2
            if lexerOffsets[mid] < lo { a = mid + 1 } else { b = mid }
        }
        return a < lexerOffsets.count && lexerOffsets[a] <= hi
    }

    func at(_ t: Token) -> String { "\(t.line):\(t.column)" }

    /// What a token looks like in "found …".
    func describe(_ t: Token) -> String {
        switch t.kind {
        case .identifier: return "'\(textOf(t))'"
        case .number: return "number '\(String(decoding: source.bytes[t.start..<t.end], as: UTF8.self))'"
        default: return t.kind.display
        }
    }

    /// Expects the closing delimiter for `open`: "expected ')' to close '(' at 3:4".
    func expectClosing(_ closing: TokenKind, for open: Token) throws {
        if match(closing) { return }
        let opener = open.kind == .interpStart ? "${" : open.kind.spelling
        try fail("expected '\(closing == .interpEnd ? "}" : closing.spelling)' to close '\(opener)' at \(at(open))",
                 at: peek())
    }

    /// One more level of nesting; `defer { leave() }` after it.
    func enter() throws {
        depth += 1
        if depth > options.maxDepth {
            abandonStatement = true
            try fail("nesting too deep (more than \(options.maxDepth) levels); split the expression with 'let'",
                     at: peek())
        }
    }

    func leave() { depth -= 1 }

    // MARK: - Statement lists and recovery

    /// program -> (stmt? (NEWLINE | ';'))* EOF
    func parseProgram() -> [Stmt] {
        var statements: [Stmt] = []
        while true {
            skipSeparators()
            let t = tokens[pos]
            if t.kind == .eof { break }
            if t.kind == .cell {
                advance()
                statements.append(.cell(CellMarker(title: textOf(t), span: span(t))))
                continue
            }
            let openCount = opens.count
            do {
                statementStart = t.start
                let s = try parseStatement()
                try expectStatementEnd(after: s, inBlock: false)
                statements.append(s)
            } catch {
                abandonStatement = false
                synchronize(openCount: openCount, inBlock: false)
            }
            if diagnostics.count >= Lexer.maxDiagnostics {
                stoppedEarly = tokens[pos].kind != .eof
                break
            }
        }
        return statements
    }

    func skipSeparators() {
        while tokens[pos].kind == .newline || tokens[pos].kind == .semicolon { pos += 1 }
    }

    /// block -> '{' (stmt? (NEWLINE | ';'))* '}'
    func parseBlock(after what: String) throws -> Block {
        let open = peek()
        guard open.kind == .lbrace else {
            let found = peek()
            if found.kind == .assign {
                try fail("expected '{' after \(what), found '='; use '==' to compare", at: found)
            }
            try fail("expected '{' after \(what), found \(describe(found))", at: found)
        }
        try enter()
        defer { leave() }
        advance()
        push(open, ignoresNewlines: false) // popped on success; after an error the statement loop truncates
        let outerStart = statementStart
        defer { statementStart = outerStart }
        var statements: [Stmt] = []
        while true {
            skipSeparators()
            let t = tokens[pos]
            if t.kind == .rbrace { advance(); pop(); break }
            if t.kind == .eof || t.kind == .cell {
                statementStart = outerStart
                try fail("expected '}' to close '{' at \(at(open))" + (t.kind == .cell ? " before the cell marker" : ""),
                         at: t)
            }
            let openCount = opens.count
            do {
                statementStart = t.start
                let s = try parseStatement()
                try expectStatementEnd(after: s, inBlock: true)
                statements.append(s)
            } catch {
                // too deep: give up on the whole top-level statement (one error, not one per level)
                if abandonStatement { throw ParseAbort() }
                synchronize(openCount: openCount, inBlock: true)
                let k = tokens[pos].kind
                if k == .eof || k == .cell { throw ParseAbort() } // already reported; no second error
            }
        }
        return Block(statements: statements, span: span(from: open))
    }

    /// Skips the rest of a broken statement: to the newline or ';' that ends it
    /// (brackets opened in it must close first), a '}' closing the enclosing
    /// block, a cell marker, or — when stuck inside an unclosed ( or [ — a line
    /// starting with let/for/while/return/if/`fn name`, which almost surely
    /// begins a new statement.
    func synchronize(openCount: Int, inBlock: Bool) {
        var stack = opens[openCount...].map(\.token.kind)
        opens.removeSubrange(openCount...)
        while true {
            let t = tokens[pos]
            switch t.kind {
            case .eof, .cell:
                return
            case .newline, .semicolon:
                if stack.isEmpty { pos += 1; return }
            case .lparen, .lbracket, .lbrace, .interpStart:
                stack.append(t.kind)
            case .rparen, .rbracket, .interpEnd:
                let opener: TokenKind = t.kind == .rparen ? .lparen : t.kind == .rbracket ? .lbracket : .interpStart
                if let i = stack.lastIndex(of: opener) { stack.removeSubrange(i...) }
            case .rbrace:
                // a '}' with no '{' open in this statement closes the enclosing block
                if let i = stack.lastIndex(of: .lbrace) {
                    stack.removeSubrange(i...)
                } else if inBlock {
                    return
                } else {
                    stack.removeAll()
                }
            case .kwLet, .kwFor, .kwWhile, .kwReturn, .kwIf, .kwFn:
                if let top = stack.last, top == .lparen || top == .lbracket,
                   pos > 0, tokens[pos - 1].kind == .newline,
                   t.kind != .kwFn || tokens[pos + 1].kind == .identifier {
                    return
                }
            default:
                break
            }
            pos += 1
        }
    }

    /// A statement ends at a new line, ';', '}' (in a block), a cell marker or the end.
    func expectStatementEnd(after s: Stmt, inBlock: Bool) throws {
        let t = tokens[pos]
        switch t.kind {
        case .newline, .semicolon, .eof, .cell:
            return
        case .rbrace where inBlock:
            return
        default:
            if case .expression(let e) = s {
                if case .call(let c) = e, c.isCommand {
                    try fail("expected ',' between arguments or the end of the line, found \(describe(t))", at: t)
                }
                if case .member = e, startsExpression(t) {
                    try fail("only a plain name can be called without parentheses; write \(source.text(of: e.span))(…)",
                             at: t)
                }
            }
            try fail("expected the statement to end here (a new line or ';'), found \(describe(t))", at: t)
        }
    }

    /// Can this token begin an expression?
    func startsExpression(_ t: Token) -> Bool {
        switch t.kind {
        case .identifier, .number, .stringStart, .kwTrue, .kwFalse, .kwNil, .kwNot, .kwFn, .kwIf,
             .lparen, .lbracket, .lbrace, .minus, .plus:
            return true
        default:
            return false
        }
    }
}

// MARK: - A thread with a large stack

final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

enum LargeStack {
    /// Stack for the parser thread: 200 levels * ~8 KB (debug) with a wide margin.
    static let size = 16 << 20

    /// Runs `body` on a new thread with a `size` stack and waits for its result.
    static func run<T>(_ body: @escaping @Sendable () -> T) -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.value = body()
            done.signal()
        }
        thread.stackSize = size
        thread.start()
        done.wait()
        return box.value!
    }
}

// MARK: - UTF-8 validation

enum UTF8Check {
    /// Replaces every byte that is not part of a well-formed UTF-8 sequence by
    /// a space (offsets stay valid) and returns the first byte of each bad run.
    static func replaceInvalid(_ bytes: inout [UInt8]) -> [(offset: Int, byte: UInt8)] {
        var bad: [(offset: Int, byte: UInt8)] = []
        var i = 0
        let n = bytes.count
        var lastBad = -2
        while i < n {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let length = sequenceLength(bytes, i)
            if length > 0 { i += length; continue }
            if lastBad != i - 1 { bad.append((i, b)) }
            lastBad = i
            bytes[i] = 0x20
            i += 1
        }
        return bad
    }

    /// Length of the well-formed sequence starting at i (RFC 3629 table), or 0.
    private static func sequenceLength(_ s: [UInt8], _ i: Int) -> Int {
        let b = s[i]
        func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i + k < s.count && s[i + k] >= lo && s[i + k] <= hi
        }
        switch b {
        case 0xC2...0xDF: return cont(1) ? 2 : 0
        case 0xE0: return cont(1, 0xA0) && cont(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : 0
        case 0xED: return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0
        case 0xF0: return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4: return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0
        default: return 0
        }
    }

    /// 1-based line and column (in scalars) of a byte offset.
    static func position(of offset: Int, in bytes: [UInt8]) -> (Int, Int) {
        var line = 1, column = 1
        for i in 0..<min(offset, bytes.count) {
            if bytes[i] == 0x0A { line += 1; column = 1 } else if bytes[i] & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }
}
