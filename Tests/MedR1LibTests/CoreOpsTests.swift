import Foundation
import XCTest
@testable import MedR1Lib

/// Forward values and finite-difference gradients of every op. Float32
/// forward, Double loss, central differences with eps 1e-2; tolerance
/// 2e-3 norm-wise relative error unless stated.
final class CoreOpsTests: XCTestCase {
    func testFastExpMatchesLibm() {
        var worst: Double = 0
        var x: Float = -80
        while x < 80 {
            let e = Double(VectorMath.exp(x)), ref = Foundation.exp(Double(x))
            worst = max(worst, abs(e - ref) / ref)
            x += 0.0371
        }
        XCTAssertLessThan(worst, 5e-7, "worst relative error of VectorMath.exp")
        XCTAssertEqual(VectorMath.exp(0), 1)
    }

    /// Products large enough to be split over two workers (rows or columns,
    /// all transpose cases) equal a naive Double product.
    func testSplitProductsMatchNaive() {
        let saved = Parallelism.threads
        Parallelism.setThreads(2)
        defer { Parallelism.setThreads(saved) }
        for (m, n, k) in [(96, 40, 80), (40, 100, 72)] {
            XCTAssertGreaterThanOrEqual(m * n * k, 1 << 18)
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = CoreTest.random(m * k, seed: 40), b = CoreTest.random(k * n, seed: 41)
                var c = [Float](repeating: 1, count: m * n)
                BLAS.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
                          beta: 0.5, c: &c, ldc: n)
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.5
                        for t in 0..<k {
                            s += Double(ta ? a[t * m + i] : a[i * k + t]) * Double(tb ? b[j * k + t] : b[t * n + j])
                        }
                        worst = max(worst, abs(s - Double(c[i * n + j])))
                    }
                }
                XCTAssertLessThan(worst, 1e-4, "m \(m) n \(n) k \(k) transA \(ta) transB \(tb)")
            }
        }
    }

    func testLinearWithAndWithoutBias() {
        let rows = 3, inD = 5, outD = 4
        let x = CoreTest.random(rows * inD, seed: 1), w = CoreTest.random(outD * inD, seed: 2)
        let b = CoreTest.random(outD, seed: 3), r = CoreTest.random(rows * outD, seed: 4)
        for useBias in [true, false] {
            func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
                var y = [Float](repeating: 0, count: rows * outD)
                Linear.forward(x, w, useBias ? b : nil, &y, rows: rows, inDim: inD, outDim: outD)
                return y
            }
            let y = run(x, w, b)
            // y[0][0] by hand.
            var y00: Float = useBias ? b[0] : 0
            for k in 0..<inD { y00 += x[k] * w[k] }
            XCTAssertEqual(y[0], y00, accuracy: 1e-5)
            var dx = [Float](repeating: 0, count: rows * inD), dw = [Float](repeating: 0, count: outD * inD)
            var db = [Float](repeating: 0, count: outD)
            dw.withUnsafeMutableBufferPointer { dwp in
                db.withUnsafeMutableBufferPointer { dbp in
                    Linear.backward(x, w, r, dx: &dx, dw: dwp.baseAddress!, db: useBias ? dbp.baseAddress! : nil,
                                    rows: rows, inDim: inD, outDim: outD)
                }
            }
            CoreTest.checkGradient("linear dx", x: x, analytic: dx) { CoreTest.dot(run($0, w, b), r) }
            CoreTest.checkGradient("linear dW", x: w, analytic: dw) { CoreTest.dot(run(x, $0, b), r) }
            if useBias { CoreTest.checkGradient("linear db", x: b, analytic: db) { CoreTest.dot(run(x, w, $0), r) } }
        }
    }

    func testEmbeddingAndPositionAdd() {
        let V = 6, d = 4, ids = [2, 5, 2]
        let table = CoreTest.random(V * d, seed: 5), pos = CoreTest.random(5 * d, seed: 6)
        let r = CoreTest.random(ids.count * d, seed: 7)
        func run(_ table: [Float], _ pos: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: ids.count * d)
            Embedding.forward(ids, table, &y, rows: ids.count, d: d, vocab: V)
            PositionAdd.forward(&y, pos, rows: ids.count, d: d)
            return y
        }
        let y = run(table, pos)
        XCTAssertEqual(y[d + 1], table[5 * d + 1] + pos[d + 1])
        var dt = [Float](repeating: 0, count: V * d), dp = [Float](repeating: 0, count: 5 * d)
        Embedding.backward(ids, r, &dt, rows: ids.count, d: d, vocab: V)
        PositionAdd.backward(r, &dp, rows: ids.count, d: d)
        XCTAssertEqual(dt[2 * d], r[0] + r[2 * d], "repeated id 2 sums both rows")
        CoreTest.checkGradient("embedding", x: table, analytic: dt) { CoreTest.dot(run($0, pos), r) }
        CoreTest.checkGradient("position add", x: pos, analytic: dp) { CoreTest.dot(run(table, $0), r) }
    }

    func testRMSNorm() {
        let rows = 4, d = 12
        let x = CoreTest.random(rows * d, seed: 8), g = CoreTest.random(d, seed: 9, scale: 0.5).map { $0 + 1 }
        let r = CoreTest.random(rows * d, seed: 10)
        func run(_ x: [Float], _ g: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * d), ri = [Float](repeating: 0, count: rows)
            RMSNorm.forward(x, g, &y, &ri, rows: rows, d: d, eps: 1e-5)
            return y
        }
        let y = run(x, g)
        var ms: Double = 0
        for i in 0..<d { ms += Double(x[i] * x[i]) }
        XCTAssertEqual(Double(y[3]), Double(x[3]) / (ms / Double(d) + 1e-5).squareRoot() * Double(g[3]), accuracy: 1e-5)
        var ri = [Float](repeating: 0, count: rows), yy = [Float](repeating: 0, count: rows * d)
        RMSNorm.forward(x, g, &yy, &ri, rows: rows, d: d, eps: 1e-5)
        var dx = [Float](repeating: 0, count: rows * d), dg = [Float](repeating: 0, count: d)
        RMSNorm.backward(x, g, ri, r, &dx, &dg, rows: rows, d: d, accumulate: false, scratch: FloatBuffer())
        CoreTest.checkGradient("rmsnorm dx", x: x, analytic: dx, eps: 1e-3) { CoreTest.dot(run($0, g), r) }
        CoreTest.checkGradient("rmsnorm dg", x: g, analytic: dg, eps: 1e-3) { CoreTest.dot(run(x, $0), r) }
    }

    func testGELU() {
        let x: [Float] = (0..<37).map { Float($0) * 0.25 - 4.5 }
        let r = CoreTest.random(x.count, seed: 11)
        func run(_ x: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: x.count)
            GELU.forward(x, &y, x.count)
            return y
        }
        let y = run(x)
        for i in 0..<x.count {
            let v = Double(x[i])
            let ref = 0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
            XCTAssertEqual(Double(y[i]), ref, accuracy: 2e-6, "gelu(\(v))")
        }
        var dx = [Float](repeating: 0, count: x.count)
        GELU.backward(x, r, &dx, x.count)
        CoreTest.checkGradient("gelu", x: x, analytic: dx, eps: 1e-3) { CoreTest.dot(run($0), r) }
    }

    func testAttentionCausalAndBidirectional() {
        let d = 8, heads = 2
        // Causal row blocks of 2 queries, so every sequence spans several blocks
        // (and 5 ends in a partial one).
        let savedBlock = Attention.causalBlock
        Attention.causalBlock = 2
        defer { Attention.causalBlock = savedBlock }
        let layout = PackedLayout(lengths: [3, 5], heads: heads)
        let S = layout.total
        let qkv = CoreTest.random(S * 3 * d, seed: 12)
        let r = CoreTest.random(S * d, seed: 13)
        for causal in [true, false] {
            func run(_ qkv: [Float]) -> [Float] {
                var y = [Float](repeating: 0, count: S * d), p = [Float](repeating: 0, count: layout.probTotal)
                Attention.forward(qkv: qkv, y: &y, probs: &p, layout: layout, heads: heads, d: d, causal: causal)
                return y
            }
            let y = run(qkv)
            // Naive reference for sequence 1 (start 3), head 1, query 2.
            let b0 = 3, dh = 4, h = 1, i = 2
            var s: [Double] = []
            let n = causal ? i + 1 : 5
            for j in 0..<n {
                var dot = 0.0
                for k in 0..<dh { dot += Double(qkv[(b0 + i) * 3 * d + h * dh + k] * qkv[(b0 + j) * 3 * d + d + h * dh + k]) }
                s.append(dot / 2)
            }
            let mx = s.max()!
            let e = s.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
            for k in 0..<dh {
                var o = 0.0
                for j in 0..<n { o += e[j] / z * Double(qkv[(b0 + j) * 3 * d + 2 * d + h * dh + k]) }
                XCTAssertEqual(Double(y[(b0 + i) * d + h * dh + k]), o, accuracy: 1e-5, "causal \(causal) output \(k)")
            }
            var p = [Float](repeating: 0, count: layout.probTotal), yy = [Float](repeating: 0, count: S * d)
            Attention.forward(qkv: qkv, y: &yy, probs: &p, layout: layout, heads: heads, d: d, causal: causal)
            var dq = [Float](repeating: 0, count: S * 3 * d)
            Attention.backward(qkv: qkv, probs: p, dy: r, dqkv: &dq, layout: layout, heads: heads, d: d, causal: causal,
                               scratch: FloatBuffer())
            CoreTest.checkGradient("attention causal=\(causal)", x: qkv, analytic: dq, eps: 1e-3) { CoreTest.dot(run($0), r) }
        }
    }

    func testSoftmaxAndLogSoftmax() {
        let rows = 3, n = 11
        let x = CoreTest.random(rows * n, seed: 14, scale: 2), r = CoreTest.random(rows * n, seed: 15)
        func sm(_ x: [Float]) -> [Float] { var y = [Float](repeating: 0, count: x.count); Softmax.forward(x, &y, rows: rows, n: n); return y }
        func lsm(_ x: [Float]) -> [Float] { var y = [Float](repeating: 0, count: x.count); Softmax.logForward(x, &y, rows: rows, n: n); return y }
        let y = sm(x), ly = lsm(x)
        XCTAssertEqual(y[0..<n].reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(Foundation.log(y[4]), ly[4], accuracy: 1e-5)
        var dx = [Float](repeating: 0, count: x.count), dlx = [Float](repeating: 0, count: x.count)
        Softmax.backward(y, r, &dx, rows: rows, n: n)
        Softmax.logBackward(ly, r, &dlx, rows: rows, n: n)
        CoreTest.checkGradient("softmax", x: x, analytic: dx, eps: 1e-3) { CoreTest.dot(sm($0), r) }
        CoreTest.checkGradient("log-softmax", x: x, analytic: dlx, eps: 1e-3) { CoreTest.dot(lsm($0), r) }
    }

    func testTokenLogProbsEntropyAndCrossEntropy() {
        let rows = 4, V = 13, T: Float = 0.7
        let z = CoreTest.random(rows * V, seed: 16, scale: 2), targets = [3, 0, 12, 7]
        let wts = CoreTest.random(rows, seed: 17)
        func run(_ z: [Float]) -> ([Float], [Float]) {
            var lp = [Float](repeating: 0, count: rows), ent = [Float](repeating: 0, count: rows)
            TokenLogProbs.forward(logits: z, targets: targets, temperature: T, logp: &lp, entropy: &ent,
                                  rows: rows, vocab: V, scratch: FloatBuffer())
            return (lp, ent)
        }
        let (lp, ent) = run(z)
        for r in 0..<rows {
            let zs = (0..<V).map { Double(z[r * V + $0]) / Double(T) }
            let mx = zs.max()!, lse = mx + Foundation.log(zs.map { Foundation.exp($0 - mx) }.reduce(0, +))
            XCTAssertEqual(Double(lp[r]), zs[targets[r]] - lse, accuracy: 1e-5)
            let h = -zs.map { Foundation.exp($0 - lse) * ($0 - lse) }.reduce(0, +)
            XCTAssertEqual(Double(ent[r]), h, accuracy: 1e-5)
        }
        var dz = [Float](repeating: 0, count: rows * V)
        TokenLogProbs.backward(logits: z, targets: targets, temperature: T, dlogp: wts, dlogits: &dz, rows: rows, vocab: V)
        CoreTest.checkGradient("token log-probs", x: z, analytic: dz, eps: 1e-3) { CoreTest.dot(run($0).0, wts) }

        let ce = CrossEntropy.forward(logits: z, targets: targets, rows: rows, vocab: V, scratch: FloatBuffer())
        var lp1 = [Float](repeating: 0, count: rows)
        TokenLogProbs.forward(logits: z, targets: targets, temperature: 1, logp: &lp1, entropy: nil, rows: rows, vocab: V, scratch: FloatBuffer())
        XCTAssertEqual(ce, -lp1.reduce(0, +) / Float(rows), accuracy: 1e-5)
        var dce = [Float](repeating: 0, count: rows * V)
        CrossEntropy.backward(logits: z, targets: targets, rows: rows, vocab: V, dloss: 1, dlogits: &dce)
        CoreTest.checkGradient("cross-entropy", x: z, analytic: dce, eps: 1e-3) {
            Double(CrossEntropy.forward(logits: $0, targets: targets, rows: rows, vocab: V, scratch: FloatBuffer()))
        }
    }

    func testAdamWStepAndClipping() throws {
        let model = try MedR1Model(config: CoreModelTests.tiny, seed: 1)
        let w0 = model.flatValues
        for i in 0..<model.parameterCount { model.grads.pointer[i] = i % 2 == 0 ? 0.5 : -2 }
        let norm = clipGradNorm(model, maxNorm: 1e9)
        let n = Double(model.parameterCount)
        let expected = ((n / 2).rounded(.up) * 0.25 + (n / 2).rounded(.down) * 4).squareRoot()
        XCTAssertEqual(Double(norm), expected, accuracy: expected * 1e-5)
        let opt = AdamW(model: model, config: AdamWConfig(lr: 0.1, weightDecay: 0.01))
        opt.step(model)
        // Step 1: mhat = g, vhat = g^2, update = g/(|g| + eps) = sign(g).
        let w1 = model.flatValues
        XCTAssertEqual(w1[0], w0[0] - 0.1 * (0.5 / (0.5 + 1e-8) + 0.01 * w0[0]), accuracy: 1e-6)
        XCTAssertEqual(w1[1], w0[1] - 0.1 * (-1 + 0.01 * w0[1]), accuracy: 1e-6)
        XCTAssertEqual(opt.m[1], -0.2, accuracy: 1e-7)
        XCTAssertEqual(opt.v[1], 0.004, accuracy: 1e-7)
        // Clipping scales to the max norm.
        let before = clipGradNorm(model, maxNorm: 1)
        XCTAssertEqual(Double(before), expected, accuracy: expected * 1e-5)
        XCTAssertEqual(clipGradNorm(model, maxNorm: 1e9), 1, accuracy: 1e-4)
    }
}
