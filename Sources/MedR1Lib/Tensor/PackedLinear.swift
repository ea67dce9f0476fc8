// Linear layers for decoding: y (n, out) = x (n, in) W^T with W packed once
// into panels of 16 output columns, so no call repacks it.
//
// A decode step multiplies 32-64 rows by each weight matrix. Through
// OpenBLAS every call packed the whole weight matrix again (sgemm_incopy,
// ~12% of W2 on one thread, and done by each worker on two), for products
// too small to amortise it. Decode weights do not change while a cache is
// in use, so `PackedWeights` (Model/PackedWeights.swift) packs them at
// prefill and the kernel below reads the panels directly: a 4-row x
// 16-column register tile (8 vector FMA accumulators), the panel
// (in x 16 floats) staying in L1 across row blocks.
// Each output is one FMA chain over k in order, whatever the row blocking or
// thread count, so results do not depend on how rows are split.
// On AVX-512 processors the same products run in MedR1AVX512 (wider tiles,
// same bits).

import MedR1AVX512

enum PackedLinear {
    /// Packs W (outDim, inDim) row-major into panels of 16 rows (outDim % 16 == 0).
    static func pack(_ w: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>, outDim: Int, inDim: Int) {
        for panel in 0..<(outDim / 16) {
            let dst = p + panel * inDim * 16
            for c in 0..<16 {
                let src = w + (panel * 16 + c) * inDim
                for k in 0..<inDim { dst[k * 16 + c] = src[k] }
            }
        }
    }

    /// y (n, out) (+)= x (n, in) W^T with W packed by `pack`; ldx, ldy are the
    /// row strides. `accumulate` adds to y (the residual stream).
    static func forward(_ x: UnsafePointer<Float>, ldx: Int, _ w: UnsafePointer<Float>,
                        _ y: UnsafeMutablePointer<Float>, ldy: Int, rows n: Int, inDim: Int, outDim: Int,
                        accumulate: Bool) {
        if SIMDLevel.avx512 {
            PackedProduct512.forward(x, ldx: ldx, w, y, ldy: ldy, rows: n, inDim: inDim, outDim: outDim,
                                     accumulate: accumulate)
            return
        }
        forwardAVX2(x, ldx: ldx, w, y, ldy: ldy, rows: n, inDim: inDim, outDim: outDim, accumulate: accumulate)
    }

    /// `forward` with 8-lane vectors (4-row x 16-column tiles), the kernel
    /// on processors without AVX-512; the same bits as the AVX-512 kernel.
    static func forwardAVX2(_ x: UnsafePointer<Float>, ldx: Int, _ w: UnsafePointer<Float>,
                            _ y: UnsafeMutablePointer<Float>, ldy: Int, rows n: Int, inDim: Int, outDim: Int,
                            accumulate: Bool) {
        let K = inDim
        for panel in 0..<(outDim / 16) {
            let p = w + panel * K * 16
            let yc = y + panel * 16
            var r = 0
            while r + 4 <= n {
                let x0 = x + r * ldx, x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx
                var a0 = F8(), b0 = F8(), a1 = F8(), b1 = F8(), a2 = F8(), b2 = F8(), a3 = F8(), b3 = F8()
                for k in 0..<K {
                    let lo = VectorMath.load(p + k * 16), hi = VectorMath.load(p + k * 16 + 8)
                    let v0 = F8(repeating: x0[k]), v1 = F8(repeating: x1[k])
                    let v2 = F8(repeating: x2[k]), v3 = F8(repeating: x3[k])
                    a0 = a0.addingProduct(v0, lo); b0 = b0.addingProduct(v0, hi)
                    a1 = a1.addingProduct(v1, lo); b1 = b1.addingProduct(v1, hi)
                    a2 = a2.addingProduct(v2, lo); b2 = b2.addingProduct(v2, hi)
                    a3 = a3.addingProduct(v3, lo); b3 = b3.addingProduct(v3, hi)
                }
                store(a0, b0, yc + r * ldy, accumulate)
                store(a1, b1, yc + (r + 1) * ldy, accumulate)
                store(a2, b2, yc + (r + 2) * ldy, accumulate)
                store(a3, b3, yc + (r + 3) * ldy, accumulate)
                r += 4
            }
            while r < n {
                let x0 = x + r * ldx
                var a0 = F8(), b0 = F8()
                for k in 0..<K {
                    let v0 = F8(repeating: x0[k])
                    a0 = a0.addingProduct(v0, VectorMath.load(p + k * 16))
                    b0 = b0.addingProduct(v0, VectorMath.load(p + k * 16 + 8))
                }
                store(a0, b0, yc + r * ldy, accumulate)
                r += 1
            }
        }
    }

    @inline(__always)
    private static func store(_ a: F8, _ b: F8, _ y: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        if accumulate {
            VectorMath.store(VectorMath.load(y) + a, y)
            VectorMath.store(VectorMath.load(y + 8) + b, y + 8)
        } else {
            VectorMath.store(a, y)
            VectorMath.store(b, y + 8)
        }
    }
}
