// The one JSON reader of the project (RFC 8259): the language's read_json
// and the metrics recordings `replay --check` compares read through it, and
// its `JSONNode` is also the any-JSON value that trainer.json's stored configs
// pass through Codable. (JSONLiteral is its writing half.) A document becomes a `JSONNode` that
// keeps object keys in file order and numbers as the text they were written
// in, so a caller can compare numbers bit for bit or show them as written.
// Input is bounded: at most `maxBytes` of text and `maxDepth` levels of
// arrays and objects (the parser recurses once per level). Errors give the
// line and column (counted in Unicode scalars from 1) of the offending
// character; they may quote the text as it is, so whoever shows them escapes
// them for their reader (the terminal, a page).

import Foundation

/// A parsed JSON value. Numbers keep their literal text; objects keep key order.
public indirect enum JSONNode: Equatable, Sendable {
    case number(String)
    case string(String)
    case bool(Bool)
    case null
    case array([JSONNode])
    case object([(key: String, value: JSONNode)])

    public static func == (a: JSONNode, b: JSONNode) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value as JSON text, numbers as written (strings escaped by JSONLiteral).
    public var literal: String {
        switch self {
        case .number(let text): return text
        case .string(let text): return JSONLiteral.string(text)
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.literal).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.map { JSONLiteral.string($0.key) + ":" + $0.value.literal }.joined(separator: ",") + "}"
        }
    }

    /// The first field named `key` of an object; nil otherwise.
    public subscript(key: String) -> JSONNode? {
        if case .object(let fields) = self { return fields.first { $0.key == key }?.value }
        return nil
    }

    /// The number's value (Swift's parser rounds correctly); nil for other kinds.
    public var double: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }
}

/// Through Codable (trainer.json's stored configs, read over their defaults): any
/// JSON value, read and written again without loss. Whole numbers stay whole
/// (Int64, then UInt64), others are Doubles in their shortest round-trip text,
/// and the encoder's and decoder's strategies decide about NaN and infinities.
extension JSONNode: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .number(String(i)) }
        else if let u = try? c.decode(UInt64.self) { self = .number(String(u)) }
        else if let d = try? c.decode(Double.self) { self = .number("\(d)") }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONNode].self) { self = .array(a) }
        else {
            // Codable objects are dictionaries: key order is not kept on this path.
            let o = try c.decode([String: JSONNode].self)
            self = .object(o.keys.sorted().map { (key: $0, value: o[$0]!) })
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .bool(let b): try c.encode(b)
        case .number(let text):
            if let i = Int64(text) { try c.encode(i) }
            else if let u = UInt64(text) { try c.encode(u) }
            else { try c.encode(Double(text) ?? .nan) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(Dictionary(o.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }))
        case .null: try c.encodeNil()
        }
    }
}

/// Malformed or oversized JSON: where (line and column from 1, nil when the
/// error is about the whole text) and what is wrong.
public struct JSONReadError: Error, Equatable, CustomStringConvertible, Sendable {
    public var line: Int?
    public var column: Int?
    public var reason: String
    /// "line:column: reason", or the reason alone.
    public var description: String {
        guard let line, let column else { return reason }
        return "\(line):\(column): \(reason)"
    }
}

public enum JSONReader {
    /// Default bound on nesting: arrays and objects inside each other.
    public static let defaultMaxDepth = 1000
    /// Default bound on the text: 512 MiB.
    public static let defaultMaxBytes = 512 << 20

