// JSON <-> Value, keeping the order of object keys (Foundation's
// JSONSerialization does not), for read_json/write_json and metrics lines.

import Foundation
import MedR1Lib

enum JSONValue {
    /// Parse JSON text into a Value: objects become records (key order kept),
    /// arrays lists, numbers Doubles. Errors name the line and column.
    static func parse(_ text: String, source: String) throws -> Value {
        var p = Parser(chars: Array(text.unicodeScalars), source: source)
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        if p.i < p.chars.count { throw p.fail("unexpected text after the JSON value") }
        return v
    }

    /// Serialise a Value as JSON. Functions and host objects are errors, as is
    /// a non-finite number (JSON has none).
    static func serialize(_ v: Value, pretty: Bool = false, indent: String = "") throws -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let x):
            guard x.isFinite else { throw RuntimeError("cannot write \(formatNumber(x)) as JSON (JSON has no infinity or NaN)") }
            return formatNumber(x)
        case .string(let s): return JSONLiteral.string(s)
        case .range(let r):
            guard let xs = v.asList else {
                throw RuntimeError("cannot write the range \(v.repr) of \(formatNumber(r.count)) elements as JSON (over \(Value.maxListLength / 1_000_000) million)")
            }
            return try serialize(.list(xs), pretty: pretty, indent: indent)
        case .list(let xs):
            if xs.isEmpty { return "[]" }
            let inner = indent + "  "
            let parts = try xs.map { try serialize($0, pretty: pretty, indent: inner) }
            return pretty ? "[\n" + parts.map { inner + $0 }.joined(separator: ",\n") + "\n\(indent)]"
                          : "[" + parts.joined(separator: ",") + "]"
        case .record(let r):
            if r.count == 0 { return "{}" }
            let inner = indent + "  "
            let parts = try r.fields.map { JSONLiteral.string($0.name) + (pretty ? ": " : ":") + (try serialize($0.value, pretty: pretty, indent: inner)) }
            return pretty ? "{\n" + parts.map { inner + $0 }.joined(separator: ",\n") + "\n\(indent)}"
                          : "{" + parts.joined(separator: ",") + "}"
        case .function(let f): throw RuntimeError("cannot write function \(f.name) as JSON")
        case .host(let h as JSONForm): return try serialize(h.jsonValue, pretty: pretty, indent: indent)
        case .host(let h): throw RuntimeError("cannot write a \(h.typeName) as JSON; save it with save(...)")
        }
    }


    private struct Parser {
        let chars: [Unicode.Scalar]
        let source: String
        var i = 0
        /// Arrays and objects open around the current position.
        var depth = 0

        init(chars: [Unicode.Scalar], source: String) {
            self.chars = chars
            self.source = source
        }

        func fail(_ msg: String) -> RuntimeError {
            var line = 1, col = 1
            for c in chars[0..<min(i, chars.count)] {
                if c == "\n" { line += 1; col = 1 } else { col += 1 }
            }
            return RuntimeError("\(source):\(line):\(col): invalid JSON: \(msg)")
        }

        mutating func skipSpace() {
            while i < chars.count, [" ", "\n", "\t", "\r"].contains(chars[i]) { i += 1 }
        }

        /// Enter an array or object: the parser recurses per level, and the
        /// value it builds must stay within the language's nesting limit.
        mutating func open() throws {
            guard depth < Value.maxNesting else {
                throw fail("arrays and objects nested deeper than \(Value.maxNesting) levels")
            }
            depth += 1
            i += 1
        }

        mutating func value() throws -> Value {
            guard i < chars.count else { throw fail("unexpected end of input") }
            switch chars[i] {
            case "{":
                try open()
                defer { depth -= 1 }
                var r = Record()
                skipSpace()
                if i < chars.count, chars[i] == "}" { i += 1; return .record(r) }
                while true {
                    skipSpace()
                    guard i < chars.count, chars[i] == "\"" else { throw fail("expected a string key") }
                    let k = try string()
                    skipSpace()
                    guard i < chars.count, chars[i] == ":" else { throw fail("expected ':' after key \"\(k)\"") }
                    i += 1
                    skipSpace()
                    r[k] = try value()
                    skipSpace()
                    guard i < chars.count else { throw fail("unexpected end of input in an object") }
                    if chars[i] == "," { i += 1; continue }
                    if chars[i] == "}" { i += 1; return .record(r) }
                    throw fail("expected ',' or '}' in an object")
                }
            case "[":
                try open()
                defer { depth -= 1 }
                var xs: [Value] = []
                skipSpace()
                if i < chars.count, chars[i] == "]" { i += 1; return .list(xs) }
                while true {
                    skipSpace()
                    xs.append(try value())
                    skipSpace()
                    guard i < chars.count else { throw fail("unexpected end of input in an array") }
                    if chars[i] == "," { i += 1; continue }
                    if chars[i] == "]" { i += 1; return .list(xs) }
                    throw fail("expected ',' or ']' in an array")
                }
            case "\"": return .string(try string())
            case "t": try word("true"); return .bool(true)
            case "f": try word("false"); return .bool(false)
            case "n": try word("null"); return .null
            default:
                let start = i
                while i < chars.count, "+-0123456789.eE".unicodeScalars.contains(chars[i]) { i += 1 }
                let text = String(String.UnicodeScalarView(chars[start..<i]))
                guard !text.isEmpty, let x = Double(text) else { i = start; throw fail("unexpected character '\(chars[start])'") }
                return .number(x)
            }
        }

        mutating func word(_ w: String) throws {
            for c in w.unicodeScalars {
                guard i < chars.count, chars[i] == c else { throw fail("expected '\(w)'") }
                i += 1
            }
        }

        mutating func string() throws -> String {
            i += 1
            var out = String.UnicodeScalarView()
            while i < chars.count {
                let c = chars[i]
                i += 1
                if c == "\"" { return String(out) }
                if c == "\\" {
                    guard i < chars.count else { break }
                    let e = chars[i]
                    i += 1
                    switch e {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "b": out.append("\u{8}")
                    case "f": out.append("\u{c}")
                    case "u":
                        guard i + 4 <= chars.count, let code = UInt32(String(String.UnicodeScalarView(chars[i..<i + 4])), radix: 16) else {
                            throw fail("bad \\u escape")
                        }
                        i += 4
                        var scalar = code
                        // A surrogate pair: \uD83D\uDE00.
                        if (0xD800..<0xDC00).contains(code), i + 6 <= chars.count, chars[i] == "\\", chars[i + 1] == "u",
                           let low = UInt32(String(String.UnicodeScalarView(chars[i + 2..<i + 6])), radix: 16) {
                            scalar = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        }
                        out.append(Unicode.Scalar(scalar) ?? "?")
                    default: out.append(e)
                    }
                } else {
                    out.append(c)
                }
            }
            throw fail("unterminated string")
        }
    }
}
