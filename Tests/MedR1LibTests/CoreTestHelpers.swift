import XCTest
@testable import MedR1Lib

/// Helpers for the core tests: seeded random arrays and a finite-difference
/// gradient check that reports the largest difference.
enum CoreTest {
    static func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.nextNormal()) * scale }
    }

    /// ||a - b|| / ||b|| in Double.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var num = 0.0, den = 0.0
        for i in 0..<a.count { let d = Double(a[i]) - Double(b[i]); num += d * d; den += Double(b[i]) * Double(b[i]) }
        return (num / max(den, 1e-300)).squareRoot()
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> (Float, Int) {
        var m: Float = 0, at = 0
        for i in 0..<a.count where abs(a[i] - b[i]) > m { m = abs(a[i] - b[i]); at = i }
        return (m, at)
    }

    /// Central differences of `loss` w.r.t. every entry of `x` (or the given
    /// indices); asserts the norm-wise relative error against `analytic`.
    static func checkGradient(_ name: String, x: [Float], analytic: [Float], indices: [Int]? = nil,
                              eps: Float = 1e-2, tolerance: Double = 2e-3,
                              loss: ([Float]) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        let idx = indices ?? Array(0..<x.count)
        var numeric: [Float] = [], picked: [Float] = []
        var xp = x
        for i in idx {
            let old = xp[i]
            xp[i] = old + eps; let lp = loss(xp)
            xp[i] = old - eps; let lm = loss(xp)
            xp[i] = old
            numeric.append(Float((lp - lm) / (2 * Double(eps))))
            picked.append(analytic[i])
        }
        let err = relativeError(picked, numeric)
        let (m, at) = maxAbsDiff(picked, numeric)
        XCTAssertLessThan(err, tolerance,
                          "\(name): relative error \(err); largest difference \(m) at entry \(idx[at]) (analytic \(picked[at]), numeric \(numeric[at]))",
                          file: file, line: line)
    }

    /// sum_i a[i] * b[i] in Double.
    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
        return s
    }
}
