// Statements: let, assignment, fn declarations, return, for, while, break,
// continue, command calls and expression statements.

extension ParserCore {
    /// stmt -> let | fnDecl | return | for | while | break | continue | command | exprStmt
    func parseStatement() throws -> Stmt {
        let t = peek()
        switch t.kind {
        case .kwLet:
            return try parseLet()
        case .kwFn where nextRaw.kind == .identifier:
            return .functionDecl(try parseFunction())
        case .kwReturn:
            return try parseReturn()
        case .kwFor:
            return try parseFor()
        case .kwWhile:
            return try parseWhile()
        case .kwBreak, .kwContinue:
            advance()
            if loopDepth == 0 {
                try fail("'\(t.kind.spelling)' outside of a loop; it can only be used inside 'for' or 'while'", at: t)
            }
            return t.kind == .kwBreak ? .breakStmt(span(t)) : .continueStmt(span(t))
        case .kwElse:
            try fail("'else' without 'if'; put 'else' after the '}' that closes the 'if' block", at: t)
        case .rbrace:
            try fail("unmatched '}'", at: t)
        case .rparen, .rbracket:
            try fail("unmatched '\(t.kind.spelling)'", at: t)
        case .identifier where isCommandStart():
            return .expression(try parseCommand())
        default:
            return try parseExpressionStatement()
        }
    }

    /// let -> 'let' IDENT '=' expr
    func parseLet() throws -> Stmt {
        let start = advance()
        let name = peek()
        guard name.kind == .identifier else {
            if name.kind.isKeyword {
                try fail("'\(name.kind.spelling)' is a keyword and cannot be a name", at: name)
            }
            try fail("expected a name after 'let', found \(describe(name))", at: name)
        }
        advance()
        guard match(.assign) else {
            try fail("expected '=' after 'let \(textOf(name))', found \(describe(peek()))", at: peek())
        }
        skipNewlines()
        let value = try parseExpression()
        return .binding(LetStmt(name: textOf(name), nameSpan: span(name), value: value, span: span(from: start)))
    }

    /// return -> 'return' expr?
    func parseReturn() throws -> Stmt {
        let start = advance()
        if functionDepth == 0 {
            try fail("'return' outside of a function", at: start)
        }
        switch tokens[pos].kind {
        case .newline, .semicolon, .eof, .rbrace, .cell:
            return .returnStmt(ReturnStmt(value: nil, span: span(start)))
        default:
            let value = try parseExpression()
            return .returnStmt(ReturnStmt(value: value, span: span(from: start)))
        }
    }

    /// for -> 'for' IDENT 'in' expr block
    func parseFor() throws -> Stmt {
        let start = advance()
        let name = peek()
        guard name.kind == .identifier else {
            try fail("expected a loop variable name after 'for', found \(describe(name))", at: name)
        }
        advance()
        guard match(.kwIn) else {
            try fail("expected 'in' after 'for \(textOf(name))', found \(describe(peek()))", at: peek())
        }
        let iterable = try withoutRecords { try parseExpression() }
        loopDepth += 1
        defer { loopDepth -= 1 }
        let body = try parseBlock(after: "'for \(textOf(name)) in …'")
        return .forIn(ForStmt(variable: textOf(name), variableSpan: span(name), iterable: iterable,
                              body: body, span: span(from: start)))
    }

    /// while -> 'while' expr block
    func parseWhile() throws -> Stmt {
        let start = advance()
        let condition = try withoutRecords { try parseExpression() }
        loopDepth += 1
        defer { loopDepth -= 1 }
        let body = try parseBlock(after: "the condition of 'while'")
        return .whileLoop(WhileStmt(condition: condition, body: body, span: span(from: start)))
    }

    /// Parses with `{` meaning "body starts" rather than "record literal".
    func withoutRecords<T>(_ body: () throws -> T) rethrows -> T {
        let saved = noRecordLiteral
        noRecordLiteral = true
        defer { noRecordLiteral = saved }
        return try body()
    }

    /// Parses with record literals allowed again (inside brackets).
    func withRecords<T>(_ body: () throws -> T) rethrows -> T {
        let saved = noRecordLiteral
        noRecordLiteral = false
        defer { noRecordLiteral = saved }
        return try body()
    }

    // MARK: - Functions

