import XCTest
@testable import MedR1Lib

/// Preprocessing against values computed by hand from docs/model.md's rule
/// (PyTorch's bilinear, align_corners=False: src = (dst + 0.5) * in/out - 0.5, clamped at 0).
final class PreprocessTests: XCTestCase {
    func assertClose(_ a: [Float], _ b: [Float], tol: Float = 1e-6, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "count", file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tol, "largest difference \(worst); got \(a), expected \(b)", file: file, line: line)
    }
    func norm(_ v: [Float]) -> [Float] { v.map { ($0 - 0.5) / 0.5 } }

    func testUpsample2x2To4x4() throws {
        // rows [0, 1] and [0.5, 0.25]. Source positions for 4 outputs: 0 (clamped -0.25), 0.25, 0.75, 1.25 -> 1.
        // Row 0 along x: 0, 0.25, 0.75, 1.   Row 1: 0.5, 0.4375, 0.3125, 0.25.
        // Along y the same weights: rows r0, 0.75 r0 + 0.25 r1, 0.25 r0 + 0.75 r1, r1.
        let png = try PNGImage(width: 2, height: 2, channels: 1, pixels: [0, 1, 0.5, 0.25])
        let r0: [Float] = [0, 0.25, 0.75, 1], r1: [Float] = [0.5, 0.4375, 0.3125, 0.25]
        let m1 = zip(r0, r1).map { 0.75 * $0 + 0.25 * $1 }   // 0.125, 0.296875, 0.640625, 0.8125
        let m2 = zip(r0, r1).map { 0.25 * $0 + 0.75 * $1 }   // 0.375, 0.390625, 0.421875, 0.4375
        let out = try Preprocess.image(png, imageSize: 4, channels: 1)
        assertClose(out, norm(r0 + m1 + m2 + r1))
        XCTAssertEqual(out[5], -0.40625, accuracy: 1e-6)  // (0.296875 - 0.5) / 0.5
    }

    func testDownsampleHalvesByAveragingBlocksWithoutAntialias() throws {
        // 4x4 -> 2x2: sources at 0.5 and 2.5, i.e. the mean of each 2x2 block.
        let v = (0..<16).map { Float($0) / 15 }
        let png = try PNGImage(width: 4, height: 4, channels: 1, pixels: v)
        let block = { (y: Int, x: Int) -> Float in (v[y * 8 + x * 2] + v[y * 8 + x * 2 + 1] + v[y * 8 + x * 2 + 4] + v[y * 8 + x * 2 + 5]) / 4 }
        assertClose(try Preprocess.image(png, imageSize: 2, channels: 1), norm([block(0, 0), block(0, 1), block(1, 0), block(1, 1)]))
        // 4x4 -> 1x1: source 1.5 in both axes: mean of the centre 2x2 = (5+6+9+10)/4/15; the corners are ignored.
        assertClose(try Preprocess.image(png, imageSize: 1, channels: 1), norm([7.5 / 15]))
    }

    func testNonSquareIsStretched() throws {
        // width 4, height 2 -> 2x2: x averages pairs (sources 0.5, 2.5), y is the identity (sources 0, 1).
        let png = try PNGImage(width: 4, height: 2, channels: 1, pixels: [0, 0.2, 0.4, 0.6, 1, 0.8, 0.6, 0.4])
        assertClose(try Preprocess.image(png, imageSize: 2, channels: 1), norm([0.1, 0.5, 0.9, 0.5]))
    }

    func testChannelRules() throws {
        // RGB -> 1 channel: 0.299 R + 0.587 G + 0.114 B
        let rgb = try PNGImage(width: 1, height: 1, channels: 3, pixels: [1, 0.5, 0])
        assertClose(try Preprocess.image(rgb, imageSize: 1, channels: 1), norm([0.299 + 0.2935]))
        assertClose(try Preprocess.image(rgb, imageSize: 1, channels: 3), [1, 0, -1])
        // gray -> 3 channels: replicated
        let gray = try PNGImage(width: 1, height: 1, channels: 1, pixels: [0.25])
        assertClose(try Preprocess.image(gray, imageSize: 2, channels: 3), [Float](repeating: -0.5, count: 12))
        // alpha is dropped, whatever its value
        let rgba = try PNGImage(width: 1, height: 1, channels: 4, pixels: [0.2, 0.4, 0.6, 0])
        assertClose(try Preprocess.image(rgba, imageSize: 1, channels: 3), norm([0.2, 0.4, 0.6]))
        let ga = try PNGImage(width: 1, height: 1, channels: 2, pixels: [0.75, 0.1])
        assertClose(try Preprocess.image(ga, imageSize: 1, channels: 3), [0.5, 0.5, 0.5])
        assertClose(try Preprocess.image(ga, imageSize: 1, channels: 1), [0.5])
    }

    func testLayoutIsHeightWidthChannel() throws {
        // 2x2 RGB identity resize: output index (y * 2 + x) * 3 + c
        let px: [Float] = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 0.05]
        let png = try PNGImage(width: 2, height: 2, channels: 3, pixels: px)
        assertClose(try Preprocess.image(png, imageSize: 2, channels: 3), norm(px))
    }

    func testBadArguments() throws {
        let png = try PNGImage(width: 1, height: 1, channels: 1, pixels: [0])
        XCTAssertThrowsError(try Preprocess.image(png, imageSize: 4, channels: 2)) { error in
            XCTAssertEqual("\(error)", "channels 2 is not supported: the model takes 1 (luminance) or 3 (RGB)")
        }
        XCTAssertThrowsError(try Preprocess.image(png, imageSize: 0, channels: 3)) { error in
            XCTAssertEqual("\(error)", "imageSize 0 must be at least 1")
        }
    }
}
