// Expressions: precedence climbing over the binary operators, then unary,
// power, postfix (call, index, field) and primaries.
//
// Precedence, lowest first (docs/language.md):
//   1 or   2 and   3 not (prefix)   4 == != < <= > >= ~ !~ (no chaining)
//   5 ..< ... (no chaining)   6 + -   7 * / %   8 unary - +   9 ** (right)
//   10 postfix: f(x)  a[i]  a.b

extension ParserCore {
    static let comparisonPrecedence = 4
    static let rangePrecedence = 5

    /// Binary operator and precedence of the current token, if any.
    func binaryOperator(_ k: TokenKind) -> (BinaryOp?, Int)? {
        switch k {
        case .kwOr: return (.or, 1)
        case .kwAnd: return (.and, 2)
        case .equal: return (.equal, 4)
        case .notEqual: return (.notEqual, 4)
        case .less: return (.less, 4)
        case .lessEqual: return (.lessEqual, 4)
        case .greater: return (.greater, 4)
        case .greaterEqual: return (.greaterEqual, 4)
        case .tilde: return (.match, 4)
        case .bangTilde: return (.notMatch, 4)
        case .halfOpenRange, .closedRange: return (nil, 5) // RangeExpr
        case .plus: return (.add, 6)
        case .minus: return (.subtract, 6)
        case .star: return (.multiply, 7)
        case .slash: return (.divide, 7)
        case .percent: return (.remainder, 7)
        default: return nil
        }
    }

    /// expr -> binary(1)
    func parseExpression() throws -> Expr {
        try parseBinary(1)
    }

    /// binary(p) -> ('not' binary(4) | unary) (op binary(prec(op)+1))*   for ops with prec >= p
    func parseBinary(_ minPrecedence: Int) throws -> Expr {
        let start = peek()
        var lhs: Expr
        if start.kind == .kwNot && minPrecedence <= 3 {
            try enter()
            defer { leave() }
            advance()
            skipNewlines()
            let operand = try parseBinary(peek().kind == .kwNot ? 3 : 4)
            lhs = .unary(UnaryExpr(op: .not, operand: operand, span: span(from: start)))
        } else {
            lhs = try parseUnary()
        }
        // Each operator in a chain nests the tree one level deeper (a + b + c is
        // ((a + b) + c)); count it, so a 1 MB `1+1+…` line cannot build a tree
        // too deep for recursive consumers (printer, interpreter, deinit).
        var chained = 0
        defer { depth -= chained }
        while true {
            let opToken = peek()
            guard let (op, precedence) = binaryOperator(opToken.kind), precedence >= minPrecedence else { break }
            try enter()
            chained += 1
            advance()
            skipNewlines() // a line ending in an operator continues
            let rhs = try parseBinary(precedence + 1)
            if let op {
                lhs = .binary(BinaryExpr(op: op, lhs: lhs, rhs: rhs, opSpan: span(opToken), span: span(from: start)))
            } else {
                lhs = .range(RangeExpr(lower: lhs, upper: rhs, inclusive: opToken.kind == .closedRange,
                                       span: span(from: start)))
            }
            if precedence == ParserCore.comparisonPrecedence || precedence == ParserCore.rangePrecedence,
               let (_, next) = binaryOperator(peek().kind), next == precedence {
                let t = peek()
                if precedence == ParserCore.comparisonPrecedence {
                    try fail("comparisons cannot be chained; write 'a < b and b < c'", at: t)
                }
                try fail("ranges cannot be chained; put the inner range in parentheses", at: t)
            }
        }
        return lhs
    }

    /// unary -> ('-' | '+') unary | power
    func parseUnary() throws -> Expr {
        try enter()
        defer { leave() }
        let t = peek()
        if t.kind == .minus || t.kind == .plus {
            advance()
            let operand = try parseUnary()
            return .unary(UnaryExpr(op: t.kind == .minus ? .negate : .plus, operand: operand, span: span(from: t)))
        }
        return try parsePower()
    }

    /// power -> postfix ('**' unary)?      (right-associative: 2 ** 3 ** 2 is 2 ** 9)
    func parsePower() throws -> Expr {
        let start = peek()
        let base = try parsePostfix()
        let opToken = peek()
        guard opToken.kind == .starStar else { return base }
        advance()
        skipNewlines()
        let exponent = try parseUnary()
        return .binary(BinaryExpr(op: .power, lhs: base, rhs: exponent, opSpan: span(opToken), span: span(from: start)))
    }

