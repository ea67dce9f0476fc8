// The tree-walking interpreter: evaluates Lang's AST against environments,
// calls closures and builtins, and turns every failure into a RuntimeError
// carrying the span of the failing expression and the script's call stack.
//
// Control flow (break/continue/return) travels as a result value, not as a
// Swift error, so loops stay cheap; errors unwind as Swift errors.

import Foundation
import Lang

/// How a statement finished.
enum Flow {
    case normal(Value)
    case breakLoop
    case continueLoop
    case returned(Value)
}

public final class Interpreter: CallContext {
    /// Builtins live here; user bindings in `globals`, its child, so `reset()` keeps them.
    let builtins = Environment(parent: nil)
    public private(set) var globals: Environment
    public var sink: OutputSink
    public var baseDirectory: URL
    /// Paths in output are shown relative to this directory (nil: `baseDirectory`).
    public var displayDirectory: URL?
    public var isInteractive: Bool
    public var useColor: Bool
    /// The session running this interpreter (bindings use its seed, metrics and plot mode).
    weak var session: Session?
    /// Bindings and sessions can hang state here (the session, its metrics recorder).

    /// Active calls, outermost first; each frame's location is updated as it runs.
    private var stack: [StackFrame] = []
    /// Deepest nesting of calls before "too deep recursion".
    public var maxDepth = 200
    /// Deepest nesting of expressions and statements being evaluated, calls
    /// included (each call adds the levels of its body). Keeps a recursive
    /// function whose body is a deeply nested expression within the stack.
    public static let maxEvalNesting = 10_000
    /// Expressions and statements being evaluated right now (see `maxEvalNesting`).
    private var evalNesting = 0
    /// True while a statement runs on the large stack (`onLargeStack`).
    private var onLargeStack = false
    /// Calls from builtins back into the language (`call(_:_:)`) now active.
    private var callbackDepth = 0

    public init(sink: OutputSink, baseDirectory: URL, interactive: Bool = false, color: Bool = false) {
        self.sink = sink
        self.baseDirectory = baseDirectory
        self.isInteractive = interactive
        self.useColor = color
        globals = Environment(parent: builtins)
        for (name, b) in Builtins.library() { builtins.define(name, .function(b)) }
        // help prints its text (a quoted string with \n escapes is no help) and returns nil.
        builtins.define("help", .function(Builtin("help") { [unowned self] a, _ in
            if case .string(let text) = try self.helpBuiltin(a) { self.emit(.text(text)) }
            return .null
        }))
    }

    /// Forget every user binding (builtins stay).
    public func reset() { globals = Environment(parent: builtins) }

    public func emit(_ event: OutputEvent) { sink.emit(event) }

    // MARK: - Statements

    /// Run top-level statements; returns the value of the last expression
    /// statement. Throws RuntimeError with frames filled in.
    @discardableResult
    public func execute(_ stmt: Stmt) throws -> Value {
        try runOnLargeStack { try self.executeHere(stmt) }
    }

    private func executeHere(_ stmt: Stmt) throws -> Value {
        stack = [StackFrame(function: "<script>", location: location(stmt.span))]
        evalNesting = 0
        defer { stack = [] }
        do {
            switch try exec(stmt, globals) {
            case .normal(let v): return v
            case .breakLoop: throw RuntimeError("'break' outside a loop", at: location(stmt.span))
            case .continueLoop: throw RuntimeError("'continue' outside a loop", at: location(stmt.span))
            case .returned: throw RuntimeError("'return' outside a function", at: location(stmt.span))
            }
        } catch var e as RuntimeError {
            if e.frames.isEmpty { e.frames = snapshot(e.location) }
            throw e
        }
    }

