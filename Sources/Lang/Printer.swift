// Printer: tree -> source text, such that parse(print(tree)) == tree (spans aside).
//
// Parentheses are not kept in the tree, so the printer inserts exactly those
// that precedence needs (same table as Parser+Expressions.swift). Two more
// contexts need care: a record literal inside an if/while condition or a for
// sequence must be parenthesised (there `{` starts the body), and an `if`/`fn`
// expression used as an operand is parenthesised because it extends as far
// right as it can. Comments are not in the tree and are not printed.

public enum Printer {
    /// The whole program, one statement per line, blocks indented by 4 spaces.
    public static func print(_ program: Program) -> String {
        var out = ""
        for s in program.statements {
            out += print(s) + "\n"
        }
        return out
    }

    /// One statement (may span lines when it holds blocks).
    public static func print(_ stmt: Stmt, indent: Int = 0) -> String {
        var p = PrintContext()
        return p.statement(stmt, indent: indent)
    }

    /// One expression on its own (as after `let x =`).
    public static func print(_ expr: Expr) -> String {
        var p = PrintContext()
        return p.expression(expr, 0, indent: 0)
    }

    /// A number as the language writes it: integers without ".0" (3, not 3.0),
    /// others in Swift's shortest round-trip form (0.0003, 1e-05, 1e+20).
    public static func number(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == v.rounded() && abs(v) < 1e15 {
            return v == 0 ? "0" : String(Int64(v))
        }
        return v.description
    }

    /// A string literal with escapes: `"a\"b\n"`; `$` before `{` is written `\$`.
    public static func quote(_ text: String) -> String {
        "\"" + escape(text) + "\""
    }

