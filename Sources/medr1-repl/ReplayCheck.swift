// `replay`: proves a run reproduces. Two metrics recordings (JSON lines: a
// header naming script hash, seed, threads and version, then one object per
// trainer step) are compared value by value, bit for bit. Numbers are compared
// by the bit pattern of the Double their literal denotes (Swift's parser rounds
// correctly, and the writer prints shortest round-trip literals), so 0.1 and
// 0.10000000000000002 differ and -0 differs from 0; the literal text is what
// the divergence message shows. Our own small JSON reader keeps that text.
import Foundation
import MedR1Lib

/// A parsed JSON value that remembers the text of its numbers.
indirect enum RecordedValue: Equatable {
    case number(String)
    case string(String)
    case bool(Bool)
    case null
    case array([RecordedValue])
    case object([(key: String, value: RecordedValue)])

    static func == (a: RecordedValue, b: RecordedValue) -> Bool {
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

    /// The value as it would appear in JSON (numbers as recorded).
    var literal: String {
        switch self {
        case .number(let text): return text
        case .string(let text): return "\"\(text)\""
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.literal).joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { "\"\($0.key)\":\($0.value.literal)" }.joined(separator: ",") + "}"
        }
    }

    /// Field of an object, nil otherwise.
    subscript(key: String) -> RecordedValue? {
        if case .object(let fields) = self { return fields.first { $0.key == key }?.value }
        return nil
    }

    /// Leaves of the value as (path, leaf): `{"a":{"b":1},"c":[2]}` -> ("a.b", 1), ("c[0]", 2).
    func leaves(prefix: String = "") -> [(path: String, value: RecordedValue)] {
        switch self {
        case .object(let fields):
            return fields.flatMap { $0.value.leaves(prefix: prefix.isEmpty ? $0.key : prefix + "." + $0.key) }
        case .array(let items):
            return items.enumerated().flatMap { $0.element.leaves(prefix: "\(prefix)[\($0.offset)]") }
        default:
            return [(prefix, self)]
        }
    }

    /// Whether two leaves are the same bits: numbers by their Double bit pattern, the rest by text.
    func sameBits(as other: RecordedValue) -> Bool {
        if case .number(let x) = self, case .number(let y) = other,
           let dx = Double(x), let dy = Double(y) {
            return dx.bitPattern == dy.bitPattern
        }
        return self == other
    }
}

/// Why a recording could not be read: names the file, line and what is wrong.
struct RecordingError: Error, CustomStringConvertible {
    let description: String
}

/// A metrics recording: its header and one object per step.
struct Recording {
    /// The first line: script hash, seed, threads, version (nil when the file has no header).
    var header: RecordedValue?
    /// One object per trainer step, in file order.
    var steps: [RecordedValue]

    /// Header keys that identify a header line (a step line has `step`).
    static let headerKeys: Set<String> = ["script_hash", "script_sha256", "version", "header"]

    init(header: RecordedValue?, steps: [RecordedValue]) {
        self.header = header
        self.steps = steps
    }

    /// The largest recording read: about a million steps of metrics.
    static let maxBytes = 512 << 20

    /// Reads a JSONL recording; blank lines are skipped.
    init(contentsOf path: String) throws {
        let data: Data
        do {
            data = try FileInput.read(URL(fileURLWithPath: path), limit: Self.maxBytes, what: "a recording")
        } catch let e as FileInputError {
            throw RecordingError(description: "cannot read recording \(path): " + (e.missing ? "no such file" : e.message))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecordingError(description: "cannot read recording \(path): not UTF-8 text")
        }
        try self.init(text: text, name: path)
    }

    init(text: String, name: String) throws {
        var header: RecordedValue?
        var steps: [RecordedValue] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = String(line).trimmingBlanks()
            if trimmed.isEmpty { continue }
            let value: RecordedValue
            do {
                var reader = JSONLineReader(trimmed)
                value = try reader.readDocument()
            } catch let error as RecordingError {
                throw RecordingError(description: "\(name):\(index + 1): \(error.description)")
            }
            guard case .object(let fields) = value else {
                throw RecordingError(description: "\(name):\(index + 1): expected a JSON object per line, found \(trimmed.prefix(40))")
            }
            let keys = Set(fields.map(\.key))
            if header == nil && steps.isEmpty && keys.isDisjoint(with: ["step"]) && !keys.isDisjoint(with: Self.headerKeys) {
                header = value
            } else {
                steps.append(value)
            }
        }
        self.init(header: header, steps: steps)
    }
}

/// The result of comparing a fresh run with a recording.
enum ReplayVerdict: Equatable {
    /// Every compared value of every step agreed.
    case reproduced(steps: Int)
    /// The first value that differs, in step order then field order.
    case diverged(step: String, metric: String, recorded: String, replayed: String)
    /// One run has more steps than the other (all shared steps agreed).
    case stepCountDiffers(recorded: Int, replayed: Int)

    /// The line `replay` prints.
    var message: String {
        switch self {
        case .reproduced(let steps):
            return "reproduced \(steps) step\(steps == 1 ? "" : "s") exactly"
        case .diverged(let step, let metric, let recorded, let replayed):
            return "diverged at step \(step), metric \(metric): recorded \(recorded), replayed \(replayed)"
        case .stepCountDiffers(let recorded, let replayed):
            return "diverged in length: the recording has \(recorded) steps, the replay \(replayed) (all shared steps agree)"
        }
    }
}

