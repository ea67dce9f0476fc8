// A compact S-expression form of the tree, without spans: what `# expect ast:`
// lines in Tests/LangTests/Scripts compare against, and handy in a debugger.
//
//   let x = f(1, k: -a.b[0])   ->   (let x (call f 1 k: (neg (index (. a b) 0))))
//   step t, 10                 ->   (command step t 10)
//   if c then 1 else 2         ->   (if-then c 1 2)

public enum ASTDump {
    /// One line per top-level statement.
    public static func dump(_ program: Program) -> String {
        program.statements.map(dump).joined(separator: "\n")
    }

    public static func dump(_ s: Stmt) -> String {
        switch s {
        case .binding(let l): return "(let \(l.name) \(dump(l.value)))"
        case .assignment(let a): return "(assign\(a.op?.rawValue ?? "") \(dump(a.target)) \(dump(a.value)))"
        case .expression(let e): return dump(e)
        case .functionDecl(let f): return function(f)
        case .returnStmt(let r): return r.value.map { "(return \(dump($0)))" } ?? "(return)"
        case .forIn(let f): return "(for \(f.variable) \(dump(f.iterable)) \(block(f.body)))"
        case .whileLoop(let w): return "(while \(dump(w.condition)) \(block(w.body)))"
        case .breakStmt: return "(break)"
        case .continueStmt: return "(continue)"
        case .cell(let c): return "(cell \(Printer.quote(c.title)))"
        }
    }

    public static func dump(_ e: Expr) -> String {
        switch e {
        case .number(let v, _): return Printer.number(v)
        case .string(let parts, _):
            if parts.count == 1, case .text(let t) = parts[0] { return Printer.quote(t) }
            if parts.isEmpty { return "\"\"" }
            return "(str " + parts.map { p -> String in
                switch p {
                case .text(let t): return Printer.quote(t)
                case .interpolation(let x): return dump(x)
                }
            }.joined(separator: " ") + ")"
        case .boolean(let b, _): return b ? "true" : "false"
        case .nilLiteral: return "nil"
        case .identifier(let n, _): return n
        case .list(let xs, _): return "(list" + xs.map { " " + dump($0) }.joined() + ")"
        case .record(let fs, _): return "(record" + fs.map { " \($0.key): \(dump($0.value))" }.joined() + ")"
        case .range(let r): return "(\(r.inclusive ? "..." : "..<") \(dump(r.lower)) \(dump(r.upper)))"
        case .unary(let u):
            let name = u.op == .negate ? "neg" : u.op == .plus ? "pos" : "not"
            return "(\(name) \(dump(u.operand)))"
        case .binary(let b): return "(\(b.op.rawValue) \(dump(b.lhs)) \(dump(b.rhs)))"
        case .call(let c):
            return "(\(c.isCommand ? "command" : "call") \(dump(c.callee))" + c.arguments.map { a in
                " " + (a.label.map { "\($0): " } ?? "") + dump(a.value)
            }.joined() + ")"
        case .member(let m): return "(. \(dump(m.object)) \(m.name))"
        case .index(let i): return "(index \(dump(i.object)) \(dump(i.index)))"
        case .conditional(let c):
            if c.usesThen {
                let t = c.thenBranch.statements.first.map(dump) ?? "nil"
                let f = c.elseBranch?.statements.first.map(dump)
                return "(if-then \(dump(c.condition)) \(t)" + (f.map { " " + $0 } ?? "") + ")"
            }
            return "(if \(dump(c.condition)) \(block(c.thenBranch))" + (c.elseBranch.map { " " + block($0) } ?? "") + ")"
        case .function(let f): return function(f)
        }
    }

    static func block(_ b: Block) -> String {
        "(block" + b.statements.map { " " + dump($0) }.joined() + ")"
    }

    static func function(_ f: FunctionExpr) -> String {
        let params = f.params.map { p in p.name + (p.defaultValue.map { "=" + dump($0) } ?? "") }
        let body: String
        switch f.body {
        case .expression(let e): body = dump(e)
        case .block(let b): body = block(b)
        }
        return "(fn" + (f.name.map { " " + $0 } ?? "") + " (" + params.joined(separator: " ") + ") " + body + ")"
    }
}
