// AVX-512 versions of MedR1Lib's hottest kernels, in a module of their own:
// Swift has no per-function target attribute, so this whole module is
// compiled for skylake-avx512 (Package.swift) and MedR1Lib calls into it only
// after checking that the processor has AVX-512 (`SIMDLevel` in MedR1Lib).
// Nothing here runs unless called, so the binary still starts and works on a
// processor without AVX-512; it then uses MedR1Lib's AVX2 kernels.
//
// The decode product (`forward`) keeps the AVX2 decode kernel's summation
// order exactly: each output is one fused multiply-add chain over k in
// order, started from zero, then added to y when accumulating, so it gives
// the same bits; only the register tile is wider (32 zmm registers: an
// 8-row x 32-column tile of 16 accumulators, where AVX2's 16 ymm registers
// hold 4 x 16). `gemm` stands in for OpenBLAS's sgemm, whose order is its
// own: there the results differ from OpenBLAS's by float32 rounding. Its
// chains split k into blocks of `kBlock` at fixed places, so an output does
// not depend on the tile, the row block or the thread that computed it.

public typealias F16 = SIMD16<Float>

@inline(__always) func load(_ p: UnsafePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}

@inline(__always) func store(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}

@inline(__always) func loadF8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func storeF8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

public enum PackedProduct512 {
    /// Rows of op(A) per block: the block (rows x kBlock floats) and one pair
    /// of packed B panels stay in L2 while the block's row tiles run over every panel.
    static let rowBlock = 96
    /// Inner-dimension block of `gemm` (each output's chain is split into
    /// chains over these blocks of k, added to C in order).
    static let kBlock = 512
    /// Output columns per block, in 16-column panels (256 columns).
    static let panelBlock = 16

    /// y (n, out) (+)= x (n, in) W^T with W packed in panels of 16 output
    /// rows, panel p holding W[16p + c][k] at (p * in + k) * 16 + c (MedR1Lib's
    /// `PackedLinear.pack`); outDim % 16 == 0. ldx, ldy are row strides.
    /// One chain over all of k per output (no k blocks), as the AVX2 kernel.
    public static func forward(_ x: UnsafePointer<Float>, ldx: Int, _ w: UnsafePointer<Float>,
                               _ y: UnsafeMutablePointer<Float>, ldy: Int, rows n: Int, inDim K: Int, outDim: Int,
                               accumulate: Bool) {
        run(x, rs: ldx, ks: 1, .packed(w), c: y, ldc: ldy, m: n, n: outDim, k: K, kBlock: K, alpha: 1,
            beta: accumulate ? 1 : 0, packA: nil, packB: nil)
    }

    /// Floats of packing buffer `gemm` needs for a product with n columns
    /// and inner dimension k: one block of op(B) and one of op(A)'s tiles
    /// (small for the many small attention products).
    public static func packSize(n: Int, k: Int) -> Int { (min(n, panelBlock * 16) + rowBlock) * min(k, kBlock) }

    /// Where op(B) comes from.
    enum BSource {
        /// Already in 16-column panels of all k rows (`PackedLinear.pack`).
        case packed(UnsafePointer<Float>)
        /// op(B) = B (k, n) with row stride ldb.
        case rows(UnsafePointer<Float>, Int)
        /// op(B) = B^T, B (n, k) with row stride ldb.
        case columns(UnsafePointer<Float>, Int)
    }

