// Rewards written in the language, translated to Python over the syntax tree.
//
// Every value keeps medr1's meaning through the helpers of rewards.py's prelude
// (RewardPrelude.swift): `a + b` is `_add(a, b)` (numbers, strings, lists; an
// error otherwise, as in medr1), `==` is `_eq` (canonical string equality),
// truthiness is `_t` (only false and nil are false), `c.think` is `_get(c,
// "think")`, builtins are `b_<name>` with medr1's semantics, patterns are
// translated once (PythonRegex) and looked up by their ICU text. Names get a
// fresh Python name per binding, so shadowing in blocks keeps its meaning.
//
// Accepted: numbers, strings with ${...}, true/false/nil, lists, records, ranges
// as `for` sequences and values, unary and binary operators (regex `~` and `!~`
// with a literal pattern), calls of builtins (the table below), of functions
// written in the language (translated too) and of anonymous functions, fields,
// indexing, `if` (statement, or expression whose branches are one expression
// each), `let`, assignment to local names, `for`, `while`, `break`, `continue`,
// `return`, nested `fn`. Values captured from the session (numbers, strings,
// lists, records) become constants. Anything else is a TranslationError with
// its line:col.
import Foundation
import Lang

/// A construct the translator cannot turn into Python with the same meaning.
public struct TranslationError: Error, CustomStringConvertible {
    public var message: String
    public var span: SourceSpan
    public var description: String { "\(span.file):\(span.line):\(span.column): cannot translate to Python: \(message)" }
}

final class RewardTranslator {
    /// Builtins a reward can call, as the prelude names them (`len` -> `b_len`).
    static let builtins: Set<String> = ["len", "lower", "upper", "trim", "split", "join", "contains", "starts_with", "ends_with",
                                        "replace", "str", "repr", "num", "type", "abs", "sqrt", "log", "exp", "floor", "ceil",
                                        "round", "pow", "min", "max", "sum", "mean", "map", "filter", "any", "all", "keys",
                                        "values", "has", "reverse", "take", "append", "zip", "find", "find_all", "match"]
    /// Builtins whose second argument is a pattern (translated ahead).
    static let patternBuiltins: Set<String> = ["find", "find_all", "match"]

    /// Module-level definitions, in the order they must appear.
    private(set) var definitions: [String] = []
    /// ICU pattern -> Python pattern.
    private(set) var patterns: [String: String] = [:]
    private var done: [ObjectIdentifier: String] = [:]
    private var taken: Set<String> = []
    private var counter = 0

    /// One function being translated: its scopes (language name -> Python name) and the
    /// closure environment its free names come from.
    private struct Frame {
        var scopes: [[String: String]] = [[:]]
        let env: Environment
    }
    private var frames: [Frame] = []
    /// Lines to emit before the statement being translated (hoisted anonymous functions).
    private var pending: [String] = []
    private var indent = ""

    private func fresh(_ base: String) -> String {
        var name = PythonSource.identifier(base)
        if name.hasPrefix("_") || name.hasPrefix("b_") || name.hasPrefix("r_") || name.hasPrefix("C_") { name = "v" + name }
        if taken.contains(name) || Self.builtins.contains(name) || RewardPrelude.reserved.contains(name) {
            repeat { counter += 1 } while taken.contains("\(name)_\(counter)")
            name = "\(name)_\(counter)"
        }
        taken.insert(name)
        return name
    }

    private func fail(_ message: String, _ span: SourceSpan) -> TranslationError {
        TranslationError(message: message, span: span)
    }

    /// Translates a function written in the language (and every function and value it uses)
    /// and returns the Python name of the function.
    func translate(_ closure: Closure) throws -> String {
        if let name = done[ObjectIdentifier(closure)] { return name }
        let name = fresh("medr1_" + closure.name)
        done[ObjectIdentifier(closure)] = name
        let saved = (frames, pending, indent)
        frames = [Frame(env: closure.env)]
        pending = []
        indent = ""
        defer { (frames, pending, indent) = saved }
        let lines = try function(name, closure.function)
        definitions.append(lines.joined(separator: "\n"))
        return name
    }

    // MARK: - Functions and statements

    private func function(_ name: String, _ f: FunctionExpr) throws -> [String] {
        var params: [String] = []
        var scope: [String: String] = [:]
        for p in f.params {
            let py = fresh(p.name)
            scope[p.name] = py
            if let d = p.defaultValue {
                guard let lit = constantLiteral(d) else {
                    throw fail("the default value of '\(p.name)' is not a constant; give the value when calling", d.span)
                }
                params.append("\(py)=\(lit)")
            } else {
                params.append(py)
            }
        }
        frames[frames.count - 1].scopes.append(scope)
        defer { frames[frames.count - 1].scopes.removeLast() }
        let outer = indent
        indent += "    "
        defer { indent = outer }
        var body: [String]
        switch f.body {
        case .expression(.conditional(let c)): body = try ifStatement(c, returnsValue: true)
        case .expression(let e): body = try withPending { ["return " + (try expr(e))] }
        case .block(let b): body = try block(b.statements, valued: true)
        }
        if body.isEmpty { body = [indent + "return None"] }
        return ["\(outer)def \(name)(\(params.joined(separator: ", "))):"] + body
    }

