// JSON <-> Value, keeping the order of object keys (Foundation's
// JSONSerialization does not), for read_json/write_json and metrics lines.
// Reading goes through MedR1Lib's JSONReader, writing through JSONLiteral.

import Foundation
import MedR1Lib

enum JSONValue {
    /// Parse JSON text into a Value (through MedR1Lib's JSONReader): objects
    /// become records (key order kept), arrays lists, numbers Doubles. Errors
    /// name the line and column; nesting stops at the language's limit.
    static func parse(_ text: String, source: String) throws -> Value {
        do {
            return value(try JSONReader.parse(text, maxDepth: Value.maxNesting))
        } catch let e as JSONReadError {
            if let line = e.line, let column = e.column {
                throw RuntimeError("\(source):\(line):\(column): invalid JSON: \(e.reason)")
            }
            throw RuntimeError("\(source): invalid JSON: \(e.reason)")
        }
    }

    /// A parsed node as a Value (within the nesting the reader allowed).
    private static func value(_ node: JSONNode) -> Value {
        switch node {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let text): return .number(Double(text)!)  // the reader checked it parses
        case .string(let s): return .string(s)
        case .array(let xs): return .list(xs.map(value))
        case .object(let fields):
            var r = Record()
            for (k, v) in fields { r[k] = value(v) }
            return .record(r)
        }
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
}