    func exec(_ stmt: Stmt, _ env: Environment) throws -> Flow {
        try enterNesting(stmt.span)
        defer { evalNesting -= 1 }
        switch stmt {
        case .binding(let s):
            env.define(s.name, try eval(s.value, env))
            return .normal(.null)
        case .assignment(let s):
            var v = try eval(s.value, env)
            if let op = s.op {
                v = try binary(op, try eval(s.target, env), v, at: s.span)
            }
            try assign(s.target, v, env)
            return .normal(.null)
        case .expression(.conditional(let c)):
            // An `if` statement: its branches may break, continue or return.
            if try eval(c.condition, env).isTruthy { return try block(c.thenBranch, Environment(parent: env)) }
            if let e = c.elseBranch { return try block(e, Environment(parent: env)) }
            return .normal(.null)
        case .expression(let e):
            do {
                return .normal(try eval(e, env))
            } catch let escape as FlowEscape {
                switch escape {
                case .breakLoop: return .breakLoop
                case .continueLoop: return .continueLoop
                case .returned(let v): return .returned(v)
                }
            }
        case .functionDecl(let f):
            env.define(f.name ?? "fn", .function(Closure(function: f, env: env, interpreter: self)))
            return .normal(.null)
        case .returnStmt(let r):
            return .returned(try r.value.map { try eval($0, env) } ?? .null)
        case .forIn(let s):
            let seq = try eval(s.iterable, env)
            /// One iteration; nil to go on, else how the loop ends.
            func iterate(_ x: Value) throws -> Flow? {
                try checkInterrupt(s.span)
                let scope = Environment(parent: env)
                scope.define(s.variable, x)
                switch try block(s.body, scope) {
                case .breakLoop: return .normal(.null)
                case .returned(let v): return .returned(v)
                default: return nil
                }
            }
            switch seq {
            case .range(let r):
                // Lazily: `for i in 0..<1e12 { break }` allocates nothing.
                var k = 0
                while Double(k) < r.count {
                    if let end = try iterate(.number(r.element(k))) { return end }
                    k += 1
                }
            case .string(let str):
                for ch in str { if let end = try iterate(.string(String(ch))) { return end } }
            case .record(let r):
                for key in r.keys { if let end = try iterate(.string(key)) { return end } }
            default:
                guard let xs = seq.asList else {
                    throw RuntimeError("cannot loop over a \(seq.typeName); use a list, range, string, record or data set", at: location(s.iterable.span))
                }
                for x in xs { if let end = try iterate(x) { return end } }
            }
            return .normal(.null)
        case .whileLoop(let s):
            while try eval(s.condition, env).isTruthy {
                try checkInterrupt(s.span)
                switch try block(s.body, Environment(parent: env)) {
                case .breakLoop: return .normal(.null)
                case .returned(let v): return .returned(v)
                default: continue
                }
            }
            return .normal(.null)
        case .breakStmt: return .breakLoop
        case .continueStmt: return .continueLoop
        case .cell: return .normal(.null)
        }
    }

    /// Statements of a block in `env` (the caller opens the scope). The value
    /// is the last statement's when it is an expression statement, else nil.
    func block(_ b: Block, _ env: Environment) throws -> Flow {
        var last: Value = .null
        for (i, s) in b.statements.enumerated() {
            let flow = try exec(s, env)
            switch flow {
            case .normal(let v):
                if i == b.statements.count - 1, case .expression = s { last = v }
            default: return flow
            }
        }
        return .normal(last)
    }

    /// Loops and calls stop at Ctrl-C. Inside a function a builtin calls back
    /// (a reward during a training step, map's f), one press belongs to the
    /// builtin, which stops at its next safe point; only a second press
    /// stops the language code at once.
    private func checkInterrupt(_ span: SourceSpan, _ what: String = "loop") throws {
        if callbackDepth > 0 ? Interrupt.isAbortRequested : Interrupt.isRequested {
            throw InterruptedError("\(what) at \(span)")
        }
    }

    /// One more level of evaluation; throws past `maxEvalNesting`.
    private func enterNesting(_ span: @autoclosure () -> SourceSpan) throws {
        guard evalNesting < Interpreter.maxEvalNesting else {
            throw RuntimeError("too deep nesting (over \(Interpreter.maxEvalNesting) levels of expressions and calls); split the expression with 'let' or check the base case of a recursive function", at: location(span()))
        }
        evalNesting += 1
    }

    /// Stack for running statements: `maxEvalNesting` levels need ~150 MB
    /// in a debug build. Only the pages used are ever touched.
    static let largeStackSize = 512 << 20