    /// Runs `make` and puts the lines it hoisted before its lines, all indented.
    private func withPending(_ make: () throws -> [String]) throws -> [String] {
        let saved = pending
        pending = []
        defer { pending = saved }
        let lines = try make()
        return pending + lines.map { indent + $0 }
    }

    /// Statements of a block; `valued`: the block's last expression is returned.
    private func block(_ stmts: [Stmt], valued: Bool) throws -> [String] {
        frames[frames.count - 1].scopes.append([:])
        defer { frames[frames.count - 1].scopes.removeLast() }
        var out: [String] = []
        for (k, s) in stmts.enumerated() {
            out += try statement(s, returnsValue: valued && k == stmts.count - 1)
        }
        if valued, let last = stmts.last, case .expression = last {} else if valued { out.append(indent + "return None") }
        if out.isEmpty { out = [indent + "pass"] }
        return out
    }

    private func nested(_ stmts: [Stmt], valued: Bool) throws -> [String] {
        let outer = indent
        indent += "    "
        defer { indent = outer }
        return try block(stmts, valued: valued)
    }

    private func statement(_ s: Stmt, returnsValue: Bool) throws -> [String] {
        switch s {
        case .binding(let l):
            let value = try withPending { [try expr(l.value)] }
            let py = fresh(l.name)
            frames[frames.count - 1].scopes[frames[frames.count - 1].scopes.count - 1][l.name] = py
            var lines = value
            lines[lines.count - 1] = indent + py + " = " + lines[lines.count - 1].dropFirst(indent.count)
            return lines
        case .assignment(let a):
            guard case .identifier(let name, let span) = a.target else {
                throw fail("assignment to an element or a field (lists and records are values in medr1, shared objects in Python); build a new value with let", a.target.span)
            }
            guard let py = localName(name) else {
                throw fail("assignment to '\(name)', which is not a variable of this function", span)
            }
            return try withPending {
                let v = try expr(a.value)
                guard let op = a.op else { return ["\(py) = \(v)"] }
                return ["\(py) = \(try binaryCall(op, py, v, a.span))"]
            }
        case .expression(let e):
            if case .conditional(let c) = e { return try ifStatement(c, returnsValue: returnsValue) }
            return try withPending { [(returnsValue ? "return " : "") + (try expr(e))] }
        case .functionDecl(let f):
            let py = fresh(f.name ?? "fn")
            frames[frames.count - 1].scopes[frames[frames.count - 1].scopes.count - 1][f.name ?? "fn"] = py
            return try function(py, f)
        case .returnStmt(let r):
            guard let v = r.value else { return [indent + "return None"] }
            return try withPending { ["return " + (try expr(v))] }
        case .forIn(let f):
            let seq = try withPending { [try expr(f.iterable)] }
            let py = fresh(f.variable)
            frames[frames.count - 1].scopes.append([f.variable: py])
            defer { frames[frames.count - 1].scopes.removeLast() }
            var lines = Array(seq.dropLast())
            lines.append(indent + "for \(py) in _iter(\(seq.last!.dropFirst(indent.count))):")
            return lines + (try nested(f.body.statements, valued: false))
        case .whileLoop(let w):
            let cond = try withPending { [try expr(w.condition)] }
            guard cond.count == 1 else { throw fail("an anonymous function with a block body in a loop condition", w.condition.span) }
            return [indent + "while _t(\(cond[0].dropFirst(indent.count))):"] + (try nested(w.body.statements, valued: false))
        case .breakStmt: return [indent + "break"]
        case .continueStmt: return [indent + "continue"]
        case .cell: return []
        }
    }

    private func ifStatement(_ c: IfExpr, returnsValue: Bool) throws -> [String] {
        let cond = try withPending { [try expr(c.condition)] }
        var lines = Array(cond.dropLast())
        lines.append(indent + "if _t(\(cond.last!.dropFirst(indent.count))):")
        lines += try nested(c.thenBranch.statements, valued: returnsValue)
        if let e = c.elseBranch {
            lines.append(indent + "else:")
            lines += try nested(e.statements, valued: returnsValue)
        } else if returnsValue {
            lines.append(indent + "return None")
        }
        return lines
    }

    private func localName(_ name: String) -> String? {
        for s in frames[frames.count - 1].scopes.reversed() { if let py = s[name] { return py } }
        return nil
    }

