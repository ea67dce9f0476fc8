// The syntax tree of the medr1 command language (docs/language.md is the reference).
//
// Shape chosen for an interpreter: two indirect enums, `Stmt` and `Expr`, whose
// non-trivial cases carry one struct each. Matching `case .call(let c)` keeps
// working when a field is added to `CallExpr`, so the tree can grow without
// breaking the Runtime. Every node has a `SourceSpan` (`.span` on both enums).
//
// Non-goals: comments (other than `# %%` cell markers) and parentheses are not
// kept; the Printer re-inserts the parentheses that precedence requires.

// MARK: - Program

/// A parsed file or REPL input: statements in source order, `# %%` markers included.
public struct Program: Equatable, Sendable {
    public var statements: [Stmt]
    public var file: String

    public init(statements: [Stmt], file: String) {
        self.statements = statements
        self.file = file
    }

    /// The statements grouped by `# %%` cell markers. Statements before the first
    /// marker form a cell with a nil title; a marker with no title gives "".
    public var cells: [(title: String?, marker: SourceSpan?, statements: [Stmt])] {
        var result: [(title: String?, marker: SourceSpan?, statements: [Stmt])] = []
        var current: (title: String?, marker: SourceSpan?, statements: [Stmt]) = (nil, nil, [])
        for stmt in statements {
            if case .cell(let c) = stmt {
                if current.marker != nil || !current.statements.isEmpty { result.append(current) }
                current = (c.title, c.span, [])
            } else {
                current.statements.append(stmt)
            }
        }
        if current.marker != nil || !current.statements.isEmpty { result.append(current) }
        return result
    }
}

// MARK: - Statements

public indirect enum Stmt: Equatable, Sendable {
    /// `let name = value`
    case binding(LetStmt)
    /// `target = value`, `target += value` (target: name, field or index)
    case assignment(AssignStmt)
    /// An expression evaluated for its value or effect, including command
    /// calls (`step t, 10` is `.expression(.call(c))` with `c.isCommand`) and
    /// `if` used as a statement.
    case expression(Expr)
    /// `fn name(a, b) = expr` or `fn name(a) { ... }`; `FunctionExpr.name` is set.
    case functionDecl(FunctionExpr)
    /// `return` or `return expr`
    case returnStmt(ReturnStmt)
    /// `for x in xs { ... }`
    case forIn(ForStmt)
    /// `while cond { ... }`
    case whileLoop(WhileStmt)
    /// `break`
    case breakStmt(SourceSpan)
    /// `continue`
    case continueStmt(SourceSpan)
    /// A `# %% title` line (top level only).
    case cell(CellMarker)

    public var span: SourceSpan {
        switch self {
        case .binding(let s): return s.span
        case .assignment(let s): return s.span
        case .expression(let e): return e.span
        case .functionDecl(let f): return f.span
        case .returnStmt(let s): return s.span
        case .forIn(let s): return s.span
        case .whileLoop(let s): return s.span
        case .breakStmt(let s), .continueStmt(let s): return s
        case .cell(let c): return c.span
        }
    }
}

/// `let name = value`
public struct LetStmt: Equatable, Sendable {
    public var name: String
    public var nameSpan: SourceSpan
    public var value: Expr
    public var span: SourceSpan
    public init(name: String, nameSpan: SourceSpan, value: Expr, span: SourceSpan) {
        self.name = name; self.nameSpan = nameSpan; self.value = value; self.span = span
    }
}

/// `target = value` or `target op= value`. `target` is `.identifier`, `.member` or `.index`.
public struct AssignStmt: Equatable, Sendable {
    public var target: Expr
    /// nil for `=`; `.add` for `+=`, `.subtract` for `-=`, `.multiply` for `*=`, `.divide` for `/=`.
    public var op: BinaryOp?
    public var value: Expr
    public var span: SourceSpan
    public init(target: Expr, op: BinaryOp?, value: Expr, span: SourceSpan) {
        self.target = target; self.op = op; self.value = value; self.span = span
    }
}

/// `return` (value nil) or `return expr`.
public struct ReturnStmt: Equatable, Sendable {
    public var value: Expr?
    public var span: SourceSpan
    public init(value: Expr?, span: SourceSpan) { self.value = value; self.span = span }
}

/// `for variable in iterable { body }`
public struct ForStmt: Equatable, Sendable {
    public var variable: String
    public var variableSpan: SourceSpan
    public var iterable: Expr
    public var body: Block
    public var span: SourceSpan
    public init(variable: String, variableSpan: SourceSpan, iterable: Expr, body: Block, span: SourceSpan) {
        self.variable = variable; self.variableSpan = variableSpan
        self.iterable = iterable; self.body = body; self.span = span
    }
}

