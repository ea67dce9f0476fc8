import XCTest
import TestSupport
@testable import MedR1Lib

/// PNG reading and writing. Fixtures in Fixtures/PNG were written by hand (zlib, no
/// libpng) by scripts/make-png-fixtures.py; the expected values below are the bytes it wrote.
final class PNGImageTests: XCTestCase {
    var tmp: URL!
    override func setUpWithError() throws { tmp = try TestSupport.temporaryDirectory("png") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("PNG").appendingPathComponent(name)
    }

    func assertClose(_ a: [Float], _ b: [Float], tol: Float = 1e-6, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "count", file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tol, "largest difference \(worst); got \(a), expected \(b)", file: file, line: line)
    }

    // MARK: - Fixtures written without libpng

    func testReadGray8Fixture() throws {
        let png = try PNGImage.read(fixture("gray8.png"))
        XCTAssertEqual([png.width, png.height, png.channels, png.sourceBitDepth], [3, 2, 1, 8])
        assertClose(png.pixels, [0, 51, 102, 153, 204, 255].map { Float($0) / 255 })
    }

    func testReadGray16Fixture() throws {
        let png = try PNGImage.read(fixture("gray16.png"))
        XCTAssertEqual([png.width, png.height, png.channels, png.sourceBitDepth], [2, 2, 1, 16])
        assertClose(png.pixels, [0, 1, 32768, 65535].map { Float($0) / 65535 })
    }

    func testReadRGB8AndRGB16Fixtures() throws {
        let a = try PNGImage.read(fixture("rgb8.png"))
        XCTAssertEqual([a.width, a.height, a.channels], [2, 1, 3])
        assertClose(a.pixels, [255, 0, 0, 10, 20, 30].map { Float($0) / 255 })
        let b = try PNGImage.read(fixture("rgb16.png"))
        XCTAssertEqual([b.channels, b.sourceBitDepth], [3, 16])
        assertClose(b.pixels, [65535, 0, 1000, 1, 2, 3].map { Float($0) / 65535 })
    }

    func testReadAlphaFixturesKeepColourUnpremultiplied() throws {
        let ga = try PNGImage.read(fixture("gray_alpha8.png"))
        XCTAssertEqual(ga.channels, 2)
        assertClose(ga.pixels, [100, 255, 200, 0].map { Float($0) / 255 })
        let rgba = try PNGImage.read(fixture("rgba8.png"))
        XCTAssertEqual(rgba.channels, 4)
        assertClose(rgba.pixels, [1, 2, 3, 255, 40, 50, 60, 128].map { Float($0) / 255 })
    }

    func testReadPaletteAndLowBitDepthFixtures() throws {
        let pal = try PNGImage.read(fixture("palette2.png"))
        XCTAssertEqual([pal.width, pal.height, pal.channels], [4, 1, 3])
        assertClose(pal.pixels, [1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0])
        let bits = try PNGImage.read(fixture("gray1.png"))
        XCTAssertEqual(bits.channels, 1)
        assertClose(bits.pixels, [1, 0, 1, 1])
    }

    // MARK: - 16-bit files with alpha: raw samples, never premultiplied

    /// The values scripts/make-png-fixtures.py writes (its `sample` and `alpha`).
    static func fixtureSample(_ x: Int, _ y: Int, _ c: Int) -> Int { (x * 7919 + y * 104729 + c * 31337 + x * y * 613) % 65536 }
    static func fixtureAlpha(_ x: Int, _ y: Int) -> Int { x == y ? 0 : (x == 0 ? 65535 : (x * 9973 + y * 577) % 65535 + 1) }

    func expected16(width: Int, height: Int, colours: Int) -> [Float] {
        var out: [Float] = []
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<colours { out.append(Float(Self.fixtureSample(x, y, c)) * (1 / 65535 as Float)) }
                out.append(Float(Self.fixtureAlpha(x, y)) * (1 / 65535 as Float))
            }
        }
        return out
    }

    func testRead16BitAlphaFixturesGiveRawSamples() throws {
        // Rows filtered with None, Sub, Up, Average and Paeth in turn; alpha 0 on the diagonal keeps its colour.
        for (name, w, h, colours) in [("gray_alpha16.png", 3, 5, 1), ("rgba16.png", 3, 5, 3),
                                      ("gray_alpha16_adam7.png", 9, 10, 1), ("rgba16_adam7.png", 9, 10, 3)] {
            let png = try PNGImage.read(fixture(name))
            XCTAssertEqual([png.width, png.height, png.channels, png.sourceBitDepth], [w, h, colours + 1, 16], name)
            let want = expected16(width: w, height: h, colours: colours)
            XCTAssertEqual(png.pixels, want, name)
            // A transparent pixel (alpha 0 at x == y) keeps a non-zero colour.
            XCTAssertEqual(png[1, 1, colours], 0, name)
            XCTAssertEqual(png[1, 1, 0], Float(Self.fixtureSample(1, 1, 0)) * (1 / 65535 as Float), name)
            XCTAssertGreaterThan(png[1, 1, 0], 0, name)
        }
    }

    // MARK: - Round trips through our writer

    func roundTrip(channels: Int, bitDepth: Int, values: (Int) -> Float, tol: Float,
                   file: StaticString = #filePath, line: UInt = #line) throws {
        let (w, h) = (5, 3)
        let img = try PNGImage(width: w, height: h, channels: channels, pixels: (0..<(w * h * channels)).map(values))
        let url = tmp.appendingPathComponent("rt-\(channels)-\(bitDepth).png")
        try img.write(to: url, bitDepth: bitDepth)
        let back = try PNGImage.read(url)
        XCTAssertEqual([back.width, back.height, back.channels, back.sourceBitDepth], [w, h, channels, bitDepth],
                       file: file, line: line)
        assertClose(back.pixels, img.pixels, tol: tol, file: file, line: line)
    }

    func testRoundTrip8BitEveryKindIsExactOnCodes() throws {
        for ch in 1...4 {
            try roundTrip(channels: ch, bitDepth: 8, values: { Float(($0 * 37) % 256) / 255 }, tol: 1e-6)
        }
    }

    func testRoundTrip16BitGrayAndRGBIsExact() throws {
        for ch in [1, 3] {
            try roundTrip(channels: ch, bitDepth: 16, values: { Float(($0 * 4099) % 65536) / 65535 }, tol: 1e-7)
        }
    }

    func testRoundTrip16BitWithAlphaIsExact() throws {
        // Colour is stored as it is, not premultiplied: opaque, translucent and transparent pixels all come back.
        for ch in [2, 4] {
            for alpha: Float in [1, 32768 / 65535, 0] {
                try roundTrip(channels: ch, bitDepth: 16,
                              values: { $0 % ch == ch - 1 ? alpha : Float(($0 * 4099) % 65536) / 65535 }, tol: 1e-7)
            }
        }
    }

    func testWriteClampsAndRounds() throws {
        let img = try PNGImage(width: 4, height: 1, channels: 1, pixels: [-1, 0.5, 2, .nan])
        let url = tmp.appendingPathComponent("clamp.png")
        try img.write(to: url)
        assertClose(try PNGImage.read(url).pixels, [0, 128.0 / 255, 1, 0])
    }

    func testPaletteWriterRoundTrip() throws {
        let url = tmp.appendingPathComponent("pal.png")
        try PNGImage.writePalette(to: url, width: 3, height: 1, palette: [1, 0, 0, 1, 0, 1, 0, 0.2, 0, 0, 1, 1],
                                  paletteChannels: 4, indices: [2, 0, 1])
        let back = try PNGImage.read(url)
        XCTAssertEqual(back.channels, 4)
        assertClose(back.pixels, [0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 51.0 / 255])
    }

    // MARK: - Errors name the file and libpng's message

    func testNotAPNG() throws {
        let url = fixture("not-a-png.png")
        XCTAssertThrowsError(try PNGImage.read(url)) { error in
            XCTAssertEqual("\(error)", "\(url.path): not a PNG file (the first 8 bytes are not the PNG signature)")
        }
    }

    func testMissingFile() throws {
        let url = tmp.appendingPathComponent("nope.png")
        XCTAssertThrowsError(try PNGImage.read(url)) { error in
            XCTAssertEqual("\(error)", "\(url.path): cannot be opened (no such file): check the path")
        }
    }

    func testTruncatedFile() throws {
        let url = fixture("truncated.png")
        XCTAssertThrowsError(try PNGImage.read(url)) { error in
            XCTAssertEqual("\(error)", "\(url.path): chunk 1 (IDAT) claims 283 bytes but only 15 follow: the file is truncated")
        }
    }

    func testCorruptCRC() throws {
        let url = fixture("bad-crc.png")
        XCTAssertThrowsError(try PNGImage.read(url)) { error in
            XCTAssertEqual("\(error)", "\(url.path): cannot decode image data (libpng: IDAT: CRC error); the file may be truncated or corrupt")
        }
    }

    func testBadWriteArguments() throws {
        XCTAssertThrowsError(try PNGImage(width: 2, height: 2, channels: 1, pixels: [0])) { error in
            XCTAssertEqual("\(error)", "<memory>: pixels has 1 values, expected width*height*channels = 2*2*1 = 4")
        }
        let img = try PNGImage(width: 1, height: 1, channels: 1, pixels: [0])
        let url = tmp.appendingPathComponent("x.png")
        XCTAssertThrowsError(try img.write(to: url, bitDepth: 12)) { error in
            XCTAssertEqual("\(error)", "\(url.path): bit depth 12 is not supported: use 8 or 16")
        }
        // Public fields changed after init: checked again before encoding (libpng would read past the end).
        var shrunk = img
        shrunk.width = 3
        for depth in [8, 16] {
            XCTAssertThrowsError(try shrunk.write(to: url, bitDepth: depth)) { error in
                XCTAssertEqual("\(error)", "\(url.path): image of 3x1x1 has 1 values, expected width*height*channels with 1-4 channels")
            }
        }
        let bad = tmp.appendingPathComponent("no-such-dir/x.png")
        XCTAssertThrowsError(try img.write(to: bad)) { error in
            XCTAssertEqual("\(error)", "\(bad.path): cannot write PNG (no such file); check that the folder exists and is writable")
        }
    }
}
