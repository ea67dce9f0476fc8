// Kernels of one decode step (Decode.swift): a single new query per row and
// head against its prefix's keys and its own suffix's keys, and the draw of
// a token from a row of logits (Sampler.swift).
//
// Decode attention is tiny per call (1 query x ~100 keys x 32 dims): as
// sgemm calls it was dominated by OpenBLAS's call overhead and packing, so
// these are plain SIMD loops. Keys are stored in tiles of 8 keys, (dh, 8)
// each, zero-padded, so scores are whole 8-lane vector FMAs with the
// accumulators kept in registers, and each (row, head)'s keys and values
// are contiguous (streamed, not strided, from memory).
// `addingProduct` compiles to a vector FMA under -target-cpu haswell (the
// release flags of MedR1Lib); without it (debug builds) it is a libm call
// per lane, slow but exact.
//
// With AVX-512 (`attendGroup`), the rows that share a prefix (a prompt's G
// completions) attend to it together: its scores and its share of the
// output are two (G x dh) x (dh x prefix) and (G x prefix) x (prefix x dh)
// products on PackedProduct512's tile, reading the prefix's keys and values
// once per group instead of once per row; each row's own suffix still goes
// through the loops above.

import Foundation
import MedR1AVX512

enum DecodeAttention {
    /// `n` rounded up to a multiple of 8 (the padded key stride).
    @inline(__always)
    static func padded(_ n: Int) -> Int { (n + 7) & ~7 }

    /// s[j] = sum_e q[e] K[j][e] for j in 0..<padded(n), keys in 8-key tiles:
    /// key j's element e at kt[(j / 8) * dh * 8 + e * 8 + j % 8] (a tile is
    /// (dh, 8), so one row's keys of one head are contiguous and each score
    /// block is dh whole-vector FMAs). Columns from n to padded(n) must be
    /// readable (zero). - q: (dh); s: padded(n) floats written.
    @inline(__always)
    static func scores(q: UnsafePointer<Float>, kt: UnsafePointer<Float>, n: Int, dh: Int,
                       s: UnsafeMutablePointer<Float>) {
        let n8 = padded(n), T = dh * 8
        var j = 0
        while j + 64 <= n8 {
            var a0 = F8(), a1 = F8(), a2 = F8(), a3 = F8(), a4 = F8(), a5 = F8(), a6 = F8(), a7 = F8()
            let k0 = kt + (j / 8) * T
            for e in 0..<dh {
                let qe = F8(repeating: q[e])
                let k = k0 + e * 8
                a0 = a0.addingProduct(qe, VectorMath.load(k))
                a1 = a1.addingProduct(qe, VectorMath.load(k + T))
                a2 = a2.addingProduct(qe, VectorMath.load(k + 2 * T))
                a3 = a3.addingProduct(qe, VectorMath.load(k + 3 * T))
                a4 = a4.addingProduct(qe, VectorMath.load(k + 4 * T))
                a5 = a5.addingProduct(qe, VectorMath.load(k + 5 * T))
                a6 = a6.addingProduct(qe, VectorMath.load(k + 6 * T))
                a7 = a7.addingProduct(qe, VectorMath.load(k + 7 * T))
            }
            VectorMath.store(a0, s + j); VectorMath.store(a1, s + j + 8)
            VectorMath.store(a2, s + j + 16); VectorMath.store(a3, s + j + 24)
            VectorMath.store(a4, s + j + 32); VectorMath.store(a5, s + j + 40)
            VectorMath.store(a6, s + j + 48); VectorMath.store(a7, s + j + 56)
            j += 64
        }
        while j + 32 <= n8 {
            var a0 = F8(), a1 = F8(), a2 = F8(), a3 = F8()
            let k0 = kt + (j / 8) * T
            for e in 0..<dh {
                let qe = F8(repeating: q[e])
                let k = k0 + e * 8
                a0 = a0.addingProduct(qe, VectorMath.load(k))
                a1 = a1.addingProduct(qe, VectorMath.load(k + T))
                a2 = a2.addingProduct(qe, VectorMath.load(k + 2 * T))
                a3 = a3.addingProduct(qe, VectorMath.load(k + 3 * T))
            }
            VectorMath.store(a0, s + j); VectorMath.store(a1, s + j + 8)
            VectorMath.store(a2, s + j + 16); VectorMath.store(a3, s + j + 24)
            j += 32
        }
        while j < n8 {
            // One tile: four interleaved chains over e shorten the FMA latency chain.
            let k = kt + (j / 8) * T
            var a0 = F8(), a1 = F8(), a2 = F8(), a3 = F8()
            var e = 0
            while e + 4 <= dh {
                a0 = a0.addingProduct(F8(repeating: q[e]), VectorMath.load(k + e * 8))
                a1 = a1.addingProduct(F8(repeating: q[e + 1]), VectorMath.load(k + e * 8 + 8))
                a2 = a2.addingProduct(F8(repeating: q[e + 2]), VectorMath.load(k + e * 8 + 16))
                a3 = a3.addingProduct(F8(repeating: q[e + 3]), VectorMath.load(k + e * 8 + 24))
                e += 4
            }
            while e < dh { a0 = a0.addingProduct(F8(repeating: q[e]), VectorMath.load(k + e * 8)); e += 1 }
            VectorMath.store((a0 + a1) + (a2 + a3), s + j)
            j += 8
        }
    }

