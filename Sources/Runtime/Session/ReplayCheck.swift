// `replay`: proves a run reproduces. Two metrics recordings (JSON lines: a
// header naming script hash, seed, threads and version, then one object per
// trainer step) are compared value by value, bit for bit. Numbers are compared
// by the bit pattern of the Double their literal denotes (Swift's parser rounds
// correctly, and the writer prints shortest round-trip literals), so 0.1 and
// 0.10000000000000002 differ and -0 differs from 0; the literal text is what
// the divergence message shows. MedR1Lib's JSONReader keeps that text.
// A session capability: medr1-repl's `replay` command runs the script and
// calls `ReplayComparison.compare`; tests and other front ends can too.
import Foundation
import MedR1Lib

/// A recorded value: JSON whose numbers keep their text.
public typealias RecordedValue = JSONNode

extension JSONNode {
    /// Leaves of the value as (path, leaf): `{"a":{"b":1},"c":[2]}` -> ("a.b", 1), ("c[0]", 2).
    public func leaves(prefix: String = "") -> [(path: String, value: RecordedValue)] {
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
    public func sameBits(as other: RecordedValue) -> Bool {
        if case .number(let x) = self, case .number(let y) = other,
           let dx = Double(x), let dy = Double(y) {
            return dx.bitPattern == dy.bitPattern
        }
        return self == other
    }
}

/// Why a recording could not be read: names the file, line and what is wrong.
public struct RecordingError: Error, CustomStringConvertible {
    public let description: String
}

/// A metrics recording: its header and one object per step.
public struct Recording {
    /// The first line: script hash, seed, threads, version (nil when the file has no header).
    public var header: RecordedValue?
    /// One object per trainer step, in file order.
    public var steps: [RecordedValue]

    /// Header keys that identify a header line (a step line has `step`).
    static let headerKeys: Set<String> = ["script_hash", "script_sha256", "version", "header"]

    public init(header: RecordedValue?, steps: [RecordedValue]) {
        self.header = header
        self.steps = steps
    }

    /// What JSON counts as blank around a value.
    static let jsonBlanks = CharacterSet(charactersIn: " \t\n\r")

    /// The largest recording read: about a million steps of metrics.
    public static let maxBytes = 512 << 20

    /// Reads a JSONL recording; blank lines are skipped.
    public init(contentsOf path: String) throws {
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

    public init(text: String, name: String) throws {
        var header: RecordedValue?
        var steps: [RecordedValue] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: Self.jsonBlanks)
            if trimmed.isEmpty { continue }
            let value: RecordedValue
            do {
                value = try JSONReader.parse(trimmed, maxBytes: Self.maxBytes)
            } catch let error as JSONReadError {
                let column = error.column.map { "column \($0): " } ?? ""
                throw RecordingError(description: "\(name):\(index + 1): \(column)\(error.reason)")
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
public enum ReplayVerdict: Equatable {
    /// Every compared value of every step agreed.
    case reproduced(steps: Int)
    /// The first value that differs, in step order then field order.
    case diverged(step: String, metric: String, recorded: String, replayed: String)
    /// One run has more steps than the other (all shared steps agreed).
    case stepCountDiffers(recorded: Int, replayed: Int)

    /// The line `replay` prints.
    public var message: String {
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

public enum ReplayComparison {
    /// Wall-clock measurements: never reproducible, so never compared.
    public static let timingKeys: Set<String> = [
        "time", "seconds", "elapsed", "elapsed_s", "wall", "wall_s", "step_time", "step_seconds",
        "duration", "duration_s", "tokens_per_second", "tokens_per_s", "rate", "timestamp", "date",
    ]

    /// Compares step by step; `ignoring` adds keys to skip (top-level names or full paths).
    public static func compare(recorded: Recording, replayed: Recording, ignoring extra: Set<String> = []) -> ReplayVerdict {
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
