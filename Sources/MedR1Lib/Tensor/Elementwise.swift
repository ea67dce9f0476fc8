// Elementwise kernels: a vectorised exp (softmax and log-softmax hinge on it;
// libm's expf per element would dominate a forward pass) and tanh (GELU), the
// tanh-approximated GELU with its backward, and small vector helpers.

typealias F8 = SIMD8<Float>

enum VectorMath {
    /// exp(x) for 8 lanes, Cephes' expf: x = n ln2 + r, |r| <= ln2/2, a
    /// degree-6 polynomial for e^r, then scaling by 2^n through the exponent
    /// bits. Relative error about 2e-7 over the float range; inputs below
    /// -87.3 give about 1e-38 (never exactly 0), above 88.3 clamp.
    @inline(__always)
    static func exp(_ v: F8) -> F8 {
        // Clamp to [-87.3, 88.3] with mask selects (pointwiseMin/Max are not
        // inlined and cost more than the whole polynomial).
        var x = v
        x.replace(with: -87.3, where: x .< -87.3)
        x.replace(with: 88.3, where: x .> 88.3)
        // n = round(x / ln2) by the 1.5 * 2^23 trick: adding it leaves n in
        // the low mantissa bits (no float->int conversion, which Swift does
        // lane by lane with range checks).
        let magic = F8(repeating: 12_582_912)
        let t = x * 1.442_695_040_888_963_4 + magic
        let n = t - magic
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        let r2 = r * r
        // Horner steps as fused multiply-adds (`c.addingProduct(p, r)` =
        // c + p r, one vfmadd with -target-cpu haswell, a correctly rounded
        // fmaf per lane in unoptimised builds: the same values either way).
        var p = F8(repeating: 1.987_569_150_0e-4)
        p = F8(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = F8(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = F8(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = F8(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = F8(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let y = r.addingProduct(p, r2) + 1
        let bits = (ni &+ 127) &* 8_388_608  // (n + 127) << 23
        return y * unsafeBitCast(bits, to: F8.self)
    }

    /// Scalar exp with exactly the vector kernel's arithmetic (tails of rows
    /// use it, so a value does not depend on where it sits in a row).
    @inline(__always)
    static func exp(_ x: Float) -> Float { exp(F8(repeating: x))[0] }

    /// tanh(u) for 8 lanes: Eigen's rational approximation (an odd degree-13
    /// numerator over an even degree-6 denominator), u clamped to
    /// [-7.9053, 7.9053], beyond which tanh is within 2.4e-7 of +-1.
    /// One division and 10 fused multiply-adds, against exp's 7 plus a division in
    /// `1 - 2 / (e^{2u} + 1)`. Largest error against double tanh on [-10, 10]:
    /// 2.5e-7 absolute, 1.6e-7 relative near 0 (`testFastTanhMatchesLibm`);
    /// saturated inputs give +-0.99999976.
    @inline(__always)
    static func tanh(_ u: F8) -> F8 {
        var x = u
        x.replace(with: -7.905_311_1, where: x .< -7.905_311_1)
        x.replace(with: 7.905_311_1, where: x .> 7.905_311_1)
        let x2 = x * x
        // Horner steps as fused multiply-adds, as in `exp`.
        var p = F8(repeating: -2.760_768_477_423_55e-16)
        p = F8(repeating: 2.000_187_904_824_77e-13).addingProduct(p, x2)
        p = F8(repeating: -8.604_671_522_137_35e-11).addingProduct(p, x2)
        p = F8(repeating: 5.122_297_090_371_14e-8).addingProduct(p, x2)
        p = F8(repeating: 1.485_722_357_179_79e-5).addingProduct(p, x2)
        p = F8(repeating: 6.372_619_288_754_36e-4).addingProduct(p, x2)
        p = F8(repeating: 4.893_524_558_917_86e-3).addingProduct(p, x2)
        var q = F8(repeating: 1.198_258_394_667_02e-6)
        q = F8(repeating: 1.185_347_056_866_54e-4).addingProduct(q, x2)
        q = F8(repeating: 2.268_434_632_439_00e-3).addingProduct(q, x2)
        q = F8(repeating: 4.893_525_185_543_85e-3).addingProduct(q, x2)
        return x * p / q
    }

    /// Scalar tanh with exactly the vector kernel's arithmetic.
    @inline(__always)
    static func tanh(_ x: Float) -> Float { tanh(F8(repeating: x))[0] }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> F8 {
        UnsafeRawPointer(p).loadUnaligned(as: F8.self)
    }
    @inline(__always) static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
    }

    /// sum_i a[i] * b[i].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F8()
        var i = 0
        while i + 8 <= n { acc += load(a + i) * load(b + i); i += 8 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// y[i] += alpha * x[i].
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let av = F8(repeating: alpha)
        var i = 0
        while i + 8 <= n { store(load(y + i) + av * load(x + i), y + i); i += 8 }
        while i < n { y[i] += alpha * x[i]; i += 1 }
    }

    /// y[i] += x[i].
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallelism.parallelRanges(n, minChunk: 1 << 16) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store(load(y + i) + load(x + i), y + i); i += 8 }
            while i < r.upperBound { y[i] += x[i]; i += 1 }
        }
    }
}

// MARK: - GELU (tanh approximation)

/// gelu(x) = 0.5 x (1 + tanh( sqrt(2/pi) (x + 0.044715 x^3) )), elementwise.
///
/// Every kernel runs 16 elements per step (two independent 8-lane chains, so
/// the division's latency overlaps), then 8, then a zero-padded 8-lane tail
/// with the same arithmetic: an element's value does not depend on where it
/// sits in the buffer or on how the range was split over the workers.
/// Large buffers (a block's (S, 4d) MLP activations) are split over both
/// cores; these passes are bound by memory traffic more than by arithmetic.
enum GELU {
    static let c: Float = 0.797_884_560_802_865_4 // sqrt(2/pi)
    /// 3 * 0.044715, the derivative's coefficient.
    static let c3: Float = 0.134_145