    /// fnDecl -> 'fn' IDENT params ('=' expr | '=>' expr | block)
    /// fnExpr -> 'fn' params ('=>' expr | '=' expr | block)
    func parseFunction() throws -> FunctionExpr {
        let start = advance() // fn
        var name: Token? = nil
        if peek().kind == .identifier {
            name = advance()
        }
        let what = name.map { "'fn \(textOf($0))'" } ?? "'fn'"
        let open = peek()
        guard open.kind == .lparen else {
            try fail("expected '(' after \(what), found \(describe(open))", at: open)
        }
        advance()
        push(open, ignoresNewlines: true)
        var params: [Param] = []
        var seen = Set<String>()
        while kind != .rparen {
            let p = peek()
            guard p.kind == .identifier else {
                if p.kind == .eof { try expectClosing(.rparen, for: open) }
                try fail("expected a parameter name, found \(describe(p))", at: p)
            }
            advance()
            if !seen.insert(textOf(p)).inserted {
                try fail("duplicate parameter '\(textOf(p))'", at: p)
            }
            var defaultValue: Expr? = nil
            if match(.assign) {
                defaultValue = try withRecords { try parseExpression() }
            }
            params.append(Param(name: textOf(p), span: span(p), defaultValue: defaultValue))
            if !match(.comma) { break }
        }
        try expectClosing(.rparen, for: open)
        pop()

        let savedLoop = loopDepth
        loopDepth = 0
        functionDepth += 1
        defer { loopDepth = savedLoop; functionDepth -= 1 }
        let body: FunctionBody
        switch kind {
        case .assign, .arrow:
            advance()
            skipNewlines()
            body = .expression(try withRecords { try parseExpression() })
        case .lbrace:
            body = .block(try withRecords { try parseBlock(after: "the parameters of \(what)") })
        default:
            let t = peek()
            try fail("expected '=', '=>' or '{' after the parameters of \(what), found \(describe(t))", at: t)
        }
        return FunctionExpr(name: name.map(textOf), nameSpan: name.map { span($0) }, params: params, body: body,
                            span: span(from: start))
    }

    // MARK: - Commands and expression statements

    /// At statement start, `name arg…` is a command call when a space follows
    /// the name and the next token on the same line starts an expression;
    /// `-`/`+` count as a sign only when written attached to their operand
    /// (`show -1` is a command, `x - 1` and `x-1` are subtraction).
    func isCommandStart() -> Bool {
        let next = nextRaw
        guard next.spaceBefore else { return false }
        if next.kind.isKeyword && tokens[min(pos + 2, tokens.count - 1)].kind == .colon { return true } // `show in: 3`
        switch next.kind {
        case .minus, .plus:
            let after = tokens[min(pos + 2, tokens.count - 1)]
            return !after.spaceBefore && after.kind != .newline && after.kind != .eof && startsExpression(after)
        default:
            return startsExpression(next)
        }
    }

    /// command -> IDENT arg (',' NEWLINE* arg | labelledArg)*     (no parentheses)
    func parseCommand() throws -> Expr {
        let name = advance()
        var arguments: [Argument] = []
        while true {
            arguments.append(try parseArgument())
            if match(.comma) {
                skipNewlines()
                continue
            }
            // `rescore t.last with: [...]`: a labelled argument may follow without a comma
            if isLabelStart() { continue }
            break
        }
        return .call(CallExpr(callee: .identifier(textOf(name), span(name)), arguments: arguments,
                              isCommand: true, span: span(from: name)))
    }

    /// `label:` starts a keyword argument (the label may be any name or keyword).
    func isLabelStart() -> Bool {
        let t = peek()
        return (t.kind == .identifier || t.kind.isKeyword) && nextRaw.kind == .colon
    }

    /// arg -> (NAME ':')? expr
    func parseArgument() throws -> Argument {
        if isLabelStart() {
            let label = advance()
            advance() // ':'
            skipNewlines()
            let value = try withRecords { try parseExpression() }
            return Argument(label: textOf(label), labelSpan: span(label), value: value)
        }
        return Argument(label: nil, labelSpan: nil, value: try withRecords { try parseExpression() })
    }

    /// exprStmt -> expr (('=' | '+=' | '-=' | '*=' | '/=') expr)?
    func parseExpressionStatement() throws -> Stmt {
        let start = peek()
        let expr = try parseExpression()
        let op: BinaryOp?
        switch tokens[pos].kind {
        case .assign: op = nil
        case .plusAssign: op = .add
        case .minusAssign: op = .subtract
        case .starAssign: op = .multiply
        case .slashAssign: op = .divide
        default: return .expression(expr)
        }
        switch expr {
        case .identifier, .member, .index:
            break
        default:
            try fail("cannot assign to this expression; assign to a name (x), a field (a.b) or an element (a[i])",
                     span: expr.span)
        }
        advance()
        skipNewlines()
        let value = try parseExpression()
        return .assignment(AssignStmt(target: expr, op: op, value: value, span: span(from: start)))
    }
}