    /// postfix -> primary ( '(' args ')' | '[' expr ']' | '.' NAME )*
    func parsePostfix() throws -> Expr {
        let start = peek()
        var expr = try parsePrimary()
        var chained = 0 // a.b.c[0](x): each suffix nests the tree one level deeper
        defer { depth -= chained }
        while true {
            let t = peek()
            if t.kind == .lparen || t.kind == .lbracket || t.kind == .dot {
                try enter()
                chained += 1
            }
            switch t.kind {
            case .lparen:
                advance()
                push(t, ignoresNewlines: true)
                var arguments: [Argument] = []
                while kind != .rparen && kind != .eof {
                    arguments.append(try parseArgument())
                    if !match(.comma) { break }
                }
                try expectClosing(.rparen, for: t)
                pop()
                expr = .call(CallExpr(callee: expr, arguments: arguments, isCommand: false, span: span(from: start)))
            case .lbracket:
                advance()
                push(t, ignoresNewlines: true)
                let index = try withRecords { try parseExpression() }
                try expectClosing(.rbracket, for: t)
                pop()
                expr = .index(IndexExpr(object: expr, index: index, span: span(from: start)))
            case .dot:
                advance()
                let name = peek()
                guard name.kind == .identifier || name.kind.isKeyword else {
                    try fail("expected a field or method name after '.', found \(describe(name))", at: name)
                }
                advance()
                expr = .member(MemberExpr(object: expr, name: textOf(name), nameSpan: span(name), span: span(from: start)))
            default:
                return expr
            }
        }
    }

    /// primary -> NUMBER | STRING | true | false | nil | NAME | '(' expr ')' | list | record | if | fnExpr
    func parsePrimary() throws -> Expr {
        let t = peek()
        switch t.kind {
        case .number:
            advance()
            return .number(t.number, span(t))
        case .kwTrue, .kwFalse:
            advance()
            return .boolean(t.kind == .kwTrue, span(t))
        case .kwNil:
            advance()
            return .nilLiteral(span(t))
        case .identifier:
            advance()
            return .identifier(textOf(t), span(t))
        case .stringStart:
            return try parseString()
        case .lparen:
            advance()
            push(t, ignoresNewlines: true)
            let inner = try withRecords { try parseExpression() }
            try expectClosing(.rparen, for: t)
            pop()
            return inner
        case .lbracket:
            return try parseList()
        case .lbrace:
            if noRecordLiteral {
                try fail("expected an expression before '{' (a record here must be in parentheses: ({…}))", at: t)
            }
            return try parseRecord()
        case .kwIf:
            return .conditional(try parseIf())
        case .kwFn:
            if nextRaw.kind == .identifier {
                try fail("a named function is a statement of its own; here write an anonymous 'fn(…) => …'",
                         at: t)
            }
            return .function(try parseFunction())
        case .kwNot:
            try fail("'not' must be in parentheses here: write (not …)", at: t)
        case .assign:
            try fail("expected an expression, found '='", at: t)
        default:
            if t.kind.isKeyword {
                try fail("expected an expression, found the keyword '\(t.kind.spelling)'", at: t)
            }
            try fail("expected an expression, found \(describe(t))", at: t)
        }
    }

    /// list -> '[' (expr (',' expr)* ','?)? ']'
    func parseList() throws -> Expr {
        let open = advance()
        push(open, ignoresNewlines: true)
        var elements: [Expr] = []
        try withRecords {
            while kind != .rbracket && kind != .eof {
                elements.append(try parseExpression())
                if !match(.comma) { break }
            }
        }
        try expectClosing(.rbracket, for: open)
        pop()
        return .list(elements, span(from: open))
    }