    /// The thread with the large stack, started at the first statement and
    /// ended with the interpreter.
    private var worker: LargeStackWorker?

    deinit { worker?.stop() }

    /// Run `body` on the large-stack thread (unless already on it) and wait
    /// for it: deep recursion then ends in "too deep", not in a stack
    /// overflow, whichever thread runs the session.
    func runOnLargeStack(_ body: @escaping () throws -> Value) throws -> Value {
        if onLargeStack { return try body() }
        if worker == nil { worker = LargeStackWorker(stackSize: Interpreter.largeStackSize) }
        // Set here, read on the worker: this thread waits until the job ends.
        onLargeStack = true
        defer { onLargeStack = false }
        return try worker!.run(body)
    }

    // MARK: - Assignment

    /// `x = v`, `r.f = v`, `xs[i] = v`: records and lists are values, so the
    /// updated container is written back to its own target.
    func assign(_ target: Expr, _ v: Value, _ env: Environment) throws {
        // `a.b[0] = v` puts v two containers deep into a: bound the nesting once here.
        var levels = 0
        var t = target
        while true {
            if case .member(let m) = t { levels += 1; t = m.object } else if case .index(let ix) = t { levels += 1; t = ix.object } else { break }
        }
        if levels > 0 {
            do { try v.checkNesting(under: levels) } catch var err as RuntimeError {
                err.location = location(target.span)
                throw err
            }
        }
        try store(target, v, env)
    }

    /// Write v to target, writing updated containers back to their own targets.
    private func store(_ target: Expr, _ v: Value, _ env: Environment) throws {
        switch target {
        case .identifier(let name, let span):
            guard env.assign(name, v) else {
                throw RuntimeError("'\(name)' is not defined; bind it first with let \(name) = ...", at: location(span))
            }
        case .member(let m):
            guard case .record(var r) = try eval(m.object, env) else {
                let o = try eval(m.object, env)
                throw RuntimeError("cannot set field '\(m.name)' of a \(o.typeName); only record fields can be set", at: location(m.nameSpan))
            }
            r[m.name] = v
            try store(m.object, .record(r), env)
        case .index(let ix):
            let container = try eval(ix.object, env)
            let key = try eval(ix.index, env)
            switch (container, key) {
            case (.list(var xs), .number):
                let i = try listIndex(key, count: xs.count, at: ix.index.span)
                xs[i] = v
                try store(ix.object, .list(xs), env)
            case (.record(var r), .string(let k)):
                r[k] = v
                try store(ix.object, .record(r), env)
            default:
                throw RuntimeError("cannot set \(container.typeName)[\(key.typeName)]; set list[number] or record[string]", at: location(ix.span))
            }
        default:
            throw RuntimeError("cannot assign to this expression", at: location(target.span))
        }
    }

    // MARK: - Expressions

