// Tokens produced by the Lexer and consumed by the Parser.

enum TokenKind: UInt8, Sendable {
    // literals and names
    case identifier, number
    /// `"` opening a string; then `stringText` / `interpStart` expr `interpEnd` parts, then `stringEnd`
    case stringStart, stringText, interpStart, interpEnd, stringEnd
    // keywords
    case kwLet, kwFn, kwReturn, kwIf, kwThen, kwElse, kwFor, kwIn, kwWhile, kwBreak, kwContinue
    case kwTrue, kwFalse, kwNil, kwAnd, kwOr, kwNot
    // punctuation
    case lparen, rparen, lbracket, rbracket, lbrace, rbrace
    case comma, colon, semicolon, dot, arrow // =>
    case assign, plusAssign, minusAssign, starAssign, slashAssign
    case plus, minus, star, slash, percent, starStar
    case equal, notEqual, less, lessEqual, greater, greaterEqual, tilde, bangTilde
    case halfOpenRange, closedRange // ..< ...
    // layout
    case newline, cell, eof
}

struct Token: Sendable {
    var kind: TokenKind
    /// UTF-8 byte offsets [start, end)
    var start: Int
    var end: Int
    /// Unicode scalar offsets from the start of the file [scalarStart, scalarEnd)
    var scalarStart: Int
    var scalarEnd: Int
    var line: Int
    var column: Int
    /// whitespace (or a comment) directly before this token on the same line
    var spaceBefore: Bool
    /// index into `Lexer.texts` of the identifier name, decoded string text or
    /// cell title (-1: none). Kept out of line so Token is a plain value whose
    /// copies cost no reference counting (a third of debug-build parse time).
    var textIndex: Int32 = -1
    /// value of a number token
    var number: Double = 0
}

extension TokenKind {
    /// How the token reads in a diagnostic ("expected an expression, found ')'").
    var display: String {
        switch self {
        case .identifier: return "a name"
        case .number: return "a number"
        case .stringStart, .stringText, .stringEnd: return "a string"
        case .interpStart: return "'${'"
        case .interpEnd: return "'}'"
        case .newline: return "a new line"
        case .cell: return "a cell marker '# %%'"
        case .eof: return "end of input"
        default: return "'\(spelling)'"
        }
    }

    /// Source spelling of keywords and punctuation.
    var spelling: String {
        switch self {
        case .kwLet: return "let"
        case .kwFn: return "fn"
        case .kwReturn: return "return"
        case .kwIf: return "if"
        case .kwThen: return "then"
        case .kwElse: return "else"
        case .kwFor: return "for"
        case .kwIn: return "in"
        case .kwWhile: return "while"
        case .kwBreak: return "break"
        case .kwContinue: return "continue"
        case .kwTrue: return "true"
        case .kwFalse: return "false"
        case .kwNil: return "nil"
        case .kwAnd: return "and"
        case .kwOr: return "or"
        case .kwNot: return "not"
        case .lparen: return "("
        case .rparen: return ")"
        case .lbracket: return "["
        case .rbracket: return "]"
        case .lbrace: return "{"
        case .rbrace: return "}"
        case .comma: return ","
        case .colon: return ":"
        case .semicolon: return ";"
        case .dot: return "."
        case .arrow: return "=>"
        case .assign: return "="
        case .plusAssign: return "+="
        case .minusAssign: return "-="
        case .starAssign: return "*="
        case .slashAssign: return "/="
        case .plus: return "+"
        case .minus: return "-"
        case .star: return "*"
        case .slash: return "/"
        case .percent: return "%"
        case .starStar: return "**"
        case .equal: return "=="
        case .notEqual: return "!="
        case .less: return "<"
        case .lessEqual: return "<="
        case .greater: return ">"
        case .greaterEqual: return ">="
        case .tilde: return "~"
        case .bangTilde: return "!~"
        case .halfOpenRange: return "..<"
        case .closedRange: return "..."
        case .identifier, .number, .stringStart, .stringText, .interpStart, .interpEnd,
             .stringEnd, .newline, .cell, .eof:
            return ""
        }
    }

    var isKeyword: Bool { rawValue >= TokenKind.kwLet.rawValue && rawValue <= TokenKind.kwNot.rawValue }

    static let keywords: [String: TokenKind] = [
        "let": .kwLet, "fn": .kwFn, "return": .kwReturn, "if": .kwIf, "then": .kwThen,
        "else": .kwElse, "for": .kwFor, "in": .kwIn, "while": .kwWhile, "break": .kwBreak,
        "continue": .kwContinue, "true": .kwTrue, "false": .kwFalse, "nil": .kwNil,
        "and": .kwAnd, "or": .kwOr, "not": .kwNot,
    ]
}