/// `while condition { body }`
public struct WhileStmt: Equatable, Sendable {
    public var condition: Expr
    public var body: Block
    public var span: SourceSpan
    public init(condition: Expr, body: Block, span: SourceSpan) {
        self.condition = condition; self.body = body; self.span = span
    }
}

/// `# %% title`: starts a notebook cell. `title` is the trimmed rest of the line ("" if none).
public struct CellMarker: Equatable, Sendable {
    public var title: String
    public var span: SourceSpan
    public init(title: String, span: SourceSpan) { self.title = title; self.span = span }
}

/// `{ stmt* }`. As an expression (an `if` branch, a function body) its value is
/// the value of its last statement when that is an expression statement, else nil.
public struct Block: Equatable, Sendable {
    public var statements: [Stmt]
    public var span: SourceSpan
    public init(statements: [Stmt], span: SourceSpan) { self.statements = statements; self.span = span }
}

// MARK: - Expressions

public indirect enum Expr: Equatable, Sendable {
    /// `42`, `0.5`, `3e-4` (always a Double)
    case number(Double, SourceSpan)
    /// `"text ${expr} more"`; adjacent text is merged into one `.text` part.
    case string([StringPart], SourceSpan)
    /// `true` / `false`
    case boolean(Bool, SourceSpan)
    /// `nil`
    case nilLiteral(SourceSpan)
    /// a name: `x`, `step`
    case identifier(String, SourceSpan)
    /// `[a, b, c]`
    case list([Expr], SourceSpan)
    /// `{lr: 3e-4, "reward/accuracy": 1}` (keys in source order, duplicates are a parse error)
    case record([RecordField], SourceSpan)
    /// `a..<b` (half-open) or `a...b` (closed)
    case range(RangeExpr)
    /// `-x`, `+x`, `not x`
    case unary(UnaryExpr)
    /// `a + b`, `a and b` (`and`/`or` short-circuit), `text ~ "re"`
    case binary(BinaryExpr)
    /// `f(x, key: v)`, `obj.method(x)` (callee is `.member`), command `step t, 10`
    case call(CallExpr)
    /// `obj.field`
    case member(MemberExpr)
    /// `xs[i]`
    case index(IndexExpr)
    /// `if c { a } else { b }` or `if c then a else b`
    case conditional(IfExpr)
    /// anonymous `fn(c) => expr` or `fn(c) { ... }` (`name` is nil)
    case function(FunctionExpr)

    public var span: SourceSpan {
        switch self {
        case .number(_, let s), .string(_, let s), .boolean(_, let s), .nilLiteral(let s),
             .identifier(_, let s), .list(_, let s), .record(_, let s):
            return s
        case .range(let r): return r.span
        case .unary(let u): return u.span
        case .binary(let b): return b.span
        case .call(let c): return c.span
        case .member(let m): return m.span
        case .index(let i): return i.span
        case .conditional(let c): return c.span
        case .function(let f): return f.span
        }
    }
}

/// A piece of a string literal.
public enum StringPart: Equatable, Sendable {
    /// literal text, escapes already decoded
    case text(String)
    /// `${expr}`
    case interpolation(Expr)
}

/// `key: value` in a record literal.
public struct RecordField: Equatable, Sendable {
    public var key: String
    public var keySpan: SourceSpan
    public var value: Expr
    public init(key: String, keySpan: SourceSpan, value: Expr) {
        self.key = key; self.keySpan = keySpan; self.value = value
    }
}

public struct RangeExpr: Equatable, Sendable {
    public var lower: Expr
    public var upper: Expr
    /// true for `...` (upper bound included), false for `..<`
    public var inclusive: Bool
    public var span: SourceSpan
    public init(lower: Expr, upper: Expr, inclusive: Bool, span: SourceSpan) {
        self.lower = lower; self.upper = upper; self.inclusive = inclusive; self.span = span
    }
}

public enum UnaryOp: String, Equatable, Sendable {
    case negate = "-"
    case plus = "+"
    case not = "not"
}

public struct UnaryExpr: Equatable, Sendable {
    public var op: UnaryOp
    public var operand: Expr
    public var span: SourceSpan
    public init(op: UnaryOp, operand: Expr, span: SourceSpan) {
        self.op = op; self.operand = operand; self.span = span
    }
}