    func eval(_ expr: Expr, _ env: Environment) throws -> Value {
        try enterNesting(expr.span)
        defer { evalNesting -= 1 }
        switch expr {
        case .number(let x, _): return .number(x)
        case .boolean(let b, _): return .bool(b)
        case .nilLiteral: return .null
        case .string(let parts, _):
            var s = ""
            for p in parts {
                switch p {
                case .text(let t): s += t
                case .interpolation(let e): s += try eval(e, env).description
                }
            }
            return .string(s)
        case .identifier(let name, let span):
            guard let v = env.lookup(name) else {
                throw RuntimeError("'\(name)' is not defined" + suggestion(for: name, in: env), at: location(span))
            }
            return v
        case .list(let items, _):
            return .list(try items.map { e in
                let v = try eval(e, env)
                do { try v.checkNesting() } catch var err as RuntimeError {
                    err.location = location(e.span)
                    throw err
                }
                return v
            })
        case .record(let fields, _):
            var r = Record()
            for f in fields {
                let v = try eval(f.value, env)
                do { try v.checkNesting() } catch var err as RuntimeError {
                    err.location = location(f.value.span)
                    throw err
                }
                r[f.key] = v
            }
            return .record(r)
        case .range(let r):
            let lo = try eval(r.lower, env), hi = try eval(r.upper, env)
            guard case .number(let a) = lo, case .number(let b) = hi else {
                throw RuntimeError("a range needs numbers, got \(lo.typeName) and \(hi.typeName)", at: location(r.span))
            }
            return .range(RangeValue(lower: a, upper: b, closed: r.inclusive))
        case .unary(let u):
            let v = try eval(u.operand, env)
            switch u.op {
            case .not: return .bool(!v.isTruthy)
            case .negate, .plus:
                guard case .number(let x) = v else {
                    throw RuntimeError("unary '\(u.op.rawValue)' needs a number, got \(v.typeName)", at: location(u.span))
                }
                return .number(u.op == .negate ? -x : x)
            }
        case .binary(let b):
            switch b.op {
            case .and:
                let l = try eval(b.lhs, env)
                return l.isTruthy ? try eval(b.rhs, env) : l
            case .or:
                let l = try eval(b.lhs, env)
                return l.isTruthy ? l : try eval(b.rhs, env)
            default:
                return try binary(b.op, try eval(b.lhs, env), try eval(b.rhs, env), at: b.opSpan)
            }
        case .conditional(let c):
            if try eval(c.condition, env).isTruthy {
                return try value(of: block(c.thenBranch, Environment(parent: env)))
            } else if let e = c.elseBranch {
                return try value(of: block(e, Environment(parent: env)))
            }
            return .null
        case .function(let f):
            return .function(Closure(function: f, env: env, interpreter: self))
        case .member(let m):
            return try member(try eval(m.object, env), m.name, at: m.nameSpan)
        case .index(let ix):
            return try index(try eval(ix.object, env), try eval(ix.index, env), at: ix.span)
        case .call(let c):
            return try evalCall(c, env)
        }
    }

    /// Flows escaping an expression block (an `if` branch) are carried as errors
    /// only for break/continue/return written inside an if-expression used as a value.
    private func value(of flow: Flow) throws -> Value {
        switch flow {
        case .normal(let v): return v
        case .breakLoop: throw FlowEscape.breakLoop
        case .continueLoop: throw FlowEscape.continueLoop
        case .returned(let v): throw FlowEscape.returned(v)
        }
    }

    func binary(_ op: BinaryOp, _ l: Value, _ r: Value, at span: SourceSpan) throws -> Value {
        func fail(_ what: String) -> RuntimeError { RuntimeError(what, at: location(span)) }
        switch op {
        case .equal: return .bool(l == r)
        case .notEqual: return .bool(l != r)
        case .match, .notMatch:
            guard case .string(let s) = l, case .string(let p) = r else {
                throw fail("'\(op.rawValue)' matches a string against a pattern string, got \(l.typeName) \(op.rawValue) \(r.typeName)")
            }
            do {
                let m = try Regexes.test(s, p)
                return .bool(op == .match ? m : !m)
            } catch var e as RuntimeError {
                e.location = location(span)
                throw e
            }
        case .less, .lessEqual, .greater, .greaterEqual:
            let c: Int
            switch (l, r) {
            case (.number(let a), .number(let b)): c = a < b ? -1 : (a > b ? 1 : 0)
            case (.string(let a), .string(let b)): c = a < b ? -1 : (a > b ? 1 : 0)
            default: throw fail("cannot compare \(l.typeName) \(op.rawValue) \(r.typeName); compare two numbers or two strings")
            }
            switch op {
            case .less: return .bool(c < 0)
            case .lessEqual: return .bool(c <= 0)
            case .greater: return .bool(c > 0)
            default: return .bool(c >= 0)
            }
        case .add:
            switch (l, r) {
            case (.number(let a), .number(let b)): return .number(a + b)
            case (.string(let a), .string(let b)): return .string(a + b)
            case (.list(let a), .list(let b)): return .list(a + b)
            case (.string, _), (_, .string):
                throw fail("cannot add \(l.typeName) and \(r.typeName); use interpolation: \"${a}${b}\" or str(x)")
            default: throw fail("cannot add \(l.typeName) and \(r.typeName)")
            }
        case .subtract, .multiply, .divide, .remainder, .power:
            guard case .number(let a) = l, case .number(let b) = r else {
                throw fail("'\(op.rawValue)' needs two numbers, got \(l.typeName) and \(r.typeName)")
            }
            switch op {
            case .subtract: return .number(a - b)
            case .multiply: return .number(a * b)
            case .divide:
                guard b != 0 else { throw fail("division by zero") }
                return .number(a / b)
            case .remainder:
                guard b != 0 else { throw fail("remainder by zero") }
                // Sign of the divisor, as Python: -1 % 3 == 2.
                let m = a.truncatingRemainder(dividingBy: b)
                return .number(m != 0 && (m < 0) != (b < 0) ? m + b : m)
            default: return .number(Foundation.pow(a, b))
            }
        case .and, .or: fatalError("short-circuit operators are evaluated in eval")
        }
    }

