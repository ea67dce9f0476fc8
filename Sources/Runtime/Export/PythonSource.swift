// Python source text for values: string literals with every character that is
// not printable ASCII escaped (so text from data can neither end the literal
// nor reach the file as a control character), numbers that read back as the
// same Double, and identifiers checked against Python's rules.
import Foundation

enum PythonSource {
    /// A Python string literal holding `s` exactly: double quotes, printable ASCII as it
    /// is except `"` and `\`, everything else as `\n`, `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value >= 0x20 && u.value < 0x7F { out.unicodeScalars.append(u) }
                else if u.value < 0x100 { out += String(format: "\\x%02x", u.value) }
                else if u.value < 0x10000 { out += String(format: "\\u%04x", u.value) }
                else { out += String(format: "\\U%08x", u.value) }
            }
        }
        return out + "\""
    }

    /// A Python float literal that reads back as the same Double (`math.inf`, `math.nan` for those).
    static func number(_ x: Double) -> String {
        if x.isNaN { return "math.nan" }
        if x.isInfinite { return x > 0 ? "math.inf" : "(-math.inf)" }
        if x == x.rounded() && abs(x) < 1e15 { return (x.sign == .minus && x == 0) ? "(-0.0)" : String(Int64(x)) + ".0" }
        return "\(x)"
    }

    /// Python's keywords: never used as generated names.
    static let keywords: Set<String> = ["False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
                                        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
                                        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
                                        "return", "try", "while", "with", "yield", "match", "case", "type", "_"]

    /// A Python identifier made from `name`: ASCII letters, digits and `_` kept, anything else `_`.
    static func identifier(_ name: String) -> String {
        var out = String(name.unicodeScalars.map { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) ? Character($0) : "_" })
        if out.isEmpty || out.first!.isNumber { out = "r_" + out }
        if keywords.contains(out) { out += "_" }
        return out
    }
}
