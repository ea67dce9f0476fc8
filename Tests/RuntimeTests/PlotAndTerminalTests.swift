import XCTest
import Foundation
@testable import Runtime

final class PlotAndTerminalTests: XCTestCase {
    static func rewardY(_ i: Int) -> Double { Double(i) / 30 + (i % 3 == 0 ? 0.2 : 0) }
    let spec = PlotSpec(title: "reward", xlabel: "step", ylabel: "value",
                        kind: .lines([PlotSeries(name: "reward", x: (0..<30).map { Double($0) },
                                                 y: (0..<30).map(PlotAndTerminalTests.rewardY))],
                                     smooth: 5))

    func testSmoothing() {
        XCTAssertEqual(Plotter.smooth([1, 2, 3, 4], window: 2), [1, 1.5, 2.5, 3.5])
        XCTAssertEqual(Plotter.smooth([1, 2], window: 1), [1, 2])
        XCTAssertEqual(Plotter.defaultWindow(points: 5), 1)
        XCTAssertEqual(Plotter.defaultWindow(points: 50), 5)
    }

    /// A few whole-number x values (list indices, early steps) get a tick at each
    /// whole number, not at halves; fractional x and long spans keep gnuplot's ticks.
    /// In a picture the key under the plot keeps a line clear of the x label.
    func testTicksAndKeyPlacement() {
        func script(_ x: [Double], _ target: PlotTarget = .pngData(width: 300, height: 200)) -> String {
            Plotter.script(PlotSpec(title: "t", xlabel: "index", kind: .lines([PlotSeries(name: "v", x: x, y: x)], smooth: 1)),
                           target: target)
        }
        XCTAssertTrue(script([0, 1, 2, 3]).contains("\nset xtics 1\n"))
        XCTAssertTrue(script([0, 1, 2, 3], .dumb(width: 80, height: 20)).contains("\nset xtics 1\n"))
        XCTAssertFalse(script([0, 0.5, 1]).contains("xtics"))
        XCTAssertFalse(script([0, 5, 10, 20]).contains("xtics"))
        XCTAssertFalse(script([3]).contains("xtics"))
        XCTAssertTrue(script([0, 1]).contains("\nset key noenhanced below height 1\n"))
        XCTAssertTrue(script([0, 1], .dumb(width: 80, height: 20)).contains("\nset key noenhanced top left\n"))
    }

    /// A heatmap's numbers are black on light cells and white on dark ones (both
    /// palettes), so each reads against its own cell.
    func testHeatmapLabelsContrastWithTheirCells() {
        func script(_ values: [[Double?]], signed: Bool = false) -> String {
            Plotter.script(PlotSpec(title: "acc", kind: .heatmap(rows: ["a", "b"], columns: ["x", "y"], values: values, signed: signed)),
                           target: .pngData(width: 300, height: 200))
        }
        XCTAssertTrue(script([[0.1, 0.9], [nil, 0.5]]).hasSuffix("""
            plot '-' using 1:2:3 with image, '-' using 1:2:3 with labels tc rgb '#000000', '-' using 1:2:3 with labels tc rgb '#ffffff'
            0 0 0.1
            1 0 0.9

            0 1 NaN
            1 1 0.5

            e
            0 0 0.10
            1 1 0.50
            e
            1 0 0.90
            e

            """))
        let signed = script([[-0.8, 0.2], [0.7, 0]], signed: true)
        XCTAssertTrue(signed.contains("with labels tc rgb '#000000', '-' using 1:2:3 with labels tc rgb '#ffffff'\n"), signed)
        XCTAssertTrue(signed.hasSuffix("e\n1 0 0.20\n1 1 0.00\ne\n0 0 -0.80\n0 1 0.70\ne\n"), signed)
        // all light: no white block (gnuplot refuses an empty inline block)
        XCTAssertFalse(script([[0.1, 0.2], [0.3, 0.4]]).contains("#ffffff"))
    }

