// The run-time values of the medr1 command language and how they print.
//
// Numbers are Doubles (integers print without ".0"), strings, booleans, nil,
// lists, records (ordered fields), ranges, callables (closures written in the
// language and builtins) and host objects (data sets, models, trainers, ...)
// that Runtime wraps around MedR1Lib and that print a compact summary.

import Foundation

/// One value of the language. Lists and records have value semantics (a copy
/// on assignment), host objects are references (a trainer is one trainer).
public enum Value {
    case number(Double)
    case string(String)
    case bool(Bool)
    case null
    case list([Value])
    case record(Record)
    case range(RangeValue)
    case function(any Callable)
    case host(any HostObject)
}

// MARK: - Records and ranges

/// A record `{lr: 3e-4, group: 8}`: fields keep the order they were written in.
public struct Record: Equatable {
    public private(set) var fields: [(name: String, value: Value)] = []

    public init() {}
    public init(_ pairs: [(String, Value)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var keys: [String] { fields.map(\.name) }
    public var values: [Value] { fields.map(\.value) }
    public var count: Int { fields.count }

    public subscript(_ name: String) -> Value? {
        get { fields.first(where: { $0.name == name })?.value }
        set {
            if let i = fields.firstIndex(where: { $0.name == name }) {
                if let v = newValue { fields[i].value = v } else { fields.remove(at: i) }
            } else if let v = newValue {
                fields.append((name, v))
            }
        }
    }

    public static func == (a: Record, b: Record) -> Bool {
        a.fields.count == b.fields.count
            && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// `a..<b` (half-open) or `a...b` (closed); iterates `lower`, `lower + 1`, ...
/// A range is lazy: its length, membership and elements are computed, so
/// `0..<1e12` costs nothing until it is turned into a list.
public struct RangeValue: Equatable, Sendable {
    public var lower: Double
    public var upper: Double
    public var closed: Bool

    public init(lower: Double, upper: Double, closed: Bool) {
        self.lower = lower
        self.upper = upper
        self.closed = closed
    }

    /// How many elements: `lower + k` for k = 0, 1, ... while below `upper`
    /// (or equal, when closed). Infinite for an unbounded range, 0 when
    /// empty or when a bound is NaN.
    public var count: Double {
        guard lower.isFinite, !upper.isNaN else { return 0 }
        let span = upper - lower
        if span.isInfinite { return span > 0 ? .infinity : 0 }
        if closed { return span < 0 ? 0 : span.rounded(.down) + 1 }
        return span <= 0 ? 0 : span.rounded(.up)
    }

    /// Element k (0-based); the caller checks k < count.
    public func element(_ k: Int) -> Double { lower + Double(k) }

    /// Whether x is one of the elements.
    public func contains(_ x: Double) -> Bool {
        let k = x - lower
        return k >= 0 && k == k.rounded() && k < count
    }

    /// The elements as a list, or nil when there are more than `Value.maxListLength`.
    public var elements: [Double]? {
        let n = count
        guard n <= Double(Value.maxListLength) else { return nil }
        return (0..<Int(n)).map(element)
    }
}

// MARK: - Callables and host objects

/// Anything a script can call: a closure written in the language or a builtin.
public protocol Callable: AnyObject {
    var name: String { get }
    /// A one-line signature for printing and help, e.g. `len(x)`.
    var signature: String { get }
    func call(_ args: Arguments, _ ctx: CallContext) throws -> Value
}

/// A MedR1Lib object seen from a script: it prints a summary, has fields
/// (`t.last`) and methods (`data.split(train: 0.8)`), both listed for
/// tab completion.
public protocol HostObject: AnyObject {
    /// The type name shown in messages, e.g. "dataset".
    var typeName: String { get }
    /// One line: shown by `:vars` and inside lists.
    var summary: String { get }
    /// The full printed form (several lines allowed); defaults to `summary`.
    var display: String { get }
    var fieldNames: [String] { get }
    func field(_ name: String) throws -> Value?
    var methodNames: [String] { get }
    /// The keyword options a method accepts (none by default). Every call is
    /// checked against them before `callMethod` runs.
    func methodOptions(_ name: String) -> [String]
    func callMethod(_ name: String, _ args: Arguments, _ ctx: CallContext) throws -> Value
    /// Index with `x[i]`; nil if the object cannot be indexed.
    func index(_ i: Value) throws -> Value?
    /// Elements for `for x in obj` and `len(obj)`; nil if not a sequence.
    var elements: [Value]? { get }
}

extension HostObject {
    public var display: String { summary }
    public var fieldNames: [String] { [] }
    public func field(_ name: String) throws -> Value? { nil }
    public var methodNames: [String] { [] }
    public func methodOptions(_ name: String) -> [String] { [] }
    public func callMethod(_ name: String, _ args: Arguments, _ ctx: CallContext) throws -> Value {
        throw RuntimeError("\(typeName) has no method '\(name)'"
            + (methodNames.isEmpty ? "" : "; methods: \(methodNames.joined(separator: ", "))"))
    }
    public func index(_ i: Value) throws -> Value? { nil }
    public var elements: [Value]? { nil }
}

// MARK: - Limits

extension Value {
    /// Longest list a range may turn into (as `range(n)` allows).
    public static let maxListLength = 10_000_000

    /// Deepest nesting of lists and records. Printing, comparing, JSON and
    /// freeing a value all recurse over its nesting, so it is bounded where
    /// values are put into containers: a literal, `xs[i] = v`, `r.f = v`,
    /// `append`, `map`, `zip`, `read_json`. Every value then stays at most
    /// this deep, and every walk over one stays far from the stack limit.
    public static let maxNesting = 1000

    /// Levels of lists and records: 0 for a number, 1 for `[1]`, 2 for `[[1]]`.
    /// Functions and host objects count as leaves (they print as one line).
    public var nesting: Int {
        switch self {
        case .list(let xs): return 1 + xs.reduce(0) { max($0, $1.nesting) }
        case .record(let r): return 1 + r.fields.reduce(0) { max($0, $1.value.nesting) }
        default: return 0
        }
    }

    /// Throws unless `self` may be put `levels` containers deep (a list
    /// literal holding it is 1, `a.b.c = v` is 3); `callee` prefixes the message.
    public func checkNesting(under levels: Int = 1, in callee: String? = nil) throws {
        switch self {
        case .list, .record:
            if nesting + levels > Value.maxNesting {
                throw RuntimeError((callee.map { "\($0): " } ?? "") + "lists and records nested deeper than \(Value.maxNesting) levels; use a flatter value (a list of records, a record of lists)")
            }
        default:
            return
        }
    }

    /// `.list(xs)` after checking that no element is already at the nesting limit.
    public static func nestedList(_ xs: [Value], in callee: String) throws -> Value {
        for x in xs { try x.checkNesting(in: callee) }
        return .list(xs)
    }
}

// MARK: - Type names, truthiness, equality

extension Value {
    /// The name used in error messages: "number", "string", "list", ...
    public var typeName: String {
        switch self {
        case .number: return "number"
        case .string: return "string"
        case .bool: return "bool"
        case .null: return "nil"
        case .list: return "list"
        case .record: return "record"
        case .range: return "range"
        case .function: return "function"
        case .host(let h): return h.typeName
        }
    }

    /// Only `false` and `nil` are false; 0 and "" are true (as in Lua/Ruby),
    /// so `if c.answer { }` tests presence, not emptiness.
    public var isTruthy: Bool {
        switch self {
        case .bool(let b): return b
        case .null: return false
        default: return true
        }
    }

    public var asNumber: Double? { if case .number(let x) = self { return x } else { return nil } }
    public var asString: String? { if case .string(let s) = self { return s } else { return nil } }
    public var asList: [Value]? {
        switch self {
        case .list(let xs): return xs
        case .range(let r): return r.elements?.map(Value.number)
        case .host(let h): return h.elements
        default: return nil
        }
    }
}

extension Value: Equatable {
    /// Structural equality for data, identity for functions and host objects.
    public static func == (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        case (.list(let x), .list(let y)): return x == y
        case (.record(let x), .record(let y)): return x == y
        case (.range(let x), .range(let y)): return x == y
        case (.function(let x), .function(let y)): return x === y
        case (.host(let x), .host(let y)): return x === y
        default: return false
        }
    }
}

// MARK: - Indexing

/// The 0-based position that the index `x` names among `count` elements
/// (a negative index counts from the end), or nil when `x` is not a whole
/// number or is out of range. The range is checked on the Double, before any
/// conversion, so no number a script can write (1e300, -inf, nan) traps.
public func indexPosition(_ x: Double, count: Int) -> Int? {
    guard x == x.rounded(), x >= -Double(count), x < Double(count) else { return nil }
    let i = Int(x)
    return i < 0 ? count + i : i
}

// MARK: - Printing

/// Numbers print as integers when they are integral and small enough to be
/// exact; otherwise with Swift's shortest round-tripping form.
public func formatNumber(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    if x == x.rounded(), abs(x) < 1e15 {
        return x == 0 ? "0" : String(Int64(x))
    }
    return "\(x)"
}

extension Value: CustomStringConvertible {
    /// What `print` and interpolation show: strings without quotes.
    public var description: String {
        switch self {
        case .string(let s): return s
        case .host(let h): return h.display
        default: return repr
        }
    }

    /// What the REPL echoes and what appears inside lists: strings quoted.
    public var repr: String {
        switch self {
        case .number(let x): return formatNumber(x)
        case .string(let s): return Escaping.literal(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "nil"
        case .list(let xs): return "[" + xs.map(\.inlineRepr).joined(separator: ", ") + "]"
        case .record(let r):
            if r.count == 0 { return "{}" }
            return "{" + r.fields.map { "\($0.name): \($0.value.inlineRepr)" }.joined(separator: ", ") + "}"
        case .range(let r):
            return formatNumber(r.lower) + (r.closed ? "..." : "..<") + formatNumber(r.upper)
        case .function(let f): return "<fn \(f.signature)>"
        case .host(let h): return h.display
        }
    }

    /// Nested inside a list or record: host objects collapse to one line.
    var inlineRepr: String {
        if case .host(let h) = self { return "<\(h.summary)>" }
        return repr
    }

    /// One line for `:vars`.
    public var summary: String {
        switch self {
        case .host(let h): return h.summary
        case .list(let xs) where xs.count > 8:
            return "list of \(xs.count): [" + xs.prefix(5).map(\.inlineRepr).joined(separator: ", ") + ", ...]"
        default:
            let s = repr
            return s.count > 100 ? String(s.prefix(97)) + "..." : s
        }
    }
}
