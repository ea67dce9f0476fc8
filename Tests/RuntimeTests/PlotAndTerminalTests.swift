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
