// A one-line progress bar on stderr for long work (training steps, data
// generation, evaluation): step k/n, rate, ETA and a caller-supplied status
// such as the current reward. Shown only when stderr is a terminal, so
// scripts, pipes and notebooks stay clean.

import Foundation

public final class ProgressBar {
    public let total: Int
    public let label: String
    /// False when stderr is not a terminal (nothing is written).
    public let enabled: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var drewSomething = false

    public init(total: Int, label: String, enabled: Bool? = nil) {
        self.total = total
        self.label = label
        self.enabled = enabled ?? (isatty(STDERR_FILENO) == 1)
    }

    /// The bar text for `done` of `total` after `elapsed` seconds (no escapes).
    public static func line(label: String, done: Int, total: Int, elapsed: Double, status: String, width: Int = 20) -> String {
        let frac = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let filled = Int((frac * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var s = "\(label) \(done)/\(total) [\(bar)]"
        if done > 0 {
            s += rate >= 1 ? String(format: " %.1f/s", rate) : String(format: " %.2fs each", elapsed / Double(done))
            let eta = rate > 0 ? Double(total - done) / rate : 0
            s += " ETA " + duration(eta)
        }
        if !status.isEmpty { s += "  " + status }
        return s
    }

    /// `m:ss`, or `h:mm:ss` from an hour.
    public static func duration(_ seconds: Double) -> String {
        let t = Int(seconds.rounded())
        let h = t / 3600, m = (t % 3600) / 60, s = t % 60
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }

    /// Redraw (at most 10 times a second, always for the last step).
    public func update(done: Int, status: String = "") {
        guard enabled else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        drewSomething = true
        let cols = Plotter.terminalSize().columns
        var text = ProgressBar.line(label: label, done: done, total: total, elapsed: now.timeIntervalSince(start), status: status)
        if text.count > cols - 1 { text = String(text.prefix(max(10, cols - 1))) }
        writeStderr("\r\u{1B}[2K" + text)
    }

    /// Clear the bar's line so the next output starts clean.
    public func finish() {
        guard enabled, drewSomething else { return }
        writeStderr("\r\u{1B}[2K")
    }
}

/// A sink that shows progress itself, as one display updated in place (the
/// Jupyter kernel). Loops ask the session's sink for it; other sinks show none.
public protocol ProgressSink: AnyObject {
    /// A loop of `total` steps begins; `label` names it ("grpo step", "eval").
    func beginProgress(label: String, total: Int) -> ProgressDisplay
}

/// One loop's display: `update` after each step with its status parts
/// (such as "reward 0.412", "kl 0.0031"), `end` once when the loop ends or
/// is interrupted, leaving the display in its last state.
public protocol ProgressDisplay: AnyObject {
    func update(done: Int, status: [String])
    func end()
}

extension ProgressBar {
    /// The updating display's plain text: "grpo step 37/200  reward 0.412  kl 0.0031  12.3 s",
    /// with "  stopped" when the loop ended before its total.
    public static func displayText(label: String, done: Int, total: Int, status: [String], elapsed: Double,
                                   stopped: Bool) -> String {
        ([("\(label) \(done)/\(total)")] + status + [String(format: "%.1f s", elapsed)] + (stopped ? ["stopped"] : []))
            .joined(separator: "  ")
    }

    /// The same as HTML: a progress bar and the text, escaped.
    public static func displayHTML(done: Int, total: Int, text: String) -> String {
        "<div class=\"medr1-progress\"><progress value=\"\(max(0, min(done, total)))\" max=\"\(max(total, 1))\" "
            + "style=\"width: 20em; vertical-align: middle\"></progress> <code>\(Escaping.html(text))</code></div>"
    }
}
