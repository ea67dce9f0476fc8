// SynthMed's raster canvas: the few drawing operations the modality painters need
// (filled/ring ellipses, thick lines, wavy blobs, per-pixel shading, speckle, noise,
// blur, masks). Coordinates are *normalised*: (0, 0) is the top-left corner,
// (1, 1) the bottom-right, so a scene looks the same at any image size. Edges are
// anti-aliased over about one pixel (coverage = clamp(0.5 - signed distance in px)).

import Foundation

/// A colour or gray level; gray canvases use `r`.
public struct SynthColor: Equatable, Sendable {
    public var r: Float, g: Float, b: Float
    public init(_ r: Float, _ g: Float, _ b: Float) { self.r = r; self.g = g; self.b = b }
    public init(gray v: Float) { r = v; g = v; b = v }
    public static func * (c: SynthColor, k: Float) -> SynthColor { SynthColor(c.r * k, c.g * k, c.b * k) }
    public static func + (a: SynthColor, b: SynthColor) -> SynthColor { SynthColor(a.r + b.r, a.g + b.g, a.b + b.b) }
    /// Linear mix: t = 0 gives a, t = 1 gives b.
    public func mix(_ o: SynthColor, _ t: Float) -> SynthColor { self * (1 - t) + o * t }
}

/// A square image being drawn: (size, size, channels) row-major, channels 1 or 3.
public struct SynthCanvas: Sendable {
    public let size: Int
    public let channels: Int
    /// (size, size, channels) row-major; values may leave [0, 1] while drawing, clamped on output.
    public var data: [Float]

    public init(size: Int, channels: Int, fill: SynthColor = SynthColor(gray: 0)) {
        self.size = size
        self.channels = channels
        data = [Float](repeating: 0, count: size * size * channels)
        self.fill(fill)
    }

    // MARK: - Pixel access

    @inline(__always) public func value(_ x: Int, _ y: Int, _ c: Int = 0) -> Float {
        data[(y * size + x) * channels + c]
    }

    /// Blends colour `col` over pixel (x, y) with weight `a` in [0, 1].
    @inline(__always) mutating func blend(_ x: Int, _ y: Int, _ col: SynthColor, _ a: Float) {
        let i = (y * size + x) * channels
        if channels == 1 {
            data[i] += (col.r - data[i]) * a
        } else {
            data[i] += (col.r - data[i]) * a
            data[i + 1] += (col.g - data[i + 1]) * a
            data[i + 2] += (col.b - data[i + 2]) * a
        }
    }

    public mutating func fill(_ col: SynthColor) {
        for p in 0..<(size * size) { blend(p % size, p / size, col, 1) }
    }

    /// Pixel-centre coordinates in normalised units.
    @inline(__always) func centre(_ i: Int) -> Double { (Double(i) + 0.5) / Double(size) }

    /// Pixel range covering normalised [lo, hi] (clipped to the canvas).
    func span(_ lo: Double, _ hi: Double) -> Range<Int> {
        let a = max(0, Int((lo * Double(size)).rounded(.down)) - 1)
        let b = min(size, Int((hi * Double(size)).rounded(.up)) + 1)
        return a < b ? a..<b : 0..<0
    }

    /// Visits every pixel whose centre lies in the box, with a signed distance function
    /// (normalised units, negative inside) and blends `col` by coverage * `alpha`.
    mutating func shape(box: (Double, Double, Double, Double), _ col: SynthColor, alpha: Float = 1,
                        distance: (Double, Double) -> Double) {
        let px = Double(size)
        for y in span(box.1, box.3) {
            let v = centre(y)
            for x in span(box.0, box.2) {
                let d = distance(centre(x), v) * px
                let cover = Float(min(1, max(0, 0.5 - d)))
                if cover > 0 { blend(x, y, col, cover * alpha) }
            }
        }
    }

    // MARK: - Shapes

    /// Filled ellipse centred at (cx, cy) with radii (rx, ry), rotated by `angle` radians.
    public mutating func ellipse(_ cx: Double, _ cy: Double, _ rx: Double, _ ry: Double,
                                 angle: Double = 0, _ col: SynthColor, alpha: Float = 1) {
        let r = max(rx, ry)
        let (ca, sa) = (cos(angle), sin(angle))
        shape(box: (cx - r, cy - r, cx + r, cy + r), col, alpha: alpha) { x, y in
            let dx = x - cx, dy = y - cy
            let u = (dx * ca + dy * sa) / rx, w = (-dx * sa + dy * ca) / ry
            return ((u * u + w * w).squareRoot() - 1) * min(rx, ry)
        }
    }

    /// Elliptical ring of the given thickness (normalised), centred on the ellipse outline.
    public mutating func ring(_ cx: Double, _ cy: Double, _ rx: Double, _ ry: Double, thickness: Double,
                              _ col: SynthColor, alpha: Float = 1) {
        let r = max(rx, ry) + thickness
        shape(box: (cx - r, cy - r, cx + r, cy + r), col, alpha: alpha) { x, y in
            let u = (x - cx) / rx, w = (y - cy) / ry
            return abs(((u * u + w * w).squareRoot() - 1) * min(rx, ry)) - thickness / 2
        }
    }