    static func escape(_ text: String) -> String {
        var out = ""
        let scalars = Array(text.unicodeScalars)
        for (i, s) in scalars.enumerated() {
            switch s {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            case "$":
                let nextIsBrace = i + 1 < scalars.count ? scalars[i + 1] == "{" : false
                out += nextIsBrace ? "\\$" : "$"
            default:
                if s.value < 0x20 || s.value == 0x7F {
                    out += "\\u{" + String(s.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out
    }

    static func isPlainName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}

/// Precedence levels used when printing (higher binds tighter).
private enum Level {
    static let lowest = 0      // if / fn expressions
    static let not = 3
    static let unary = 8
    static let postfix = 10

    static func of(_ op: BinaryOp) -> Int {
        switch op {
        case .or: return 1
        case .and: return 2
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .match, .notMatch: return 4
        case .add, .subtract: return 6
        case .multiply, .divide, .remainder: return 7
        case .power: return 9
        }
    }
}

private struct PrintContext {
    /// inside a condition: a record literal needs parentheses
    var noRecord = false

    func pad(_ indent: Int) -> String { String(repeating: "    ", count: indent) }

    mutating func statement(_ s: Stmt, indent: Int) -> String {
        let p = pad(indent)
        switch s {
        case .binding(let l):
            return p + "let \(l.name) = " + expression(l.value, 0, indent: indent)
        case .assignment(let a):
            let op = a.op.map { $0.rawValue + "=" } ?? "="
            return p + expression(a.target, Level.postfix, indent: indent) + " \(op) " + expression(a.value, 0, indent: indent)
        case .expression(let e):
            if case .call(let c) = e, c.isCommand, case .identifier(let name, _) = c.callee, !c.arguments.isEmpty {
                return p + name + " " + arguments(c.arguments, indent: indent)
            }
            return p + expression(e, 0, indent: indent)
        case .functionDecl(let f):
            return p + function(f, indent: indent)
        case .returnStmt(let r):
            return p + "return" + (r.value.map { " " + expression($0, 0, indent: indent) } ?? "")
        case .forIn(let f):
            return p + "for \(f.variable) in " + condition(f.iterable, indent: indent) + " " + block(f.body, indent: indent)
        case .whileLoop(let w):
            return p + "while " + condition(w.condition, indent: indent) + " " + block(w.body, indent: indent)
        case .breakStmt:
            return p + "break"
        case .continueStmt:
            return p + "continue"
        case .cell(let c):
            return p + (c.title.isEmpty ? "# %%" : "# %% " + c.title)
        }
    }

    mutating func block(_ b: Block, indent: Int) -> String {
        if b.statements.isEmpty { return "{}" }
        let saved = noRecord
        noRecord = false
        defer { noRecord = saved }
        var out = "{\n"
        for s in b.statements { out += statement(s, indent: indent + 1) + "\n" }
        return out + pad(indent) + "}"
    }

    mutating func condition(_ e: Expr, indent: Int) -> String {
        let saved = noRecord
        noRecord = true
        defer { noRecord = saved }
        return expression(e, 1, indent: indent)
    }

    /// Inside brackets records are fine again.
    mutating func bracketed(_ e: Expr, indent: Int) -> String {
        let saved = noRecord
        noRecord = false
        defer { noRecord = saved }
        return expression(e, 0, indent: indent)
    }

    mutating func arguments(_ args: [Argument], indent: Int) -> String {
        args.map { a in
            (a.label.map { $0 + ": " } ?? "") + bracketed(a.value, indent: indent)
        }.joined(separator: ", ")
    }

    mutating func function(_ f: FunctionExpr, indent: Int) -> String {
        let params = f.params.map { p in
            p.name + (p.defaultValue.map { " = " + bracketed($0, indent: indent) } ?? "")
        }.joined(separator: ", ")
        let head = "fn" + (f.name.map { " " + $0 } ?? "") + "(" + params + ")"
        let saved = noRecord
        noRecord = false
        defer { noRecord = saved }
        switch f.body {
        case .expression(let e):
            return head + (f.name == nil ? " => " : " = ") + expression(e, 0, indent: indent)
        case .block(let b):
            return head + " " + block(b, indent: indent)
        }
    }

    /// The expression, in parentheses when its level is below `minLevel`.
    mutating func expression(_ e: Expr, _ minLevel: Int, indent: Int) -> String {
        func wrap(_ level: Int, _ text: String) -> String { level < minLevel ? "(" + text + ")" : text }
        switch e {
        case .number(let v, _):
            return Printer.number(v)
        case .string(let parts, _):
            var out = "\""
            for (i, part) in parts.enumerated() {
                switch part {
                case .text(let t):
                    var next = false
                    if i + 1 < parts.count, case .interpolation = parts[i + 1] { next = true }
                    var escaped = Printer.escape(t)
                    // text ending in '$' right before "${" would read as "$${": escape it
                    if next && escaped.hasSuffix("$") { escaped.removeLast(); escaped += "\\$" }
                    out += escaped
                case .interpolation(let x):
                    out += "${" + bracketed(x, indent: indent) + "}"
                }
            }
            return out + "\""
        case .boolean(let b, _):
            return b ? "true" : "false"
        case .nilLiteral:
            return "nil"
        case .identifier(let name, _):
            return name
        case .list(let items, _):
            return "[" + items.map { bracketed($0, indent: indent) }.joined(separator: ", ") + "]"
        case .record(let fields, _):
            let body = fields.map { f in
                (Printer.isPlainName(f.key) ? f.key : Printer.quote(f.key)) + ": " + bracketed(f.value, indent: indent)
            }.joined(separator: ", ")
            let text = "{" + body + "}"
            return noRecord ? "(" + text + ")" : text
        case .range(let r):
            return wrap(5, expression(r.lower, 6, indent: indent) + (r.inclusive ? "..." : "..<")
                        + expression(r.upper, 6, indent: indent))
        case .unary(let u):
            switch u.op {
            case .not:
                return wrap(Level.not, "not " + expression(u.operand, Level.not, indent: indent))
            case .negate, .plus:
                return wrap(Level.unary, u.op.rawValue + expression(u.operand, Level.unary, indent: indent))
            }
        case .binary(let b):
            let level = Level.of(b.op)
            let lhs: String, rhs: String
            switch b.op {
            case .power:
                lhs = expression(b.lhs, Level.postfix, indent: indent)
                rhs = expression(b.rhs, Level.unary, indent: indent)
            case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .match, .notMatch:
                lhs = expression(b.lhs, level + 1, indent: indent)
                rhs = expression(b.rhs, level + 1, indent: indent)
            default:
                lhs = expression(b.lhs, level, indent: indent)
                rhs = expression(b.rhs, level + 1, indent: indent)
            }
            return wrap(level, lhs + " " + b.op.rawValue + " " + rhs)
        case .call(let c):
            return expression(c.callee, Level.postfix, indent: indent) + "(" + arguments(c.arguments, indent: indent) + ")"
        case .member(let m):
            return expression(m.object, Level.postfix, indent: indent) + "." + m.name
        case .index(let i):
            return expression(i.object, Level.postfix, indent: indent) + "[" + bracketed(i.index, indent: indent) + "]"
        case .conditional(let c):
            return wrap(Level.lowest, conditional(c, indent: indent))
        case .function(let f):
            return wrap(Level.lowest, function(f, indent: indent))
        }
    }

    mutating func conditional(_ c: IfExpr, indent: Int) -> String {
        let cond = condition(c.condition, indent: indent)
        let saved = noRecord
        noRecord = false
        defer { noRecord = saved }
        if c.usesThen, let thenExpr = single(c.thenBranch), c.elseBranch.map({ single($0) != nil }) ?? true {
            // a nested if/fn in the then-branch would capture our `else`: parenthesise it
            var out = "if " + cond + " then " + expression(thenExpr, 1, indent: indent)
            if let e = c.elseBranch, let elseExpr = single(e) {
                out += " else " + expression(elseExpr, 0, indent: indent)
            }
            return out
        }
        var out = "if " + cond + " " + block(c.thenBranch, indent: indent)
        if let e = c.elseBranch {
            if e.statements.count == 1, case .expression(.conditional(let inner)) = e.statements[0], !inner.usesThen {
                out += " else " + conditional(inner, indent: indent)
            } else {
                out += " else " + block(e, indent: indent)
            }
        }
        return out
    }

    /// The expression of a one-expression-statement block (the `then` form's branches).
    func single(_ b: Block) -> Expr? {
        if b.statements.count == 1, case .expression(let e) = b.statements[0] { return e }
        return nil
    }
}