    // MARK: - Members and indexing

    func member(_ object: Value, _ name: String, at span: SourceSpan) throws -> Value {
        switch object {
        case .record(let r):
            if let v = r[name] { return v }
            throw RuntimeError("record has no field '\(name)'" + (r.count > 0 ? "; fields: \(r.keys.joined(separator: ", "))" : ""), at: location(span))
        case .host(let h):
            do {
                if let v = try h.field(name) { return v }
            } catch var e as RuntimeError {
                if e.location == nil { e.location = location(span) }
                throw e
            }
            if h.methodNames.contains(name) { return .function(BoundMethod(object: h, name: name)) }
            let all = h.fieldNames + h.methodNames
            throw RuntimeError("\(h.typeName) has no field '\(name)'" + (all.isEmpty ? "" : "; it has: \(all.joined(separator: ", "))"), at: location(span))
        case .list(let xs) where name == "length":
            return .number(Double(xs.count))
        default:
            // Builtins as methods: `c.text.lower()` is `lower(c.text)`.
            if case .function(let f)? = builtins.lookup(name) { return .function(BoundBuiltin(receiver: object, builtin: f)) }
            throw RuntimeError("\(object.typeName) has no field '\(name)'", at: location(span))
        }
    }

    func listIndex(_ key: Value, count: Int, at span: SourceSpan) throws -> Int {
        guard case .number(let x) = key, x == x.rounded() else {
            throw RuntimeError("a list index must be a whole number, got \(key.typeName) \(key.summary)", at: location(span))
        }
        guard let i = indexPosition(x, count: count) else {
            throw RuntimeError("index \(formatNumber(x)) out of range: the list has \(count) element\(count == 1 ? "" : "s")", at: location(span))
        }
        return i
    }

    func index(_ object: Value, _ key: Value, at span: SourceSpan) throws -> Value {
        switch (object, key) {
        case (.list(let xs), _): return xs[try listIndex(key, count: xs.count, at: span)]
        case (.range(let r), _):
            let n = r.count
            guard n <= Double(Int.max / 2) else {
                throw RuntimeError("cannot index the range \(object.repr): it has no last element", at: location(span))
            }
            return .number(r.element(try listIndex(key, count: Int(n), at: span)))
        case (.string(let s), _):
            let chars = Array(s)
            return .string(String(chars[try listIndex(key, count: chars.count, at: span)]))
        case (.record(let r), .string(let k)):
            guard let v = r[k] else {
                throw RuntimeError("record has no field \(Escaping.literal(k))" + (r.count > 0 ? "; fields: \(r.keys.joined(separator: ", "))" : ""), at: location(span))
            }
            return v
        case (.host(let h), _):
            do {
                if let v = try h.index(key) { return v }
            } catch var e as RuntimeError {
                if e.location == nil { e.location = location(span) }
                throw e
            }
            throw RuntimeError("a \(h.typeName) cannot be indexed with \(key.typeName)", at: location(span))
        default:
            throw RuntimeError("cannot index a \(object.typeName) with a \(key.typeName)", at: location(span))
        }
    }

    // MARK: - Calls