    /// C (m, n) = alpha op(A) op(B) + beta C, row-major, op(X) = X^T when
    /// trans; n % 16 == 0. Each block of kBlock rows of op(B) is first copied
    /// into `pack` (packSize floats) as 16-column panels; with transA, each
    /// block of op(A) too, in 8-row tiles, so the kernel reads both contiguously.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
                            c: UnsafeMutablePointer<Float>, ldc: Int, pack: UnsafeMutablePointer<Float>) {
        precondition(n % 16 == 0, "PackedProduct512.gemm: n = \(n) is not a multiple of 16")
        let source: BSource = transB ? .columns(b, ldb) : .rows(b, ldb)
        let packB = pack, packA = pack + min(n, panelBlock * 16) * min(k, kBlock)
        if transA {
            run(a, rs: 1, ks: lda, source, c: c, ldc: ldc, m: m, n: n, k: k, kBlock: kBlock, alpha: alpha,
                beta: beta, packA: packA, packB: packB)
        } else {
            run(a, rs: lda, ks: 1, source, c: c, ldc: ldc, m: m, n: n, k: k, kBlock: kBlock, alpha: alpha,
                beta: beta, packA: nil, packB: packB)
        }
    }

    /// Packs all of op(B) (k, n) into `into` (n k floats) as 16-column
    /// panels of all k rows, panel p's row kk at (p k + kk) 16: the layout
    /// `gemm(packedB:)` reads, so the parts of a product split over threads
    /// share one packing. n % 16 == 0.
    public static func packB(transB: Bool, n: Int, k: Int, b: UnsafePointer<Float>, ldb: Int,
                             into dst: UnsafeMutablePointer<Float>) {
        packPanels(transB: transB, b: b, ldb: ldb, k0: 0, kn: k, panels: 0..<(n / 16), into: dst)
    }

    /// Rows k0 ..< k0 + kn of op(B)'s 16-column panels `panels` into `dst`,
    /// panel p's row kk at ((p - panels.lowerBound) kn + kk) 16.
    @inline(__always)
    static func packPanels(transB: Bool, b: UnsafePointer<Float>, ldb: Int, k0: Int, kn: Int, panels: Range<Int>,
                           into dst: UnsafeMutablePointer<Float>) {
        for p in panels {
            let d = dst + (p - panels.lowerBound) * kn * 16
            if transB {
                // op(B)[k0 + kk][16p + j] = B[16p + j][k0 + kk]: 16 rows of B
                // read in step, one 16-float store per k.
                let src = b + p * 16 * ldb + k0
                for kk in 0..<kn {
                    var v = F16()
                    for j in 0..<16 { v[j] = src[j * ldb + kk] }
                    store(v, d + kk * 16)
                }
            } else {
                let src = b + k0 * ldb + p * 16
                for kk in 0..<kn { store(load(src + kk * ldb), d + kk * 16) }
            }
        }
    }

    /// `gemm` with op(B) already packed by `packB`; `pack` needs
    /// `packSize(n:k:)` floats (op(A)'s tiles when transA).
    public static func gemm(transA: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                            packedB: UnsafePointer<Float>, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                            pack: UnsafeMutablePointer<Float>) {
        precondition(n % 16 == 0, "PackedProduct512.gemm: n = \(n) is not a multiple of 16")
        if transA {
            run(a, rs: 1, ks: lda, .packed(packedB), c: c, ldc: ldc, m: m, n: n, k: k, kBlock: kBlock, alpha: alpha,
                beta: beta, packA: pack, packB: nil)
        } else {
            run(a, rs: lda, ks: 1, .packed(packedB), c: c, ldc: ldc, m: m, n: n, k: k, kBlock: kBlock, alpha: alpha,
                beta: beta, packA: nil, packB: nil)
        }
    }

    /// C (m, n) = alpha op(A) op(B) + beta C with op(A)[r][k] at a[r rs + k ks].
    /// With `packA` (rowBlock x kBlock floats, rs must be 1), each block of
    /// op(A) is copied there in 8-row tiles before use; `packB` (n x kBlock
    /// floats) takes each k block of op(B) unless it is already packed.
    @inline(__always)
    static func run(_ a: UnsafePointer<Float>, rs: Int, ks: Int, _ source: BSource,
                    c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k K: Int, kBlock: Int,
                    alpha: Float, beta: Float, packA: UnsafeMutablePointer<Float>?,
                    packB: UnsafeMutablePointer<Float>?) {
        let panels = n / 16
        if K == 0 {
            for r in 0..<m { for j in 0..<n { c[r * ldc + j] = beta == 0 ? 0 : beta * c[r * ldc + j] } }
            return
        }
        var k0 = 0
        while k0 < K {
            let kn = min(kBlock, K - k0)
            // The first k block applies beta; later ones add to C.
            let st = Store(alpha: alpha, beta: k0 == 0 ? beta : 1)
            let ak = a + k0 * ks
            // Columns in blocks of panelBlock panels: the block's packed B
            // (kn x 256 floats) stays in L2 while every row block runs over it.
            var q0 = 0
            while q0 < panels {
                let q1 = min(panels, q0 + panelBlock)
                // This block of op(B) as panels: panel p's row k at w + (p - q0) panelStride + k 16.
                let w: UnsafePointer<Float>, panelStride: Int
                switch source {
                case .packed(let pw):
                    w = pw + (q0 * K + k0) * 16; panelStride = K * 16
                case .rows(let b, let ldb):
                    packPanels(transB: false, b: b, ldb: ldb, k0: k0, kn: kn, panels: q0..<q1, into: packB!)
                    w = UnsafePointer(packB!); panelStride = kn * 16
                case .columns(let b, let ldb):
                    packPanels(transB: true, b: b, ldb: ldb, k0: k0, kn: kn, panels: q0..<q1, into: packB!)
                    w = UnsafePointer(packB!); panelStride = kn * 16
                }
                let wks = 16
                var r0 = 0
                while r0 < m {
                    let r1 = min(m, r0 + rowBlock)
                    // Row r's first element and the strides of the rows and of k.
                    var base = ak, rowStride = rs, kStride = ks
                    if let ap = packA {
                        var t = r0
                        while t < r1 {
                            let dst = ap + (t - r0) * kn, rows = min(8, r1 - t)
                            if rows == 8 {
                                for kk in 0..<kn { storeF8(loadF8(ak + kk * ks + t), dst + kk * 8) }
                            } else {
                                for kk in 0..<kn { for i in 0..<rows { dst[kk * 8 + i] = ak[kk * ks + t + i] } }
                            }
                            t += 8
                        }
                        base = UnsafePointer(ap); rowStride = 1; kStride = 8
                    }
                    // Rows r0 ..< r1 as pointers: packed tiles are kn * 8 floats apart.
                    @inline(__always) func row(_ r: Int) -> UnsafePointer<Float> {
                        packA == nil ? base + r * rowStride : base + ((r - r0) / 8) * kn * 8 + (r - r0) % 8
                    }
                    var p = q0
                    while p + 2 <= q1 {
                        let w0 = w + (p - q0) * panelStride, w1 = w0 + panelStride
                        let cc = c + p * 16
                        var r = r0
                        while r + 8 <= r1 {
                            tile8x32(row(r), rowStride, kStride, w0, w1, wks, cc + r * ldc, ldc, kn, st)
                            r += 8
                        }
                        while r + 4 <= r1 {
                            tile4x32(row(r), rowStride, kStride, w0, w1, wks, cc + r * ldc, ldc, kn, st)
                            r += 4
                        }
                        while r < r1 {
                            tile1x16(row(r), kStride, w0, wks, cc + r * ldc, kn, st)
                            tile1x16(row(r), kStride, w1, wks, cc + r * ldc + 16, kn, st)
                            r += 1
                        }
                        p += 2
                    }
                    if p < q1 {
                        let w0 = w + (p - q0) * panelStride, cc = c + p * 16
                        for r in r0..<r1 { tile1x16(row(r), kStride, w0, wks, cc + r * ldc, kn, st) }
                    }
                    r0 = r1
                }
                q0 = q1
            }
            k0 += kn
        }
    }

    /// How an accumulator goes to C: c = alpha acc + beta c (beta 0: C not read).
    struct Store {
        let alpha: Float
        let beta: Float
        @inline(__always)
        func put(_ v: F16, _ y: UnsafeMutablePointer<Float>) {
            let s = alpha == 1 ? v : v * alpha
            if beta == 0 {
                store(s, y)
            } else if beta == 1 {
                store(load(y) + s, y)
            } else {
                store(load(y) * beta + s, y)
            }
        }
    }

    @inline(__always)
    static func tile8x32(_ x: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ w0: UnsafePointer<Float>,
                         _ w1: UnsafePointer<Float>, _ wks: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ K: Int,
                         _ st: Store) {
        let x0 = x, x1 = x0 + rs, x2 = x1 + rs, x3 = x2 + rs
        let x4 = x3 + rs, x5 = x4 + rs, x6 = x5 + rs, x7 = x6 + rs
        var a0 = F16(), a1 = F16(), a2 = F16(), a3 = F16(), a4 = F16(), a5 = F16(), a6 = F16(), a7 = F16()
        var b0 = F16(), b1 = F16(), b2 = F16(), b3 = F16(), b4 = F16(), b5 = F16(), b6 = F16(), b7 = F16()
        for k in 0..<K {
            let lo = load(w0 + k * wks), hi = load(w1 + k * wks)
            let i = k * ks
            var v = F16(repeating: x0[i]); a0 = a0.addingProduct(v, lo); b0 = b0.addingProduct(v, hi)
            v = F16(repeating: x1[i]); a1 = a1.addingProduct(v, lo); b1 = b1.addingProduct(v, hi)
            v = F16(repeating: x2[i]); a2 = a2.addingProduct(v, lo); b2 = b2.addingProduct(v, hi)
            v = F16(repeating: x3[i]); a3 = a3.addingProduct(v, lo); b3 = b3.addingProduct(v, hi)
            v = F16(repeating: x4[i]); a4 = a4.addingProduct(v, lo); b4 = b4.addingProduct(v, hi)
            v = F16(repeating: x5[i]); a5 = a5.addingProduct(v, lo); b5 = b5.addingProduct(v, hi)
            v = F16(repeating: x6[i]); a6 = a6.addingProduct(v, lo); b6 = b6.addingProduct(v, hi)
            v = F16(repeating: x7[i]); a7 = a7.addingProduct(v, lo); b7 = b7.addingProduct(v, hi)
        }
        st.put(a0, y); st.put(b0, y + 16)
        st.put(a1, y + ldy); st.put(b1, y + ldy + 16)
        st.put(a2, y + 2 * ldy); st.put(b2, y + 2 * ldy + 16)
        st.put(a3, y + 3 * ldy); st.put(b3, y + 3 * ldy + 16)
        st.put(a4, y + 4 * ldy); st.put(b4, y + 4 * ldy + 16)
        st.put(a5, y + 5 * ldy); st.put(b5, y + 5 * ldy + 16)
        st.put(a6, y + 6 * ldy); st.put(b6, y + 6 * ldy + 16)
        st.put(a7, y + 7 * ldy); st.put(b7, y + 7 * ldy + 16)
    }

    @inline(__always)
    static func tile4x32(_ x: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ w0: UnsafePointer<Float>,
                         _ w1: UnsafePointer<Float>, _ wks: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ K: Int,
                         _ st: Store) {
        let x0 = x, x1 = x0 + rs, x2 = x1 + rs, x3 = x2 + rs
        var a0 = F16(), a1 = F16(), a2 = F16(), a3 = F16()
        var b0 = F16(), b1 = F16(), b2 = F16(), b3 = F16()
        for k in 0..<K {
            let lo = load(w0 + k * wks), hi = load(w1 + k * wks)
            let i = k * ks
            var v = F16(repeating: x0[i]); a0 = a0.addingProduct(v, lo); b0 = b0.addingProduct(v, hi)
            v = F16(repeating: x1[i]); a1 = a1.addingProduct(v, lo); b1 = b1.addingProduct(v, hi)
            v = F16(repeating: x2[i]); a2 = a2.addingProduct(v, lo); b2 = b2.addingProduct(v, hi)
            v = F16(repeating: x3[i]); a3 = a3.addingProduct(v, lo); b3 = b3.addingProduct(v, hi)
        }
        st.put(a0, y); st.put(b0, y + 16)
        st.put(a1, y + ldy); st.put(b1, y + ldy + 16)
        st.put(a2, y + 2 * ldy); st.put(b2, y + 2 * ldy + 16)
        st.put(a3, y + 3 * ldy); st.put(b3, y + 3 * ldy + 16)
    }

    @inline(__always)
    static func tile1x16(_ x: UnsafePointer<Float>, _ ks: Int, _ w: UnsafePointer<Float>, _ wks: Int,
                         _ y: UnsafeMutablePointer<Float>, _ K: Int, _ st: Store) {
        var a = F16()
        for k in 0..<K { a = a.addingProduct(F16(repeating: x[k * ks]), load(w + k * wks)) }
        st.put(a, y)
    }
}
