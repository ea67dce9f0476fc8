import Foundation
import XCTest
@testable import MedR1Lib

/// The vectorised element-wise kernels against plain scalar Double
/// references: the rational tanh, every GELU kernel (16-lane, 8-lane and
/// padded tail paths, split over two workers), and the RMSNorm backward.
final class KernelTests: XCTestCase {
    /// Eigen's rational tanh: measured 2.5e-7 worst absolute error on
    /// [-10, 10] (fused Horner steps; 4e-7 in a float32 simulation without
    /// them), 1.6e-7 relative near 0; the bound 5e-7 leaves room for rounding only.
    /// Near 0 the error is relative (tanh(x) ~ x): checked down to 1e-30.
    func testFastTanhMatchesLibm() {
        var worst = 0.0
        var x: Float = -10
        while x <= 10 {
            worst = max(worst, abs(Double(VectorMath.tanh(x)) - Foundation.tanh(Double(x))))
            x += 0.000_731
        }
        XCTAssertLessThan(worst, 5e-7, "worst absolute error of VectorMath.tanh on [-10, 10]")
        XCTAssertGreaterThan(worst, 1e-9, "the approximation is not exact, so the check measures something")
        var worstRel = 0.0
        for e in stride(from: -30.0, through: -1.0, by: 0.25) {
            for s in [-1.0, 1.0] {
                let v = Float(s * Foundation.pow(10, e)), ref = Foundation.tanh(Double(v))
                worstRel = max(worstRel, abs(Double(VectorMath.tanh(v)) - ref) / abs(ref))
            }
        }
        XCTAssertLessThan(worstRel, 5e-7, "relative error of VectorMath.tanh for |x| <= 0.1")
        XCTAssertEqual(VectorMath.tanh(0), 0)
        // Saturated (clamped) inputs: within the same 5e-7 (0.99999976 with the fused steps).
        XCTAssertEqual(VectorMath.tanh(30), 1, accuracy: 5e-7)
        XCTAssertEqual(VectorMath.tanh(-30), -1, accuracy: 5e-7)
        XCTAssertEqual(VectorMath.tanh(-Float.infinity), -1, accuracy: 5e-7)
    }

    static func geluRef(_ x: Double) -> Double {
        0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }

