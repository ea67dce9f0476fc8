// Tab completion for the REPL: names in scope and builtins, fields and
// methods of the value before a `.`, keyword options inside a call (from the
// help table's signatures), and file paths inside a string.

import Foundation
import Lang

extension Session {
    /// The words the language reserves; completed like names.
    static let keywords = ["let", "fn", "if", "then", "else", "for", "in", "while", "break", "continue", "return", "true", "false", "nil", "and", "or", "not"]

    /// What to insert after a completed `candidate` when it is the only one.
    /// A space after a keyword, a keyword option (`by:`) and a meta-command,
    /// where what comes next is always separate; nothing after a name, a
    /// member or a path: after a function name a space would turn `f(2) * 3`
    /// into the command call `f (2) * 3`, which passes `(2) * 3`. Nothing
    /// either when text follows the cursor (`textAfter`).
    public static func completionSuffix(for candidate: String, textAfter: String = "") -> String {
        guard textAfter.isEmpty else { return "" }
        if keywords.contains(candidate) || candidate.hasSuffix(":") || candidate.hasPrefix(":") { return " " }
        return ""
    }

    /// Where the word that `completions` replaces starts (a character offset):
    /// after the opening quote inside a string, else the start of the name
    /// (with its dots) that ends at `cursor`.
    public func completionStart(line: String, cursor: Int) -> Int {
        let chars = Array(line)
        let end = min(max(cursor, 0), chars.count)
        let before = chars[0..<end]
        if before.filter({ $0 == "\"" }).count % 2 == 1, let q = before.lastIndex(of: "\"") { return q + 1 }
        var start = end
        while start > 0, chars[start - 1].isLetter || chars[start - 1].isNumber || chars[start - 1] == "_" || chars[start - 1] == "." {
            start -= 1
        }
        return start
    }

    /// Candidates replacing the word that ends at `cursor` (a character offset
    /// in `line`). A word may contain dots (`t.la` -> `t.last`); inside a
    /// string the word is the path typed so far.
    public func completions(line: String, cursor: Int) -> [String] {
        let chars = Array(line)
        let end = min(max(cursor, 0), chars.count)
        let before = String(chars[0..<end])

        // Inside a string literal (an odd number of unescaped quotes before the cursor): paths.
        if before.filter({ $0 == "\"" }).count % 2 == 1, let q = before.lastIndex(of: "\"") {
            return pathCompletions(String(before[before.index(after: q)...]))
        }

        let start = completionStart(line: line, cursor: cursor)
        let word = String(chars[start..<end])

        if let dot = word.lastIndex(of: ".") {
            let objectPath = String(word[..<dot]), partial = String(word[word.index(after: dot)...])
            guard let object = resolve(objectPath) else { return [] }
            // A key from data with a control character cannot follow a `.`; it is never listed.
            return memberNames(of: object).filter { $0.hasPrefix(partial) && !$0.unicodeScalars.contains(where: Escaping.isControl) }
                .map { objectPath + "." + $0 }
        }

        var candidates = interpreter.globals.allNames
        candidates += Self.keywords
        if let callee = enclosingCall(before: String(chars[0..<start])) {
            candidates = keywordOptions(of: callee).map { $0 + ":" } + candidates
        }
        var seen = Set<String>()
        return candidates.filter { $0.hasPrefix(word) && seen.insert($0).inserted }.sorted { a, b in
            // Keyword options first, then alphabetical.
            (a.hasSuffix(":") ? 0 : 1, a) < (b.hasSuffix(":") ? 0 : 1, b)
        }
    }

    /// `a.b.c` looked up without side effects beyond field reads.
    private func resolve(_ path: String) -> Value? {
        let parts = path.split(separator: ".").map(String.init)
        guard let first = parts.first, var v = interpreter.globals.lookup(first) else { return nil }
        for p in parts.dropFirst() {
            switch v {
            case .record(let r): guard let next = r[p] else { return nil }; v = next
            case .host(let h): guard let next = try? h.field(p) else { return nil }; v = next
            default: return nil
            }
        }
        return v
    }