    /// record -> '{' (key ':' expr (',' key ':' expr)* ','?)? '}'    key -> NAME | keyword | "plain string"
    func parseRecord() throws -> Expr {
        let open = advance()
        push(open, ignoresNewlines: true)
        var fields: [RecordField] = []
        var seen = Set<String>()
        try withRecords {
            while kind != .rbrace && kind != .eof {
                let keyToken = peek()
                let key: String
                let keySpan: SourceSpan
                if keyToken.kind == .identifier || keyToken.kind.isKeyword {
                    advance()
                    key = textOf(keyToken)
                    keySpan = span(keyToken)
                } else if keyToken.kind == .stringStart {
                    guard case .string(let parts, let s) = try parseString() else { throw ParseAbort() }
                    guard parts.allSatisfy({ if case .text = $0 { return true } else { return false } }) else {
                        try fail("a record key cannot use interpolation", span: s)
                    }
                    key = parts.map { if case .text(let x) = $0 { return x } else { return "" } }.joined()
                    keySpan = s
                } else {
                    try fail("expected a field name in the record, found \(describe(keyToken))", at: keyToken)
                }
                guard match(.colon) else {
                    try fail("expected ':' after the field name '\(key)', found \(describe(peek()))", at: peek())
                }
                if !seen.insert(key).inserted {
                    try fail("duplicate field '\(key)' in record", span: keySpan)
                }
                let value = try parseExpression()
                fields.append(RecordField(key: key, keySpan: keySpan, value: value))
                if !match(.comma) { break }
            }
        }
        try expectClosing(.rbrace, for: open)
        pop()
        return .record(fields, span(from: open))
    }

    /// if -> 'if' expr ( block ('else' (if | block))? | 'then' expr ('else' expr)? )
    func parseIf() throws -> IfExpr {
        let start = advance()
        let condition = try withoutRecords { try parseExpression() }
        if match(.kwThen) {
            skipNewlines()
            let thenStart = peek()
            let thenExpr = try withRecords { try parseExpression() }
            let thenBlock = Block(statements: [.expression(thenExpr)], span: span(from: thenStart))
            var elseBlock: Block? = nil
            if nextElse() {
                skipNewlines()
                let elseStart = peek()
                let elseExpr = try withRecords { try parseExpression() }
                elseBlock = Block(statements: [.expression(elseExpr)], span: span(from: elseStart))
            }
            return IfExpr(condition: condition, thenBranch: thenBlock, elseBranch: elseBlock, usesThen: true,
                          span: span(from: start))
        }
        let thenBlock = try withRecords { try parseBlock(after: "the condition of 'if' (or write 'then')") }
        guard nextElse() else {
            return IfExpr(condition: condition, thenBranch: thenBlock, elseBranch: nil, usesThen: false,
                          span: span(from: start))
        }
        skipNewlines()
        let elseBlock: Block
        if peek().kind == .kwIf {
            let nested = peek()
            try enter()
            defer { leave() }
            let inner = try parseIf()
            elseBlock = Block(statements: [.expression(.conditional(inner))], span: span(from: nested))
        } else {
            elseBlock = try withRecords { try parseBlock(after: "'else' (or write 'else if')") }
        }
        return IfExpr(condition: condition, thenBranch: thenBlock, elseBranch: elseBlock, usesThen: false,
                      span: span(from: start))
    }

    /// Consumes `NEWLINE* else` if that is what follows: `else` may start the
    /// line after the then-branch (in a script; at the prompt the `if` has run).
    func nextElse() -> Bool {
        var i = pos
        while tokens[i].kind == .newline { i += 1 }
        guard tokens[i].kind == .kwElse else { return false }
        pos = i
        advance()
        return true
    }

    /// string -> '"' (TEXT | '${' expr '}')* '"'
    func parseString() throws -> Expr {
        let start = advance()
        var parts: [StringPart] = []
        while true {
            let t = tokens[pos]
            switch t.kind {
            case .stringText:
                pos += 1
                previous = t
                if case .text(let prev)? = parts.last {
                    parts[parts.count - 1] = .text(prev + textOf(t))
                } else {
                    parts.append(.text(textOf(t)))
                }
            case .interpStart:
                pos += 1
                previous = t
                push(t, ignoresNewlines: true)
                let e = try withRecords { try parseExpression() }
                try expectClosing(.interpEnd, for: t)
                pop()
                parts.append(.interpolation(e))
            case .stringEnd:
                pos += 1
                previous = t
                return .string(parts, span(from: start))
            default:
                // the lexer reported the unterminated string; this message is normally suppressed
                try fail("unterminated string; add a closing '\"'", at: t)
            }
        }
    }
}
