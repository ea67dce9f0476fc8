// Regular expressions from medr1's dialect (ICU, `.` matching newlines) to
// Python's `re` (with re.DOTALL), translated so that both match the same text
// the same way, or refused with the construct and its place.
//
// Where the two differ and how each difference is handled:
//   \s \d \w (and \S \D \W)  classes differ (ICU: White_Space, Nd, its word set;
//                            Python: str.isspace, its own word set): written out as
//                            the code-point ranges ICU itself matches on this machine.
//   $ and \Z                 ICU also matches before a final \r\n, \v, \f, \r, NEL, LS
//                            or PS; Python only before \n: written as a lookahead.
//   \z                       Python's \Z.
//   (?<name>...), \k<name>   Python's (?P<name>...), (?P=name).
//   \x{...} \uhhhh \e \a     Python's \U........ escapes.
//   \Q...\E                  each character escaped.
//   refused: \b \B (ICU skips combining marks at word boundaries), \p{...} \P{...}
//   \N{...} \h \H \v \V \R \X \G \c \0 (no Python equivalent), inline flags
//   (?i) etc. (case folding differs), atomic groups and possessive quantifiers
//   (not in every Python), nested classes and class set operations, POSIX classes,
//   variable-length lookbehind (Python needs a fixed width).
import Foundation
import MedR1Lib

/// A regex construct that cannot be translated exactly; `message` says which and what to write instead.
struct RegexRefusal: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

enum PythonRegex {
    /// ICU's `$` as Python: end of text, or before one line terminator that ends it.
    static let icuDollar = #"(?=(?:\r\n|[\n\x0b\x0c\r\x85\u2028\u2029])?\Z)"#

    /// The Python `re` pattern (for re.DOTALL) that matches exactly what ICU matches with `pattern`.
    static func translate(_ pattern: String) throws -> String {
        var p = Parser(scalars: Array(pattern.unicodeScalars), pattern: pattern)
        return try p.sequence(topLevel: true)
    }

    // MARK: - Classes as ICU has them

    nonisolated(unsafe) private static var classCache: [Character: [ClosedRange<UInt32>]] = [:]
    private static let classLock = NSLock()

    /// The code points ICU's `\d`, `\s` or `\w` matches, as ranges (computed once by running ICU).
    static func icuClass(_ letter: Character) -> [ClosedRange<UInt32>] {
        classLock.lock()
        defer { classLock.unlock() }
        if let r = classCache[letter] { return r }
        // Every scalar once, in order; a match's UTF-16 offset gives back its scalar.
        var all = String.UnicodeScalarView()
        for v in UInt32(0)...0x10FFFF where !(0xD800...0xDFFF).contains(v) { all.append(Unicode.Scalar(v)!) }
        let text = String(all)
        let re = try! NSRegularExpression(pattern: "\\" + String(letter), options: [])
        var ranges: [ClosedRange<UInt32>] = []
        re.enumerateMatches(in: text, options: [], range: NSRange(location: 0, length: (text as NSString).length)) { m, _, _ in
            guard let m else { return }
            let o = UInt32(m.range.location)
            let v: UInt32 = o < 0xD800 ? o : (o < 0xF800 ? o + 0x800 : 0x10000 + (o - 0xF800) / 2)
            if let last = ranges.last, last.upperBound + 1 == v || (last.upperBound == 0xD7FF && v == 0xE000) {
                ranges[ranges.count - 1] = last.lowerBound...v
            } else {
                ranges.append(v...v)
            }
        }
        classCache[letter] = ranges
        return ranges
    }