    /// out[e] (+)= sum_j p[j] * v[j * ldv + e] for e in 0..<dh.
    /// - p: (n); v: (n, ldv) row-major values; out: (dh).
    @inline(__always)
    static func weightedSum(p: UnsafePointer<Float>, n: Int, v: UnsafePointer<Float>, ldv: Int, dh: Int,
                            out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        var c = 0
        while c + 32 <= dh {
            // 4 vectors of dims, two chains over j (even / odd keys).
            var a0 = F8(), a1 = F8(), a2 = F8(), a3 = F8()
            var b0 = F8(), b1 = F8(), b2 = F8(), b3 = F8()
            var j = 0
            while j + 2 <= n {
                let pa = F8(repeating: p[j]), pb = F8(repeating: p[j + 1])
                let va = v + j * ldv + c, vb = va + ldv
                a0 = a0.addingProduct(pa, VectorMath.load(va)); a1 = a1.addingProduct(pa, VectorMath.load(va + 8))
                a2 = a2.addingProduct(pa, VectorMath.load(va + 16)); a3 = a3.addingProduct(pa, VectorMath.load(va + 24))
                b0 = b0.addingProduct(pb, VectorMath.load(vb)); b1 = b1.addingProduct(pb, VectorMath.load(vb + 8))
                b2 = b2.addingProduct(pb, VectorMath.load(vb + 16)); b3 = b3.addingProduct(pb, VectorMath.load(vb + 24))
                j += 2
            }
            if j < n {
                let pa = F8(repeating: p[j]), va = v + j * ldv + c
                a0 = a0.addingProduct(pa, VectorMath.load(va)); a1 = a1.addingProduct(pa, VectorMath.load(va + 8))
                a2 = a2.addingProduct(pa, VectorMath.load(va + 16)); a3 = a3.addingProduct(pa, VectorMath.load(va + 24))
            }
            a0 += b0; a1 += b1; a2 += b2; a3 += b3
            let o = out + c
            if accumulate {
                a0 += VectorMath.load(o); a1 += VectorMath.load(o + 8)
                a2 += VectorMath.load(o + 16); a3 += VectorMath.load(o + 24)
            }
            VectorMath.store(a0, o); VectorMath.store(a1, o + 8)
            VectorMath.store(a2, o + 16); VectorMath.store(a3, o + 24)
            c += 32
        }
        while c + 8 <= dh {
            var a0 = F8(), b0 = F8()
            var j = 0
            while j + 2 <= n {
                a0 = a0.addingProduct(F8(repeating: p[j]), VectorMath.load(v + j * ldv + c))
                b0 = b0.addingProduct(F8(repeating: p[j + 1]), VectorMath.load(v + (j + 1) * ldv + c))
                j += 2
            }
            if j < n { a0 = a0.addingProduct(F8(repeating: p[j]), VectorMath.load(v + j * ldv + c)) }
            a0 += b0
            if accumulate { a0 += VectorMath.load(out + c) }
            VectorMath.store(a0, out + c)
            c += 8
        }
        while c < dh {
            var s: Float = accumulate ? out[c] : 0
            for j in 0..<n { s += p[j] * v[j * ldv + c] }
            out[c] = s
            c += 1
        }
    }

    /// Floats of scratch `attendRow` and `attendGroup` need for prefixes and
    /// suffixes up to `maxLength` positions each.
    static func scratchSize(dh: Int, maxLength: Int) -> Int {
        max(padded(dh) + 2 * padded(maxLength) + 16, groupRows * (dh + groupStride(maxLength)))
    }