    private func memberNames(of v: Value) -> [String] {
        switch v {
        case .record(let r): return r.keys
        case .host(let h): return h.fieldNames + h.methodNames
        case .string: return ["lower", "upper", "trim", "split", "contains", "starts_with", "ends_with", "replace", "find", "find_all", "match"]
        case .list: return ["length", "map", "filter", "reduce", "sum", "mean", "std", "sort", "take", "append", "reverse", "join"]
        default: return []
        }
    }

    /// The name of the innermost call whose parenthesis is still open, or the
    /// command at the start of the line (`sft m, data, st` -> "sft").
    private func enclosingCall(before text: String) -> String? {
        var depth = 0
        let chars = Array(text)
        var i = chars.count - 1
        while i >= 0 {
            let c = chars[i]
            if c == ")" || c == "]" || c == "}" { depth += 1 }
            if c == "(" || c == "[" || c == "{" {
                if depth == 0 {
                    guard c == "(" else { return nil }
                    var j = i
                    while j > 0, chars[j - 1].isLetter || chars[j - 1].isNumber || chars[j - 1] == "_" || chars[j - 1] == "." { j -= 1 }
                    let name = String(chars[j..<i])
                    return name.isEmpty ? nil : name
                }
                depth -= 1
            }
            i -= 1
        }
        // A command: `name arg, ...` at the start of the line.
        let trimmed = text.drop(while: { $0 == " " })
        if let sp = trimmed.firstIndex(of: " "), trimmed.contains(",") || trimmed[sp...].count > 1 {
            let name = String(trimmed[..<sp])
            if name.allSatisfy({ $0.isLetter || $0 == "_" }) { return name }
        }
        return nil
    }

    /// Keyword options from the help table's signature: `sort(xs, by: f, descending: false)` -> by, descending.
    func keywordOptions(of callee: String) -> [String] {
        let name = callee.split(separator: ".").last.map(String.init) ?? callee
        var sigs: [String] = []
        if let e = HelpTable.entry(callee) { sigs.append(e.signature) }
        if case .function(let f)? = interpreter.globals.lookup(callee) {
            if let c = f as? Closure { return c.parameterNames }
            sigs.append(f.signature)
        }
        if let v = resolve(callee), case .function(let f) = v { sigs.append(f.signature) }
        if sigs.isEmpty, let e = HelpTable.all.first(where: { $0.name.hasSuffix("." + name) }) { sigs.append(e.signature) }
        var out: [String] = []
        for sig in sigs {
            for m in sig.matches(of: #/([a-z_][a-z0-9_]*):/#) where !out.contains(String(m.1)) { out.append(String(m.1)) }
        }
        return out
    }

    private func pathCompletions(_ typed: String) -> [String] {
        let expanded = (typed as NSString).expandingTildeInPath
        let dirPart: String, filePart: String
        if let slash = expanded.lastIndex(of: "/") {
            dirPart = String(expanded[...slash])
            filePart = String(expanded[expanded.index(after: slash)...])
        } else {
            dirPart = ""
            filePart = expanded
        }
        let dirURL = dirPart.hasPrefix("/") ? URL(fileURLWithPath: dirPart)
            : options.baseDirectory.appendingPathComponent(dirPart)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dirURL.path) else { return [] }
        let typedDir = typed.lastIndex(of: "/").map { String(typed[...$0]) } ?? ""
        return names.filter { $0.hasPrefix(filePart) && ($0.first != "." || filePart.hasPrefix(".")) }.sorted().map { n in
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: dirURL.appendingPathComponent(n).path, isDirectory: &isDir)
            // Inside a string literal: a quote, backslash or control character in the name is escaped.
            return typedDir + String(Printer.quote(n).dropFirst().dropLast()) + (isDir.boolValue ? "/" : "")
        }
    }
}