    /// u = c (x + 0.044715 x^3), the tanh argument.
    @inline(__always)
    static func arg(_ v: F8) -> F8 { c * (v + 0.044_715 * v * v * v) }

    /// gelu'(x) from t = tanh(u): 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2).
    @inline(__always)
    static func slope(_ v: F8, _ t: F8) -> F8 {
        let one = F8(repeating: 1), half = F8(repeating: 0.5)
        let du: F8 = c * (one + c3 * v * v)
        return half * (one + t) + half * v * (one - t * t) * du
    }

    /// Loads lanes [i, i + m) (m < 8) of p into a zero-padded vector.
    @inline(__always)
    static func loadTail(_ p: UnsafePointer<Float>, _ i: Int, _ m: Int) -> F8 {
        var v = F8()
        for k in 0..<m { v[k] = p[i + k] }
        return v
    }

    @inline(__always)
    static func storeTail(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ m: Int) {
        for k in 0..<m { p[i + k] = v[k] }
    }

    /// y = gelu(x), both (n); with `tanhOut`, also t = tanh(u) per element,
    /// which lets the backward skip the tanh (`backward(x:tanh:...)`).
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                        tanhOut: UnsafeMutablePointer<Float>? = nil) {
        Parallelism.parallelRanges(n, minChunk: 1 << 14) { r in
            if let tanhOut {
                forwardRange(x, y, tanhOut, r, saveTanh: true)
            } else {
                forwardRange(x, y, y, r, saveTanh: false)
            }
        }
    }

    @inline(__always)
    private static func forwardRange(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                     _ tOut: UnsafeMutablePointer<Float>, _ r: Range<Int>, saveTanh: Bool) {
        var i = r.lowerBound
        let end = r.upperBound
        while i + 16 <= end {
            let v0 = VectorMath.load(x + i), v1 = VectorMath.load(x + i + 8)
            let t0 = VectorMath.tanh(arg(v0)), t1 = VectorMath.tanh(arg(v1))
            VectorMath.store(0.5 * v0 * (1 + t0), y + i)
            VectorMath.store(0.5 * v1 * (1 + t1), y + i + 8)
            if saveTanh { VectorMath.store(t0, tOut + i); VectorMath.store(t1, tOut + i + 8) }
            i += 16
        }
        while i < end {
            let m = min(8, end - i)
            let v = m == 8 ? VectorMath.load(x + i) : loadTail(x, i, m)
            let t = VectorMath.tanh(arg(v))
            let out = 0.5 * v * (1 + t)
            if m == 8 {
                VectorMath.store(out, y + i)
                if saveTanh { VectorMath.store(t, tOut + i) }
            } else {
                storeTail(out, y, i, m)
                if saveTanh { storeTail(t, tOut, i, m) }
            }
            i += m
        }
    }

