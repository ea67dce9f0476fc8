import Foundation

// AdamW (Loshchilov & Hutter, decoupled weight decay) and global gradient-norm
// clipping, both over the model's single flat parameter buffer.

/// AdamW hyperparameters.
public struct AdamWConfig: Codable, Equatable, Sendable {
    /// Learning rate (the step may override it, e.g. for a schedule).
    public var lr: Float
    /// Decay of the first moment.
    public var beta1: Float = 0.9
    /// Decay of the second moment.
    public var beta2: Float = 0.999
    /// Added to sqrt(v) for stability.
    public var eps: Float = 1e-8
    /// Decoupled weight decay (0: plain Adam).
    public var weightDecay: Float = 0.0

    public init(lr: Float = 1e-5, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0) {
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

/// AdamW over all parameters of one model. Moments are plain arrays in the
/// model's flat parameter order, so a trainer can save and restore them.
public final class AdamW {
    public var config: AdamWConfig
    /// First moments, one per model parameter value (flat order).
    public var m: [Float]
    /// Second moments, same layout.
    public var v: [Float]
    /// Number of steps taken (bias correction uses it).
    public var stepCount: Int = 0

    public init(model: MedR1Model, config: AdamWConfig) {
        self.config = config
        m = [Float](repeating: 0, count: model.parameterCount)
        v = [Float](repeating: 0, count: model.parameterCount)
    }

    /// One update from the model's accumulated gradients:
    ///   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
    ///   w -= lr * (mhat / (sqrt(vhat) + eps) + wd * w),  mhat = m/(1-b1^t), vhat = v/(1-b2^t)
    /// (weight decay applied to every parameter, as torch.optim.AdamW does).
    public func step(_ model: MedR1Model, lr: Float? = nil) {
        precondition(m.count == model.parameterCount, "AdamW: made for another model size")
        stepCount += 1
        let u = Update(config, lr: lr, step: stepCount)
        let w = model.values.pointer, g = model.grads.pointer
        let n = model.parameterCount
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                let mp = mb.baseAddress!, vp = vb.baseAddress!
                Parallelism.parallelRanges(n, minChunk: 1 << 15) { range in
                    for i in range {
                        let (mi, vi, wi) = u.apply(m: mp[i], v: vp[i], g: g[i], w: w[i])
                        mp[i] = mi; vp[i] = vi; w[i] = wi
                    }
                }
            }
        }
    }

    /// What `step(model, lr:)` would make non-finite, without changing anything: the
    /// first parameter value (flat index) whose new weight, first or second moment is
    /// not finite, or nil when the whole update is finite. The same arithmetic as
    /// `step`, so a nil here means `step` writes only finite values.
    public func nonFiniteAfterStep(_ model: MedR1Model, lr: Float? = nil) -> (index: Int, what: String)? {
        precondition(m.count == model.parameterCount, "AdamW: made for another model size")
        let u = Update(config, lr: lr, step: stepCount + 1)
        let w = model.values.pointer, g = model.grads.pointer
        let n = model.parameterCount
        let chunk = 1 << 15
        let chunks = (n + chunk - 1) / chunk
        var found = [Int](repeating: -1, count: chunks)
        m.withUnsafeBufferPointer { mb in
            v.withUnsafeBufferPointer { vb in
                found.withUnsafeMutableBufferPointer { fb in
                    let mp = mb.baseAddress!, vp = vb.baseAddress!, fp = UncheckedSendable(fb.baseAddress!)
                    Parallelism.parallelFor(chunks) { c in
                        for i in (c * chunk)..<min(n, (c + 1) * chunk) {
                            let (mi, vi, wi) = u.apply(m: mp[i], v: vp[i], g: g[i], w: w[i])
                            if !(mi.isFinite && vi.isFinite && wi.isFinite) { fp.value[c] = i; break }
                        }
                    }
                }
            }
        }
        guard let i = found.first(where: { $0 >= 0 }) else { return nil }
        let u1 = u.apply(m: m[i], v: v[i], g: g[i], w: w[i])
        let what = !u1.m.isFinite ? "first moment" : !u1.v.isFinite ? "second moment" : "weight"
        return (i, what)
    }

    /// The per-value arithmetic of one step, shared by `step` and `nonFiniteAfterStep`.
    struct Update: Sendable {
        let c: AdamWConfig
        let lr: Float, bc1: Float, bc2: Float

        init(_ c: AdamWConfig, lr: Float?, step t: Int) {
            self.c = c
            self.lr = lr ?? c.lr
            bc1 = 1 - Float(Foundation.pow(Double(c.beta1), Double(t)))
            bc2 = 1 - Float(Foundation.pow(Double(c.beta2), Double(t)))
        }

        @inline(__always)
        func apply(m: Float, v: Float, g gi: Float, w: Float) -> (m: Float, v: Float, w: Float) {
            let mi = c.beta1 * m + (1 - c.beta1) * gi
            let vi = c.beta2 * v + (1 - c.beta2) * gi * gi
            let upd = (mi / bc1) / ((vi / bc2).squareRoot() + c.eps)
            return (mi, vi, w - lr * (upd + c.weightDecay * w))
        }
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`;
/// returns the norm before clipping. Summed in Double in a fixed order.
@discardableResult
public func clipGradNorm(_ model: MedR1Model, maxNorm: Float) -> Float {
    let g = model.grads.pointer
    let n = model.parameterCount
    var total: Double = 0
    var i = 0
    while i < n {
        // Blocks of 4096 summed in 8 float lanes, then in Double, in a fixed order.
        let e = min(n, i + 4096)
        var acc = F8()
        var j = i
        while j + 8 <= e { let v = VectorMath.load(g + j); acc += v * v; j += 8 }
        var s = acc.sum()
        while j < e { s += g[j] * g[j]; j += 1 }
        total += Double(s)
        i = e
    }
    let norm = Float(total.squareRoot())
    if norm > maxNorm, norm > 0 {
        let s = maxNorm / (norm + 1e-6)
        let sv = F8(repeating: s)
        var j = 0
        while j + 8 <= n { VectorMath.store(VectorMath.load(g + j) * sv, g + j); j += 8 }
        while j < n { g[j] *= s; j += 1 }
    }
    return norm
}
