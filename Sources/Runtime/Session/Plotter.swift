// Plots through gnuplot over a pipe: metric series against step (raw and
// smoothed), a list of numbers, and an accuracy table as a heatmap. To the
// terminal as text (`set terminal dumb`, sized to the window), to PNG
// (pngcairo) or SVG files, or to PNG bytes for notebooks.

import Foundation

/// One line on a chart.
public struct PlotSeries: Equatable, Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    public init(name: String, x: [Double], y: [Double]) {
        self.name = name
        self.x = x
        self.y = y
    }
}

/// The mean of a metric over runs at each x, and its standard deviation.
public struct PlotBand: Equatable, Sendable {
    public var name: String
    public var x: [Double]
    public var mean: [Double]
    public var std: [Double]
    public init(name: String, x: [Double], mean: [Double], std: [Double]) {
        self.name = name
        self.x = x
        self.mean = mean
        self.std = std
    }
}

/// What to draw.
public enum PlotKind: Equatable, Sendable {
    /// Each series raw (thin) and, when `smooth` > 1 points, its trailing
    /// moving average over `smooth` points (thick).
    case lines([PlotSeries], smooth: Int)
    /// Each band's mean as a line over a shaded mean ± std (both smoothed
    /// over `smooth` points when > 1); in a text chart, three lines.
    case bands([PlotBand], smooth: Int)
    /// Rows x columns of values in [0, 1] (nil = no data), e.g. accuracy by modality x question type.
    /// `labels` replace the printed values in the cells (e.g. "0.71±0.03", number characters
    /// only); `signed` draws
    /// values in [-1, 1] on a diverging palette (changes), otherwise [0, 1].
    case heatmap(rows: [String], columns: [String], values: [[Double?]], labels: [[String]]? = nil, signed: Bool = false)
}

public struct PlotSpec: Equatable, Sendable {
    public var title: String
    public var xlabel: String
    public var ylabel: String
    public var kind: PlotKind
    public init(title: String, xlabel: String = "", ylabel: String = "", kind: PlotKind) {
        self.title = title
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.kind = kind
    }
}

/// Where the plot goes.
public enum PlotTarget: Equatable, Sendable {
    case dumb(width: Int, height: Int)
    case pngFile(URL, width: Int, height: Int)
    case svgFile(URL, width: Int, height: Int)
    /// PNG bytes returned in `PlotResult.png` (notebooks).
    case pngData(width: Int, height: Int)
}

public struct PlotResult: Sendable {
    /// The dumb-terminal chart.
    public var text: String?
    /// PNG bytes (pngData target, or read back from a pngFile).
    public var png: Data?
}

public struct PlotError: Error, CustomStringConvertible {
    public var description: String
}

public enum Plotter {
    /// Trailing moving average: out[i] = mean of y[max(0, i-w+1)...i].
    public static func smooth(_ y: [Double], window w: Int) -> [Double] {
        guard w > 1 else { return y }
        var out: [Double] = []
        out.reserveCapacity(y.count)
        var acc = 0.0
        for i in y.indices {
            acc += y[i]
            if i >= w { acc -= y[i - w] }
            out.append(acc / Double(min(i + 1, w)))
        }
        return out
    }

    /// The moving-average windows `plot(..., smooth: n)` accepts (1: no smoothing).
    public static let smoothRange = 1...1_000_000

    /// A default smoothing window: a tenth of the points, none below 10 points.
    public static func defaultWindow(points n: Int) -> Int { n < 10 ? 1 : max(2, n / 10) }