    func testPNGFileIsRealPNG() throws {
        let dir = try TestSupportDir.make()
        let url = dir.appendingPathComponent("r.png")
        let r = try Plotter.render(spec, to: .pngFile(url, width: 640, height: 400))
        let data = try Data(contentsOf: url)
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR width and height, big-endian at bytes 16..23.
        let w = data[16..<20].reduce(0) { $0 << 8 | Int($1) }, h = data[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual([w, h], [640, 400])
        XCTAssertGreaterThan(data.count, 2000)
        XCTAssertEqual(r.png, data)
    }

    func testPNGDataHeatmapAndSVG() throws {
        let heat = PlotSpec(title: "accuracy", kind: .heatmap(rows: ["CT", "MRI"], columns: ["Modality Recognition", "Lesion Grading"],
                                                               values: [[0.9, 0.25], [nil, 0.5]]))
        let r = try Plotter.render(heat, to: .pngData(width: 500, height: 300))
        XCTAssertEqual(Array(r.png!.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        let dir = try TestSupportDir.make()
        let svg = dir.appendingPathComponent("a.svg")
        _ = try Plotter.render(heat, to: .svgFile(svg, width: 500, height: 300))
        let text = try String(contentsOf: svg, encoding: .utf8)
        XCTAssertTrue(text.contains("<svg"))
        XCTAssertTrue(text.contains("0.90"))
        let dumb = try Plotter.render(heat, to: .dumb(width: 70, height: 16)).text!
        XCTAssertTrue(dumb.contains("0.25"), dumb)
    }

    /// An 8 x 5 accuracy table in an 80 x 24 terminal: all eight rows, the
    /// five column labels each in its own column, nothing past 80 columns.
    func testTerminalHeatmapFitsEightyByTwentyFour() throws {
        let rows = ["CT", "MRI", "X-Ray", "Ultrasound", "Dermoscopy", "Fundus", "OCT", "Microscopy"]
        let columns = ["Modality Recognition", "Anatomy Identification", "Disease Diagnosis", "Lesion Grading",
                       "Other Biological Attributes"]
        let values: [[Double?]] = rows.indices.map { i in columns.indices.map { j in i == 2 && j == 3 ? nil : Double(i * 5 + j) / 40 } }
        let spec = PlotSpec(title: "accuracy after GRPO", kind: .heatmap(rows: rows, columns: columns, values: values))
        guard case .dumb(let w, let h) = Plotter.dumbTargetFor(columns: 80, rows: 24) else { return XCTFail() }
        let text = try XCTUnwrap(Plotter.render(spec, to: .dumb(width: w, height: h)).text)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        XCTAssertEqual(Array(lines.prefix(6)), [
            "accuracy after GRPO",
            "                Modality       Anatomy       Disease        Lesion         Other",
            "             Recognition Identificati…     Diagnosis       Grading    Biological",
            "                                                                      Attributes",
            "CT                0.00          0.03          0.05          0.07          0.10",
            "MRI               0.12 ░        0.15 ░        0.17 ░        0.20 ░        0.23 ░",
        ], text)
        XCTAssertEqual(lines[6], "X-Ray             0.25 ░        0.28 ░        0.30 ░           -          0.35 ░")
        XCTAssertLessThanOrEqual(lines.map(\.count).max() ?? 0, 80, text)
        XCTAssertLessThanOrEqual(lines.count, 23, text)
        for (i, row) in rows.enumerated() {
            let line = try XCTUnwrap(lines.first { $0.hasPrefix(row + " ") }, "row \(row) missing:\n" + text)
            XCTAssertTrue(line.contains(String(format: "%.2f", Double(i * 5 + 4) / 40)), line)
        }
    }

    func testDumbText() throws {
        let r = try Plotter.render(spec, to: .dumb(width: 60, height: 15))
        let lines = r.text!.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertGreaterThanOrEqual(lines.count, 14)
        XCTAssertTrue(r.text!.contains("reward"))
        XCTAssertTrue(r.text!.contains("mean of 5"))
        XCTAssertLessThanOrEqual(lines.map { $0.count }.max()!, 60)
    }

    func testGnuplotFailureIsClear() throws {
        // A bad output directory makes gnuplot fail: its message comes back.
        let bad = URL(fileURLWithPath: "/nonexistent-dir-medr1/x.png")
        XCTAssertThrowsError(try Plotter.render(spec, to: .pngFile(bad, width: 100, height: 100))) { e in
            let d = (e as! PlotError).description
            XCTAssertTrue(d.hasPrefix("gnuplot failed"), d)
            XCTAssertTrue(d.contains("nonexistent-dir-medr1"), d)
        }
    }

    func testGnuplotMissing() throws {
        setenv("MEDR1_GNUPLOT", "/nonexistent/gnuplot", 1)
        defer { unsetenv("MEDR1_GNUPLOT") }
        XCTAssertThrowsError(try Plotter.render(spec, to: .dumb(width: 40, height: 10))) { e in
            XCTAssertEqual((e as! PlotError).description,
                           "gnuplot not found at /nonexistent/gnuplot (from MEDR1_GNUPLOT): install gnuplot (scripts/setup) or unset MEDR1_GNUPLOT")
        }
    }

    /// Names that would run `touch DIR/pN` if they reached gnuplot as commands:
    /// a newline, a double or single quote closing the literal, backquotes
    /// (command substitution), a macro, a trailing backslash, escape sequences.
    static func hostileNames(_ dir: URL) -> [String] {
        let d = dir.path
        return ["a\nsystem 'touch \(d)/p1'\nplot 1 #",
                "b`touch \(d)/p2`",
                "c\" . system(\"touch \(d)/p3\") . \"",
                "d' . system('touch \(d)/p4') . '",
                "e\rsystem 'touch \(d)/p5'",
                "f @GPVAL_PWD \u{1B}[31m\u{9B}2J",
                "g\\"]
    }

    func testHostileLabelsStayTextInEveryPlotKind() throws {
        let dir = try TestSupportDir.make()
        let names = Self.hostileNames(dir)
        let series = names.enumerated().map { k, n in
            PlotSeries(name: n, x: (0..<12).map(Double.init), y: (0..<12).map { Double($0 * (k + 1)) })
        }
        let lines = PlotSpec(title: names[0] + names[1], xlabel: names[2], ylabel: names[3], kind: .lines(series, smooth: 3))
        let heat = PlotSpec(title: names[3], kind: .heatmap(rows: names, columns: names.reversed(),
                                                            values: names.map { _ in names.map { _ in 0.5 } }))
        for (name, spec) in [("lines", lines), ("heat", heat)] {
            // Every text in the script is a single-quoted literal on one line.
            let script = Plotter.script(spec, target: .pngData(width: 300, height: 200))
            XCTAssertFalse(script.contains("\nsystem"), script)
            XCTAssertTrue(script.contains("'a\\nsystem ''touch \(dir.path)/p1''\\nplot 1 #"), script)
            XCTAssertTrue(script.contains("'f @GPVAL_PWD \\u{1B}[31m\\u{9B}2J"), script)
            XCTAssertTrue(script.contains("'g\\"), script)
            _ = try Plotter.render(spec, to: .pngFile(dir.appendingPathComponent(name + ".png"), width: 1600, height: 1000))
            _ = try Plotter.render(spec, to: .svgFile(dir.appendingPathComponent(name + ".svg"), width: 1600, height: 1000))
            _ = try Plotter.render(spec, to: .pngData(width: 400, height: 300))
            let dumb = try Plotter.render(spec, to: .dumb(width: 200, height: 40)).text!
            XCTAssertFalse(dumb.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{9B}" || $0 == "\r" }, dumb)
            XCTAssertTrue(dumb.contains(Escaping.visibleControls(spec.title)), dumb)
            // The labels read as written: the SVG holds the text.
            let svg = try String(contentsOf: dir.appendingPathComponent(name + ".svg"), encoding: .utf8)
            for n in names { XCTAssertTrue(svg.contains(Escaping.visibleControls(n).replacingOccurrences(of: "&", with: "&amp;")), name + ": " + n) }
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(left, ["heat.png", "heat.svg", "lines.png", "lines.svg"])
    }

    func testHostileOutputPath() throws {
        let dir = try TestSupportDir.make()
        // Quotes and backquotes in a file name are written as they are.
        let odd = dir.appendingPathComponent("it's `touch p6` \"q\" \\.png")
        _ = try Plotter.render(spec, to: .pngFile(odd, width: 200, height: 150))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [odd.lastPathComponent])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "p6"))
        // A control character is refused: gnuplot would write to another name.
        let bad = dir.appendingPathComponent("a\nsystem 'touch p7'.png")
        XCTAssertThrowsError(try Plotter.render(spec, to: .pngFile(bad, width: 200, height: 150))) { e in
            XCTAssertEqual((e as! PlotError).description,
                           "cannot write a plot to \"\(dir.path)/a\\nsystem 'touch p7'.png\": the path has a control character")
        }
    }

    /// The report's example, through the language: the series name comes from a record key.
    func testPlotOfHostileRecordKeyCreatesNoFile() throws {
        let dir = try TestSupportDir.make()
        let sink = CollectingSink()
        let session = Session(options: SessionOptions(sink: sink, baseDirectory: dir))
        let ok = session.push(#"plot {"a\nsystem 'touch \#(dir.path)/pwned'\nplot 1 #": [1, 2, 3]}, to: "x.png""#)
        XCTAssertEqual(ok, .ran(ok: true), sink.text)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["x.png"])
    }

    func testTerminalTextShowsControlCharacters() {
        XCTAssertEqual(Escaping.terminal("q\u{1B}]0;title\u{07} a\tb\nc\r\u{9B}2J\u{7F}"),
                       "q\\u{1B}]0;title\\u{7} a\tb\nc\\r\\u{9B}2J\\u{7F}")
        XCTAssertEqual(Escaping.terminal("plain text, ünïcödé ▀"), "plain text, ünïcödé ▀")
        XCTAssertEqual(Escaping.gnuplot("it's"), "'it''s'")
        XCTAssertEqual(Escaping.html("<a href=\"x\">'&'</a>\u{1B}"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\\u{1B}")
    }

    func testProgressLine() {
        XCTAssertEqual(ProgressBar.line(label: "grpo", done: 5, total: 10, elapsed: 2.5, status: "reward 1.25", width: 10),
                       "grpo 5/10 [#####-----] 2.0/s ETA 0:03  reward 1.25")
        XCTAssertEqual(ProgressBar.line(label: "sft", done: 0, total: 4, elapsed: 0, status: "", width: 4), "sft 0/4 [----]")
        XCTAssertEqual(ProgressBar.line(label: "s", done: 1, total: 3, elapsed: 4, status: "", width: 3), "s 1/3 [#--] 4.00s each ETA 0:08")
        XCTAssertEqual(ProgressBar.duration(3725), "1:02:05")
        XCTAssertFalse(ProgressBar(total: 3, label: "x", enabled: false).enabled)
    }

    func testInterruptCounts() {
        Interrupt.clear()
        XCTAssertFalse(Interrupt.isRequested)
        Interrupt.request()
        XCTAssertTrue(Interrupt.isRequested)
        XCTAssertFalse(Interrupt.isAbortRequested)
        Interrupt.request()
        XCTAssertTrue(Interrupt.isAbortRequested)
        Interrupt.clear()
        XCTAssertFalse(Interrupt.isRequested)
    }

    func testSigintSetsFlag() {
        Interrupt.clear()
        Interrupt.installHandler()
        kill(getpid(), SIGINT)
        XCTAssertTrue(Interrupt.isRequested)
        Interrupt.clear()
    }

    func testTerminalImageHalfBlocks() {
        // 2x2 RGB: red, green / blue, white.
        let px: [Float] = [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]
        let s = TerminalImage.render(pixels: px, width: 2, height: 2, channels: 3)
        XCTAssertEqual(s, "\u{1B}[38;2;255;0;0m\u{1B}[48;2;0;0;255m▀\u{1B}[38;2;0;255;0m\u{1B}[48;2;255;255;255m▀\u{1B}[0m")
        let grey = TerminalImage.render(pixels: [0, 1], width: 2, height: 1, channels: 1, color: false)
        XCTAssertEqual(grey, "  @@")
        // Downscaled to at most maxWidth columns.
        let big = TerminalImage.render(pixels: [Float](repeating: 0.5, count: 64 * 64), width: 64, height: 64, channels: 1, maxWidth: 16)
        XCTAssertEqual(big.split(separator: "\n").count, 8)
    }
}
