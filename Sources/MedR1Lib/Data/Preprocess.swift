// Image preprocessing, exactly as docs/model.md, "From PNG to image tokens":
//   PNG -> float32 [0, 1] -> bilinear resize to imageSize x imageSize
//   (align_corners = False, no antialiasing, non-square images stretched)
//   -> channels (gray replicated, alpha dropped; channels = 1 takes
//   0.299 R + 0.587 G + 0.114 B) -> x' = (x - 0.5) / 0.5.
// The resize follows PyTorch's `upsample_bilinear2d` (align_corners=False):
//   src = (dst + 0.5) * in/out - 0.5, clamped at 0; i0 = floor(src),
//   i1 = min(i0 + 1, in - 1), weight of i1 = src - i0.

import Foundation

public struct PreprocessError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

public enum Preprocess {
    /// The model's input for one image: (imageSize, imageSize, channels) row-major,
    /// values in [-1, 1]. `channels` must be 1 or 3.
    public static func image(_ png: PNGImage, imageSize: Int, channels: Int) throws -> [Float] {
        guard imageSize >= 1 else {
            throw PreprocessError(message: "imageSize \(imageSize) must be at least 1")
        }
        guard channels == 1 || channels == 3 else {
            throw PreprocessError(message: "channels \(channels) is not supported: the model takes 1 (luminance) or 3 (RGB)")
        }
        let colour = png.hasAlpha ? png.channels - 1 : png.channels   // 1 or 3, alpha dropped
        let resized = resizeBilinear(png.pixels, width: png.width, height: png.height,
                                     stride: png.channels, keep: colour,
                                     outWidth: imageSize, outHeight: imageSize)  // (S, S, colour)
        let n = imageSize * imageSize
        var out = [Float](repeating: 0, count: n * channels)            // (S, S, channels)
        for p in 0..<n {
            if channels == 3 {
                for c in 0..<3 {
                    let v = colour == 1 ? resized[p] : resized[p * 3 + c]
                    out[p * 3 + c] = (v - 0.5) / 0.5
                }
            } else {
                let v = colour == 1 ? resized[p]
                    : 0.299 * resized[p * 3] + 0.587 * resized[p * 3 + 1] + 0.114 * resized[p * 3 + 2]
                out[p] = (v - 0.5) / 0.5
            }
        }
        return out
    }

    /// Reads a PNG and preprocesses it (errors name the file).
    public static func load(_ url: URL, imageSize: Int, channels: Int) throws -> [Float] {
        try image(PNGImage.read(url), imageSize: imageSize, channels: channels)
    }

    /// Bilinear resize, align_corners = False, no antialiasing.
    /// input: (height, width, stride) of which the first `keep` channels are used;
    /// returns (outHeight, outWidth, keep).
    public static func resizeBilinear(_ input: [Float], width: Int, height: Int, stride: Int, keep: Int,
                                      outWidth: Int, outHeight: Int) -> [Float] {
        let xs = sourceIndices(inSize: width, outSize: outWidth)
        let ys = sourceIndices(inSize: height, outSize: outHeight)
        var out = [Float](repeating: 0, count: outWidth * outHeight * keep)
        input.withUnsafeBufferPointer { src in
            for (oy, (y0, y1, wy)) in ys.enumerated() {
                for (ox, (x0, x1, wx)) in xs.enumerated() {
                    for c in 0..<keep {
                        let a = src[(y0 * width + x0) * stride + c], b = src[(y0 * width + x1) * stride + c]
                        let d = src[(y1 * width + x0) * stride + c], e = src[(y1 * width + x1) * stride + c]
                        let top = (1 - wx) * a + wx * b
                        let bottom = (1 - wx) * d + wx * e
                        out[(oy * outWidth + ox) * keep + c] = (1 - wy) * top + wy * bottom
                    }
                }
            }
        }
        return out
    }

    /// For each output index: (i0, i1, weight of i1), as PyTorch computes them.
    static func sourceIndices(inSize: Int, outSize: Int) -> [(Int, Int, Float)] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { d in
            let src = max(0, (Float(d) + 0.5) * scale - 0.5)
            let i0 = min(Int(src), inSize - 1)
            let i1 = i0 < inSize - 1 ? i0 + 1 : i0
            return (i0, i1, src - Float(i0))
        }
    }
}