    /// The complement of `ranges` among all code points.
    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in ranges {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound + 1
        }
        if next <= 0x10FFFF { out.append(next...0x10FFFF) }
        return out
    }

    /// A code point as a Python regex escape (`\U0000003c`): safe inside and outside a class.
    static func escape(_ v: UInt32) -> String {
        String(format: "\\U%08x", v)
    }

    /// A code point outside a class: letters, digits and `_` as they are, the rest escaped.
    static func literal(_ s: Unicode.Scalar) -> String {
        if s.isASCII, s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "_" { return String(s) }
        if s.isASCII, s.value >= 0x21, s.value < 0x7F { return "\\" + String(s) }
        return escape(s.value)
    }

    static func rangesText(_ ranges: [ClosedRange<UInt32>]) -> String {
        ranges.map { $0.lowerBound == $0.upperBound ? escape($0.lowerBound) : escape($0.lowerBound) + "-" + escape($0.upperBound) }.joined()
    }

    // MARK: - Parser

    private struct Parser {
        let scalars: [Unicode.Scalar]
        let pattern: String
        var i = 0
        /// Depth of lookbehinds being read (quantifiers and alternation are refused inside one).
        var lookbehind = 0

        init(scalars: [Unicode.Scalar], pattern: String) { self.scalars = scalars; self.pattern = pattern }

        func refuse(_ what: String, at k: Int, _ hint: String) -> RegexRefusal {
            RegexRefusal(message: "the regular expression \(JSONLiteral.string(pattern)) uses \(what) at character \(k + 1), "
                         + "which Python's re does not match the way medr1 (ICU) does; \(hint)")
        }

        var atEnd: Bool { i >= scalars.count }
        func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < scalars.count ? scalars[i + k] : nil }

        /// Alternatives up to `)` (or the end at top level).
        mutating func sequence(topLevel: Bool) throws -> String {
            var out = ""
            while let c = peek() {
                if c == ")" {
                    if topLevel { out += "\\)"; i += 1; continue }
                    return out
                }
                if c == "|" {
                    if lookbehind > 0 { throw refuse("'|' inside a lookbehind", at: i, "Python needs a fixed width there; write separate lookbehinds") }
                    out += "|"; i += 1; continue
                }
                let start = i
                let atom = try self.atom()
                out += atom
                try quantifier(&out, atomStart: start)
            }
            return out
        }

        mutating func quantifier(_ out: inout String, atomStart: Int) throws {
            guard let q = peek() else { return }
            var text: String
            switch q {
            case "*", "+", "?":
                text = String(q); i += 1
            case "{":
                var k = i + 1, body = ""
                while k < scalars.count, scalars[k] != "}" { body.unicodeScalars.append(scalars[k]); k += 1 }
                guard k < scalars.count, body.range(of: #"^[0-9]+(,[0-9]*)?$"#, options: .regularExpression) != nil else {
                    throw refuse("'{' that does not start a repetition {n,m}", at: i, "write \\{ for a literal brace")
                }
                text = "{" + body + "}"
                i = k + 1
                if lookbehind > 0 && body.contains(",") {
                    throw refuse("a repetition of varying count inside a lookbehind", at: atomStart, "Python needs a fixed width there")
                }
            default:
                return
            }
            if lookbehind > 0 && text != "{" && !text.hasPrefix("{") {
                throw refuse("a repetition '\(text)' inside a lookbehind", at: atomStart, "Python needs a fixed width there")
            }
            if peek() == "?" { text += "?"; i += 1 } else if peek() == "+" {
                throw refuse("a possessive repetition '\(text)+'", at: i, "drop the '+' after the repetition")
            }
            out += text
        }

        mutating func atom() throws -> String {
            let c = scalars[i]
            switch c {
            case "\\": return try escapeOutside()
            case "[": return try characterClass()
            case "(": return try group()
            case ".": i += 1; return "."
            case "^": i += 1; return "^"
            case "$": i += 1; return PythonRegex.icuDollar
            case "*", "+", "?":
                throw refuse("'\(c)' with nothing to repeat", at: i, "write \\\(c) for the character")
            default:
                i += 1
                return PythonRegex.literal(c)
            }
        }

        mutating func hex(_ count: Int) -> UInt32? {
            var v: UInt32 = 0
            for k in 0..<count {
                guard let s = peek(k), s.isASCII, let d = UInt32(String(s), radix: 16) else { return nil }
                v = v * 16 + d
            }
            i += count
            return v
        }

        /// `\x{...}`, `\xhh`, `\uhhhh`, `\Uhhhhhhhh` after the letter; nil when malformed.
        mutating func codePoint(_ letter: Unicode.Scalar) -> UInt32? {
            switch letter {
            case "x":
                if peek() == "{" {
                    var k = i + 1, v: UInt32 = 0, n = 0
                    while k < scalars.count, let d = UInt32(String(scalars[k]), radix: 16), n < 8 { v = v * 16 + d; k += 1; n += 1 }
                    guard n > 0, k < scalars.count, scalars[k] == "}" else { return nil }
                    i = k + 1
                    return v
                }
                return hex(2)
            case "u": return hex(4)
            default: return hex(8)
            }
        }

        /// One escape as a list of code-point ranges when it is a character or a class (for use in a class).
        mutating func escapeSet(inClass: Bool) throws -> (ranges: [ClosedRange<UInt32>], outside: String)? {
            let at = i
            i += 1
            guard let e = peek() else { throw refuse("a trailing backslash", at: at, "write \\\\ for a backslash") }
            i += 1
            switch e {
            case "d", "s", "w":
                let r = PythonRegex.icuClass(Character(e))
                return (r, "[" + PythonRegex.rangesText(r) + "]")
            case "D", "S", "W":
                let r = PythonRegex.complement(PythonRegex.icuClass(Character(String(e).lowercased())))
                return (r, "[" + PythonRegex.rangesText(r) + "]")
            case "n": return single(0x0A)
            case "t": return single(0x09)
            case "r": return single(0x0D)
            case "f": return single(0x0C)
            case "e": return single(0x1B)
            case "a": return single(0x07)
            case "x", "u", "U":
                guard let v = codePoint(e), v <= 0x10FFFF else { throw refuse("a malformed \\\(e) escape", at: at, "write \\x{hex}") }
                return single(v)
            case "b", "B":
                throw refuse("the word boundary \\\(e)", at: at,
                             "ICU skips combining marks at word boundaries and Python does not; use lookarounds such as (?<![A-Za-z0-9_]) and (?![A-Za-z0-9_])")
            case "p", "P":
                throw refuse("a Unicode property \\\(e){...}", at: at, "Python's re has no properties; list the characters in a class [...]")
            case "N", "h", "H", "v", "V", "R", "X", "G", "c", "0":
                throw refuse("the escape \\\(e)", at: at, "Python's re has no equivalent; write the characters out")
            default:
                if e.isASCII && (e.properties.isAlphabetic || ("0"..."9").contains(e)) {
                    if inClass { throw refuse("the escape \\\(e) inside a class", at: at, "write the character out") }
                    return nil
                }
                return single(e.value)
            }
        }

        func single(_ v: UInt32) -> (ranges: [ClosedRange<UInt32>], outside: String) {
            ([v...v], PythonRegex.escape(v))
        }

        mutating func escapeOutside() throws -> String {
            let at = i
            guard let e = peek(1) else { throw refuse("a trailing backslash", at: at, "write \\\\ for a backslash") }
            switch e {
            case "A": i += 2; return "\\A"
            case "z": i += 2; return "\\Z"
            case "Z": i += 2; return PythonRegex.icuDollar
            case "Q":
                i += 2
                var out = ""
                while !atEnd {
                    if peek() == "\\" && peek(1) == "E" { i += 2; break }
                    out += PythonRegex.literal(scalars[i]); i += 1
                }
                return out
            case "k":
                i += 2
                guard peek() == "<" else { throw refuse("\\k without <name>", at: at, "write \\k<name>") }
                var name = ""
                i += 1
                while let c = peek(), c != ">" { name.unicodeScalars.append(c); i += 1 }
                guard peek() == ">", isName(name) else { throw refuse("a malformed \\k<name>", at: at, "write \\k<name>") }
                i += 1
                return "(?P=\(name))"
            case "1"..."9":
                i += 2
                if let d = peek(), ("0"..."9").contains(d) {
                    throw refuse("a back reference with several digits", at: at, "use a named group and \\k<name>")
                }
                return "(?:\\" + String(e) + ")"
            default:
                guard let r = try escapeSet(inClass: false) else {
                    throw refuse("the escape \\\(e)", at: at, "escape only punctuation, or write the character out")
                }
                return r.outside
            }
        }

        func isName(_ s: String) -> Bool {
            guard let f = s.unicodeScalars.first, f.isASCII, f.properties.isAlphabetic else { return false }
            return s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
        }

        mutating func characterClass() throws -> String {
            let at = i
            i += 1
            var negated = false
            if peek() == "^" { negated = true; i += 1 }
            var ranges: [ClosedRange<UInt32>] = []
            var first = true
            while true {
                guard let c = peek() else { throw refuse("an unclosed '['", at: at, "close the class with ']'") }
                if c == "]" && !first { i += 1; break }
                if c == "]" { throw refuse("']' first in a class", at: i, "write \\] for the character") }
                if c == "[" { throw refuse("a class inside a class (a set operation or [:name:])", at: i, "list the characters in one class") }
                if (c == "&" && peek(1) == "&") || (c == "-" && peek(1) == "-") {
                    throw refuse("the class set operation '\(c)\(c)'", at: i, "list the characters in one class")
                }
                first = false
                let lo: [ClosedRange<UInt32>]
                if c == "\\" {
                    guard let r = try escapeSet(inClass: true) else { throw refuse("an escape inside a class", at: i, "write the character out") }
                    lo = r.ranges
                } else {
                    lo = [c.value...c.value]; i += 1
                }
                // A range a-b (a '-' before ']' is a literal).
                if lo.count == 1, lo[0].lowerBound == lo[0].upperBound, peek() == "-", let n = peek(1), n != "]" {
                    i += 1
                    let hiStart = i
                    let hi: UInt32
                    if n == "\\" {
                        guard let r = try escapeSet(inClass: true), r.ranges.count == 1, r.ranges[0].lowerBound == r.ranges[0].upperBound else {
                            throw refuse("a class as the end of a range", at: hiStart, "write the range's end as one character")
                        }
                        hi = r.ranges[0].lowerBound
                    } else {
                        hi = n.value; i += 1
                    }
                    guard hi >= lo[0].lowerBound else { throw refuse("a range whose end comes before its start", at: hiStart, "swap its ends") }
                    ranges.append(lo[0].lowerBound...hi)
                } else {
                    ranges += lo
                }
            }
            return "[" + (negated ? "^" : "") + PythonRegex.rangesText(ranges) + "]"
        }

        mutating func group() throws -> String {
            let at = i
            i += 1
            var open = "("
            var isLookbehind = false
            if peek() == "?" {
                let a = peek(1), b = peek(2)
                switch (a, b) {
                case (":"?, _), ("="?, _), ("!"?, _):
                    open = "(?" + String(a!); i += 2
                case ("<"?, "="?), ("<"?, "!"?):
                    open = "(?<" + String(b!); i += 3; isLookbehind = true
                case ("<"?, _):
                    i += 2
                    var name = ""
                    while let c = peek(), c != ">" { name.unicodeScalars.append(c); i += 1 }
                    guard peek() == ">", isName(name) else { throw refuse("a malformed group name", at: at, "write (?<name>...)") }
                    i += 1
                    open = "(?P<\(name)>"
                case ("#"?, _):
                    while let c = peek(), c != ")" { _ = c; i += 1 }
                    i += 1
                    return ""
                case (">"?, _):
                    throw refuse("an atomic group (?>...)", at: at, "write a plain group (...)")
                default:
                    throw refuse("inline flags (?...)", at: at, "case-insensitive matching folds case differently in Python; compare lower(text) instead")
                }
            }
            if isLookbehind { lookbehind += 1 }
            let body = try sequence(topLevel: false)
            if isLookbehind { lookbehind -= 1 }
            guard peek() == ")" else { throw refuse("an unclosed '('", at: at, "close the group with ')'") }
            i += 1
            return open + body + ")"
        }
    }
}