    /// Rows `attendGroup` takes at a time (the AVX-512 tile's height).
    static let groupRows = 8

    /// Floats per row of `attendGroup`'s scores: a prefix of up to
    /// `maxLength` positions rounded up to 16, then a suffix's padded scores.
    static func groupStride(_ maxLength: Int) -> Int { ((maxLength + 15) & ~15) + padded(maxLength) + 16 }

    /// Whether prefixes keep the panels `attendGroup` reads: with the AVX-512
    /// kernels and a head size that is a multiple of 16.
    static func groupedPrefix(dh: Int) -> Bool { SIMDLevel.avx512 && dh % 16 == 0 }

    /// `attendRow` for `rows` (at most `groupRows`) query rows that share one
    /// prefix, each with its own suffix: the prefix's scores and its share of
    /// the output are two products on the AVX-512 tile (each score and each
    /// output one fused multiply-add chain, over the head's dims and over
    /// the prefix's positions); the suffix's are `attendRow`'s loops.
    /// - q: row i's query at q + i ldq; suffix row i's keys and values at
    ///   sk + i ldsuffix, sv + i ldsuffix, suffixLengths[firstRow + i] + 1
    ///   of them (the new token's included); out: row i at out + i ldout.
    static func attendGroup(q: UnsafePointer<Float>, ldq: Int, rows g: Int, scale: Float, dh: Int,
                            prefix p: KVPrefix, layer: Int, head hd: Int,
                            sk: UnsafePointer<Float>, sv: UnsafePointer<Float>, ldsuffix: Int,
                            suffixLengths: [Int], firstRow: Int,
                            out: UnsafeMutablePointer<Float>, ldout: Int, scratch: UnsafeMutablePointer<Float>) {
        let panels = p.panels!
        let lp = p.length, l16 = panels.length16
        let qs = scratch, s = scratch + groupRows * dh
        let lds = l16 + padded(suffixLengths[firstRow..<(firstRow + g)].max()! + 1) + 16
        for i in 0..<g { for e in 0..<dh { qs[i * dh + e] = q[i * ldq + e] * scale } }
        // Prefix scores (g, l16): qs (g, dh) times the key panels (dh, l16).
        // (`pack` is only read with transA: none needed here.)
        PackedProduct512.gemm(transA: false, m: g, n: l16, k: dh, alpha: 1, a: qs, lda: dh,
                              packedB: panels.keys[layer].pointer + hd * l16 * dh, beta: 0, c: s, ldc: lds,
                              pack: s)
        for i in 0..<g {
            let row = s + i * lds, ls = suffixLengths[firstRow + i] + 1
            // The suffix's scores right after the prefix's (over its padding).
            scores(q: qs + i * dh, kt: sk + i * ldsuffix, n: ls, dh: dh, s: row + lp)
            Softmax.rowInPlace(row, lp + ls)
        }
        // The prefix's share (g, dh): probabilities (g, lp) times the value panels (lp, dh).
        PackedProduct512.gemm(transA: false, m: g, n: dh, k: lp, alpha: 1, a: s, lda: lds,
                              packedB: panels.values[layer].pointer + hd * lp * dh, beta: 0, c: out, ldc: ldout,
                              pack: s)
        for i in 0..<g {
            let ls = suffixLengths[firstRow + i] + 1
            weightedSum(p: s + i * lds + lp, n: ls, v: sv + i * ldsuffix, ldv: dh, dh: dh, out: out + i * ldout,
                        accumulate: true)
        }
    }

    /// One query row of one head against its prefix (shared, `lp` keys) and
    /// its own suffix (`ls` keys, the new token's included):
    ///   p = softmax(scale q [K_prefix; K_suffix]^T),  out = p [V_prefix; V_suffix].
    /// - q: (dh); pk, sk: prefix and suffix keys in 8-key tiles (see
    ///   `scores`); pv: (lp, dh) and sv: (ls, dh) values, contiguous;
    ///   out: (dh); scratch: `scratchSize` floats.
    @inline(__always)
    static func attendRow(q: UnsafePointer<Float>, scale: Float, dh: Int,
                          pk: UnsafePointer<Float>, pv: UnsafePointer<Float>, lp: Int,
                          sk: UnsafePointer<Float>, sv: UnsafePointer<Float>, ls: Int,
                          out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let qs = scratch, row = scratch + padded(dh)
        for e in 0..<dh { qs[e] = q[e] * scale }
        scores(q: qs, kt: pk, n: lp, dh: dh, s: row)
        let suffixScores = row + padded(lp)
        scores(q: qs, kt: sk, n: ls, dh: dh, s: suffixScores)
        if suffixScores != row + lp {
            // Close the gap of the prefix's padding (forward copy, destination below source).
            for j in 0..<ls { row[lp + j] = suffixScores[j] }
        }
        Softmax.rowInPlace(row, lp + ls)
        weightedSum(p: row, n: lp, v: pv, ldv: dh, dh: dh, out: out, accumulate: false)
        weightedSum(p: row + lp, n: ls, v: sv, ldv: dh, dh: dh, out: out, accumulate: true)
    }
}