    // MARK: - Expressions

    private func expr(_ e: Expr) throws -> String {
        switch e {
        case .number(let x, _): return PythonSource.number(x)
        case .string(let parts, _):
            let pieces = try parts.map { p -> String in
                switch p {
                case .text(let t): return PythonSource.string(t)
                case .interpolation(let x): return "_str(\(try expr(x)))"
                }
            }
            if pieces.isEmpty { return "\"\"" }
            return pieces.count == 1 && parts.allSatisfy({ if case .text = $0 { return true } else { return false } })
                ? pieces[0] : "\"\".join((" + pieces.joined(separator: ", ") + ",))"
        case .boolean(let b, _): return b ? "True" : "False"
        case .nilLiteral: return "None"
        case .identifier(let name, let span): return try identifier(name, span)
        case .list(let xs, _): return "[" + (try xs.map(expr)).joined(separator: ", ") + "]"
        case .record(let fields, _):
            return "{" + (try fields.map { PythonSource.string($0.key) + ": " + (try expr($0.value)) }).joined(separator: ", ") + "}"
        case .range(let r):
            return "_range(\(try expr(r.lower)), \(try expr(r.upper)), \(r.inclusive ? "True" : "False"))"
        case .unary(let u):
            let v = try expr(u.operand)
            switch u.op {
            case .negate: return "_neg(\(v))"
            case .plus: return "_pos(\(v))"
            case .not: return "(not _t(\(v)))"
            }
        case .binary(let b):
            switch b.op {
            case .and: return "_and(\(try expr(b.lhs)), lambda: \(try expr(b.rhs)))"
            case .or: return "_or(\(try expr(b.lhs)), lambda: \(try expr(b.rhs)))"
            case .match, .notMatch:
                let key = try pattern(b.rhs, "'\(b.op.rawValue)'")
                let call = "_match_op(\(try expr(b.lhs)), \(PythonSource.string(key)))"
                return b.op == .match ? call : "(not \(call))"
            default:
                return try binaryCall(b.op, try expr(b.lhs), try expr(b.rhs), b.opSpan)
            }
        case .call(let c): return try call(c)
        case .member(let m): return "_get(\(try expr(m.object)), \(PythonSource.string(m.name)))"
        case .index(let ix): return "_idx(\(try expr(ix.object)), \(try expr(ix.index)))"
        case .conditional(let c):
            func single(_ b: Block?) throws -> String {
                guard let b else { return "None" }
                guard b.statements.count == 1, case .expression(let x) = b.statements[0] else {
                    throw fail("an if whose branch has statements, used as a value; write it as a statement or bind each branch's value with let first", b.span)
                }
                return try expr(x)
            }
            return "(\(try single(c.thenBranch)) if _t(\(try expr(c.condition))) else \(try single(c.elseBranch)))"
        case .function(let f):
            if case .expression(let body) = f.body {
                var scope: [String: String] = [:]
                var params: [String] = []
                for p in f.params {
                    guard p.defaultValue == nil else { throw fail("a default value in an anonymous function", p.span) }
                    let py = fresh(p.name)
                    scope[p.name] = py
                    params.append(py)
                }
                frames[frames.count - 1].scopes.append(scope)
                defer { frames[frames.count - 1].scopes.removeLast() }
                return "(lambda \(params.joined(separator: ", ")): \(try expr(body)))"
            }
            let py = fresh("fn")
            pending += try function(py, f)
            return py
        }
    }

    private func binaryCall(_ op: BinaryOp, _ l: String, _ r: String, _ span: SourceSpan) throws -> String {
        switch op {
        case .equal: return "_eq(\(l), \(r))"
        case .notEqual: return "(not _eq(\(l), \(r)))"
        case .less, .lessEqual, .greater, .greaterEqual: return "_cmp(\(l), \(r), \(PythonSource.string(op.rawValue)))"
        case .add: return "_add(\(l), \(r))"
        case .subtract: return "_sub(\(l), \(r))"
        case .multiply: return "_mul(\(l), \(r))"
        case .divide: return "_div(\(l), \(r))"
        case .remainder: return "_mod(\(l), \(r))"
        case .power: return "_pow(\(l), \(r))"
        case .and, .or, .match, .notMatch: throw fail("the operator '\(op.rawValue)' in a compound assignment", span)
        }
    }

    /// A pattern given as a string literal: translated now, used by its ICU text.
    private func pattern(_ e: Expr, _ user: String) throws -> String {
        guard case .string(let parts, let span) = e, parts.allSatisfy({ if case .text = $0 { return true } else { return false } }) else {
            throw fail("the pattern of \(user) is computed when the reward runs; write it as a string literal so it can be translated ahead", e.span)
        }
        let icu = parts.map { if case .text(let t) = $0 { return t } else { return "" } }.joined()
        do { _ = try Regexes.compile(icu, for: user) } catch { throw fail("\(error)", span) }
        do { patterns[icu] = try PythonRegex.translate(icu) } catch let r as RegexRefusal { throw fail(r.message, span) }
        return icu
    }