    /// Parses one JSON document; only blanks may follow it.
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth,
                             maxBytes: Int = defaultMaxBytes) throws -> JSONNode {
        let bytes = text.utf8.count
        guard bytes <= maxBytes else {
            throw JSONReadError(line: nil, column: nil,
                                reason: "the text has \(bytes) bytes, over the limit of \(maxBytes) bytes")
        }
        var p = Parser(chars: Array(text.unicodeScalars), maxDepth: maxDepth)
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        if p.i < p.chars.count { throw p.fail("unexpected text after the JSON value") }
        return v
    }

    private struct Parser {
        let chars: [Unicode.Scalar]
        let maxDepth: Int
        var i = 0
        /// Arrays and objects open around the current position.
        var depth = 0

        init(chars: [Unicode.Scalar], maxDepth: Int) {
            self.chars = chars
            self.maxDepth = maxDepth
        }

        func fail(_ msg: String) -> JSONReadError {
            var line = 1, col = 1
            for c in chars[0..<min(i, chars.count)] {
                if c == "\n" { line += 1; col = 1 } else { col += 1 }
            }
            return JSONReadError(line: line, column: col, reason: msg)
        }

        mutating func skipSpace() {
            while i < chars.count, [" ", "\n", "\t", "\r"].contains(chars[i]) { i += 1 }
        }

        /// Enter an array or object, within the nesting bound.
        mutating func open() throws {
            guard depth < maxDepth else {
                throw fail("arrays and objects nested deeper than \(maxDepth) levels")
            }
            depth += 1
            i += 1
        }

        mutating func value() throws -> JSONNode {
            guard i < chars.count else { throw fail("unexpected end of input") }
            switch chars[i] {
            case "{":
                try open()
                defer { depth -= 1 }
                var fields: [(key: String, value: JSONNode)] = []
                skipSpace()
                if i < chars.count, chars[i] == "}" { i += 1; return .object(fields) }
                while true {
                    skipSpace()
                    guard i < chars.count, chars[i] == "\"" else { throw fail("expected a string key") }
                    let k = try string()
                    skipSpace()
                    guard i < chars.count, chars[i] == ":" else { throw fail("expected ':' after key \"\(k)\"") }
                    i += 1
                    skipSpace()
                    fields.append((k, try value()))
                    skipSpace()
                    guard i < chars.count else { throw fail("unexpected end of input in an object") }
                    if chars[i] == "," { i += 1; continue }
                    if chars[i] == "}" { i += 1; return .object(fields) }
                    throw fail("expected ',' or '}' in an object")
                }
            case "[":
                try open()
                defer { depth -= 1 }
                var xs: [JSONNode] = []
                skipSpace()
                if i < chars.count, chars[i] == "]" { i += 1; return .array(xs) }
                while true {
                    skipSpace()
                    xs.append(try value())
                    skipSpace()
                    guard i < chars.count else { throw fail("unexpected end of input in an array") }
                    if chars[i] == "," { i += 1; continue }
                    if chars[i] == "]" { i += 1; return .array(xs) }
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
                guard !text.isEmpty, Double(text) != nil else {
                    i = start
                    throw fail("unexpected character '\(chars[start])'")
                }
                return .number(text)
            }
        }

        mutating func word(_ w: String) throws {
            for c in w.unicodeScalars {
                guard i < chars.count, chars[i] == c else { throw fail("expected '\(w)'") }
                i += 1
            }
        }

        /// Four hex digits at `at`, if they are there.
        func hex4(at: Int) -> UInt32? {
            guard at + 4 <= chars.count else { return nil }
            let digits = chars[at..<at + 4]
            guard digits.allSatisfy({ $0.properties.isASCIIHexDigit }) else { return nil }
            return UInt32(String(String.UnicodeScalarView(digits)), radix: 16)
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
                        guard let code = hex4(at: i) else { throw fail("bad \\u escape") }
                        i += 4
                        var scalar = code
                        // A surrogate pair: \uD83D\uDE00 is one scalar (U+1F600).
                        if (0xD800..<0xDC00).contains(code), i + 6 <= chars.count, chars[i] == "\\", chars[i + 1] == "u",
                           let low = hex4(at: i + 2), (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        }
                        // A lone surrogate is no character: the replacement character stands for it.
                        out.append(Unicode.Scalar(scalar) ?? "\u{FFFD}")
                    default: out.append(e)  // \" \\ \/
                    }
                } else {
                    out.append(c)
                }
            }
            throw fail("unterminated string")
        }
    }
}
