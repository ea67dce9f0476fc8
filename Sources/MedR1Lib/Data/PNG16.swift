// 16-bit PNGs decoded here rather than by libpng's simplified API, which
// returns 16-bit colour premultiplied by alpha (dividing it back out loses
// precision and cannot recover the colour of a transparent pixel). libpng's
// full API reports errors by longjmp, which Swift cannot catch, so this file
// does the few steps a 16-bit PNG needs with zlib alone:
//
//   1. check the CRC of every chunk it uses (IHDR, tRNS, IDAT, IEND);
//   2. inflate the IDAT chunks' concatenated zlib stream into a buffer of the
//      exact size the (already bounded) header implies;
//   3. undo each row's filter (None, Sub, Up, Average, Paeth; PNG spec 9.2)
//      with 2 bytes per sample;
//   4. place the pixels of the seven Adam7 passes when the file is interlaced.
//
// Samples come out raw (value / 65535) whatever gamma chunks say. Gray and
// RGB files with a tRNS chunk gain an alpha channel, as from libpng: 0 where a
// pixel equals the tRNS colour, 1 elsewhere, the colour kept as it is.

import CZlib
import Foundation

enum PNG16 {
    /// Adam7 passes: first column, first row, column step, row step.
    static let adam7: [(x0: Int, y0: Int, dx: Int, dy: Int)] = [
        (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2),
    ]

    /// Decodes a checked 16-bit file. `path` names it in errors.
    static func decode(_ png: PNGChunks.Parsed, path: String) throws -> PNGImage {
        func fail(_ m: String) -> PNGError { PNGError(path: path, message: m) }
        let h = png.header
        precondition(h.bitDepth == 16, "PNG16 reads 16-bit files only")
        let fileChannels = [0: 1, 2: 3, 4: 2, 6: 4][h.colourType] ?? 0
        guard fileChannels > 0 else { throw fail("IHDR colour type \(h.colourType) has no 16-bit form") }

        // Chunks: CRCs, one run of IDAT, an optional tRNS before it.
        var idat: [UInt8] = []
        var transparent: [UInt16]?
        var idatState = 0  // 0 none yet, 1 in the run, 2 after it
        for (i, c) in png.chunks.enumerated() {
            let used = ["IHDR", "IDAT", "IEND", "tRNS"].contains(c.type)
            if used {
                let stored = UInt32(png.u32(c.end - 4))
                let computed = png.bytes.withUnsafeBufferPointer { buf -> UInt32 in
                    let r = c.crcRange
                    return UInt32(crc32(0, buf.baseAddress! + r.lowerBound, uInt(r.count)))
                }
                guard stored == computed else {
                    throw fail("chunk \(i) (\(c.type)): CRC error; the file may be truncated or corrupt")
                }
            }
            switch c.type {
            case "IDAT":
                guard idatState < 2 else {
                    throw fail("chunk \(i) (IDAT) follows other chunks after the image data; the file is corrupt")
                }
                idatState = 1
                idat.append(contentsOf: png.bytes[c.data])
            case "tRNS":
                guard idatState == 0 else { throw fail("chunk \(i) (tRNS) comes after the image data; the file is corrupt") }
                let need = [0: 2, 2: 6][h.colourType]
                guard let need else {
                    throw fail("chunk \(i) (tRNS) is not allowed in a file with an alpha channel (colour type \(h.colourType))")
                }
                guard c.length == need else {
                    throw fail("chunk \(i) (tRNS) has \(c.length) bytes; colour type \(h.colourType) needs \(need)")
                }
                let d = c.data.lowerBound
                transparent = (0..<(need / 2)).map { UInt16(png.bytes[d + 2 * $0]) << 8 | UInt16(png.bytes[d + 2 * $0 + 1]) }
            default:
                if idatState == 1 { idatState = 2 }
            }
        }
        guard idatState > 0 else { throw fail("the file has no IDAT chunk (no image data)") }

        // The filtered rows of every pass, in order. Sizes are bounded by IHDR's limits.
        let bpp = 2 * fileChannels
        let passes = h.interlaced ? adam7 : [(x0: 0, y0: 0, dx: 1, dy: 1)]
        let sizes = passes.map { p in
            (w: (h.width - p.x0 + p.dx - 1) / p.dx, h: (h.height - p.y0 + p.dy - 1) / p.dy)
        }
        let expected = sizes.reduce(0) { $0 + ($1.w > 0 && $1.h > 0 ? $1.h * (1 + $1.w * bpp) : 0) }
        let raw = try inflate(idat, expected: expected, fail)

        // Unfilter pass by pass, scattering samples into the image.
        let alpha = transparent != nil
        let channels = fileChannels + (alpha ? 1 : 0)
        var samples = [UInt16](repeating: 0, count: h.width * h.height * channels)
        var offset = 0
        for (number, (p, size)) in zip(passes, sizes).enumerated() where size.w > 0 && size.h > 0 {
            let stride = size.w * bpp
            var previous = [UInt8](repeating: 0, count: stride)
            var row = [UInt8](repeating: 0, count: stride)
            for r in 0..<size.h {
                let filter = raw[offset]
                for i in 0..<stride { row[i] = raw[offset + 1 + i] }
                try unfilter(&row, previous: previous, filter: filter, bpp: bpp) {
                    fail("row \(r) of \(h.interlaced ? "Adam7 pass \(number + 1)" : "the image") "
                         + "has filter type \(filter); PNG defines 0-4: the file is corrupt")
                }
                let y = p.y0 + r * p.dy
                for col in 0..<size.w {
                    let x = p.x0 + col * p.dx
                    let out = (y * h.width + x) * channels
                    var opaque = false
                    for c in 0..<fileChannels {
                        let v = UInt16(row[col * bpp + 2 * c]) << 8 | UInt16(row[col * bpp + 2 * c + 1])
                        samples[out + c] = v
                        if let t = transparent, v != t[c] { opaque = true }
                    }
                    if alpha { samples[out + fileChannels] = opaque ? 65535 : 0 }
                }
                swap(&previous, &row)
                offset += 1 + stride
            }
        }
        let scale: Float = 1 / 65535
        return try PNGImage(width: h.width, height: h.height, channels: channels,
                            pixels: samples.map { Float($0) * scale }, sourceBitDepth: 16)
    }