    private func identifier(_ name: String, _ span: SourceSpan) throws -> String {
        // Enclosing functions' variables (Python closures see them too).
        for f in frames.reversed() {
            for s in f.scopes.reversed() { if let py = s[name] { return py } }
        }
        guard let v = frames[0].env.lookup(name) else { throw fail("'\(name)' is not defined", span) }
        switch v {
        case .function(let c as Closure): return try translate(c)
        case .function(let b as Builtin):
            guard b.name == name, Self.builtins.contains(name) else {
                throw fail("the builtin '\(b.name)' is not available to exported rewards; "
                           + "available: \(Self.builtins.sorted().joined(separator: ", "))", span)
            }
            return "b_" + name
        default:
            guard let lit = try? literal(v, depth: 0) else {
                throw fail("'\(name)' holds a \(v.typeName), which cannot be written into Python; rewards may use numbers, strings, lists and records from the session", span)
            }
            let py = fresh("C_" + name)
            definitions.append("\(py) = \(lit)")
            frames[0].scopes[0][name] = py
            return py
        }
    }

    private func call(_ c: CallExpr) throws -> String {
        func positional(_ from: Int = 0) throws -> [String] {
            try c.arguments.dropFirst(from).map { a in
                if let l = a.label { throw fail("the option '\(l):' in a call inside a reward", a.labelSpan ?? a.value.span) }
                return try expr(a.value)
            }
        }
        if case .member(let m) = c.callee {
            guard Self.builtins.contains(m.name) else {
                throw fail("the method '\(m.name)'; exported rewards may call builtins as methods (c.text.lower())", m.nameSpan)
            }
            var args = [try expr(m.object)]
            if Self.patternBuiltins.contains(m.name), let p = c.arguments.first {
                args.append(PythonSource.string(try pattern(p.value, m.name)))
                args += try positional(1)
            } else {
                args += try positional()
            }
            return "_call_method(\(PythonSource.string(m.name)), \(args.joined(separator: ", ")))"
        }
        guard case .identifier(let name, let span) = c.callee else {
            return "\(try expr(c.callee))(\(try positional().joined(separator: ", ")))"
        }
        let f = try identifier(name, span)
        guard f.hasPrefix("b_"), Self.patternBuiltins.contains(name) else {
            return f + "(" + (try positional()).joined(separator: ", ") + ")"
        }
        var args: [String] = []
        var kw: [String] = []
        for (k, a) in c.arguments.enumerated() {
            if let l = a.label {
                guard name == "match", l == "full" else { throw fail("the option '\(l):' of \(name)", a.labelSpan ?? a.value.span) }
                kw.append("full=_t(\(try expr(a.value)))")
            } else if k == 1 {
                args.append(PythonSource.string(try pattern(a.value, name)))
            } else {
                args.append(try expr(a.value))
            }
        }
        return f + "(" + (args + kw).joined(separator: ", ") + ")"
    }

    // MARK: - Constants

    /// A literal expression's Python text (numbers, strings without ${}, true/false/nil, and lists
    /// and records of them), or nil.
    private func constantLiteral(_ e: Expr) -> String? {
        switch e {
        case .number(let x, _): return PythonSource.number(x)
        case .boolean(let b, _): return b ? "True" : "False"
        case .nilLiteral: return "None"
        case .unary(let u) where u.op == .negate:
            if case .number(let x, _) = u.operand { return PythonSource.number(-x) }
            return nil
        case .string(let parts, _):
            var s = ""
            for p in parts { guard case .text(let t) = p else { return nil }; s += t }
            return PythonSource.string(s)
        default: return nil
        }
    }

    /// A value of the session as a Python literal (records as dicts).
    func literal(_ v: Value, depth: Int) throws -> String {
        guard depth < 100 else { throw RuntimeError("nested too deeply") }
        switch v {
        case .number(let x): return PythonSource.number(x)
        case .string(let s): return PythonSource.string(s)
        case .bool(let b): return b ? "True" : "False"
        case .null: return "None"
        case .list(let xs): return "[" + (try xs.map { try literal($0, depth: depth + 1) }).joined(separator: ", ") + "]"
        case .record(let r):
            return "{" + (try r.fields.map { PythonSource.string($0.name) + ": " + (try literal($0.value, depth: depth + 1)) }).joined(separator: ", ") + "}"
        case .range(let r):
            guard let xs = r.elements else { throw RuntimeError("range too long") }
            return "[" + xs.map(PythonSource.number).joined(separator: ", ") + "]"
        default: throw RuntimeError("not data")
        }
    }
}
