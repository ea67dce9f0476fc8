// PNG files in and out. Files of 8 bits or fewer are read through libpng's
// *simplified* API (`png_image_*`); 16-bit files through `PNG16`
// (zlib and our own unfiltering), and 16-bit files are written the same way.
//
// Why the simplified API: libpng's low-level API reports errors by `longjmp`,
// which Swift cannot catch (the process would die on a corrupt file). The
// simplified API returns 0 and leaves the reason in `image.message`, which we
// turn into a thrown `PNGError` naming the file. But it returns 16-bit colour
// *premultiplied* by alpha, which loses precision and the colour of
// transparent pixels, so 16-bit files do not go through it.
//
// Sample values (docs/model.md, "From PNG to image tokens"): 8-bit samples / 255,
// 16-bit samples / 65535, into Float in [0, 1]. The simplified API converts
// between gamma encodings when the file carries gAMA, cHRM, sRGB or iCCP
// chunks; `PNGChunks` drops those chunks from the bytes before libpng sees them
// (each chunk has its own CRC, so the stream stays valid), after which an 8-bit
// file is read as sRGB into sRGB: raw samples. `PNG16` ignores those
// chunks. `PNGChunks` also checks the chunk list and bounds the image size
// from IHDR before any decoder allocates anything.

import CPNG
import Foundation

/// A decoded image: `pixels` is (height, width, channels) row-major, values in [0, 1].
/// channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (alpha last).
public struct PNGImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// (height, width, channels) row-major, each in [0, 1].
    public var pixels: [Float]
    /// Bit depth of the file it was read from (8 or 16; palette and <8-bit files report 8).
    public var sourceBitDepth: Int

    /// An image from raw values; `pixels.count` must be width*height*channels.
    public init(width: Int, height: Int, channels: Int, pixels: [Float], sourceBitDepth: Int = 8) throws {
        guard width > 0, height > 0 else {
            throw PNGError(path: "<memory>", message: "image size \(width)x\(height) is empty: width and height must be at least 1")
        }
        guard (1...4).contains(channels) else {
            throw PNGError(path: "<memory>", message: "\(channels) channels: use 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)")
        }
        guard pixels.count == width * height * channels else {
            throw PNGError(path: "<memory>", message: "pixels has \(pixels.count) values, expected width*height*channels = \(width)*\(height)*\(channels) = \(width * height * channels)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
        self.sourceBitDepth = sourceBitDepth
    }

    /// Whether the last channel is alpha.
    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// The value at row `y`, column `x`, channel `c`.
    public subscript(y: Int, x: Int, c: Int) -> Float {
        pixels[(y * width + x) * channels + c]
    }
}

/// A PNG could not be read or written. `description` names the file and gives libpng's message.
public struct PNGError: Error, Equatable, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    /// Control characters (from a file's name or bytes) are escaped.
    public var description: String { JSONLiteral.escapingControls("\(path): \(message)") }
}

// MARK: - Reading

extension PNGImage {
    /// Longest side of an image read (pixels).
    public static let maxSide = 8192
    /// Most pixels (width * height) in an image read: 4096 x 4096.
    public static let maxPixels = 4096 * 4096

    /// Reads any PNG libpng understands: gray, gray+alpha, RGB, RGBA, palette (with or
    /// without transparency), at 1-16 bits. Palette images become RGB (RGBA if they
    /// have transparency); gray palettes may come back as gray. The file must be a
    /// regular file of at most `FileInput.maxPNGFileBytes`.
    public static func read(_ url: URL) throws -> PNGImage {
        try decode(readBytes(url), path: url.path)
    }

    /// The bytes of the PNG file at `url`, read with the size and file-type checks of `read`.
    public static func readBytes(_ url: URL) throws -> Data {
        do {
            return try FileInput.read(url, limit: FileInput.maxPNGFileBytes, what: "a PNG image")
        } catch let e as FileInputError {
            throw PNGError(path: url.path, message: e.message)
        }
    }

