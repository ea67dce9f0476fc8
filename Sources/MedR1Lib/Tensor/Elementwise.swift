// Elementwise kernels: a vectorised exp (softmax, log-softmax and tanh all
// hinge on it; libm's expf per element would dominate a forward pass), the
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
        var p = F8(repeating: 1.987_569_150_0e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * r2 + r + 1
        let bits = (ni &+ 127) &* 8_388_608  // (n + 127) << 23
        return y * unsafeBitCast(bits, to: F8.self)
    }

    /// Scalar exp with exactly the vector kernel's arithmetic (tails of rows
    /// use it, so a value does not depend on where it sits in a row).
    @inline(__always)
    static func exp(_ x: Float) -> Float { exp(F8(repeating: x))[0] }

    /// tanh(u) = 1 - 2 / (e^{2u} + 1), with u clamped to [-9, 9] where tanh
    /// is already +-1 in float32. Absolute error about 1e-7.
    @inline(__always)
    static func tanh(_ u: F8) -> F8 {
        var c = u
        c.replace(with: -9, where: c .< -9)
        c.replace(with: 9, where: c .> 9)
        return 1 - 2 / (exp(2 * c) + 1)
    }

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
enum GELU {
    static let c: Float = 0.797_884_560_802_865_4 // sqrt(2/pi)

    /// y = gelu(x), both (n); with `tanhOut`, also t = tanh(u) per element,
    /// which lets the backward skip the exp (`backward(x:tanh:...)`).
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                        tanhOut: UnsafeMutablePointer<Float>? = nil) {
        Parallelism.parallelRanges(n, minChunk: 1 << 14) { r in
            var i = r.lowerBound
            var tail = F8(), out = F8()
            while i < r.upperBound {
                let m = min(8, r.upperBound - i)
                let v: F8
                if m == 8 { v = VectorMath.load(x + i) } else {
                    tail = F8(); for k in 0..<m { tail[k] = x[i + k] }; v = tail
                }
                let t = VectorMath.tanh(c * (v + 0.044_715 * v * v * v))
                out = 0.5 * v * (1 + t)
                if m == 8 { VectorMath.store(out, y + i) } else { for k in 0..<m { y[i + k] = out[k] } }
                if let tanhOut {
                    if m == 8 { VectorMath.store(t, tanhOut + i) } else { for k in 0..<m { tanhOut[i + k] = t[k] } }
                }
                i += m
            }
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
                var v = F8(), g = F8(), old = F8()
                if m == 8 {
                    v = VectorMath.load(x + i); g = VectorMath.load(dy + i)
                    if accumulate { old = VectorMath.load(dx + i) }
                } else {
                    for k in 0..<m { v[k] = x[i + k]; g[k] = dy[i + k]; if accumulate { old[k] = dx[i + k] } }
                }
                let v2 = v * v
                let t = VectorMath.tanh(c * (v + 0.044_715 * v2 * v))
                let one = F8(repeating: 1), half = F8(repeating: 0.5)
                let du: F8 = c * (one + 0.134_145 * v2)
                let sech2: F8 = one - t * t
                let d: F8 = half * (one + t) + half * v * sech2 * du
                let out = old + g * d
                if m == 8 { VectorMath.store(out, dx + i) } else { for k in 0..<m { dx[i + k] = out[k] } }
                i += m
            }
        }
    }

    /// The backward from saved t = tanh(u) (no exp), writing dx = dy * gelu'(x);
    /// dy and dx may be the same buffer. Same formula as `backward`.
    static func backward(x: UnsafePointer<Float>, tanh tv: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallelism.parallelRanges(n, minChunk: 1 << 14) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let v = VectorMath.load(x + i), t = VectorMath.load(tv + i), g = VectorMath.load(dy + i)
                let one = F8(repeating: 1), half = F8(repeating: 0.5)
                let du: F8 = c * (one + 0.134_145 * v * v)
                let d: F8 = half * (one + t) + half * v * (one - t * t) * du
                VectorMath.store(g * d, dx + i)
                i += 8
            }
            while i < r.upperBound {
                let v = x[i], t = tv[i]
                let d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 0.134_145 * v * v)
                dx[i] = dy[i] * d
                i += 1
            }
        }
    }

    /// g = 0.5 x (1 + t) from saved t = tanh(u): gelu(x) again without an exp.
    static func recompute(x: UnsafePointer<Float>, tanh tv: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                          _ n: Int) {
        Parallelism.parallelRanges(n, minChunk: 1 << 14) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let v = VectorMath.load(x + i), t = VectorMath.load(tv + i)
                VectorMath.store(0.5 * v * (1 + t), g + i)
                i += 8
            }
            while i < r.upperBound { g[i] = 0.5 * x[i] * (1 + tv[i]); i += 1 }
        }
    }
}