    /// dx (+)= dy * gelu'(x), differentiating
    /// `y = 0.5 x (1 + t)`, t = tanh(u), u = c (x + 0.044715 x^3):
    /// dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2).
    static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>, _ n: Int, accumulate: Bool = false) {
        Parallelism.parallelRanges(n, minChunk: 1 << 14) { r in
            var i = r.lowerBound
            while i < r.upperBound {
                let m = min(8, r.upperBound - i)
                let v = m == 8 ? VectorMath.load(x + i) : loadTail(x, i, m)
                let g = m == 8 ? VectorMath.load(dy + i) : loadTail(dy, i, m)
                let old = accumulate ? (m == 8 ? VectorMath.load(dx + i) : loadTail(dx, i, m)) : F8()
                let out = old + g * slope(v, VectorMath.tanh(arg(v)))
                if m == 8 { VectorMath.store(out, dx + i) } else { storeTail(out, dx, i, m) }
                i += m
            }
        }
    }

    /// The backward from saved t = tanh(u) (no tanh), writing dx = dy * gelu'(x);
    /// dy and dx may be the same buffer. Same formula as `backward`.
    static func backward(x: UnsafePointer<Float>, tanh tv: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallelism.parallelRanges(n, minChunk: 1 << 14) { r in
            var i = r.lowerBound
            let end = r.upperBound
            while i + 16 <= end {
                let v0 = VectorMath.load(x + i), v1 = VectorMath.load(x + i + 8)
                let t0 = VectorMath.load(tv + i), t1 = VectorMath.load(tv + i + 8)
                let g0 = VectorMath.load(dy + i), g1 = VectorMath.load(dy + i + 8)
                VectorMath.store(g0 * slope(v0, t0), dx + i)
                VectorMath.store(g1 * slope(v1, t1), dx + i + 8)
                i += 16
            }
            while i < end {
                let m = min(8, end - i)
                if m == 8 {
                    VectorMath.store(VectorMath.load(dy + i) * slope(VectorMath.load(x + i), VectorMath.load(tv + i)),
                                     dx + i)
                } else {
                    storeTail(loadTail(dy, i, m) * slope(loadTail(x, i, m), loadTail(tv, i, m)), dx, i, m)
                }
                i += m
            }
        }
    }

    /// g = 0.5 x (1 + t) from saved t = tanh(u): gelu(x) again without a tanh,
    /// bit-identical to `forward`'s output.
    static func recompute(x: UnsafePointer<Float>, tanh tv: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                          _ n: Int) {
        Parallelism.parallelRanges(n, minChunk: 1 << 14) { r in
            var i = r.lowerBound
            let end = r.upperBound
            while i + 16 <= end {
                let v0 = VectorMath.load(x + i), v1 = VectorMath.load(x + i + 8)
                let t0 = VectorMath.load(tv + i), t1 = VectorMath.load(tv + i + 8)
                VectorMath.store(0.5 * v0 * (1 + t0), g + i)
                VectorMath.store(0.5 * v1 * (1 + t1), g + i + 8)
                i += 16
            }
            while i < end {
                let m = min(8, end - i)
                let v = m == 8 ? VectorMath.load(x + i) : loadTail(x, i, m)
                let t = m == 8 ? VectorMath.load(tv + i) : loadTail(tv, i, m)
                let out = 0.5 * v * (1 + t)
                if m == 8 { VectorMath.store(out, g + i) } else { storeTail(out, g, i, m) }
                i += m
            }
        }
    }
}
