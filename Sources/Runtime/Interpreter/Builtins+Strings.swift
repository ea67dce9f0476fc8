// String, regex, conversion and number builtins.

import Foundation

extension Builtins {
    static func registerStrings(_ add: Register) {
        add("len") { a, _ in
            try a.expect(1...1, "len(x)")
            switch a.positional[0] {
            case .string(let s): return .number(Double(s.count))
            case .list(let xs): return .number(Double(xs.count))
            case .record(let r): return .number(Double(r.count))
            case .range(let r): return .number(r.count)
            case .host(let h):
                if let xs = h.elements { return .number(Double(xs.count)) }
                fallthrough
            default:
                throw a.error("expected a string, list, record or range, got \(a.positional[0].typeName)")
            }
        }
        add("lower") { a, _ in try a.expect(1...1, "lower(s)"); return .string(try a.string(0, "s").lowercased()) }
        add("upper") { a, _ in try a.expect(1...1, "upper(s)"); return .string(try a.string(0, "s").uppercased()) }
        add("trim") { a, _ in
            try a.expect(1...1, "trim(s)")
            return .string(try a.string(0, "s").trimmingCharacters(in: .whitespacesAndNewlines))
        }
        add("split") { a, _ in
            try a.expect(1...2, "split(s, sep)")
            let s = try a.string(0, "s")
            if a.count == 1 {
                return .list(s.split(whereSeparator: { $0.isWhitespace }).map { .string(String($0)) })
            }
            let sep = try a.string(1, "sep")
            guard !sep.isEmpty else { throw a.error("the separator must not be empty") }
            return .list(s.components(separatedBy: sep).map(Value.string))
        }
        add("join") { a, _ in
            try a.expect(1...2, "join(xs, sep)")
            let xs = try a.list(0, "xs")
            let sep = a.count > 1 ? try a.string(1, "sep") : ""
            return .string(xs.map(\.description).joined(separator: sep))
        }
        add("contains") { a, _ in
            try a.expect(2...2, "contains(x, item)")
            switch a.positional[0] {
            case .string(let s): return .bool(s.contains(try a.string(1, "item")))
            case .record(let r): return .bool(r[try a.string(1, "item")] != nil)
            case .range(let r):
                guard case .number(let x) = a.positional[1] else { return .bool(false) }
                return .bool(r.contains(x))
            default:
                guard let xs = a.positional[0].asList else {
                    throw a.error("expected a string, list or record, got \(a.positional[0].typeName)")
                }
                return .bool(xs.contains(a.positional[1]))
            }
        }
        add("starts_with") { a, _ in
            try a.expect(2...2, "starts_with(s, prefix)")
            return .bool(try a.string(0, "s").hasPrefix(try a.string(1, "prefix")))
        }
        add("ends_with") { a, _ in
            try a.expect(2...2, "ends_with(s, suffix)")
            return .bool(try a.string(0, "s").hasSuffix(try a.string(1, "suffix")))
        }
        add("replace") { a, _ in
            try a.expect(3...3, "replace(s, old, new)")
            let old = try a.string(1, "old")
            guard !old.isEmpty else { throw a.error("'old' must not be empty") }
            return .string(try a.string(0, "s").replacingOccurrences(of: old, with: try a.string(2, "new")))
        }
        add("find") { a, _ in
            try a.expect(2...2, "find(s, pattern)")
            let s = try a.string(0, "s")
            let re = try Regexes.compile(try a.string(1, "pattern"), for: a.callee)
            guard let m = try Regexes.matches(re, in: s, first: true, callee: a.callee).first,
                  let r = Range(m.range, in: s) else { return .null }
            return .string(String(s[r]))
        }
        add("find_all") { a, _ in
            try a.expect(2...2, "find_all(s, pattern)")
            let s = try a.string(0, "s")
            let re = try Regexes.compile(try a.string(1, "pattern"), for: a.callee)
            return .list(try Regexes.matches(re, in: s, first: false, callee: a.callee).compactMap { m in
                Range(m.range, in: s).map { .string(String(s[$0])) }
            })
        }
        add("match", options: ["full"]) { a, _ in
            try a.expect(2...2, "match(s, pattern, full: false)")
            let s = try a.string(0, "s")
            return try Regexes.match(s, try a.string(1, "pattern"), full: try a.namedBool("full") ?? false, callee: a.callee)
        }
        add("str") { a, _ in try a.expect(1...1, "str(x)"); return .string(a.positional[0].description) }
        add("repr") { a, _ in try a.expect(1...1, "repr(x)"); return .string(a.positional[0].repr) }
        add("num") { a, _ in
            try a.expect(1...1, "num(s)")
            switch a.positional[0] {
            case .number: return a.positional[0]
            case .bool(let b): return .number(b ? 1 : 0)
            case .string(let s):
                guard let x = Double(s.trimmingCharacters(in: .whitespaces)) else { return .null }
                return .number(x)
            default: throw a.error("expected a string, number or bool, got \(a.positional[0].typeName)")
            }
        }
        add("type") { a, _ in try a.expect(1...1, "type(x)"); return .string(a.positional[0].typeName) }
    }