enum ReplayComparison {
    /// Wall-clock measurements: never reproducible, so never compared.
    static let timingKeys: Set<String> = [
        "time", "seconds", "elapsed", "elapsed_s", "wall", "wall_s", "step_time", "step_seconds",
        "duration", "duration_s", "tokens_per_second", "tokens_per_s", "rate", "timestamp", "date",
    ]

    /// Compares step by step; `ignoring` adds keys to skip (top-level names or full paths).
    static func compare(recorded: Recording, replayed: Recording, ignoring extra: Set<String> = []) -> ReplayVerdict {
        // "run" labels a step's trainer; recordings made before it existed lack it.
        let ignored = timingKeys.union(extra).union(["run"])
        for (index, (old, new)) in zip(recorded.steps, replayed.steps).enumerated() {
            var stepName = old["step"]?.literal ?? String(index + 1)
            if case .string(let mode)? = old["mode"] { stepName += " (\(mode))" }
            let oldLeaves = old.leaves().filter { !isIgnored($0.path, ignored) }
            let newLeaves = Dictionary(new.leaves().filter { !isIgnored($0.path, ignored) }.map { ($0.path, $0.value) },
                                       uniquingKeysWith: { first, _ in first })
            for (path, value) in oldLeaves {
                guard let other = newLeaves[path] else {
                    return .diverged(step: stepName, metric: path, recorded: value.literal, replayed: "(missing)")
                }
                if !value.sameBits(as: other) {
                    return .diverged(step: stepName, metric: path, recorded: value.literal, replayed: other.literal)
                }
            }
            let oldPaths = Set(oldLeaves.map(\.path))
            if let extraPath = new.leaves().map(\.path).first(where: { !oldPaths.contains($0) && !isIgnored($0, ignored) }) {
                return .diverged(step: stepName, metric: extraPath, recorded: "(missing)",
                                 replayed: newLeaves[extraPath]?.literal ?? "?")
            }
        }
        if recorded.steps.count != replayed.steps.count {
            return .stepCountDiffers(recorded: recorded.steps.count, replayed: replayed.steps.count)
        }
        return .reproduced(steps: recorded.steps.count)
    }

    private static func isIgnored(_ path: String, _ ignored: Set<String>) -> Bool {
        if ignored.contains(path) { return true }
        let top = path.prefix(while: { $0 != "." && $0 != "[" })
        return ignored.contains(String(top))
    }
}

// MARK: - A JSON reader that keeps number literals

/// Reads one JSON document from a line (RFC 8259), keeping numbers as their text.
struct JSONLineReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    mutating func readDocument() throws -> RecordedValue {
        let value = try readValue()
        skipBlanks()
        guard position == bytes.count else { throw error("unexpected text after the JSON value") }
        return value
    }

    private func error(_ what: String) -> RecordingError {
        RecordingError(description: "column \(position + 1): \(what)")
    }

    private mutating func skipBlanks() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func readValue() throws -> RecordedValue {
        skipBlanks()
        guard position < bytes.count else { throw error("unexpected end of line, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        default: return try readNumber()
        }
    }

    private mutating func expectWord(_ word: String) throws {
        let w = Array(word.utf8)
        guard position + w.count <= bytes.count, Array(bytes[position..<position + w.count]) == w else {
            throw error("expected '\(word)'")
        }
        position += w.count
    }

    private mutating func readNumber() throws -> RecordedValue {
        let start = position
        let allowed = Set("+-0123456789.eE".utf8)
        while position < bytes.count, allowed.contains(bytes[position]) { position += 1 }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard !text.isEmpty, Double(text) != nil else {
            throw error("expected a value, found '\(String(decoding: bytes[start..<min(start + 10, bytes.count)], as: UTF8.self))'")
        }
        return .number(text)
    }

    private mutating func readString() throws -> String {
        position += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw = []
        }
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\"") { flush(); return String(scalars) }
            if byte != UInt8(ascii: "\\") { raw.append(byte); continue }
            guard position < bytes.count else { break }
            let escape = bytes[position]
            position += 1
            flush()
            switch escape {
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "u"):
                guard position + 4 <= bytes.count,
                      let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
                    throw error("bad \\u escape")
                }
                position += 4
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(escape))
            }
        }
        throw error("unterminated string")
    }

    private mutating func readArray() throws -> RecordedValue {
        position += 1
        var items: [RecordedValue] = []
        skipBlanks()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
        while true {
            items.append(try readValue())
            skipBlanks()
            guard position < bytes.count else { throw error("unterminated array") }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            guard bytes[position] == UInt8(ascii: ",") else { throw error("expected ',' or ']' in array") }
            position += 1
        }
    }

    private mutating func readObject() throws -> RecordedValue {
        position += 1
        var fields: [(key: String, value: RecordedValue)] = []
        skipBlanks()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(fields) }
        while true {
            skipBlanks()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a field name in quotes") }
            let key = try readString()
            skipBlanks()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':' after \"\(key)\"") }
            position += 1
            fields.append((key, try readValue()))
            skipBlanks()
            guard position < bytes.count else { throw error("unterminated object") }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(fields) }
            guard bytes[position] == UInt8(ascii: ",") else { throw error("expected ',' or '}' in object") }
            position += 1
        }
    }
}