    /// The gnuplot script for a spec and target (inline data, no temp files).
    public static func script(_ spec: PlotSpec, target: PlotTarget) -> String {
        var s = ""
        switch target {
        case .dumb(let w, let h): s += "set terminal dumb size \(w),\(h) ansi\n"
        case .pngFile(let url, let w, let h): s += "set terminal pngcairo size \(w),\(h) enhanced font 'sans,10'\nset output \(gq(url.path))\n"
        case .svgFile(let url, let w, let h): s += "set terminal svg size \(w),\(h) enhanced font 'sans,10' background rgb 'white'\nset output \(gq(url.path))\n"
        case .pngData(let w, let h): s += "set terminal pngcairo size \(w),\(h) enhanced font 'sans,10'\nset output\n"
        }
        if case .dumb = target { s = s.replacingOccurrences(of: " ansi", with: "") }
        s += "set title \(gq(spec.title)) noenhanced\n"
        if !spec.xlabel.isEmpty { s += "set xlabel \(gq(spec.xlabel)) noenhanced\n" }
        if !spec.ylabel.isEmpty { s += "set ylabel \(gq(spec.ylabel)) noenhanced\n" }
        switch spec.kind {
        case .lines(let series, let window):
            // In a picture the key goes under the plot, clear of the curves, with a
            // line's height to spare so it does not touch the x label; a text chart
            // has no room to spare, so there it stays inside, top left.
            if case .dumb = target { s += "set key noenhanced top left\n" } else { s += "set key noenhanced below height 1\n" }
            s += "set grid\n" + wholeNumberTicks(series.map(\.x))
            var clauses: [String] = []
            var blocks: [String] = []
            for (k, se) in series.enumerated() {
                let color = palette[k % palette.count]
                let raw = zip(se.x, se.y).map { "\(num($0)) \(num($1))" }.joined(separator: "\n")
                let showSmooth = window > 1 && se.y.count >= 2
                clauses.append("'-' using 1:2 with lines lw 1 lc rgb '\(color)' title \(gq(showSmooth ? se.name + " (raw)" : se.name))")
                blocks.append(raw)
                if showSmooth {
                    let sm = smooth(se.y, window: window)
                    clauses.append("'-' using 1:2 with lines lw 3 lc rgb '\(color)' title \(gq(se.name + " (mean of \(window))"))")
                    blocks.append(zip(se.x, sm).map { "\(num($0)) \(num($1))" }.joined(separator: "\n"))
                }
            }
            if case .dumb = target {
                // Dumb charts: draw points sparsely enough to stay readable.
                clauses = clauses.map { $0.replacingOccurrences(of: " lw 3", with: "").replacingOccurrences(of: " lw 1", with: "") }
            }
            s += "plot " + clauses.joined(separator: ", \\\n     ") + "\n"
            for b in blocks { s += b + "\ne\n" }
        case .bands(let bands, let window):
            if case .dumb = target { s += "set key noenhanced top left\n" } else { s += "set key noenhanced below height 1\n" }
            s += "set grid\n" + wholeNumberTicks(bands.map(\.x))
            var clauses: [String] = []
            var blocks: [String] = []
            for (k, band) in bands.enumerated() {
                let color = palette[k % palette.count]
                let mean = smooth(band.mean, window: window), std = smooth(band.std, window: window)
                let low = zip(mean, std).map { $0 - $1 }, high = zip(mean, std).map { $0 + $1 }
                let meanTitle = gq(band.name + (window > 1 ? " mean (smoothed over \(window))" : " mean"))
                if case .dumb = target {
                    clauses.append("'-' using 1:2 with lines lc rgb '\(color)' title \(meanTitle)")
                    blocks.append(zip(band.x, mean).map { "\(num($0)) \(num($1))" }.joined(separator: "\n"))
                    clauses.append("'-' using 1:2 with lines dt 2 lc rgb '\(color)' title \(gq(band.name + " ± std"))")
                    blocks.append(zip(band.x, low).map { "\(num($0)) \(num($1))" }.joined(separator: "\n"))
                    clauses.append("'-' using 1:2 with lines dt 2 lc rgb '\(color)' notitle")
                    blocks.append(zip(band.x, high).map { "\(num($0)) \(num($1))" }.joined(separator: "\n"))
                } else {
                    clauses.append("'-' using 1:2:3 with filledcurves fc rgb '\(color)' fs transparent solid 0.2 noborder title \(gq(band.name + " ± std"))")
                    blocks.append(band.x.indices.map { "\(num(band.x[$0])) \(num(low[$0])) \(num(high[$0]))" }.joined(separator: "\n"))
                    clauses.append("'-' using 1:2 with lines lw 2 lc rgb '\(color)' title \(meanTitle)")
                    blocks.append(zip(band.x, mean).map { "\(num($0)) \(num($1))" }.joined(separator: "\n"))
                }
            }
            s += "plot " + clauses.joined(separator: ", \\\n     ") + "\n"
            for b in blocks { s += b + "\ne\n" }
        case .heatmap(let rows, let cols, let values, let cellLabels, let signed):
            s += signed ? "unset key\nset cbrange [-1:1]\nset palette defined (-1 '#b2182b', 0 '#f7f7f7', 1 '#2166ac')\n"
                : "unset key\nset cbrange [0:1]\nset palette defined (0 '#f7fbff', 0.5 '#6baed6', 1 '#08306b')\n"
            s += "set xtics (" + cols.enumerated().map { "\(gq($1)) \($0)" }.joined(separator: ", ") + ") rotate by -30 noenhanced\n"
            s += "set ytics (" + rows.enumerated().map { "\(gq($1)) \($0)" }.joined(separator: ", ") + ") noenhanced\n"
            s += "set xrange [-0.5:\(Double(cols.count) - 0.5)]\nset yrange [\(Double(rows.count) - 0.5):-0.5]\n"
            var data = ""
            // Labels on dark cells are white, the others black, so every number reads
            // against its own cell (dark: the outer 40% of a palette's range).
            var labels = "", darkLabels = ""
            for (i, row) in values.enumerated() {
                for (j, v) in row.enumerated() {
                    data += "\(j) \(i) \(v.map(num) ?? "NaN")\n"
                    var line = ""
                    if let text = cellLabels.flatMap({ i < $0.count && j < $0[i].count ? $0[i][j] : nil }) {
                        // inline data: a label is one column, so it keeps only number characters
                        let kept = String(text.filter { "0123456789.+-±".contains($0) })
                        if !kept.isEmpty { line = "\(j) \(i) \(kept)\n" }
                    } else if let v { line = "\(j) \(i) \(String(format: "%.2f", v))\n" }
                    if let v, Self.isDarkCell(v, signed: signed), !line.isEmpty { darkLabels += line } else { labels += line }
                }
                data += "\n"
            }
            if case .dumb = target {
                s += "plot '-' using 1:2:3 with labels\n" + labels + darkLabels + "e\n"
            } else {
                // longer labels (mean±std) in a smaller font
                let font = cellLabels == nil ? "" : " font ',8'"
                var clauses = ["'-' using 1:2:3 with image"], blocks = [data]
                if !labels.isEmpty { clauses.append("'-' using 1:2:3 with labels tc rgb '#000000'" + font); blocks.append(labels) }
                if !darkLabels.isEmpty { clauses.append("'-' using 1:2:3 with labels tc rgb '#ffffff'" + font); blocks.append(darkLabels) }
                s += "plot " + clauses.joined(separator: ", ") + "\n" + blocks.map { $0 + "e\n" }.joined()
            }
        }
        return s
    }