    func evalCall(_ c: CallExpr, _ env: Environment) throws -> Value {
        // A recursion without loops (fib(40)) stops at Ctrl-C too.
        try checkInterrupt(c.span, "call")
        let callee = try eval(c.callee, env)
        var args = Arguments(callee: calleeName(c.callee, callee))
        for a in c.arguments {
            let v = try eval(a.value, env)
            if let label = a.label {
                if args.named.contains(where: { $0.name == label }) {
                    throw RuntimeError("option '\(label)' given twice", at: location(a.labelSpan ?? a.value.span))
                }
                args.named.append((label, v))
            } else {
                args.positional.append(v)
            }
        }
        stack[stack.count - 1].location = location(c.span)
        return try callValue(callee, args, at: c.span)
    }

    private func calleeName(_ e: Expr, _ v: Value) -> String {
        switch e {
        case .identifier(let n, _): return n
        case .member(let m):
            if case .identifier(let o, _) = m.object { return "\(o).\(m.name)" }
            return m.name
        default:
            if case .function(let f) = v { return f.name }
            return "function"
        }
    }

    /// Call any callable; errors without a place get the call's span.
    func callValue(_ f: Value, _ args: Arguments, at span: SourceSpan) throws -> Value {
        guard case .function(let fn) = f else {
            throw RuntimeError("\(args.callee) is a \(f.typeName), not a function", at: location(span))
        }
        do {
            return try fn.call(args, self)
        } catch var e as RuntimeError {
            if e.location == nil { e.location = location(span) }
            throw e
        } catch let e as InterruptedError {
            throw e
        } catch let e as FlowEscape {
            throw e
        } catch {
            throw RuntimeError("\(args.callee): \(error)", at: location(span))
        }
    }

    /// CallContext: call from a builtin (map, filter, rewards) with positional arguments.
    public func call(_ f: Value, _ args: [Value]) throws -> Value {
        guard case .function(let fn) = f else { throw RuntimeError("expected a function, got \(f.typeName) \(f.summary)") }
        return try runOnLargeStack {
            self.callbackDepth += 1
            defer { self.callbackDepth -= 1 }
            return try fn.call(Arguments(callee: fn.name, positional: args), self)
        }
    }

    /// Bind arguments to parameters and run a closure's body in a new frame.
    func invoke(_ closure: Closure, _ args: Arguments) throws -> Value {
        let f = closure.function
        guard stack.count < maxDepth else {
            throw RuntimeError("too deep recursion (over \(maxDepth) nested calls) in \(closure.name): check its base case")
        }
        let scope = Environment(parent: closure.env)
        guard args.positional.count <= f.params.count else {
            throw RuntimeError("\(closure.signature) takes \(f.params.count) argument\(f.params.count == 1 ? "" : "s"), got \(args.positional.count)")
        }
        for (name, _) in args.named where !f.params.contains(where: { $0.name == name }) {
            throw RuntimeError("\(closure.signature) has no parameter '\(name)'")
        }
        for (i, p) in f.params.enumerated() {
            if i < args.positional.count {
                if args.namedValue(p.name) != nil { throw RuntimeError("\(closure.name): '\(p.name)' given twice") }
                scope.define(p.name, args.positional[i])
            } else if let v = args.namedValue(p.name) {
                scope.define(p.name, v)
            } else if let d = p.defaultValue {
                scope.define(p.name, try eval(d, scope))
            } else {
                throw RuntimeError("\(closure.signature) is missing argument '\(p.name)'")
            }
        }
        stack.append(StackFrame(function: closure.name, location: location(f.span)))
        defer { stack.removeLast() }
        do {
            switch f.body {
            case .expression(let e): return try eval(e, scope)
            case .block(let b):
                switch try block(b, scope) {
                case .normal(let v), .returned(let v): return v
                case .breakLoop, .continueLoop:
                    throw RuntimeError("'break' or 'continue' outside a loop in \(closure.name)")
                }
            }
        } catch FlowEscape.returned(let v) {
            return v
        } catch var e as RuntimeError {
            if e.frames.isEmpty { e.frames = snapshot(e.location) }
            throw e
        }
    }

    /// The active frames, innermost first; the innermost at the error's place.
    private func snapshot(_ at: SourceLocation?) -> [StackFrame] {
        var frames = Array(stack.reversed())
        if !frames.isEmpty, let at { frames[0].location = at }
        return frames
    }

