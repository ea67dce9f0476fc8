import XCTest
@testable import MedR1Lib

/// The decode step's own kernels (DecodeKernels.swift) against plain
/// reference loops, and the KV suffix's growth and padding.
final class DecodeKernelTests: XCTestCase {
    /// softmax(scale q [Kp; Ks]^T) [Vp; Vs] in Double, keys given row-major (n, dh).
    func referenceAttention(q: [Float], scale: Float, keys: [[Float]], values: [[Float]]) -> [Float] {
        let s = keys.map { k in Double(scale) * zip(q, k).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        let m = s.max()!
        let e = s.map { Foundation.exp($0 - m) }
        let z = e.reduce(0, +)
        var out = [Double](repeating: 0, count: q.count)
        for (j, v) in values.enumerated() { for i in 0..<q.count { out[i] += e[j] / z * Double(v[i]) } }
        return out.map { Float($0) }
    }

    func testAttendRowMatchesReference() {
        var rng = SplitMix64(seed: 3)
        func vec(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextFloat() * 2 - 1 } }
        // dh 32 (the default model), 8 (the tiny test model) and 12 (scalar tail of the value sum);
        // prefix lengths off and on multiples of 8 and 64; suffix 1 to 64.
        for (dh, lp, ls) in [(32, 64, 1), (32, 64, 64), (32, 70, 9), (8, 7, 3), (12, 13, 17), (32, 129, 40), (9, 20, 35)] {
            let q = vec(dh)
            let pKeys = (0..<lp).map { _ in vec(dh) }, sKeys = (0..<ls).map { _ in vec(dh) }
            let pVals = (0..<lp).map { _ in vec(dh) }, sVals = (0..<ls).map { _ in vec(dh) }
            // Keys in 8-key tiles (dh, 8), zero past the last key; values (n, dh), one spare row of 9s.
            func tiles(_ keys: [[Float]]) -> [Float] {
                var t = [Float](repeating: 0, count: DecodeAttention.padded(keys.count) * dh)
                for (j, k) in keys.enumerated() { for e in 0..<dh { t[(j / 8) * 8 * dh + e * 8 + j % 8] = k[e] } }
                return t
            }
            let pk = tiles(pKeys), sk = tiles(sKeys)
            let pv = pVals.flatMap { $0 } + [Float](repeating: 9, count: dh)
            let sv = sVals.flatMap { $0 } + [Float](repeating: 9, count: dh)
            var out = [Float](repeating: .nan, count: dh)
            var scratch = [Float](repeating: 0, count: DecodeAttention.scratchSize(dh: dh, maxLength: max(lp, ls)))
            let scale = 1 / Float(dh).squareRoot()
            DecodeAttention.attendRow(q: q, scale: scale, dh: dh, pk: pk, pv: pv, lp: lp,
                                      sk: sk, sv: sv, ls: ls, out: &out, scratch: &scratch)
            let ref = referenceAttention(q: q, scale: scale, keys: pKeys + sKeys, values: pVals + sVals)
            let err = CoreTest.relativeError(out, ref)
            XCTAssertLessThan(err, 1e-6, "dh \(dh) lp \(lp) ls \(ls): relative error \(err)")
        }
    }