    static func registerNumbers(_ add: Register) {
        func unary(_ name: String, _ f: @escaping (Double) -> Double, domain: ((Double) -> String?)? = nil) {
            add(name) { a, _ in
                try a.expect(1...1, "\(name)(x)")
                let x = try a.number(0, "x")
                if let check = domain, let msg = check(x) { throw a.error(msg) }
                return .number(f(x))
            }
        }
        unary("abs", Swift.abs)
        unary("sqrt", Foundation.sqrt) { $0 < 0 ? "square root of a negative number (\(formatNumber($0)))" : nil }
        unary("log", Foundation.log) { $0 <= 0 ? "logarithm of a non-positive number (\(formatNumber($0)))" : nil }
        unary("exp", Foundation.exp)
        unary("floor", Foundation.floor)
        unary("ceil", Foundation.ceil)
        add("round") { a, _ in
            try a.expect(1...2, "round(x, digits)")
            let x = try a.number(0, "x")
            let d = a.count > 1 ? try a.int(1, "digits") : 0
            let scale = Foundation.pow(10.0, Double(d))
            // More digits than a Double holds: x as it is; fewer than its magnitude: 0.
            if !(x * scale).isFinite && x.isFinite { return .number(x) }
            if scale == 0 { return .number(x.isFinite ? 0 : x) }
            return .number((x * scale).rounded() / scale)
        }
        add("pow") { a, _ in try a.expect(2...2, "pow(x, y)"); return .number(Foundation.pow(try a.number(0, "x"), try a.number(1, "y"))) }
        func extreme(_ name: String, _ better: @escaping (Double, Double) -> Bool) {
            add(name) { a, _ in
                let xs: [Double]
                if a.count == 1 { xs = try a.numbers(0, "xs") } else {
                    xs = try (0..<a.count).map { try a.number($0, "x\($0 + 1)") }
                }
                guard var best = xs.first else { throw a.error("needs at least one number: \(name)(1, 2) or \(name)([1, 2])") }
                for x in xs.dropFirst() where better(x, best) { best = x }
                return .number(best)
            }
        }
        extreme("min", <)
        extreme("max", >)
    }
}

/// Regular expressions (ICU syntax through NSRegularExpression), compiled once.
/// ICU backtracks, so a pattern like `(a+)+$` can take exponential time: every
/// search runs with progress reports, which stop it after a step budget or
/// at Ctrl-C.
enum Regexes {
    /// ICU reports progress about every 10,000 backtracking steps, and once
    /// per start position it tries. A search may make `stepReports` reports
    /// (about 50 million steps) beyond one per position of the text.
    static let stepReports = 5_000

    /// The matches of `re` in `s` (only the first when `first`), stopped with
    /// an error when the budget is spent or Ctrl-C is pressed.
    static func matches(_ re: NSRegularExpression, in s: String, options: NSRegularExpression.MatchingOptions = [],
                        first: Bool, callee: String) throws -> [NSTextCheckingResult] {
        let whole = NSRange(s.startIndex..., in: s)
        let budget = stepReports + 2 * (whole.length + 1)
        var reports = 0
        var out: [NSTextCheckingResult] = []
        var failure: Error?
        re.enumerateMatches(in: s, options: options.union(.reportProgress), range: whole) { m, _, stop in
            guard let m else {
                reports += 1
                if Interrupt.isRequested {
                    failure = InterruptedError("regular expression \(Escaping.literal(re.pattern))")
                    stop.pointee = true
                } else if reports > budget {
                    failure = RuntimeError("\(callee): the regular expression \(Escaping.literal(re.pattern)) takes too long on this text (over \(stepReports / 100) million steps); avoid nested repetition such as (a+)+")
                    stop.pointee = true
                }
                return
            }
            out.append(m)
            if first { stop.pointee = true }
        }
        if let failure { throw failure }
        return out
    }

    nonisolated(unsafe) static var cache: [String: NSRegularExpression] = [:]
    static let lock = NSLock()

    static func compile(_ pattern: String, for callee: String) throws -> NSRegularExpression {
        lock.lock()
        defer { lock.unlock() }
        if let re = cache[pattern] { return re }
        do {
            let re = try NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
            cache[pattern] = re
            return re
        } catch {
            throw RuntimeError("\(callee): invalid regular expression \(Escaping.literal(pattern)): check brackets and escapes (write \\\\s for \\s inside a string)")
        }
    }

    /// `s ~ pattern`: true when the pattern matches anywhere in s.
    static func test(_ s: String, _ pattern: String) throws -> Bool {
        let re = try compile(pattern, for: "~")
        return try !matches(re, in: s, first: true, callee: "~").isEmpty
    }

    /// The first match as `{text, groups, start}` (groups: list of strings or
    /// nil for a group that did not take part), or nil. `full` anchors the
    /// match to the whole string (Python's fullmatch).
    static func match(_ s: String, _ pattern: String, full: Bool, callee: String) throws -> Value {
        let re = try compile(full ? "^(?:\(pattern))$" : pattern, for: callee)
        let whole = NSRange(s.startIndex..., in: s)
        guard let m = try matches(re, in: s, options: full ? [.anchored] : [], first: true, callee: callee).first,
              let r = Range(m.range, in: s) else { return .null }
        // `$` in ICU also matches before a final newline: fullmatch must cover it all.
        if full && m.range.length != whole.length { return .null }
        var groups: [Value] = []
        if m.numberOfRanges > 1 {
            for g in 1..<m.numberOfRanges {
                if let gr = Range(m.range(at: g), in: s) { groups.append(.string(String(s[gr]))) } else { groups.append(.null) }
            }
        }
        let start = s.distance(from: s.startIndex, to: r.lowerBound)
        return .record(Record([("text", .string(String(s[r]))), ("groups", .list(groups)), ("start", .number(Double(start)))]))
    }
}