    static func geluSlopeRef(_ x: Double) -> Double {
        let c = (2 / Double.pi).squareRoot(), t = Foundation.tanh(c * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
    }

    /// n = 2^15 + 13 with 2 threads: split into two ranges whose boundary
    /// (n / 2) is not a multiple of 8, so the 16-lane, 8-lane and padded
    /// tail paths all run. Tolerances: forward 1e-6 (1 + |x|) (tanh 4e-7
    /// times 0.5 |x|, plus float32 rounding of 0.5 x (1 + t)); slope 2e-6
    /// (1 + x^2), the derivative's x (1 - t^2) x^2 terms scaling the same errors.
    func testGELUKernelsMatchScalarReference() {
        let saved = Parallelism.threads
        Parallelism.setThreads(2)
        defer { Parallelism.setThreads(saved) }
        let n = (1 << 15) + 13
        let x = CoreTest.random(n, seed: 90, scale: 3), dy = CoreTest.random(n, seed: 91)
        var y = [Float](repeating: 0, count: n), t = [Float](repeating: 0, count: n)
        var y2 = [Float](repeating: 0, count: n), g = [Float](repeating: 0, count: n)
        GELU.forward(x, &y, n, tanhOut: &t)
        GELU.forward(x, &y2, n)
        GELU.recompute(x: x, tanh: t, &g, n)
        var dx1 = [Float](repeating: 0, count: n), dx2 = dy
        GELU.backward(x, dy, &dx1, n)
        dx2.withUnsafeMutableBufferPointer { p in
            GELU.backward(x: x, tanh: t, dy: p.baseAddress!, dx: p.baseAddress!, n)  // in place, as the model calls it
        }
        var worstY = 0.0, worstD = 0.0
        for i in 0..<n {
            let v = Double(x[i])
            worstY = max(worstY, abs(Double(y[i]) - Self.geluRef(v)) / (1 + abs(v)))
            worstD = max(worstD, abs(Double(dx1[i]) - Double(dy[i]) * Self.geluSlopeRef(v)) / (1 + v * v))
            XCTAssertEqual(t[i], VectorMath.tanh(GELU.arg(F8(repeating: x[i])))[0], "tanhOut at \(i)")
        }
        XCTAssertLessThan(worstY, 1e-6, "gelu forward vs Double reference")
        XCTAssertLessThan(worstD, 2e-6, "gelu backward vs Double reference")
        XCTAssertEqual(y2, y, "forward without tanhOut gives the same values")
        XCTAssertEqual(g, y, "recompute from the saved tanh is bit-identical to the forward")
        XCTAssertEqual(dx2, dx1, "backward from the saved tanh equals the backward from x")
        // Accumulating backward adds to what is there.
        var acc = [Float](repeating: 1, count: n)
        GELU.backward(x, dy, &acc, n, accumulate: true)
        XCTAssertEqual(acc[n - 1], 1 + dx1[n - 1])
        XCTAssertEqual(acc[7], 1 + dx1[7])
    }

    /// An element's value does not depend on its position (vector body or
    /// padded tail) or on the thread count: the same inputs shifted by 3.
    func testGELUValuesIndependentOfPositionAndThreads() {
        let saved = Parallelism.threads
        defer { Parallelism.setThreads(saved) }
        let n = 40_000
        let x = CoreTest.random(n + 3, seed: 92, scale: 2)
        var outs: [[Float]] = []
        for threads in [1, 2] {
            Parallelism.setThreads(threads)
            var a = [Float](repeating: 0, count: n), b = [Float](repeating: 0, count: n + 3)
            GELU.forward(Array(x[3...]), &a, n)
            GELU.forward(x, &b, n + 3)
            XCTAssertEqual(a, Array(b[3...]), "threads \(threads)")
            outs.append(a)
        }
        XCTAssertEqual(outs[0], outs[1], "1 and 2 threads")
    }

    /// RMSNorm backward (vectorised rows, d = 12 has a 4-lane scalar tail,
    /// d = 128 is the model's width) against a Double reference of
    ///   dx = r (dy g - xhat mean(dy g xhat)),  dg = sum_rows dy xhat.
    /// Tolerance 1e-5 relative (norm-wise): float32 sums of d terms.
    func testRMSNormBackwardMatchesScalarReference() {
        for d in [12, 128] {
            let rows = 37
            let x = CoreTest.random(rows * d, seed: 93), g = CoreTest.random(d, seed: 94, scale: 0.3).map { $0 + 1 }
            let dy = CoreTest.random(rows * d, seed: 95)
            var y = [Float](repeating: 0, count: rows * d), r = [Float](repeating: 0, count: rows)
            RMSNorm.forward(x, g, &y, &r, rows: rows, d: d, eps: 1e-5)
            var dx = [Float](repeating: 0.5, count: rows * d), dg = [Float](repeating: 0.25, count: d)
            RMSNorm.backward(x, g, r, dy, &dx, &dg, rows: rows, d: d, accumulate: true, scratch: FloatBuffer())
            var wantDx = [Float](repeating: 0, count: rows * d), wantDg = [Double](repeating: 0.25, count: d)
            for row in 0..<rows {
                var ms = 0.0
                for i in 0..<d { ms += Double(x[row * d + i]) * Double(x[row * d + i]) }
                let rr = 1 / (ms / Double(d) + 1e-5).squareRoot()
                var s = 0.0
                for i in 0..<d {
                    let xh = Double(x[row * d + i]) * rr
                    wantDg[i] += Double(dy[row * d + i]) * xh
                    s += Double(dy[row * d + i]) * Double(g[i]) * xh
                }
                for i in 0..<d {
                    let xh = Double(x[row * d + i]) * rr
                    wantDx[row * d + i] = Float(0.5 + rr * (Double(dy[row * d + i]) * Double(g[i]) - xh * s / Double(d)))
                }
            }
            XCTAssertLessThan(CoreTest.relativeError(dx, wantDx), 1e-5, "dx, d \(d)")
            XCTAssertLessThan(CoreTest.relativeError(dg, wantDg.map { Float($0) }), 1e-5, "dg, d \(d)")
        }
    }

    /// Softmax rows of every length 1...27 (all tail lengths 0...7): each
    /// exp in the padded tail equals the scalar VectorMath.exp of the same
    /// value (as the per-value tail computed it), the row sums to 1 and
    /// matches a Double softmax to 1e-6 (exp's 2e-7 relative error, float sums).
    func testSoftmaxRowTailsMatchScalarExp() {
        for n in 1...27 {
            let x = CoreTest.random(n, seed: UInt64(100 + n), scale: 3)
            var y = x
            let shift: Float = 0.25
            let s = x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    Softmax.expShifted(xp.baseAddress!, yp.baseAddress!, n, scale: 0.5, shift: shift)
                }
            }
            var want: Float = 0
            var acc = F8()
            for i in 0..<n {
                XCTAssertEqual(y[i], VectorMath.exp(x[i] * 0.5 - shift), "n \(n), entry \(i)")
                if i < n / 8 * 8 { acc[i % 8] += y[i] }
            }
            want = acc.sum()
            for i in (n / 8 * 8)..<n { want += y[i] }
            XCTAssertEqual(s, want, "n \(n): the sum adds the lanes, then the tail in order")
            var p = x
            p.withUnsafeMutableBufferPointer { Softmax.rowInPlace($0.baseAddress!, n) }
            let mx = x.map(Double.init).max()!
            let z = x.map { Foundation.exp(Double($0) - mx) }.reduce(0, +)
            for i in 0..<n {
                XCTAssertEqual(Double(p[i]), Foundation.exp(Double(x[i]) - mx) / z, accuracy: 1e-6, "softmax n \(n) entry \(i)")
            }
        }
    }

    /// copy() skips copying all-zero gradients (the copy's calloc'd ones are
    /// zero already) but still copies non-zero ones; FloatBuffers are
    /// 64-byte aligned and zeroed when asked.
    func testCopyGradientsAndZeroedBuffers() throws {
        let m = try MedR1Model(config: CoreModelTests.tiny, seed: 3)
        XCTAssertEqual(m.copy().flatGrads, [Float](repeating: 0, count: m.parameterCount))
        m.grads.pointer[m.parameterCount - 1] = 2.5
        let c = m.copy()
        XCTAssertEqual(c.flatGrads, m.flatGrads)
        XCTAssertEqual(c.flatGrads[m.parameterCount - 1], 2.5)
        let b = FloatBuffer(count: 1 << 20)
        XCTAssertEqual(Int(bitPattern: b.pointer) % 64, 0)
        XCTAssertEqual(b.array(1 << 20).max(), 0)
        XCTAssertEqual(b.array(1 << 20).min(), 0)
        XCTAssertEqual(Int(bitPattern: b.reserve(3 << 20)) % 64, 0)
        XCTAssertEqual(b.capacity, 3 << 20)
    }
}
