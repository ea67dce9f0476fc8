// Per-step training metrics, named as TRL names them (loss, reward, reward_std,
// rewards/<name>/mean, frac_reward_zero_std, kl, completions/mean_length,
// clip_ratio/region_mean, entropy, grad_norm, learning_rate, ...), an in-memory
// history, and a JSON-lines file that a run appends to.
import Foundation

/// One step's metrics: an ordered list of (TRL name, value), plus the step number and mode.
/// Ordered so that printed tables and JSON lines keep a stable, readable column order.
public struct StepMetrics: Codable, Sendable, Equatable {
    /// Optimiser step number after this step (1 for the first step).
    public var step: Int
    /// "grpo" or "sft".
    public var mode: String
    public private(set) var names: [String] = []
    public private(set) var values: [Double] = []

    public init(step: Int, mode: String) {
        self.step = step
        self.mode = mode
    }

    /// Sets (or replaces) a metric, keeping first-set order.
    public mutating func set(_ name: String, _ value: Double) {
        if let i = names.firstIndex(of: name) { values[i] = value } else { names.append(name); values.append(value) }
    }

    public subscript(_ name: String) -> Double? {
        names.firstIndex(of: name).map { values[$0] }
    }

    // Common metrics by name (nil-free convenience; NaN when not recorded).
    public var loss: Double { self["loss"] ?? .nan }
    public var reward: Double { self["reward"] ?? .nan }
    public var rewardStd: Double { self["reward_std"] ?? .nan }
    public var kl: Double { self["kl"] ?? .nan }
    public var gradNorm: Double { self["grad_norm"] ?? .nan }
    public var learningRate: Double { self["learning_rate"] ?? .nan }
    public var seconds: Double { self["seconds"] ?? .nan }
    public var fracRewardZeroStd: Double { self["frac_reward_zero_std"] ?? .nan }
    public var meanLength: Double { self["completions/mean_length"] ?? .nan }

    /// The wall-clock metrics: medr1's "seconds" and TRL's "step_time", the same number.
    public static let timingNames: Set<String> = ["seconds", "step_time"]

    /// The same metrics without the wall-clock ones for determinism comparisons.
    public var withoutTiming: StepMetrics {
        var m = StepMetrics(step: step, mode: mode)
        for (n, v) in zip(names, values) where !StepMetrics.timingNames.contains(n) { m.set(n, v) }
        return m
    }

    /// TRL's progress counters: `num_tokens`, the tokens seen since the run began (`previous`'s
    /// count plus this step's `tokens`, as TRL's state.num_input_tokens_seen), and `epoch`,
    /// the samples drawn so far over the data set's size (as transformers' state.epoch).
    public mutating func setProgress(tokens: Int, previous: StepMetrics?, samplesDrawn: Int, datasetSize: Int) {
        set("num_tokens", (previous?["num_tokens"] ?? 0) + Double(tokens))
        set("epoch", Double(samplesDrawn) / Double(max(datasetSize, 1)))
    }

    /// The step's wall time since `t0`, as medr1's "seconds" and TRL's "step_time".
    public mutating func setTiming(since t0: Date) {
        let s = Date().timeIntervalSince(t0)
        set("seconds", s)
        set("step_time", s)
    }

    /// One JSON object on one line: {"step": 1, "mode": "grpo", "loss": ..., ...}; every
    /// number reads back bit for bit (replay compares them); NaN and infinities as null
    /// (JSON has no such numbers).
    public var jsonLine: String {
        var parts = ["\"step\": \(step)", "\"mode\": \(JSONLiteral.string(mode))"]
        for (n, v) in zip(names, values) {
            parts.append("\(JSONLiteral.string(n)): \(JSONLiteral.number(v))")
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    /// Parses a line written by `jsonLine` (null becomes NaN) with the project's
    /// JSON reader. Numbers are read from their text with `Double(_:)`, so they
    /// come back bit for bit (JSONSerialization can be off in the last bit).
    public init(jsonLine: String) throws {
        let node: JSONNode
        do { node = try JSONReader.parse(jsonLine) } catch let e as JSONReadError {
            throw RLError.badState("the metrics line is not valid JSON (\(e.column.map { "column \($0): " } ?? "")\(e.reason)): \(jsonLine.prefix(80))")
        }
        guard case .object(let fields) = node, case .number(let stepText)? = node["step"], let step = Int(stepText),
              case .string(let mode)? = node["mode"] else {
            throw RLError.badState("not a metrics line (a JSON object with \"step\" and \"mode\"): \(jsonLine.prefix(80))")
        }
        self.init(step: step, mode: mode)
        for (key, value) in fields where key != "step" && key != "mode" {
            switch value {
            case .null: set(key, .nan)
            case .number(let text): set(key, Double(text) ?? .nan)  // the reader checked it parses
            default: throw RLError.badState("the value of \"\(key)\" in a metrics line is not a number: \(value.literal.prefix(40))")
            }
        }
    }

    /// A short human line: step, then a few headline metrics.
    public var summary: String {
        let keys = mode == "sft" ? ["loss", "grad_norm", "learning_rate", "seconds"]
            : ["reward", "reward_std", "frac_reward_zero_std", "kl", "completions/mean_length", "loss", "seconds"]
        let shown = keys.compactMap { k in self[k].map { "\(k) \(String(format: "%.4g", $0))" } }
        return "\(mode) step \(step): " + shown.joined(separator: ", ")
    }
}


/// Shortest text that reads back as the same Double.

/// Metrics of a run, in order, optionally mirrored to a JSON-lines file.
public struct MetricsHistory: Sendable, Equatable {
    public private(set) var steps: [StepMetrics] = []
    /// When set, every appended step is also appended to this file (one JSON object per line).
    public var fileURL: URL?

    public init(fileURL: URL? = nil) { self.fileURL = fileURL }

    public mutating func append(_ m: StepMetrics) throws {
        steps.append(m)
        if let url = fileURL { try MetricsHistory.appendLine(m.jsonLine, to: url) }
    }

    /// Values of one metric over the run (NaN where a step lacks it).
    public func series(_ name: String) -> [Double] { steps.map { $0[name] ?? .nan } }

    public var count: Int { steps.count }
    public var last: StepMetrics? { steps.last }

    /// Appends one line to a file, creating it (and its directory) when missing.
    public static func appendLine(_ line: String, to url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FileIO.failure(url.path, "cannot open") }
            defer { close(fd) }
            try FileIO.writeAll(fd, Data((line + "\n").utf8), path: url.path)
        } catch {
            throw RLError.badState("cannot append metrics to \(url.path): \(FileIO.reason(error))")
        }
    }

    /// All steps of a JSON-lines file (blank lines skipped); errors name the line number.
    public static func read(_ url: URL) throws -> [StepMetrics] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var out: [StepMetrics] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            do { out.append(try StepMetrics(jsonLine: t)) } catch {
                throw RLError.badState("\(url.lastPathComponent):\(n + 1): \(error)")
            }
        }
        return out
    }

    /// Whole history as JSON lines (for trainer state files).
    public var jsonLines: String { steps.map(\.jsonLine).joined(separator: "\n") }

    /// Replaces the in-memory steps (resume); does not touch the file.
    public mutating func restore(_ steps: [StepMetrics]) { self.steps = steps }
}
