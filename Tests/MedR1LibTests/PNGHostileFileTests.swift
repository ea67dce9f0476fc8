import Foundation
import XCTest
import TestSupport
@testable import MedR1Lib

/// PNG files built byte by byte (stored deflate, so no zlib is needed): gamma
/// chunks are ignored, sizes are bounded before anything is allocated, and
/// paths that are not regular files are refused instead of blocking.
final class PNGHostileFileTests: XCTestCase {
    var tmp: URL!
    override func setUpWithError() throws { tmp = try TestSupport.temporaryDirectory("png-hostile") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    // MARK: - Building PNGs

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    /// A zlib stream of one stored (uncompressed) deflate block.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        precondition(data.count < 65536)
        let n = UInt16(data.count)
        var a: UInt32 = 1, b: UInt32 = 0
        for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return [0x78, 0x01, 0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)] + data + be32(b << 16 | a)
    }

    /// A PNG of `rows` (raw sample bytes without the filter byte), with `extra` chunks before IDAT.
    static func png(width: Int, height: Int, bitDepth: UInt8, colourType: UInt8, rows: [[UInt8]],
                    extra: [[UInt8]] = []) -> [UInt8] {
        let ihdr = be32(UInt32(width)) + be32(UInt32(height)) + [bitDepth, colourType, 0, 0, 0]
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
        for e in extra { out += e }
        out += chunk("IDAT", zlibStored(rows.flatMap { [0] + $0 }))
        return out + chunk("IEND", [])
    }

    /// A file of `size` bytes that starts with `starting` and is sparse after it (no disk used).
    static func sparseFile(_ url: URL, starting: Data, size: Int) throws {
        try starting.write(to: url)
        let h = try FileHandle(forWritingTo: url)
        try h.truncate(atOffset: UInt64(size))
        try h.close()
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = tmp.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    /// gAMA 1.0 (linear), a non-sRGB cHRM, 3 significant bits and a background: none may change a sample.
    static let colourChunks: [[UInt8]] = [
        chunk("gAMA", be32(100_000)),
        chunk("cHRM", [31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000].flatMap { be32(UInt32($0)) }),
        chunk("sBIT", [3]),
        chunk("bKGD", [0, 77]),
    ]

    // MARK: - Raw samples whatever the gamma chunks say

    func testGammaChunksDoNotChange8BitSamples() throws {
        let codes: [UInt8] = [0, 1, 51, 128, 200, 255]
        let url = try write("gamma8.png", Self.png(width: 6, height: 1, bitDepth: 8, colourType: 0, rows: [codes],
                                                   extra: Self.colourChunks))
        let img = try PNGImage.read(url)
        XCTAssertEqual(img.pixels, codes.map { Float($0) * (1 / 255 as Float) })
        // gAMA 1/2.2 plus an sRGB chunk, RGB.
        let rgb: [UInt8] = [10, 20, 30, 240, 128, 7]
        let url2 = try write("srgb8.png", Self.png(width: 2, height: 1, bitDepth: 8, colourType: 2, rows: [rgb],
                                                   extra: [Self.chunk("gAMA", Self.be32(45_455)), Self.chunk("sRGB", [0])]))
        XCTAssertEqual(try PNGImage.read(url2).pixels, rgb.map { Float($0) * (1 / 255 as Float) })
    }

    func testGammaChunksDoNotChange16BitSamples() throws {
        let values: [UInt16] = [0, 1, 1000, 32768, 50000, 65535]
        let row = values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        // gAMA 1/2.2 on a 16-bit file: libpng's simplified API would linearise it.
        let url = try write("gamma16.png", Self.png(width: 6, height: 1, bitDepth: 16, colourType: 0, rows: [row],
                                                    extra: [Self.chunk("gAMA", Self.be32(45_455))]))
        let img = try PNGImage.read(url)
        XCTAssertEqual(img.sourceBitDepth, 16)
        XCTAssertEqual(img.pixels, values.map { Float($0) * (1 / 65535 as Float) })
        // An sRGB chunk alone (no gAMA) on a 16-bit RGB file.
        let rgb: [UInt16] = [65535, 0, 1000, 1, 2, 40000]
        let url2 = try write("srgb16.png", Self.png(width: 2, height: 1, bitDepth: 16, colourType: 2,
                                                    rows: [rgb.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }],
                                                    extra: [Self.chunk("sRGB", [0])]))
        XCTAssertEqual(try PNGImage.read(url2).pixels, rgb.map { Float($0) * (1 / 65535 as Float) })
    }

    // MARK: - 16-bit files (zlib and our own unfiltering)

    static func u16(_ values: [UInt16]) -> [UInt8] { values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }

    func testTRNSOn16BitGrayAndRGBAddsAnAlphaChannelAndKeepsTheColour() throws {
        let s: Float = 1 / 65535
        let gray = try write("trns16.png", Self.png(width: 3, height: 1, bitDepth: 16, colourType: 0,
                                                    rows: [Self.u16([5, 1000, 5])], extra: [Self.chunk("tRNS", [0, 5])]))
        let g = try PNGImage.read(gray)
        XCTAssertEqual(g.channels, 2)
        XCTAssertEqual(g.pixels, [5 * s, 0, 1000 * s, 1, 5 * s, 0])
        let rgb = try write("trns16rgb.png", Self.png(width: 2, height: 1, bitDepth: 16, colourType: 2,
                                                      rows: [Self.u16([1, 2, 3, 1, 2, 4])],
                                                      extra: [Self.chunk("tRNS", Self.u16([1, 2, 3]))]))
        let c = try PNGImage.read(rgb)
        XCTAssertEqual(c.channels, 4)
        XCTAssertEqual(c.pixels, [1 * s, 2 * s, 3 * s, 0, 1 * s, 2 * s, 4 * s, 1])
        let bad = try write("trns16bad.png", Self.png(width: 1, height: 1, bitDepth: 16, colourType: 4,
                                                      rows: [Self.u16([1, 2])], extra: [Self.chunk("tRNS", [0, 1])]))
        XCTAssertEqual(message { _ = try PNGImage.read(bad) },
                       "\(bad.path): chunk 1 (tRNS) is not allowed in a file with an alpha channel (colour type 4)")
    }

    func testCorrupt16BitFilesGiveErrorsNamingTheFile() throws {
        let ihdr = Self.chunk("IHDR", Self.be32(2) + Self.be32(1) + [16, 0, 0, 0, 0])
        func file(_ name: String, idat: [UInt8]) throws -> URL {
            try write(name, Self.signature + ihdr + Self.chunk("IDAT", idat) + Self.chunk("IEND", []))
        }
        let filter = try file("filter16.png", idat: Self.zlibStored([7, 0, 1, 0, 2]))
        XCTAssertEqual(message { _ = try PNGImage.read(filter) },
                       "\(filter.path): row 0 of the image has filter type 7; PNG defines 0-4: the file is corrupt")
        let short = try file("short16.png", idat: Self.zlibStored([0, 0, 1]))
        XCTAssertEqual(message { _ = try PNGImage.read(short) },
                       "\(short.path): the image data holds 3 bytes, the header needs 5: the file is corrupt")
        let garbage = try file("zlib16.png", idat: [0x78, 0x01, 0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(message { _ = try PNGImage.read(garbage) },
                       "\(garbage.path): the image data is not a valid zlib stream (cut off or corrupt after 0 of 5 bytes): "
                       + "the file is truncated or corrupt")
        var crc = Self.signature + ihdr + Self.chunk("IDAT", Self.zlibStored([0, 0, 1, 0, 2])) + Self.chunk("IEND", [])
        crc[crc.count - 13] ^= 0xFF  // the last byte of IDAT's CRC
        let badCRC = try write("crc16.png", crc)
        XCTAssertEqual(message { _ = try PNGImage.read(badCRC) },
                       "\(badCRC.path): chunk 1 (IDAT): CRC error; the file may be truncated or corrupt")
        let none = try write("noidat16.png", Self.signature + ihdr + Self.chunk("IEND", []))
        XCTAssertEqual(message { _ = try PNGImage.read(none) }, "\(none.path): the file has no IDAT chunk (no image data)")
        // The same bytes with a valid filter read.
        let ok = try file("ok16.png", idat: Self.zlibStored([0, 0, 1, 0, 2]))
        XCTAssertEqual(try PNGImage.read(ok).pixels, [1 * (1 / 65535 as Float), 2 * (1 / 65535 as Float)])
    }

    /// Every truncation and many single-byte changes of a filtered, interlaced 16-bit file
    /// decode or throw; none crashes.
    func testMutated16BitFilesNeverCrash() throws {
        let bundle = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let good = try [UInt8](Data(contentsOf: bundle.appendingPathComponent("PNG/rgba16_adam7.png")))
        var decoded = 0, refused = 0
        for cut in stride(from: 0, to: good.count, by: 7) {
            do { _ = try PNGImage.decode(Data(good[0..<cut]), path: "cut") ; decoded += 1 } catch { refused += 1 }
        }
        for i in 0..<300 {
            var b = good
            b[8 + (i * 7919) % (b.count - 8)] ^= UInt8(1 + (i * 131) % 255)
            do { _ = try PNGImage.decode(Data(b), path: "mutated"); decoded += 1 } catch { refused += 1 }
        }
        XCTAssertEqual(decoded + refused, (good.count + 6) / 7 + 300)
        XCTAssertGreaterThan(refused, 200)
    }

    // MARK: - Sizes bounded before allocating

    func testHugeDimensionsAreRefusedFromTheHeader() throws {
        let row: [UInt8] = [0]
        let url = try write("huge.png", Self.png(width: 1_000_000, height: 1_000_000, bitDepth: 8, colourType: 2, rows: [row]))
        XCTAssertEqual(message { _ = try PNGImage.read(url) },
                       "\(url.path): IHDR width x height is 1000000x1000000, larger than allowed (each side at most 8192, "
                       + "at most 16777216 pixels): resize the image")
        let url2 = try write("wide.png", Self.png(width: 20_000, height: 20_000, bitDepth: 8, colourType: 0, rows: [row]))
        XCTAssertEqual(message { _ = try PNGImage.read(url2) },
                       "\(url2.path): IHDR width x height is 20000x20000, larger than allowed (each side at most 8192, "
                       + "at most 16777216 pixels): resize the image")
        let url3 = try write("many.png", Self.png(width: 8192, height: 8192, bitDepth: 8, colourType: 0, rows: [row]))
        XCTAssertTrue(message { _ = try PNGImage.read(url3) }.hasSuffix("is 8192x8192, larger than allowed (each side at most 8192, "
                       + "at most 16777216 pixels): resize the image"))
    }

    func testBadHeaderFieldsAndChunkLengths() throws {
        let row: [UInt8] = [0, 0]
        let depth = try write("depth.png", Self.png(width: 1, height: 1, bitDepth: 16, colourType: 3, rows: [row]))
        XCTAssertEqual(message { _ = try PNGImage.read(depth) },
                       "\(depth.path): IHDR bit depth is 16, which colour type 3 does not allow (allowed: 1, 2, 4, 8)")
        let zero = try write("zero.png", Self.png(width: 0, height: 5, bitDepth: 8, colourType: 0, rows: [row]))
        XCTAssertEqual(message { _ = try PNGImage.read(zero) }, "\(zero.path): IHDR width x height is 0x5: both must be at least 1")
        // A chunk whose length field claims 4 GB.
        var bytes = Self.png(width: 1, height: 1, bitDepth: 8, colourType: 0, rows: [[7]])
        let idat = 8 + 25
        bytes.replaceSubrange(idat..<(idat + 4), with: [0xFF, 0xFF, 0xFF, 0xF0])
        let long = try write("long.png", bytes)
        XCTAssertEqual(message { _ = try PNGImage.read(long) },
                       "\(long.path): chunk 1 (IDAT) claims 4294967280 bytes, more than PNG allows: the file is corrupt")
        let noIEND = try write("noiend.png", Array(Self.png(width: 1, height: 1, bitDepth: 8, colourType: 0, rows: [[7]]).dropLast(12)))
        XCTAssertEqual(message { _ = try PNGImage.read(noIEND) }, "\(noIEND.path): the file ends before its IEND chunk: the file is truncated")
        // A good one still reads.
        let ok = try write("ok.png", Self.png(width: 1, height: 1, bitDepth: 8, colourType: 0, rows: [[51]]))
        XCTAssertEqual(try PNGImage.read(ok).pixels, [51 * (1 / 255 as Float)])
    }

    func testOversizedFileIsRefusedBeforeReading() throws {
        let url = tmp.appendingPathComponent("big.png")
        try Self.sparseFile(url, starting: Data(Self.png(width: 1, height: 1, bitDepth: 8, colourType: 0, rows: [[0]])),
                            size: FileInput.maxPNGFileBytes + 1)
        XCTAssertEqual(message { _ = try PNGImage.read(url) },
                       "\(url.path): is 67108865 bytes, more than the 67108864 bytes allowed for a PNG image")
    }

    func testFIFOAndDirectoryAreRefusedWithoutBlocking() throws {
        let fifo = tmp.appendingPathComponent("pipe.png")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        XCTAssertEqual(message { _ = try PNGImage.read(fifo) },
                       "\(fifo.path): is not a regular file (it is a FIFO): give the path of a file")
        XCTAssertEqual(message { _ = try PNGImage.read(tmp) },
                       "\(tmp.path): is not a regular file (it is a directory): give the path of a file")
        XCTAssertEqual(message { _ = try PNGImage.read(URL(fileURLWithPath: "/dev/zero")) },
                       "/dev/zero: is not a regular file (it is a character device): give the path of a file")
    }
}