    /// Inflates a zlib stream into exactly `expected` bytes. Data beyond them is
    /// ignored (as libpng does); a stream that ends short or is corrupt is an error.
    static func inflate(_ input: [UInt8], expected: Int, _ fail: (String) -> PNGError) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expected)
        var outLength = uLongf(expected)
        var inLength = uLong(input.count)
        let status = out.withUnsafeMutableBufferPointer { o in
            input.withUnsafeBufferPointer { i in
                uncompress2(o.baseAddress, &outLength, i.baseAddress, &inLength)
            }
        }
        switch status {
        case Z_OK where Int(outLength) == expected, Z_BUF_ERROR where Int(outLength) == expected:
            return out
        case Z_OK:
            throw fail("the image data holds \(outLength) bytes, the header needs \(expected): the file is corrupt")
        case Z_MEM_ERROR:
            throw fail("out of memory while inflating the image data")
        default:
            // Z_DATA_ERROR: a corrupt or cut-off stream (uncompress2 reports both so).
            throw fail("the image data is not a valid zlib stream (cut off or corrupt after \(outLength) of "
                       + "\(expected) bytes): the file is truncated or corrupt")
        }
    }

    /// Undoes one row's filter in place (PNG spec 9.2); `previous` is the row above (zeros for the first).
    static func unfilter(_ row: inout [UInt8], previous: [UInt8], filter: UInt8, bpp: Int,
                         _ badFilter: () -> PNGError) throws {
        let n = row.count
        switch filter {
        case 0:
            break
        case 1:
            for i in bpp..<max(bpp, n) { row[i] &+= row[i - bpp] }
        case 2:
            for i in 0..<n { row[i] &+= previous[i] }
        case 3:
            for i in 0..<n {
                let left = i >= bpp ? Int(row[i - bpp]) : 0
                row[i] &+= UInt8((left + Int(previous[i])) / 2)
            }
        case 4:
            for i in 0..<n {
                let a = i >= bpp ? Int(row[i - bpp]) : 0
                let b = Int(previous[i])
                let c = i >= bpp ? Int(previous[i - bpp]) : 0
                let p = a + b - c
                let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                row[i] &+= UInt8(pa <= pb && pa <= pc ? a : (pb <= pc ? b : c))
            }
        default:
            throw badFilter()
        }
    }

    // MARK: - Writing

    /// A whole PNG file of 16-bit `samples` ((height, width, channels) row-major; 1 gray,
    /// 2 gray+alpha, 3 RGB, 4 RGBA), with a gAMA chunk saying linear, every row unfiltered.
    static func encode(_ samples: [UInt16], width: Int, height: Int, channels: Int, fast: Bool,
                       path: String) throws -> Data {
        guard samples.count == width * height * channels, let colourType: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][channels] else {
            throw PNGError(path: path, message: "\(samples.count) samples do not make a \(width)x\(height) image of \(channels) channels")
        }
        let stride = width * channels * 2
        var raw = [UInt8](repeating: 0, count: height * (1 + stride))
        for y in 0..<height {
            let rowStart = y * (1 + stride) + 1
            for i in 0..<(width * channels) {
                let v = samples[y * width * channels + i]
                raw[rowStart + 2 * i] = UInt8(v >> 8)
                raw[rowStart + 2 * i + 1] = UInt8(v & 0xFF)
            }
        }
        var compressed = [UInt8](repeating: 0, count: Int(compressBound(uLong(raw.count))))
        var length = uLongf(compressed.count)
        let status = compressed.withUnsafeMutableBufferPointer { o in
            raw.withUnsafeBufferPointer { i in
                compress2(o.baseAddress, &length, i.baseAddress, uLong(raw.count), fast ? 1 : 6)
            }
        }
        guard status == Z_OK else { throw PNGError(path: path, message: "cannot encode PNG (zlib error \(status))") }
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        var out = Data(PNGChunks.signature)
        func chunk(_ type: String, _ data: ArraySlice<UInt8>) {
            let body = Array(type.utf8) + data
            let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            out.append(contentsOf: be32(data.count) + body + be32(Int(crc)))
        }
        chunk("IHDR", ArraySlice(be32(width) + be32(height) + [16, colourType, 0, 0, 0]))
        chunk("gAMA", ArraySlice(be32(100_000)))
        chunk("IDAT", compressed[0..<Int(length)])
        chunk("IEND", [])
        return out
    }
}
