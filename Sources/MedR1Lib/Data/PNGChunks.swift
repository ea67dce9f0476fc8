// The chunk list of a PNG file, checked before any decoder sees the bytes.
//
// A PNG is an 8-byte signature and chunks (4-byte big-endian length, 4-byte
// type, data, 4-byte CRC of type + data). This file checks that every chunk
// fits in the file, that IHDR comes first with a size, bit depth and colour
// type that make sense, and bounds width and height (`PNGImage.maxSide`,
// `PNGImage.maxPixels`) so a tiny file cannot make the decoder allocate
// gigabytes. For libpng (8 bits and fewer) it drops the chunks that make
// libpng's simplified API convert samples between gamma encodings (gAMA,
// cHRM, sRGB, iCCP): whole chunks with their CRCs, so the stream stays a
// valid PNG. 16-bit files go to `PNG16` instead.

import Foundation

enum PNGChunks {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Chunks that carry gamma or colour-space information.
    static let colourSpaceChunks: Set<String> = ["gAMA", "cHRM", "sRGB", "iCCP"]
    /// Largest chunk length the PNG specification allows.
    static let maxChunkLength = Int(Int32.max)

    /// IHDR's fields, checked.
    struct Header {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colourType: Int
        var interlaced: Bool
    }

    /// One chunk: its type and where its data lies in the file's bytes.
    struct Chunk {
        var type: String
        /// Offset of the chunk's length field.
        var start: Int
        var length: Int
        var data: Range<Int> { (start + 8)..<(start + 8 + length) }
        /// Type and data, which the CRC covers.
        var crcRange: Range<Int> { (start + 4)..<(start + 8 + length) }
        var end: Int { start + 12 + length }
    }

    /// A file whose chunk list and IHDR are checked: its bytes, header and chunks up to IEND.
    struct Parsed {
        var bytes: [UInt8]
        var header: Header
        var chunks: [Chunk]

        /// The bytes to hand to libpng: the file without colour-space chunks (and
        /// without anything after IEND).
        var libpngStream: Data {
            var out = Data(bytes[0..<8])
            out.reserveCapacity(bytes.count)
            for c in chunks where !colourSpaceChunks.contains(c.type) {
                out.append(contentsOf: bytes[c.start..<c.end])
            }
            return out
        }

        /// The big-endian 32-bit number at `i`.
        func u32(_ i: Int) -> Int {
            Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        }
    }

    /// Checks `data`'s chunk list and IHDR. Errors name `path` and the chunk at fault.
    static func parse(_ data: Data, path: String) throws -> Parsed {
        func fail(_ m: String) -> PNGError { PNGError(path: path, message: m) }
        let b = [UInt8](data)
        guard b.count >= 8, Array(b[0..<8]) == signature else {
            throw fail("not a PNG file (the first 8 bytes are not the PNG signature)")
        }
        func u32(_ i: Int) -> Int {
            Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
        }
        var chunks: [Chunk] = []
        var pos = 8, index = 0, header: Header?, sawIEND = false
        while pos < b.count {
            guard b.count - pos >= 12 else {
                throw fail("chunk \(index) at byte \(pos) is cut off (\(b.count - pos) bytes left, a chunk needs at least 12): the file is truncated")
            }
            let length = u32(pos)
            let typeBytes = b[(pos + 4)..<(pos + 8)]
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw fail("chunk \(index) at byte \(pos) has an invalid type (bytes \(typeBytes.map { String($0) }.joined(separator: " "))): the file is corrupt")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= maxChunkLength else {
                throw fail("chunk \(index) (\(type)) claims \(length) bytes, more than PNG allows: the file is corrupt")
            }
            guard length <= b.count - pos - 12 else {
                throw fail("chunk \(index) (\(type)) claims \(length) bytes but only \(b.count - pos - 12) follow: the file is truncated")
            }
            if index == 0 {
                guard type == "IHDR", length == 13 else {
                    throw fail("the first chunk is \(type) of \(length) bytes, expected IHDR of 13 bytes: the file is corrupt")
                }
                header = try checkHeader(Array(b[(pos + 8)..<(pos + 21)]), fail)
            }
            let chunk = Chunk(type: type, start: pos, length: length)
            chunks.append(chunk)
            pos = chunk.end
            index += 1
            if type == "IEND" { sawIEND = true; break }
        }
        guard sawIEND, let header else { throw fail("the file ends before its IEND chunk: the file is truncated") }
        return Parsed(bytes: b, header: header, chunks: chunks)
    }

    /// IHDR's 13 bytes, after checking every field.
    private static func checkHeader(_ h: [UInt8], _ fail: (String) -> PNGError) throws -> Header {
        let width = Int(h[0]) << 24 | Int(h[1]) << 16 | Int(h[2]) << 8 | Int(h[3])
        let height = Int(h[4]) << 24 | Int(h[5]) << 16 | Int(h[6]) << 8 | Int(h[7])
        let depth = Int(h[8]), colour = Int(h[9])
        guard width >= 1, height >= 1 else {
            throw fail("IHDR width x height is \(width)x\(height): both must be at least 1")
        }
        guard width <= PNGImage.maxSide, height <= PNGImage.maxSide, width * height <= PNGImage.maxPixels else {
            throw fail("IHDR width x height is \(width)x\(height), larger than allowed (each side at most "
                + "\(PNGImage.maxSide), at most \(PNGImage.maxPixels) pixels): resize the image")
        }
        let depths: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let allowed = depths[colour] else {
            throw fail("IHDR colour type is \(colour): PNG defines 0, 2, 3, 4 and 6")
        }
        guard allowed.contains(depth) else {
            throw fail("IHDR bit depth is \(depth), which colour type \(colour) does not allow (allowed: "
                + "\(allowed.map(String.init).joined(separator: ", ")))")
        }
        guard h[10] == 0, h[11] == 0, h[12] <= 1 else {
            throw fail("IHDR compression \(h[10]), filter \(h[11]), interlace \(h[12]): expected 0, 0 and 0 or 1")
        }
        return Header(width: width, height: height, bitDepth: depth, colourType: colour, interlaced: h[12] == 1)
    }
}