    /// Thick line segment with round caps.
    public mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Double,
                              _ col: SynthColor, alpha: Float = 1) {
        let h = width / 2
        let dx = x1 - x0, dy = y1 - y0
        let len2 = max(dx * dx + dy * dy, 1e-12)
        shape(box: (min(x0, x1) - h, min(y0, y1) - h, max(x0, x1) + h, max(y0, y1) + h), col, alpha: alpha) { x, y in
            let t = min(1, max(0, ((x - x0) * dx + (y - y0) * dy) / len2))
            let ex = x - (x0 + t * dx), ey = y - (y0 + t * dy)
            return (ex * ex + ey * ey).squareRoot() - h
        }
    }

    /// Polyline through `points` (normalised), each segment a thick line.
    public mutating func polyline(_ points: [(Double, Double)], width: Double, _ col: SynthColor, alpha: Float = 1) {
        guard points.count > 1 else { return }
        for i in 1..<points.count {
            line(points[i - 1].0, points[i - 1].1, points[i].0, points[i].1, width: width, col, alpha: alpha)
        }
    }

    /// Star-shaped blob: radius r(θ) = r0 * (1 + Σ amp_k sin(k θ + phase_k)), for irregular lesions.
    public mutating func blob(_ cx: Double, _ cy: Double, _ r0: Double, waves: [(k: Double, amp: Double, phase: Double)],
                              _ col: SynthColor, alpha: Float = 1) {
        let reach = r0 * (1 + waves.reduce(0) { $0 + abs($1.amp) })
        shape(box: (cx - reach, cy - reach, cx + reach, cy + reach), col, alpha: alpha) { x, y in
            let dx = x - cx, dy = y - cy
            let th = atan2(dy, dx)
            var r = r0
            for w in waves { r += r0 * w.amp * sin(w.k * th + w.phase) }
            return (dx * dx + dy * dy).squareRoot() - r
        }
    }

    /// Sets every pixel from a function of its normalised centre and current colour.
    public mutating func shade(_ f: (Double, Double, SynthColor) -> SynthColor) {
        for y in 0..<size {
            for x in 0..<size {
                let i = (y * size + x) * channels
                let cur = channels == 1 ? SynthColor(gray: data[i]) : SynthColor(data[i], data[i + 1], data[i + 2])
                let out = f(centre(x), centre(y), cur)
                data[i] = out.r
                if channels == 3 { data[i + 1] = out.g; data[i + 2] = out.b }
            }
        }
    }

    // MARK: - Texture

    /// Multiplicative speckle: v *= (1 + amount * n), n standard normal (ultrasound, OCT).
    public mutating func speckle(_ amount: Double, rng: inout SynthMedRandom) {
        guard amount > 0 else { return }
        for p in 0..<(size * size) {
            let k = Float(max(0, 1 + amount * rng.fastNormal()))
            for c in 0..<channels { data[p * channels + c] *= k }
        }
    }

    /// Additive Gaussian noise, the same on all channels of a pixel (sensor noise).
    public mutating func noise(_ sigma: Double, rng: inout SynthMedRandom) {
        guard sigma > 0 else { return }
        for p in 0..<(size * size) {
            let n = Float(sigma * rng.fastNormal())
            for c in 0..<channels { data[p * channels + c] += n }
        }
    }

    /// Separable [1 2 1]/4 blur applied `passes` times (about a Gaussian of σ = sqrt(passes/2) px),
    /// edges replicated.
    public mutating func blur(passes: Int = 1) {
        guard passes > 0, size > 2 else { return }
        let n = size, ch = channels
        var tmp = data
        for _ in 0..<passes {
            for horizontal in [true, false] {
                // step between neighbours along the pass direction, in floats
                let step = horizontal ? ch : n * ch
                data.withUnsafeBufferPointer { src in
                    tmp.withUnsafeMutableBufferPointer { dst in
                        for y in 0..<n {
                            for x in 0..<n {
                                let pos = horizontal ? x : y
                                let i = (y * n + x) * ch
                                let a = pos > 0 ? i - step : i, b = pos < n - 1 ? i + step : i
                                for c in 0..<ch { dst[i + c] = 0.25 * src[a + c] + 0.5 * src[i + c] + 0.25 * src[b + c] }
                            }
                        }
                    }
                }
                swap(&tmp, &data)
            }
        }
    }

    /// Keeps pixels inside the region whose signed distance (normalised, negative inside)
    /// is `distance`, and blends the rest toward `col` (anti-aliased over ~1 px).
    public mutating func mask(_ col: SynthColor, distance: (Double, Double) -> Double) {
        let px = Double(size)
        for y in 0..<size {
            let v = centre(y)
            for x in 0..<size {
                let outside = Float(min(1, max(0, 0.5 + distance(centre(x), v) * px)))
                if outside > 0 { blend(x, y, col, outside) }
            }
        }
    }

    /// Signed distance to a circle (normalised units), for `mask`.
    public static func circle(_ cx: Double, _ cy: Double, _ r: Double) -> (Double, Double) -> Double {
        { x, y in ((x - cx) * (x - cx) + (y - cy) * (y - cy)).squareRoot() - r }
    }

    /// The canvas as a PNG image (values clamped to [0, 1]).
    public func image() -> PNGImage {
        // Sizes and counts are consistent by construction.
        try! PNGImage(width: size, height: size, channels: channels, pixels: data.map(PNGImage.clamp01))
    }
}
