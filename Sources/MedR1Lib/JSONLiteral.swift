// The one JSON string writer of the project: safetensors headers, tokenizer
// files, SynthMed's OmniMedVQA records, metrics lines and the language's
// write_json all quote strings through it.

import Foundation

public enum JSONLiteral {
    /// A JSON string literal of `s` with the escapes RFC 8259 requires
    /// (quote, backslash, control characters); everything else as UTF-8.
    public static func string(_ s: String) -> String {
        "\"" + escaped(s, json: true) + "\""
    }

    /// `s` with control characters (C0, DEL, C1) written as JSON-style escapes
    /// (`\n`, `\t`, `\u001b`, ...) and everything else unchanged: for error
    /// messages that quote text read from a file, so the text cannot drive the terminal.
    public static func escapingControls(_ s: String) -> String {
        s.unicodeScalars.contains(where: isControl) ? escaped(s, json: false) : s
    }

    /// JSON escapes of `s`: with `json`, quote, backslash and C0 (a string literal's
    /// body); without, C0, DEL and C1 only.
    private static func escaped(_ s: String, json: Bool) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"" where json: out += "\\\""
            case "\\" where json: out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where json ? u.value < 0x20 : isControl(u): out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    private static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (0x7F...0x9F).contains(u.value)
    }

    /// A JSON number that reads back as the very same Double (bit for bit):
    /// integers up to 2^53 as integers, -0 as -0.0, the rest in Swift's
    /// shortest round-trip form; NaN and infinities (no JSON numbers) as null.
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == 0 { return v.sign == .minus ? "-0.0" : "0" }
        if v == v.rounded(), abs(v) <= 9_007_199_254_740_992 { return String(Int64(v)) }
        return "\(v)"
    }
}