    /// Whether a heatmap cell's colour is dark enough for a white label: above 0.6 on
    /// the 0...1 blue palette, beyond ±0.6 on the signed red-white-blue one.
    static func isDarkCell(_ v: Double, signed: Bool) -> Bool {
        signed ? abs(v) > 0.6 : v > 0.6
    }

    /// `set xtics 1` when every x is a whole number (steps, list indices) over a
    /// span shorter than 10, where gnuplot's own ticks would fall on halves;
    /// nothing otherwise (longer spans get whole-number ticks anyway).
    static func wholeNumberTicks(_ xs: [[Double]]) -> String {
        let all = xs.joined()
        guard let low = all.min(), let high = all.max(), high > low, high - low < 10,
              all.allSatisfy({ $0 == $0.rounded() }) else { return "" }
        return "set xtics 1\n"
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    /// Every text in the script (titles, labels, series names, the output
    /// path) is a single-quoted literal made here: data never becomes a command.
    private static func gq(_ s: String) -> String { Escaping.gnuplot(s) }

    private static func num(_ x: Double) -> String { x.isFinite ? "\(x)" : "NaN" }

    /// Render by piping the script to gnuplot. Throws PlotError naming the
    /// cause: gnuplot missing (how to install it) or its stderr when it fails.
    public static func render(_ spec: PlotSpec, to target: PlotTarget) throws -> PlotResult {
        switch target {
        case .pngFile(let url, _, _), .svgFile(let url, _, _):
            // gnuplot would write to the escaped name, not the one asked for.
            if url.path.unicodeScalars.contains(where: Escaping.isControl) {
                throw PlotError(description: "cannot write a plot to \"\(Escaping.visibleControls(url.path))\": the path has a control character")
            }
        case .dumb, .pngData: break
        }
        if case .dumb(let width, _) = target, case .heatmap(let rows, let columns, let values, _, _) = spec.kind {
            return PlotResult(text: textHeatmap(title: spec.title, rows: rows, columns: columns, values: values, width: width), png: nil)
        }
        let script = script(spec, target: target)
        let out = try runGnuplot(script)
        switch target {
        case .dumb:
            // gnuplot starts each dumb page with a form feed.
            var text = String(decoding: out, as: UTF8.self)
            while text.hasPrefix("\u{0C}") || text.hasPrefix("\n") { text.removeFirst() }
            return PlotResult(text: text, png: nil)
        case .pngData: return PlotResult(text: nil, png: out)
        case .pngFile(let url, _, _): return PlotResult(text: nil, png: try? Data(contentsOf: url))
        case .svgFile: return PlotResult(text: nil, png: nil)
        }
    }

    /// A heatmap as text for the terminal: every row on a line of its own
    /// (gnuplot's dumb terminal drops tick labels when rows outnumber the
    /// lines it has), column labels wrapped over up to three lines in their
    /// own columns, each value with a shade from light to dark. Fits `width`
    /// whenever each column can have 6 characters.
    public static func textHeatmap(title: String, rows: [String], columns: [String], values: [[Double?]], width: Int) -> String {
        let shown = { (s: String) in Escaping.visibleControls(s) }
        let rowLabels = rows.map(shown)
        let labelWidth = min(rowLabels.map(\.count).max() ?? 0, max(8, width / 4))
        let columnWidth = max(6, (width - labelWidth) / max(1, columns.count))
        func fit(_ s: String, _ w: Int) -> String { s.count <= w ? s : String(s.prefix(max(0, w - 1))) + "…" }
        func pad(_ s: String, _ w: Int, right: Bool) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return right ? fill + s : s + fill
        }
        // Column labels: words wrapped to the column, at most three lines.
        let wrapped: [[String]] = columns.map { label in
            var lines: [String] = []
            var line = ""
            for word in shown(label).split(separator: " ").map(String.init) {
                if line.isEmpty { line = word } else if line.count + 1 + word.count <= columnWidth - 1 { line += " " + word } else {
                    lines.append(line)
                    line = word
                }
            }
            if !line.isEmpty { lines.append(line) }
            if lines.count > 3 { lines = Array(lines.prefix(3)); lines[2] += "…" }
            return lines.map { fit($0, columnWidth - 1) }
        }
        let headerLines = wrapped.map(\.count).max() ?? 0
        var out = [fit(shown(title), width)]
        for k in 0..<headerLines {
            let cells = wrapped.map { pad(k < $0.count ? $0[k] : "", columnWidth, right: true) }
            out.append(pad("", labelWidth, right: false) + cells.joined())
        }
        let shades: [Character] = [" ", "░", "▒", "▓", "█"]
        for (i, label) in rowLabels.enumerated() {
            let cells = columns.indices.map { j -> String in
                guard i < values.count, j < values[i].count, let v = values[i][j], v.isFinite else {
                    return pad("-  ", columnWidth, right: true)
                }
                let shade = shades[min(4, max(0, Int((v * 4).rounded())))]
                return pad(String(format: "%.2f", v) + " " + String(shade), columnWidth, right: true)
            }
            out.append(pad(fit(label, labelWidth), labelWidth, right: false) + cells.joined())
        }
        return out.map { $0.replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression) }.joined(separator: "\n") + "\n"
    }

    /// The gnuplot executable: $MEDR1_GNUPLOT, else `gnuplot` on PATH.
    static func gnuplotPath() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["MEDR1_GNUPLOT"], !p.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: p) else {
                throw PlotError(description: "gnuplot not found at \(p) (from MEDR1_GNUPLOT): install gnuplot (scripts/setup) or unset MEDR1_GNUPLOT")
            }
            return p
        }
        for dir in (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw PlotError(description: "gnuplot not found on PATH: install it with scripts/setup (apt-get install gnuplot)")
    }

    static func runGnuplot(_ script: String) throws -> Data {
        let path = try gnuplotPath()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = nil
        env["GNUTERM"] = "dumb"
        p.environment = env
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        do { try p.run() } catch {
            throw PlotError(description: "cannot start gnuplot at \(path): \(error.localizedDescription)")
        }
        // Drain stderr on another queue so a chatty gnuplot never blocks on a full pipe.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = errPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let writer = inPipe.fileHandleForWriting
        writer.write(script.data(using: .utf8)!)
        try? writer.close()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        group.wait()
        let stderr = String(decoding: errBox.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if p.terminationStatus != 0 || stderr.contains("error") {
            throw PlotError(description: "gnuplot failed (exit \(p.terminationStatus)): " + (stderr.isEmpty ? "no message" : stderr))
        }
        return out
    }

    /// The terminal's size in characters (stdout, then COLUMNS/LINES, then 80x24).
    public static func terminalSize() -> (columns: Int, rows: Int) {
        var w = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 {
            return (Int(w.ws_col), Int(w.ws_row))
        }
        let env = ProcessInfo.processInfo.environment
        return (Int(env["COLUMNS"] ?? "") ?? 80, Int(env["LINES"] ?? "") ?? 24)
    }

    /// The dumb target sized to the window: full width (10..200), about half the height (12..40).
    public static func dumbTarget() -> PlotTarget {
        let (c, r) = terminalSize()
        return dumbTargetFor(columns: c, rows: r)
    }

    /// The dumb target for a window of `c` columns and `r` rows.
    public static func dumbTargetFor(columns c: Int, rows r: Int) -> PlotTarget {
        .dumb(width: min(max(c, 40), 200), height: min(max(r / 2, 12), 40))
    }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}