    /// The AVX-512 path: up to 8 rows sharing a prefix (kept as panels by
    /// KVPrefix.write), each with its own suffix of its own length.
    func testAttendGroupMatchesReference() throws {
        guard DecodeAttention.groupedPrefix(dh: 32) else { throw XCTSkip("no AVX-512 on this processor") }
        var rng = SplitMix64(seed: 5)
        func vec(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextFloat() * 2 - 1 } }
        // (dh, heads, prefix length, rows): prefix lengths on and off multiples of 16, groups of 1 to 8 rows.
        for (dh, heads, lp, g) in [(32, 4, 64, 8), (32, 4, 70, 3), (16, 2, 13, 1), (32, 2, 129, 8), (48, 2, 33, 5)] {
            let d = dh * heads, cap = 72
            let prefix = KVPrefix(length: lp, layers: 2, d: d, heads: heads)
            XCTAssertNotNil(prefix.panels)
            let pKeys = (0..<lp).map { _ in vec(d) }, pVals = (0..<lp).map { _ in vec(d) }
            for i in 0..<lp {
                prefix.write(layer: 1, position: i, k: pKeys[i], v: pVals[i], heads: heads, dh: dh)
            }
            // Row i of the group holds lengths[i] + 1 suffix tokens, per head, in the KVSuffix layout.
            let lengths = (0..<g).map { (7 * $0 + 3) % 40 }
            let sKeys = (0..<g).map { i in (0...lengths[i]).map { _ in vec(d) } }
            let sVals = (0..<g).map { i in (0...lengths[i]).map { _ in vec(d) } }
            var sk = [Float](repeating: 0, count: g * heads * cap * dh), sv = [Float](repeating: 9, count: g * heads * cap * dh)
            for i in 0..<g {
                for hd in 0..<heads {
                    for (j, k) in sKeys[i].enumerated() {
                        for e in 0..<dh {
                            sk[(i * heads + hd) * cap * dh + (j / 8) * 8 * dh + e * 8 + j % 8] = k[hd * dh + e]
                            sv[(i * heads + hd) * cap * dh + j * dh + e] = sVals[i][j][hd * dh + e]
                        }
                    }
                }
            }
            let ldq = 3 * d
            let q = vec(g * ldq)
            var out = [Float](repeating: .nan, count: g * d)
            var scratch = [Float](repeating: .nan, count: DecodeAttention.scratchSize(dh: dh, maxLength: 256))
            let scale = 1 / Float(dh).squareRoot()
            for hd in 0..<heads {
                sk.withUnsafeBufferPointer { skp in
                    sv.withUnsafeBufferPointer { svp in
                        q.withUnsafeBufferPointer { qp in
                            out.withUnsafeMutableBufferPointer { op in
                                DecodeAttention.attendGroup(
                                    q: qp.baseAddress! + hd * dh, ldq: ldq, rows: g, scale: scale, dh: dh,
                                    prefix: prefix, layer: 1, head: hd,
                                    sk: skp.baseAddress! + hd * cap * dh, sv: svp.baseAddress! + hd * cap * dh,
                                    ldsuffix: heads * cap * dh, suffixLengths: [0, 0] + lengths, firstRow: 2,
                                    out: op.baseAddress! + hd * dh, ldout: d, scratch: &scratch)
                            }
                        }
                    }
                }
            }
            for i in 0..<g {
                for hd in 0..<heads {
                    func head(_ rows: [[Float]]) -> [[Float]] { rows.map { Array($0[(hd * dh)..<((hd + 1) * dh)]) } }
                    let ref = referenceAttention(q: Array(q[(i * ldq + hd * dh)..<(i * ldq + (hd + 1) * dh)]), scale: scale,
                                                 keys: head(pKeys + sKeys[i]), values: head(pVals + sVals[i]))
                    let got = Array(out[(i * d + hd * dh)..<(i * d + (hd + 1) * dh)])
                    let err = CoreTest.relativeError(got, ref)
                    XCTAssertLessThan(err, 1e-6, "dh \(dh) lp \(lp) row \(i) of \(g) head \(hd): relative error \(err)")
                }
            }
        }
    }

    /// A finished suffix's buffers serve the next one (no new pages), and the
    /// pool keeps at most maxFloats floats, letting the smallest go.
    func testDecodeBufferPoolReusesBuffersWithinItsBound() {
        DecodeBufferPool.drain()
        defer { DecodeBufferPool.drain() }
        var first: KVSuffix? = KVSuffix(rows: 4, layers: 2, d: 16, heads: 2, capacity: 40)
        let used = Set(first!.keys.map { ObjectIdentifier($0) } + first!.values.map { ObjectIdentifier($0) })
        XCTAssertEqual(DecodeBufferPool.heldFloats, 0)
        first = nil
        XCTAssertEqual(DecodeBufferPool.heldFloats, 4 * 4 * 40 * 16)
        // A much smaller suffix (a prefill's) leaves them for the big ones; one
        // of at least half their size takes them; a larger one cannot.
        let tiny = KVSuffix(rows: 1, layers: 2, d: 16, heads: 2, capacity: 1)
        let second = KVSuffix(rows: 4, layers: 2, d: 16, heads: 2, capacity: 17)
        let third = KVSuffix(rows: 4, layers: 1, d: 16, heads: 2, capacity: 80)
        withExtendedLifetime((tiny, second, third)) {
            XCTAssertTrue(Set(tiny.keys.map { ObjectIdentifier($0) }).isDisjoint(with: used))
            XCTAssertTrue(Set(second.keys.map { ObjectIdentifier($0) }).isSubset(of: used))
            XCTAssertEqual(DecodeBufferPool.heldFloats, 0)
            XCTAssertTrue(Set(third.keys.map { ObjectIdentifier($0) }).isDisjoint(with: used))
        }
        // Past the bound, the smallest buffers are let go.
        DecodeBufferPool.drain()
        DecodeBufferPool.give([FloatBuffer(count: 5), FloatBuffer(count: DecodeBufferPool.maxFloats - 10, zeroed: false),
                           FloatBuffer(count: 8)])
        XCTAssertEqual(DecodeBufferPool.heldFloats, DecodeBufferPool.maxFloats - 2)
    }

    func testScoresAndWeightedSumMatchLoops() {
        var rng = SplitMix64(seed: 4)
        let dh = 32, n = 100, ld = DecodeAttention.padded(n)
        let q = (0..<dh).map { _ in rng.nextFloat() - 0.5 }
        let kt = (0..<(dh * ld)).map { _ in rng.nextFloat() - 0.5 }
        var s = [Float](repeating: 0, count: ld)
        DecodeAttention.scores(q: q, kt: kt, n: n, dh: dh, s: &s)
        for j in [0, 7, 63, 64, 95, 99, 103] {
            var ref: Float = 0
            for e in 0..<dh { ref += q[e] * kt[(j / 8) * 8 * dh + e * 8 + j % 8] }
            XCTAssertEqual(s[j], ref, accuracy: 1e-5, "score \(j)")
        }
        let p = (0..<n).map { _ in rng.nextFloat() }
        let v = (0..<(n * 40)).map { _ in rng.nextFloat() - 0.5 }
        var out = [Float](repeating: 1, count: dh)
        DecodeAttention.weightedSum(p: p, n: n, v: v, ldv: 40, dh: dh, out: &out, accumulate: true)
        for e in [0, 8, 31] {
            var ref: Float = 1
            for j in 0..<n { ref += p[j] * v[j * 40 + e] }
            XCTAssertEqual(out[e], ref, accuracy: 1e-4, "dim \(e)")
        }
    }

    /// The vectorised float draw picks the same tokens as the Double
    /// reference (libm exps) and log-probs within float rounding.
    func testPlainDrawMatchesDoubleReference() {
        var rng = SplitMix64(seed: 5)
        var worst: Float = 0, differ = 0, total = 0
        for (v, t) in [(512, 1.0), (40, 1.0), (37, 0.7), (512, 1.3)] {
            var scratch = [Float](repeating: 0, count: TokenDraw.scratchSize(v))
            for row in 0..<16 {
                let spread: Float = row % 2 == 0 ? 3 : 12
                let z = (0..<v).map { _ in (rng.nextFloat() - 0.5) * spread }
                for _ in 0..<12 {
                    let u = rng.nextDouble()
                    let cfg = SamplerConfig(temperature: t)
                    let (tok, lp) = TokenDraw.plain(z, v, u: u, temperature: t, scratch: &scratch)
                    let (rt, rlp) = Sampler.pickReference(z, u: u, config: cfg)
                    total += 1
                    if tok != rt { differ += 1 } else { worst = max(worst, abs(lp - rlp)) }
                }
            }
        }
        XCTAssertEqual(differ, 0, "\(differ) of \(total) draws picked another token")
        XCTAssertLessThan(worst, 2e-6)
        // u = 0 takes the first token, u just below 1 the last; masked (-inf) tokens are never taken.
        var scratch = [Float](repeating: 0, count: TokenDraw.scratchSize(11))
        let z: [Float] = [-.infinity, 0, 1, 2, 3, 4, 5, 6, 7, 8, -.infinity]
        XCTAssertEqual(TokenDraw.plain(z, 11, u: 0, temperature: 1, scratch: &scratch).0, 1)
        XCTAssertEqual(TokenDraw.plain(z, 11, u: 1 - 1e-16, temperature: 1, scratch: &scratch).0, 9)
        let (tok, lp) = TokenDraw.plain([0, 0, 0, 0], 4, u: 0.6, temperature: 1, scratch: &scratch)
        XCTAssertEqual(tok, 2)
        XCTAssertEqual(lp, -Float(Foundation.log(4.0)), accuracy: 1e-7)
    }

    /// A suffix that starts with less room than it needs grows while
    /// decoding, and the results still equal the full forward; an
    /// exact-capacity cache (what the sampler makes) gives the same logits.
    func testSuffixGrowthAndExactCapacityMatchFullForward() throws {
        let cfg = CoreModelTests.tiny
        let m = try MedR1Model(config: cfg, seed: 8)
        let img = CoreModelTests.image(2, cfg)
        let prompt = [1, 6]
        let cont = [4, 9, 13, 2, 30, 31, 7, 7, 8]  // 4 image + 2 + 9 + 1 scored below = 16 = max_seq
        var small = m.expand(try m.prefill(image: img, prompt: prompt), copies: 2, capacity: 1)
        var exact = m.expand(try m.prefill(image: img, prompt: prompt), copies: 2, capacity: cont.count)
        XCTAssertEqual(small.suffix.capacity, 8)
        XCTAssertEqual(exact.suffix.capacity, 16)
        var last: [[Float]] = []
        for t in cont {
            last = try m.decode(&small, tokens: [t, t])
            XCTAssertEqual(try m.decode(&exact, tokens: [t, t]), last)
        }
        XCTAssertEqual(small.suffix.capacity, 16)
        XCTAssertEqual(exact.suffix.capacity, 16)
        // Full forward with one more (dummy) token: its logits row k predicts token k.
        _ = try m.tokenLogProbs(images: [img], sequences: [prompt + cont + [0]], targetStart: [0], withGrad: false)
        let full = m.inferenceTape.logits.array(cfg.vocabSize, from: (prompt.count + cont.count) * cfg.vocabSize)
        XCTAssertLessThan(CoreTest.relativeError(last[1], full), 1e-5)
    }
}