    /// Decodes PNG bytes (`path` names them in errors). Samples are raw: 8-bit / 255,
    /// 16-bit / 65535, whatever gamma or colour-space chunks the file carries.
    public static func decode(_ bytes: Data, path: String) throws -> PNGImage {
        let png = try PNGChunks.parse(bytes, path: path)
        if png.header.bitDepth == 16 { return try PNG16.decode(png, path: path) }
        // libpng reads from the memory until png_image_finish_read: decode inside the closure.
        return try png.libpngStream.withUnsafeBytes { raw in
            try decode(memory: raw, width: png.header.width, height: png.header.height, path: path)
        }
    }

    private static func decode(memory: UnsafeRawBufferPointer, width checkedWidth: Int, height checkedHeight: Int,
                               path: String) throws -> PNGImage {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.opaque = nil
        guard png_image_begin_read_from_memory(&image, memory.baseAddress, memory.count) != 0 else {
            let msg = libpngMessage(&image)
            png_image_free(&image)
            throw PNGError(path: path, message: "not a readable PNG (libpng: \(msg))")
        }
        // The chunk check bounded IHDR's size; libpng must agree with it.
        guard Int(image.width) == checkedWidth, Int(image.height) == checkedHeight else {
            png_image_free(&image)
            throw PNGError(path: path, message: "IHDR size \(checkedWidth)x\(checkedHeight) disagrees with libpng's \(image.width)x\(image.height)")
        }
        // Files of 8 bits or fewer: libpng reports them without the linear flag, and
        // reads them into 8-bit sRGB without conversion or premultiplication.
        let fileFormat = image.format
        let hasColor = fileFormat & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
        let hasAlpha = fileFormat & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0
        var format: png_uint_32 = 0
        if hasColor { format |= png_uint_32(PNG_FORMAT_FLAG_COLOR) }
        if hasAlpha { format |= png_uint_32(PNG_FORMAT_FLAG_ALPHA) }
        image.format = format
        let channels = (hasColor ? 3 : 1) + (hasAlpha ? 1 : 0)
        let width = Int(image.width), height = Int(image.height)
        let count = width * height * channels
        var buffer = [UInt8](repeating: 0, count: count)
        let ok = buffer.withUnsafeMutableBytes {
            png_image_finish_read(&image, nil, $0.baseAddress, png_int_32(width * channels), nil)
        }
        guard ok != 0 else {
            let msg = libpngMessage(&image)
            png_image_free(&image)
            throw PNGError(path: path, message: "cannot decode image data (libpng: \(msg)); the file may be truncated or corrupt")
        }
        png_image_free(&image)
        let scale: Float = 1 / 255
        return try PNGImage(width: width, height: height, channels: channels,
                            pixels: buffer.map { Float($0) * scale }, sourceBitDepth: 8)
    }
}

// MARK: - Writing

extension PNGImage {
    /// Writes the image as a PNG with 8 or 16 bits per sample, keeping its channels
    /// (gray, gray+alpha, RGB, RGBA). Values are clamped to [0, 1] and rounded.
    /// 16-bit files are written linear (gAMA 1.0) and not premultiplied, so `read` gives back
    /// v/65535 exactly, alpha or not. `fast` trades file size for speed (quicker zlib settings;
    /// about 2x faster to write small 8-bit images); the pixels are the same.
    public func write(to url: URL, bitDepth: Int = 8, fast: Bool = false) throws {
        let path = url.path
        guard bitDepth == 8 || bitDepth == 16 else {
            throw PNGError(path: path, message: "bit depth \(bitDepth) is not supported: use 8 or 16")
        }
        // The fields are public and mutable: check them again before the encoders read `pixels`.
        guard width > 0, height > 0, (1...4).contains(channels), pixels.count == width * height * channels else {
            throw PNGError(path: path, message: "image of \(width)x\(height)x\(channels) has \(pixels.count) values, "
                           + "expected width*height*channels with 1-4 channels")
        }
        if bitDepth == 16 {
            let samples = pixels.map { UInt16((Self.clamp01($0) * 65535).rounded()) }
            let encoded = try PNG16.encode(samples, width: width, height: height, channels: channels, fast: fast, path: path)
            return try Self.writeFile(encoded, path: path)
        }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.opaque = nil
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        var format: png_uint_32 = 0
        if channels >= 3 { format |= png_uint_32(PNG_FORMAT_FLAG_COLOR) }
        if hasAlpha { format |= png_uint_32(PNG_FORMAT_FLAG_ALPHA) }
        image.format = format
        if fast { image.flags |= png_uint_32(PNG_IMAGE_FLAG_FAST) }
        var encoded = Data()
        let buffer = pixels.map { UInt8((Self.clamp01($0) * 255).rounded()) }
        let ok = buffer.withUnsafeBytes {
            encodePNG(&image, to: &encoded, $0.baseAddress, png_int_32(width * channels), nil)
        }
        guard ok != 0 else {
            let msg = libpngMessage(&image)
            png_image_free(&image)
            throw PNGError(path: path, message: "cannot encode PNG (libpng: \(msg))")
        }
        png_image_free(&image)
        try Self.writeFile(encoded, path: path)
    }

