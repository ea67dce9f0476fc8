// RMSNorm(x) = x / sqrt(mean(x^2) + eps) * g, per row (token).

enum RMSNorm {
    /// y = x * r * g with r = 1 / sqrt(mean(x^2) + eps) per row.
    /// - x, y: (rows, d); g: (d); rInv: (rows), saved for the backward.
    static func forward(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        _ rInv: UnsafeMutablePointer<Float>, rows: Int, d: Int, eps: Float) {
        Parallelism.parallelRanges(rows, minChunk: 256) { range in
            for row in range {
                let xr = x + row * d, yr = y + row * d
                let r = 1 / (VectorMath.dot(xr, xr, d) / Float(d) + eps).squareRoot()
                rInv[row] = r
                var i = 0
                let rv = F8(repeating: r)
                while i + 8 <= d {
                    VectorMath.store(VectorMath.load(xr + i) * rv * VectorMath.load(g + i), yr + i); i += 8
                }
                while i < d { yr[i] = xr[i] * r * g[i]; i += 1 }
            }
        }
    }

    /// y = x * rInv * g with rInv saved by `forward`: the same products in
    /// the same order, so y is bit-identical to forward's (the backward
    /// recomputes norm outputs instead of keeping them).
    static func apply(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ rInv: UnsafePointer<Float>,
                      _ y: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
        Parallelism.parallelRanges(rows, minChunk: 256) { range in
            for row in range {
                let xr = x + row * d, yr = y + row * d
                let r = rInv[row]
                var i = 0
                let rv = F8(repeating: r)
                while i + 8 <= d {
                    VectorMath.store(VectorMath.load(xr + i) * rv * VectorMath.load(g + i), yr + i); i += 8
                }
                while i < d { yr[i] = xr[i] * r * g[i]; i += 1 }
            }
        }
    }

    /// Backward of `y = xhat * g`, xhat = x * r:
    ///   dg += sum_rows dy * xhat
    ///   dx (+)= r * (dy*g - xhat * mean(dy*g * xhat))
    /// - dx may alias nothing else; with `accumulate` it is added to.
    /// - dg is reduced in a fixed number of row blocks (8), added in order, so
    ///   the result does not depend on the thread count.
    static func backward(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ rInv: UnsafePointer<Float>,
                         _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                         _ dg: UnsafeMutablePointer<Float>, rows: Int, d: Int, accumulate: Bool,
                         scratch: FloatBuffer) {
        let blocks = 8
        let partial = scratch.reserve(blocks * d)
        partial.update(repeating: 0, count: blocks * d)
        Parallelism.parallelFor(blocks) { b in
            let lo = rows * b / blocks, hi = rows * (b + 1) / blocks
            let pg = partial + b * d
            for row in lo..<hi {
                backwardRow(x + row * d, g, rInv[row], dy + row * d, dx + row * d, pg, d: d, accumulate: accumulate)
            }
        }
        for b in 0..<blocks { VectorMath.axpy(1, partial + b * d, dg, d) }
    }

    /// One row of `backward`: pg += dy * xhat; dx (+)= r (dy g - xhat mean(dy g xhat)).
    /// 8 lanes at a time (the row sum in 8 partial sums, then added), scalar tail.
    @inline(__always)
    private static func backwardRow(_ xr: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ r: Float,
                                    _ dyr: UnsafePointer<Float>, _ dxr: UnsafeMutablePointer<Float>,
                                    _ pg: UnsafeMutablePointer<Float>, d: Int, accumulate: Bool) {
        let rv = F8(repeating: r)
        var acc = F8()
        var i = 0
        while i + 8 <= d {
            let xh = VectorMath.load(xr + i) * rv, dyv = VectorMath.load(dyr + i)
            VectorMath.store(VectorMath.load(pg + i) + dyv * xh, pg + i)
            acc += dyv * VectorMath.load(g + i) * xh
            i += 8
        }
        var s = acc.sum()
        while i < d {
            let xh = xr[i] * r
            pg[i] += dyr[i] * xh
            s += dyr[i] * g[i] * xh
            i += 1
        }
        let mean = s / Float(d)
        let mv = F8(repeating: mean)
        i = 0
        while i + 8 <= d {
            let xv = VectorMath.load(xr + i)
            var v = rv * (VectorMath.load(dyr + i) * VectorMath.load(g + i) - xv * rv * mv)
            if accumulate { v += VectorMath.load(dxr + i) }
            VectorMath.store(v, dxr + i)
            i += 8
        }
        while i < d {
            let v = r * (dyr[i] * g[i] - xr[i] * r * mean)
            dxr[i] = accumulate ? dxr[i] + v : v
            i += 1
        }
    }
}
