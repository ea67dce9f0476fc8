import Foundation
import XCTest
@testable import MedR1Lib

/// medr1-tiny on a tiny config: parameter layout, a whole-model
/// finite-difference gradient check, KV-cache decoding against the full
/// forward, determinism and input errors.
final class CoreModelTests: XCTestCase {
    /// 8x8x3 images, 4 patches, d 16, 2 heads, 1 + 1 layers, vocab 40.
    static let tiny = ModelConfig(imageSize: 8, channels: 3, patch: 4, dModel: 16, nHeads: 2, visionLayers: 1,
                                  textLayers: 1, mlpRatio: 4, vocabSize: 40, maxSeq: 16, normEps: 1e-5)

    static func image(_ seed: UInt64, _ c: ModelConfig = tiny) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<c.imageFloats).map { _ in rng.nextFloat() * 2 - 1 }
    }

    func testParameterNamesShapesAndCount() throws {
        let m = try MedR1Model(config: Self.tiny, seed: 7)
        let d = 16, h = 64
        let block = 2 * d + 4 * d * d + 2 * h * d
        let expected = d * 48 + d + 4 * d + block + d + 40 * d + 16 * d + block + d
        XCTAssertEqual(m.parameterCount, expected)
        XCTAssertEqual(m.parameters.count, 3 + 8 + 1 + 2 + 8 + 1)
        XCTAssertEqual(m.parameter(named: "vision.patch.weight")?.shape, [16, 48])
        XCTAssertEqual(m.parameter(named: "text.blocks.0.mlp.fc1.weight")?.shape, [64, 16])
        XCTAssertEqual(m.parameter(named: "text.blocks.0.mlp.fc2.weight")?.shape, [16, 64])
        XCTAssertEqual(m.parameter(named: "text.pos")?.shape, [16, 16])
        XCTAssertEqual(m.summary.split(separator: "\n").last.map(String.init), "total" + String(repeating: " ", count: 23) + String(repeating: " ", count: 10 - "\(expected)".count) + "\(expected)")
        // Init: gains 1, bias 0, std about 0.02 / 0.02/sqrt(2).
        XCTAssertEqual(Array(m.parameter(named: "text.norm.weight")!.value), [Float](repeating: 1, count: d))
        XCTAssertEqual(Array(m.parameter(named: "vision.patch.bias")!.value), [Float](repeating: 0, count: d))
        let emb = Array(m.parameter(named: "text.embed.weight")!.value)
        let std = (emb.map { Double($0 * $0) }.reduce(0, +) / Double(emb.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.002)
        // Same seed, same weights; copy is deep.
        let m2 = try MedR1Model(config: Self.tiny, seed: 7)
        XCTAssertEqual(m.flatValues, m2.flatValues)
        let c = m.copy()
        c.parameters[0].value[0] += 1
        XCTAssertEqual(m.flatValues[0] + 1, c.flatValues[0])
        XCTAssertNotEqual(try MedR1Model(config: Self.tiny, seed: 8).flatValues, m.flatValues)
    }

    /// loss = sum_b,j w_bj logp_bj; analytic gradient vs central differences on
    /// 4 entries of every parameter tensor. Weights are scaled up (x5) so the
    /// gradients stand well above float32 noise; tolerance 2e-3 norm-wise
    /// (measured 2e-4).
    func testWholeModelGradientMatchesFiniteDifferences() throws {
        try checkWholeModelGradient(Self.tiny)
    }

    /// mlp_ratio below 3 makes the MLP hidden width smaller than the
    /// attention's (S, 3d) gradient, which shares its scratch buffer.
    func testWholeModelGradientWithNarrowMLP() throws {
        var c = Self.tiny
        c.mlpRatio = 1
        try checkWholeModelGradient(c)
    }

    func checkWholeModelGradient(_ config: ModelConfig) throws {
        let m = try MedR1Model(config: config, seed: 3)
        for p in m.parameters where !p.name.hasSuffix("norm1.weight") && !p.name.hasSuffix("norm2.weight") && !p.name.hasSuffix("norm.weight") {
            for i in 0..<p.count { p.value[i] *= 5 }
        }
        // Rows 0 and 2 share an image (one vision pass, gradients summed).
        let images = [Self.image(1), Self.image(2), Self.image(1)]
        let seqs = [[1, 5, 9, 3, 39, 0], [7, 7, 2, 11], [4, 8, 15]]
        let starts = [2, 0, 1]
        let wts = [CoreTest.random(4, seed: 30), CoreTest.random(4, seed: 31), CoreTest.random(2, seed: 32)]
        func loss() -> Double {
            let r = try! m.tokenLogProbs(images: images, sequences: seqs, targetStart: starts, temperature: 0.9, withGrad: false)
            return CoreTest.dot(r.logProbs.flatMap { $0 }, wts.flatMap { $0 })
        }
        m.zeroGrad()
        let r = try m.tokenLogProbs(images: images, sequences: seqs, targetStart: starts, temperature: 0.9, withGrad: true)
        try m.backward(r, dLogProbs: wts)
        let analytic = m.flatGrads
        var indices: [Int] = []
        var rng = SplitMix64(seed: 99)
        for p in m.parameters { for _ in 0..<4 { indices.append(p.offset + Int(rng.next() % UInt64(p.count))) } }
        // Tokens that appear get embedding gradient entries too.
        let embed = m.parameter(named: "text.embed.weight")!
        indices += [embed.offset + 7 * 16 + 3, embed.offset + 39 * 16 + 10]
        let x0 = m.flatValues
        CoreTest.checkGradient("whole model", x: x0, analytic: analytic, indices: indices, eps: 5e-3, tolerance: 2e-3) { x in
            m.values.pointer.update(from: x, count: x.count)
            return loss()
        }
        // Every parameter tensor receives some gradient.
        for p in m.parameters {
            XCTAssertGreaterThan(p.grad.map { abs($0) }.max()!, 0, "no gradient reached \(p.name)")
        }
    }

    /// Logits at every text position from the full (uncached) forward.
    func fullLogits(_ m: MedR1Model, image: [Float], tokens: [Int]) throws -> [[Float]] {
        _ = try m.tokenLogProbs(images: [image], sequences: [tokens], targetStart: [0], withGrad: false)
        let V = m.config.vocabSize
        return (0..<tokens.count).map { m.inferenceTape.logits.array(V, from: $0 * V) }
    }

    func testKVCacheDecodingEqualsFullForward() throws {
        var cfg = Self.tiny
        cfg.textLayers = 2
        let m = try MedR1Model(config: cfg, seed: 5)
        let img = Self.image(4, cfg)
        let prompt = [3, 17, 22]
        let cont: [[Int]] = [[5, 9, 1, 30], [8, 8, 39, 0], [2, 4, 6, 10]]
        var cache = m.expand(try m.prefill(image: img, prompt: prompt), copies: 3)
        var decoded: [[[Float]]] = [[], [], []]
        for r in 0..<3 { decoded[r].append(cache.lastLogits[r]) }
        for step in 0..<4 {
            let out = try m.decode(&cache, tokens: cont.map { $0[step] })
            for r in 0..<3 { decoded[r].append(out[r]) }
        }
        XCTAssertEqual(cache.length(row: 1), 4 + 3 + 4)
        for r in 0..<3 {
            let full = try fullLogits(m, image: img, tokens: prompt + cont[r] + [0])
            // full[k] predicts token k; decoded[r][s] predicts token 3 + s.
            for s in 0..<5 {
                let err = CoreTest.relativeError(decoded[r][s], full[3 + s])
                XCTAssertLessThan(err, 1e-5, "row \(r) step \(s): relative error \(err)")
            }
        }
        // A copied cache is independent (copy-on-write).
        var a = cache, b = cache
        let la = try m.decode(&a, tokens: [1, 1, 1]), lb = try m.decode(&b, tokens: [2, 2, 2])
        XCTAssertNotEqual(la[0], lb[0])
        XCTAssertEqual(cache.decodedCount(row: 0), 4)
        XCTAssertEqual(a.decodedCount(row: 0), 5)
    }

    func testBatchedPrefillMatchesSingle() throws {
        let m = try MedR1Model(config: Self.tiny, seed: 6)
        let single = try m.prefill(image: Self.image(9), prompt: [4, 5])
        let batch = try m.prefill(images: [Self.image(8), Self.image(9)], prompts: [[1], [4, 5]])
        XCTAssertLessThan(CoreTest.relativeError(batch.lastLogits[1], single.lastLogits[0]), 1e-6)
        // Two prefixes x 2 copies decoded together equal each row's full forward.
        var cache = m.expand(batch, copies: 2)
        let steps = [[9, 1, 2, 3], [7, 0, 39, 5]]
        var outs: [[Float]] = []
        for s in steps { outs = try m.decode(&cache, tokens: s) }
        let images = [Self.image(8), Self.image(8), Self.image(9), Self.image(9)]
        let prompts = [[1], [1], [4, 5], [4, 5]]
        for r in 0..<4 {
            let full = try fullLogits(m, image: images[r], tokens: prompts[r] + [steps[0][r], steps[1][r], 0])
            let err = CoreTest.relativeError(outs[r], full[prompts[r].count + 2])
            XCTAssertLessThan(err, 1e-5, "row \(r): relative error \(err)")
        }
    }

    func testDeterministicForAThreadCount() throws {
        let m = try MedR1Model(config: Self.tiny, seed: 11)
        let images = (0..<6).map { Self.image(UInt64($0)) }
        let seqs = (0..<6).map { b in (0..<8).map { ($0 * 7 + b) % 40 } }
        var grads: [[Float]] = []
        for _ in 0..<2 {
            m.zeroGrad()
            let r = try m.tokenLogProbs(images: images, sequences: seqs, targetStart: [Int](repeating: 1, count: 6),
                                        withGrad: true)
            try m.backward(r, dLogProbs: r.logProbs.map { $0.map { _ in -1 } })
            grads.append(m.flatGrads)
        }
        XCTAssertEqual(grads[0], grads[1])
    }

    /// Rows with nothing to score (targetStart == count) and empty batches
    /// give empty results and zero gradients, not a crash.
    func testEmptyTargets() throws {
        let m = try MedR1Model(config: Self.tiny, seed: 1)
        let r = try m.tokenLogProbs(images: [Self.image(1)], sequences: [[1, 2]], targetStart: [2], withGrad: true,
                                    entropy: true)
        XCTAssertEqual(r.logProbs, [[]])
        XCTAssertEqual(r.entropy, [[]])
        m.zeroGrad()
        try m.backward(r, dLogProbs: [[]])
        XCTAssertEqual(m.flatGrads.map { abs($0) }.max(), 0)
        let none = try m.tokenLogProbs(images: [], sequences: [], targetStart: [], withGrad: false)
        XCTAssertEqual(none.logProbs.count, 0)
        XCTAssertThrowsError(try m.backward(r, dLogProbs: [[]])) {
            XCTAssertEqual("\($0)", "backward: the result has no activations: compute it with withGrad: true, and call backward once")
        }
    }

    func testInputErrorsNameTheRow() throws {
        let m = try MedR1Model(config: Self.tiny, seed: 1)
        XCTAssertThrowsError(try m.tokenLogProbs(images: [Self.image(1)], sequences: [[1, 40]], targetStart: [0], withGrad: false)) {
            XCTAssertEqual("\($0)", "row 0, token 1: id 40 is outside the vocabulary 0..<40")
        }
        XCTAssertThrowsError(try m.tokenLogProbs(images: [Self.image(1)], sequences: [Array(repeating: 1, count: 13)], targetStart: [0], withGrad: false)) {
            XCTAssertEqual("\($0)", "row 0: 4 image tokens + 13 text tokens exceed max_seq 16: shorten the prompt or completion")
        }
        XCTAssertThrowsError(try m.tokenLogProbs(images: [[0, 1]], sequences: [[1]], targetStart: [0], withGrad: false)) {
            XCTAssertEqual("\($0)", "row 0: image has 2 floats, the model expects 8x8x3 = 192 (preprocess it to the model's size)")
        }
        XCTAssertThrowsError(try MedR1Model(config: ModelConfig(dModel: 10, nHeads: 4), seed: 1)) {
            XCTAssertEqual("\($0)", "config field d_model 10 is not a multiple of n_heads 4: choose n_heads dividing d_model")
        }
        var cache = try m.prefill(image: Self.image(1), prompt: Array(repeating: 2, count: 11))
        _ = try m.decode(&cache, tokens: [3])
        XCTAssertThrowsError(try m.decode(&cache, tokens: [3])) {
            XCTAssertEqual("\($0)", "decode: row 0 already holds 16 positions, max_seq is 16: stop decoding earlier")
        }
    }
}