    func location(_ span: SourceSpan) -> SourceLocation {
        SourceLocation(file: span.file, line: span.line, column: span.column, length: span.length)
    }

    private func suggestion(for name: String, in env: Environment) -> String {
        let names = env.allNames
        if let close = names.first(where: { $0.lowercased() == name.lowercased() }) { return "; did you mean '\(close)'?" }
        // Short names only tolerate one typo, so `nope` does not suggest `type`.
        let limit = name.count <= 4 ? 1 : 2
        if let close = names.filter({ editDistance($0, name) <= limit }).min(by: { editDistance($0, name) < editDistance($1, name) }),
           name.count > 2 {
            return "; did you mean '\(close)'?"
        }
        return ""
    }

    // MARK: - help

    func helpBuiltin(_ a: Arguments) throws -> Value {
        guard let v = a.value(0) else { return .string(HelpTable.text(for: nil)!) }
        switch v {
        case .string(let topic):
            if let t = HelpTable.text(for: topic) { return .string(t) }
            throw a.error("no help for \(Escaping.literal(topic)); topics: \(HelpTable.topics.joined(separator: ", "))")
        case .function(let f):
            let n = (f as? BoundBuiltin)?.builtin.name ?? f.name
            if let t = HelpTable.text(for: n) { return .string(t) }
            return .string(f.signature + "\n  a function written in the language")
        case .host(let h):
            var s = h.summary
            if !h.fieldNames.isEmpty { s += "\n  fields: " + h.fieldNames.joined(separator: ", ") }
            if !h.methodNames.isEmpty { s += "\n  methods: " + h.methodNames.joined(separator: ", ") }
            return .string(s)
        default:
            return .string("a \(v.typeName): \(v.summary)")
        }
    }
}

/// A thread with a large stack that runs one job at a time while its caller waits.
private final class LargeStackWorker: @unchecked Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var job: (() throws -> Value)?
    private var result: Result<Value, Error>?
    private var stopping = false

    init(stackSize: Int) {
        let thread = Thread { [self] in loop() }
        thread.stackSize = stackSize
        thread.start()
    }

    private func loop() {
        while true {
            ready.wait()
            if stopping { return }
            result = Result { try job!() }
            job = nil
            finished.signal()
        }
    }

    func run(_ body: @escaping () throws -> Value) throws -> Value {
        job = body
        ready.signal()
        finished.wait()
        defer { result = nil }
        return try result!.get()
    }

    func stop() {
        stopping = true
        ready.signal()
    }
}

/// break/continue/return inside an if used as a value: unwinds to the loop or function.
enum FlowEscape: Error {
    case breakLoop, continueLoop, returned(Value)
}

/// `obj.method` before it is called.
final class BoundMethod: Callable {
    let object: any HostObject
    let name: String
    init(object: any HostObject, name: String) { self.object = object; self.name = name }
    var signature: String { HelpTable.entry("\(object.typeName).\(name)")?.signature ?? "\(object.typeName).\(name)(...)" }
    func call(_ args: Arguments, _ ctx: CallContext) throws -> Value {
        var a = args
        a.callee = "\(object.typeName).\(name)"
        let options = object.methodOptions(name)
        if let bad = a.named.first(where: { !options.contains($0.name) }) {
            throw RuntimeError("\(a.callee) has no option '\(bad.name)'; "
                + (options.isEmpty ? "it takes none: \(signature)" : "options: \(options.joined(separator: ", "))"))
        }
        return try object.callMethod(name, a, ctx)
    }
}

/// `x.lower()`: a builtin with its receiver as the first argument.
final class BoundBuiltin: Callable {
    let receiver: Value
    let builtin: any Callable
    init(receiver: Value, builtin: any Callable) { self.receiver = receiver; self.builtin = builtin }
    var name: String { builtin.name }
    var signature: String { builtin.signature }
    func call(_ args: Arguments, _ ctx: CallContext) throws -> Value {
        var a = args
        a.positional.insert(receiver, at: 0)
        return try builtin.call(a, ctx)
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    for i in 1...x.count {
        var cur = [i] + Array(repeating: 0, count: y.count)
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[y.count]
}