/// The packed decode products (PackedLinear.swift) against plain loops, and a
/// model whose every dimension packs (head included) decoding as its full forward.
final class PackedLinearTests: XCTestCase {
    /// 8x8x3 images, 2 heads, 1 vision + 2 text layers, max_seq 24.
    static func config(dModel: Int, vocab: Int) -> ModelConfig {
        ModelConfig(imageSize: 8, channels: 3, patch: 4, dModel: dModel, nHeads: 2, visionLayers: 1,
                    textLayers: 2, mlpRatio: 4, vocabSize: vocab, maxSeq: 24, normEps: 1e-5)
    }

    func testPackedProductMatchesLoop() {
        var rng = SplitMix64(seed: 6)
        for (n, inDim, outDim) in [(9, 24, 32), (4, 16, 16), (1, 40, 48), (7, 128, 64)] {
            let w = (0..<(outDim * inDim)).map { _ in rng.nextFloat() - 0.5 }
            let ldx = inDim + 3, ldy = outDim + 5
            let x = (0..<(n * ldx)).map { _ in rng.nextFloat() - 0.5 }
            var packed = [Float](repeating: 0, count: outDim * inDim)
            PackedLinear.pack(w, into: &packed, outDim: outDim, inDim: inDim)
            for accumulate in [false, true] {
                let y0 = (0..<(n * ldy)).map { _ in rng.nextFloat() }
                var y = y0
                PackedLinear.forward(x, ldx: ldx, packed, &y, ldy: ldy, rows: n, inDim: inDim, outDim: outDim,
                                     accumulate: accumulate)
                for r in 0..<n {
                    for o in 0..<outDim {
                        var ref = accumulate ? Double(y0[r * ldy + o]) : 0
                        for k in 0..<inDim { ref += Double(x[r * ldx + k]) * Double(w[o * inDim + k]) }
                        XCTAssertEqual(Double(y[r * ldy + o]), ref, accuracy: 1e-5, "n \(n) row \(r) out \(o)")
                    }
                    // Columns past outDim are left alone.
                    for o in outDim..<ldy { XCTAssertEqual(y[r * ldy + o], y0[r * ldy + o]) }
                }
            }
        }
    }

