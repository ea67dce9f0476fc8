// The arguments of one call, positional and keyword, with typed accessors
// whose errors name the function, the parameter and what was passed, and the
// context a builtin runs in (calling back into the language, emitting output).

import Foundation

/// What a builtin or host method may ask of the interpreter running it.
public protocol CallContext: AnyObject {
    /// Call a language function (closure or builtin) with positional arguments.
    func call(_ f: Value, _ args: [Value]) throws -> Value
    /// Send printed text, tables, plots or images to the session's sink.
    func emit(_ event: OutputEvent)
    /// Relative paths in scripts resolve against this directory.
    var baseDirectory: URL { get }
    /// Whether output goes to an interactive terminal (colour, dumb plots, progress).
    var isInteractive: Bool { get }
    /// Whether ANSI colour may be used.
    var useColor: Bool { get }
    /// Paths shown in output are relative to this directory (a notebook's
    /// page folder); nil: relative to `baseDirectory`.
    var displayDirectory: URL? { get }
}

extension CallContext {
    /// Resolve a script path against the base directory (absolute paths stay).
    public func resolve(_ path: String) -> URL {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded) }
        return baseDirectory.appendingPathComponent(expanded)
    }

    public var displayDirectory: URL? { nil }

    /// A file's path as output shows it: relative to the display directory,
    /// so a page or a log names no folder of the machine that made it.
    public func shownPath(_ path: String) -> String {
        PagePaths.relative(path, to: displayDirectory ?? baseDirectory)
    }
}

/// Positional and keyword arguments of one call.
public struct Arguments {
    /// The callee's name, used in error messages: "len", "data.split".
    public var callee: String
    public var positional: [Value]
    public var named: [(name: String, value: Value)]

    public init(callee: String, positional: [Value] = [], named: [(name: String, value: Value)] = []) {
        self.callee = callee
        self.positional = positional
        self.named = named
    }

    public var count: Int { positional.count }

    public func error(_ message: String) -> RuntimeError {
        RuntimeError("\(callee): \(message)")
    }

    // MARK: - Shape checks

    /// Throws unless the positional count is within `range`.
    public func expect(_ range: ClosedRange<Int>, _ usage: String) throws {
        guard range.contains(positional.count) else {
            let want = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
            throw RuntimeError("\(callee) takes \(want) argument\(range.upperBound == 1 ? "" : "s"), got \(positional.count): use \(usage)")
        }
    }

    // MARK: - Positional accessors

    public func value(_ i: Int) -> Value? { i < positional.count ? positional[i] : nil }

    public func number(_ i: Int, _ param: String) throws -> Double {
        guard let v = value(i) else { throw error("missing argument '\(param)'") }
        guard case .number(let x) = v else { throw error("'\(param)' must be a number, got \(v.typeName) \(v.summary)") }
        return x
    }

    public func int(_ i: Int, _ param: String) throws -> Int {
        let x = try number(i, param)
        guard x == x.rounded(), abs(x) < 1e15 else { throw error("'\(param)' must be a whole number, got \(formatNumber(x))") }
        return Int(x)
    }

    public func string(_ i: Int, _ param: String) throws -> String {
        guard let v = value(i) else { throw error("missing argument '\(param)'") }
        guard case .string(let s) = v else { throw error("'\(param)' must be a string, got \(v.typeName) \(v.summary)") }
        return s
    }

    public func list(_ i: Int, _ param: String) throws -> [Value] {
        guard let v = value(i) else { throw error("missing argument '\(param)'") }
        try checkRangeLength(v, "'\(param)'")
        guard let xs = v.asList else { throw error("'\(param)' must be a list, got \(v.typeName) \(v.summary)") }
        return xs
    }

    /// A range used as a list must fit the list limit.
    func checkRangeLength(_ v: Value, _ what: String) throws {
        if case .range(let r) = v, r.elements == nil {
            throw error("\(what) is the range \(v.repr) of \(formatNumber(r.count)) elements, too long for a list (over \(Value.maxListLength / 1_000_000) million)")
        }
    }

    public func numbers(_ i: Int, _ param: String) throws -> [Double] {
        let xs = try list(i, param)
        return try xs.enumerated().map { k, v in
            guard case .number(let x) = v else { throw error("'\(param)'[\(k)] must be a number, got \(v.typeName) \(v.summary)") }
            return x
        }
    }

    /// A list of whole numbers (ids, counts), each checked before it becomes an Int.
    public func ints(_ i: Int, _ param: String) throws -> [Int] {
        try numbers(i, param).enumerated().map { k, x in
            guard x == x.rounded(), abs(x) < 1e15 else { throw error("'\(param)'[\(k)] must be a whole number, got \(formatNumber(x))") }
            return Int(x)
        }
    }

    public func record(_ i: Int, _ param: String) throws -> Record {
        guard let v = value(i) else { throw error("missing argument '\(param)'") }
        guard case .record(let r) = v else { throw error("'\(param)' must be a record, got \(v.typeName) \(v.summary)") }
        return r
    }

    public func host<T>(_ i: Int, _ param: String, as: T.Type, typeName: String) throws -> T {
        guard let v = value(i) else { throw error("missing argument '\(param)' (a \(typeName))") }
        guard case .host(let h) = v, let t = h as? T else {
            throw error("'\(param)' must be a \(typeName), got \(v.typeName) \(v.summary)")
        }
        return t
    }

    // MARK: - Keyword accessors

    public func namedValue(_ name: String) -> Value? { named.first(where: { $0.name == name })?.value }

    public func has(_ name: String) -> Bool { namedValue(name) != nil }

    public func namedNumber(_ name: String) throws -> Double? {
        guard let v = namedValue(name) else { return nil }
        guard case .number(let x) = v else { throw error("option '\(name)' must be a number, got \(v.typeName) \(v.summary)") }
        return x
    }

    public func namedInt(_ name: String) throws -> Int? {
        guard let x = try namedNumber(name) else { return nil }
        guard x == x.rounded(), abs(x) < 1e15 else { throw error("option '\(name)' must be a whole number, got \(formatNumber(x))") }
        return Int(x)
    }

    public func namedString(_ name: String) throws -> String? {
        guard let v = namedValue(name) else { return nil }
        guard case .string(let s) = v else { throw error("option '\(name)' must be a string, got \(v.typeName) \(v.summary)") }
        return s
    }

    public func namedBool(_ name: String) throws -> Bool? {
        guard let v = namedValue(name) else { return nil }
        guard case .bool(let b) = v else { throw error("option '\(name)' must be true or false, got \(v.typeName) \(v.summary)") }
        return b
    }

    public func namedList(_ name: String) throws -> [Value]? {
        guard let v = namedValue(name) else { return nil }
        try checkRangeLength(v, "option '\(name)'")
        try checkRangeLength(v, "option '\(name)'")
        guard let xs = v.asList else { throw error("option '\(name)' must be a list, got \(v.typeName) \(v.summary)") }
        return xs
    }
}