    /// Replaces the file with the encoded bytes as a whole (a temporary renamed over it).
    private static func writeFile(_ data: Data, path: String) throws {
        do { try FileIO.writeAtomically(data, to: URL(fileURLWithPath: path), durable: false) } catch {
            throw PNGError(path: path, message: "cannot write PNG (\(FileIO.reason(error))); check that the folder exists and is writable")
        }
    }

    /// Writes an 8-bit palette (colour-mapped) PNG: `palette` holds up to 256 RGB or RGBA
    /// entries (`paletteChannels` 3 or 4, values in [0, 1]) and `indices` one entry index
    /// per pixel. Used to make palette test files; `read` returns such files as RGB(A).
    public static func writePalette(to url: URL, width: Int, height: Int, palette: [Float],
                                    paletteChannels: Int, indices: [UInt8]) throws {
        let path = url.path
        guard paletteChannels == 3 || paletteChannels == 4,
              palette.count % paletteChannels == 0,
              (1...256).contains(palette.count / paletteChannels),
              indices.count == width * height,
              indices.allSatisfy({ Int($0) < palette.count / paletteChannels }) else {
            throw PNGError(path: path, message: "palette must hold 1-256 entries of 3 or 4 values and indices one valid entry per pixel")
        }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        // PNG_FORMAT_RGB(A)_COLORMAP are macro expressions that do not import; build them from the flags.
        image.format = png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_COLORMAP)
            | (paletteChannels == 4 ? png_uint_32(PNG_FORMAT_FLAG_ALPHA) : 0)
        image.colormap_entries = png_uint_32(palette.count / paletteChannels)
        let map = palette.map { UInt8((clamp01($0) * 255).rounded()) }
        var encoded = Data()
        let ok = indices.withUnsafeBytes { ib in
            map.withUnsafeBytes { mb in
                encodePNG(&image, to: &encoded, ib.baseAddress, png_int_32(width), mb.baseAddress)
            }
        }
        guard ok != 0 else {
            let msg = libpngMessage(&image)
            png_image_free(&image)
            throw PNGError(path: path, message: "cannot encode palette PNG (libpng: \(msg))")
        }
        png_image_free(&image)
        try writeFile(encoded, path: path)
    }

    @inline(__always) static func clamp01(_ v: Float) -> Float { v.isNaN ? 0 : min(1, max(0, v)) }
}

/// png_image_write_to_memory into `out`: a first try with a buffer of the raw
/// size plus slack, then one of the size libpng asks for. Returns libpng's status.
private func encodePNG(_ image: inout png_image, to out: inout Data, _ buffer: UnsafeRawPointer?,
                       _ stride: png_int_32, _ colormap: UnsafeRawPointer?) -> Int32 {
    var size = Int(image.height) * (Int(abs(stride)) * 2 + 1) + 4096
    for _ in 0..<2 {
        var bytes = [UInt8](repeating: 0, count: size)
        var n = size
        let ok = bytes.withUnsafeMutableBytes {
            png_image_write_to_memory(&image, $0.baseAddress, &n, 0, buffer, stride, colormap)
        }
        if ok != 0 { out = Data(bytes[0..<n]); return ok }
        guard n > size else { return ok }
        image.warning_or_error = 0
        size = n
    }
    return 0
}

/// The NUL-terminated `message` field of a png_image.
private func libpngMessage(_ image: inout png_image) -> String {
    withUnsafeBytes(of: &image.message) { raw in
        let bytes = raw.prefix { $0 != 0 }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.isEmpty ? "unknown error" : text
    }
}