    func testDecodeWithPackedHeadMatchesFullForward() throws {
        // d 32, MLP 128, vocab 48: the blocks and the head all use the packed products.
        let cfg = Self.config(dModel: 32, vocab: 48)
        let m = try MedR1Model(config: cfg, seed: 12)
        let img = CoreModelTests.image(5, cfg)
        let prompt = [1, 20, 33]
        let pre = try m.prefill(images: [img, CoreModelTests.image(6, cfg)], prompts: [prompt, [1, 2]])
        XCTAssertNotNil(pre.packed?.head)
        var cache = m.expand(pre, copies: 3, capacity: 5)
        let cont = [[5, 47, 0, 9, 13], [8, 8, 8, 8, 8], [30, 2, 4, 6, 1]]
        var last: [[Float]] = []
        for s in 0..<5 { last = try m.decode(&cache, tokens: (0..<6).map { cont[$0 % 3][s] }) }
        for r in 0..<3 {
            _ = try m.tokenLogProbs(images: [img], sequences: [prompt + cont[r] + [0]], targetStart: [0], withGrad: false)
            let full = m.inferenceTape.logits.array(cfg.vocabSize, from: (prompt.count + 5) * cfg.vocabSize)
            let err = CoreTest.relativeError(last[r], full)
            XCTAssertLessThan(err, 1e-5, "row \(r): relative error \(err)")
        }
    }