enum TokenDraw {
    /// The token for uniform `u` in [0, 1) from one row of logits under
    /// softmax(logits / temperature), and its log-probability. Vectorised
    /// float exps (VectorMath.exp, relative error ~2e-7), each computed once:
    ///   s_i = z_i / T - max_j z_j / T,  e_i = exp(s_i),  Z = sum e_i (in Double),
    ///   token = first i with u Z < e_0 + ... + e_i,  log p = s_i - log Z.
    /// Sums run in a fixed order (8-lane block sums in float, added in
    /// Double), so the result is a pure function of the row and `u`.
    /// - z: (v) logits; scratch: (padded v) floats.
    static func plain(_ z: UnsafePointer<Float>, _ v: Int, u: Double, temperature: Double,
                      scratch: UnsafeMutablePointer<Float>) -> (Int, Float) {
        let invT = Float(1 / temperature)
        let mx = Softmax.rowMax(z, v) * invT
        let e = scratch
        let blocks = (v + 7) / 8
        // Block sums stored after the exps' padded row.
        let sums = scratch + blocks * 8
        let total = exps(z, v, invT: invT, max: mx, scratch: scratch)
        let target = u * total
        var acc = 0.0, chosen = v - 1
        search: for b in 0..<blocks {
            let next = acc + Double(sums[b])
            if target < next {
                // The element sums can round below the block sum: then the
                // block's last token with nonzero probability is taken.
                var a = acc
                for k in (b * 8)..<min(b * 8 + 8, v) {
                    a += Double(e[k])
                    if e[k] > 0 { chosen = k }
                    if target < a { break }
                }
                break search
            }
            acc = next
        }
        let s = z[chosen] * invT - mx
        return (chosen, Float(Double(s) - Foundation.log(total)))
    }

    /// The log-probability `plain` reports when it picks `token`: the same exps and sums.
    static func logProb(of token: Int, _ z: UnsafePointer<Float>, _ v: Int, temperature: Double,
                        scratch: UnsafeMutablePointer<Float>) -> Float {
        let invT = Float(1 / temperature)
        let mx = Softmax.rowMax(z, v) * invT
        let total = exps(z, v, invT: invT, max: mx, scratch: scratch)
        return Float(Double(z[token] * invT - mx) - Foundation.log(total))
    }

    /// e_i = exp(z_i invT - max) into scratch (padded to 8), each block's float sum after
    /// them, and the sum of the block sums in Double, in block order.
    private static func exps(_ z: UnsafePointer<Float>, _ v: Int, invT: Float, max mx: Float,
                             scratch e: UnsafeMutablePointer<Float>) -> Double {
        let iv = F8(repeating: invT), mv = F8(repeating: mx)
        let blocks = (v + 7) / 8
        let sums = e + blocks * 8
        var i = 0, total = 0.0
        for b in 0..<blocks {
            var x: F8
            if i + 8 <= v { x = VectorMath.load(z + i) } else {
                x = F8(repeating: -Float.infinity)
                for k in 0..<(v - i) { x[k] = z[i + k] }
            }
            var ex = VectorMath.exp(x * iv - mv)
            // VectorMath.exp never returns 0: masked logits (-inf) and the padding get exactly 0.
            ex.replace(with: 0, where: x .== -Float.infinity)
            VectorMath.store(ex, e + i)
            let s = ex.sum()
            sums[b] = s
            total += Double(s)
            i += 8
        }
        return total
    }

    /// Floats of scratch `plain` needs for a vocabulary of `v`.
    static func scratchSize(_ v: Int) -> Int { DecodeAttention.padded(v) + (v + 7) / 8 + 8 }
}