/// Binary operators; `rawValue` is the source spelling.
public enum BinaryOp: String, Equatable, Sendable, CaseIterable {
    case or = "or", and = "and"
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    /// regex match: `text ~ "pattern"` is true when the pattern matches somewhere in text
    case match = "~"
    /// negated regex match
    case notMatch = "!~"
    case add = "+", subtract = "-"
    case multiply = "*", divide = "/", remainder = "%"
    /// right-associative, binds tighter than unary minus: `-2 ** 2` is -4
    case power = "**"
}

public struct BinaryExpr: Equatable, Sendable {
    public var op: BinaryOp
    public var lhs: Expr
    public var rhs: Expr
    /// span of the operator token itself (for "cannot add string and number" errors)
    public var opSpan: SourceSpan
    public var span: SourceSpan
    public init(op: BinaryOp, lhs: Expr, rhs: Expr, opSpan: SourceSpan, span: SourceSpan) {
        self.op = op; self.lhs = lhs; self.rhs = rhs; self.opSpan = opSpan; self.span = span
    }
}

/// One call argument: positional (`label == nil`) or keyword (`key: value`).
public struct Argument: Equatable, Sendable {
    public var label: String?
    public var labelSpan: SourceSpan?
    public var value: Expr
    public init(label: String?, labelSpan: SourceSpan?, value: Expr) {
        self.label = label; self.labelSpan = labelSpan; self.value = value
    }
}

public struct CallExpr: Equatable, Sendable {
    public var callee: Expr
    public var arguments: [Argument]
    /// true for a paren-less command call at the start of a statement
    /// (`step t, 10`); the callee is then always an `.identifier`.
    public var isCommand: Bool
    public var span: SourceSpan
    public init(callee: Expr, arguments: [Argument], isCommand: Bool, span: SourceSpan) {
        self.callee = callee; self.arguments = arguments; self.isCommand = isCommand; self.span = span
    }
}

/// `object.name`; a method call is `.call` whose callee is `.member`.
public struct MemberExpr: Equatable, Sendable {
    public var object: Expr
    public var name: String
    public var nameSpan: SourceSpan
    public var span: SourceSpan
    public init(object: Expr, name: String, nameSpan: SourceSpan, span: SourceSpan) {
        self.object = object; self.name = name; self.nameSpan = nameSpan; self.span = span
    }
}

/// `object[index]`
public struct IndexExpr: Equatable, Sendable {
    public var object: Expr
    public var index: Expr
    public var span: SourceSpan
    public init(object: Expr, index: Expr, span: SourceSpan) {
        self.object = object; self.index = index; self.span = span
    }
}

/// `if` as statement or expression. Both source forms produce this node:
/// `if c { a } else { b }` and `if c then a else b` (branches wrapped in a
/// one-statement Block). `else if` is an else-Block holding one `.conditional`.
/// Without `else`, the value is nil when the condition is false.
public struct IfExpr: Equatable, Sendable {
    public var condition: Expr
    public var thenBranch: Block
    public var elseBranch: Block?
    /// true when written `if c then a else b` (kept so the printer reproduces it)
    public var usesThen: Bool
    public var span: SourceSpan
    public init(condition: Expr, thenBranch: Block, elseBranch: Block?, usesThen: Bool, span: SourceSpan) {
        self.condition = condition; self.thenBranch = thenBranch; self.elseBranch = elseBranch
        self.usesThen = usesThen; self.span = span
    }
}

/// A function parameter, optionally with a default: `fn f(x, scale = 1)`.
public struct Param: Equatable, Sendable {
    public var name: String
    public var span: SourceSpan
    public var defaultValue: Expr?
    public init(name: String, span: SourceSpan, defaultValue: Expr?) {
        self.name = name; self.span = span; self.defaultValue = defaultValue
    }
}

public enum FunctionBody: Equatable, Sendable {
    /// `= expr` (named) or `=> expr` (anonymous)
    case expression(Expr)
    /// `{ ... }` with `return`; falls off the end with the block's value
    case block(Block)
}

/// Named (`fn name(a) = ...`, a statement) or anonymous (`fn(a) => ...`, an expression).
/// Closures capture the variables visible where the function is written.
public struct FunctionExpr: Equatable, Sendable {
    public var name: String?
    public var nameSpan: SourceSpan?
    public var params: [Param]
    public var body: FunctionBody
    public var span: SourceSpan
    public init(name: String?, nameSpan: SourceSpan?, params: [Param], body: FunctionBody, span: SourceSpan) {
        self.name = name; self.nameSpan = nameSpan; self.params = params; self.body = body; self.span = span
    }
}