    /// A block product gives the same values from packed and from plain
    /// weights (the two kernels `WeightMatrix.product` picks between), and
    /// `accumulate` adds to the output instead of overwriting it.
    func testWeightMatrixProductPackedEqualsPlain() {
        var rng = SplitMix64(seed: 9)
        let n = 5, inDim = 32, outDim = 48, ldx = inDim + 2, ldy = outDim + 3
        let w = (0..<(outDim * inDim)).map { _ in rng.nextFloat() - 0.5 }
        let x = (0..<(n * ldx)).map { _ in rng.nextFloat() - 0.5 }
        let y0 = (0..<(n * ldy)).map { _ in rng.nextFloat() }
        var packed = [Float](repeating: 0, count: outDim * inDim)
        PackedLinear.pack(w, into: &packed, outDim: outDim, inDim: inDim)
        w.withUnsafeBufferPointer { wp in
            packed.withUnsafeBufferPointer { pp in
                for accumulate in [false, true] {
                    var outs: [[Float]] = []
                    for p in [nil, pp.baseAddress] {
                        let m = WeightMatrix(plain: wp.baseAddress!, packed: p, outDim: outDim, inDim: inDim)
                        var y = y0
                        m.product(x, ldx: ldx, into: &y, ldy: ldy, rows: n, accumulate: accumulate)
                        outs.append(y)
                    }
                    for r in 0..<n {
                        for o in 0..<outDim {
                            var ref = accumulate ? Double(y0[r * ldy + o]) : 0
                            for k in 0..<inDim { ref += Double(x[r * ldx + k]) * Double(wp[o * inDim + k]) }
                            XCTAssertEqual(Double(outs[0][r * ldy + o]), ref, accuracy: 1e-5, "plain row \(r) out \(o)")
                            XCTAssertEqual(Double(outs[1][r * ldy + o]), ref, accuracy: 1e-5, "packed row \(r) out \(o)")
                        }
                        for o in outDim..<ldy {
                            XCTAssertEqual(outs[0][r * ldy + o], y0[r * ldy + o])
                            XCTAssertEqual(outs[1][r * ldy + o], y0[r * ldy + o])
                        }
                    }
                }
            }
        }
    }

    /// A model whose width does not pack (d 24: no packed weights, BLAS
    /// products, 12-wide heads for the per-row attention) decodes as its
    /// full forward, with rows of two prompts in one step.
    func testDecodeWithUnpackedWeightsMatchesFullForward() throws {
        let cfg = Self.config(dModel: 24, vocab: 40)
        let m = try MedR1Model(config: cfg, seed: 14)
        let images = [CoreModelTests.image(3, cfg), CoreModelTests.image(4, cfg)]
        let prompts = [[1, 20, 33], [7, 2]]
        let pre = try m.prefill(images: images, prompts: prompts)
        XCTAssertNil(pre.packed)
        var cache = m.expand(pre, copies: 2)
        let cont = [[5, 39, 0, 9], [8, 8, 8, 8], [30, 2, 4, 6], [1, 1, 3, 12]]
        var last: [[Float]] = []
        for s in 0..<4 { last = try m.decode(&cache, tokens: (0..<4).map { cont[$0][s] }) }
        for r in 0..<4 {
            let prompt = prompts[r / 2]
            _ = try m.tokenLogProbs(images: [images[r / 2]], sequences: [prompt + cont[r] + [0]], targetStart: [0],
                                    withGrad: false)
            let full = m.inferenceTape.logits.array(cfg.vocabSize, from: (prompt.count + 4) * cfg.vocabSize)
            let err = CoreTest.relativeError(last[r], full)
            XCTAssertLessThan(err, 1e-5, "row \(r): relative error \(err)")
        }
    }

    /// With every product packed, a row's numbers do not depend on how rows
    /// are split over threads: sampling on 1 and on 2 threads gives the same
    /// tokens and bit-identical log-probs (and the same as on 3).
    func testSamplingIdenticalAcrossThreadCounts() throws {
        let cfg = Self.config(dModel: 32, vocab: 48)
        let m = try MedR1Model(config: cfg, seed: 13)
        let images = [CoreModelTests.image(1, cfg), CoreModelTests.image(2, cfg)]
        let prompts = [[1, 5, 9], [1, 7]]
        let saved = Parallelism.threads
        defer { Parallelism.setThreads(saved) }
        var results: [[[SampledCompletion]]] = []
        for t in [1, 2, 3] {
            Parallelism.setThreads(t)
            var s = Sampler(config: SamplerConfig(temperature: 1, maxTokens: 10, stopAtEOS: false), seed: 21)
            results.append(try s.sampleBatch(model: m, images: images, prompts: prompts, count: 3, eos: 2))
        }
        XCTAssertEqual(results[0].flatMap { $0 }.map(\.tokens.count), [Int](repeating: 10, count: 6))
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }
}
