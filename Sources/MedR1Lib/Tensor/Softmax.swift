import Foundation

// Softmax, log-softmax and the gather of token log-probabilities (with
// entropy; the SFT and GRPO losses are built on it), each with its backward.
// Rows are independent; all exps go through VectorMath.exp.

enum Softmax {
    /// max over n values.
    @inline(__always)
    static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var m = -Float.infinity
        if n >= 8 {
            var mv = VectorMath.load(x)
            i = 8
            while i + 8 <= n {
                let v = VectorMath.load(x + i)
                mv.replace(with: v, where: v .> mv)  // pointwiseMax is not inlined
                i += 8
            }
            // Lane by lane: SIMD8.max() is a generic call that is not
            // inlined (1% of W4's samples in `perf`, once per softmax row).
            m = mv[0]
            for k in 1..<8 where mv[k] > m { m = mv[k] }
        }
        while i < n { m = Swift.max(m, x[i]); i += 1 }
        return m
    }

    /// y[i] = exp(scale * x[i] - shift), returns sum y. x and y may alias.
    @inline(__always)
    static func expShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                           scale: Float, shift: Float) -> Float {
        var i = 0
        var acc = F8()
        let sv = F8(repeating: scale), hv = F8(repeating: shift)
        while i + 8 <= n {
            let e = VectorMath.exp(VectorMath.load(x + i) * sv - hv)
            VectorMath.store(e, y + i); acc += e; i += 8
        }
        var s = acc.sum()
        if i < n {
            // The last n % 8 values through one zero-padded vector exp (a
            // causal attention row of length i + 1 has such a tail 7 times in
            // 8; one exp per value cost up to 7 vector exps per row). Each lane
            // is the same arithmetic as before, added in the same order.
            let m = n - i
            var v = F8()
            for k in 0..<m { v[k] = x[i + k] }
            let e = VectorMath.exp(v * sv - hv)
            for k in 0..<m { y[i + k] = e[k]; s += e[k] }
        }
        return s
    }

    /// Softmax of one row in place: x = exp(x - max) / sum.
    @inline(__always)
    static func rowInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = rowMax(x, n)
        let s = expShifted(x, x, n, scale: 1, shift: m)
        let inv = 1 / s
        var i = 0
        while i + 8 <= n { VectorMath.store(VectorMath.load(x + i) * inv, x + i); i += 8 }
        while i < n { x[i] *= inv; i += 1 }
    }

    /// log(sum_i exp(scale * x[i])), stably. `tmp` receives exp(scale*x - max).
    @inline(__always)
    static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int, scale: Float, tmp: UnsafeMutablePointer<Float>) -> Float {
        let m = rowMax(x, n) * scale // scale > 0
        let s = expShifted(x, tmp, n, scale: scale, shift: m)
        return m + Foundation.log(s)
    }
}

/// Log-probabilities of chosen tokens under softmax(logits / T), the quantity
/// the GRPO and SFT losses are built from.
enum TokenLogProbs {
    /// logp[r] = z[r, t_r] / T - logsumexp(z[r] / T);
    /// entropy[r] = logsumexp(z[r]/T) - sum_i p_i z[r, i] / T  (= -sum p log p).
    /// - logits: (rows, vocab); targets: (rows); logp, entropy: (rows).
    /// - scratch: at least workers * vocab floats.
    static func forward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int>, temperature: Float,
                        logp: UnsafeMutablePointer<Float>, entropy: UnsafeMutablePointer<Float>?,
                        rows: Int, vocab: Int, scratch: FloatBuffer) {
        precondition(ids: targets, count: rows, below: vocab, "TokenLogProbs.forward")
        let inv = 1 / temperature
        let chunks = Parallelism.workers(rows / 64 + 1)
        let tmpAll = scratch.reserve(chunks * vocab)
        Parallelism.parallelFor(chunks) { c in
            let tmp = tmpAll + c * vocab
            for r in (rows * c / chunks)..<(rows * (c + 1) / chunks) {
                let z = logits + r * vocab
                let lse = Softmax.logSumExp(z, vocab, scale: inv, tmp: tmp)
                logp[r] = z[targets[r]] * inv - lse
                if let entropy {
                    // tmp holds exp(z/T - max); sum tmp * z / sum tmp = E_p[z].
                    entropy[r] = lse - VectorMath.dot(tmp, z, vocab) / tmp.reduceSum(vocab) * inv
                }
            }
        }
    }

    /// Backward of `logp = z_t / T - logsumexp(z / T)`:
    ///   dz_i = dlogp * (1[i == t] - p_i) / T,  p = softmax(z / T).
    /// Writes dlogits (rows, vocab).
    static func backward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int>, temperature: Float,
                         dlogp: UnsafePointer<Float>, dlogits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int) {
        precondition(ids: targets, count: rows, below: vocab, "TokenLogProbs.backward")
        let inv = 1 / temperature
        Parallelism.parallelRanges(rows, minChunk: 64) { range in
            for r in range {
                let z = logits + r * vocab, dz = dlogits + r * vocab
                let m = Softmax.rowMax(z, vocab) * inv
                let s = Softmax.expShifted(z, dz, vocab, scale: inv, shift: m)
                let g = dlogp[r] * inv
                let f = -g / s
                var i = 0
                let fv = F8(repeating: f)
                while i + 8 <= vocab { VectorMath.store(VectorMath.load(dz + i) * fv, dz + i); i += 8 }
                while i < vocab { dz[i] *= f; i += 1 }
                dz[targets[r]] += g
            }
        }
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func reduceSum(_ n: Int) -> Float {
        var acc = F8()
        var i = 0
        while i + 8 <= n { acc += VectorMath.load(self + i); i += 8 }
        var s = acc.sum()
        while i < n { s += self[i]; i += 1 }
        return s
    }
}
