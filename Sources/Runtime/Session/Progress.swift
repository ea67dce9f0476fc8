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
