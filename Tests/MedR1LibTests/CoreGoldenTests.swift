import Foundation
import XCTest
@testable import MedR1Lib

/// Golden log-probabilities from the independent NumPy reference
/// (scripts/reference/medr1_ref.py) for a checkpoint written by this code.
/// Regenerate with scripts/reference/make-golden (needs Python + NumPy; CI does not).
final class CoreGoldenTests: XCTestCase {
    /// 8x8x3 images, 4 patches, d 16, 2 heads, 2 + 2 layers, vocab 40, max_seq 20.
    static let config = ModelConfig(imageSize: 8, channels: 3, patch: 4, dModel: 16, nHeads: 2, visionLayers: 2,
                                    textLayers: 2, mlpRatio: 4, vocabSize: 40, maxSeq: 20, normEps: 1e-5)

    struct Inputs: Codable {
        struct Row: Codable { var image: [Float]; var tokens: [Int]; var target_start: Int }
        var temperature: Float
        var rows: [Row]
        var loss_weights: [[Float]]
    }
    struct Expected: Codable {
        var logprobs: [[Double]]
        var entropy: [[Double]]
        var grad: [String: [Double]]?
    }

    static var fixtures: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }

    /// Writes the checkpoint and inputs when MEDR1_WRITE_GOLDEN=1 (skipped otherwise).
    func testWriteGoldenInputs() throws {
        guard ProcessInfo.processInfo.environment["MEDR1_WRITE_GOLDEN"] == "1" else {
            throw XCTSkip("set MEDR1_WRITE_GOLDEN=1 to regenerate the golden inputs")
        }
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let m = try MedR1Model(config: Self.config, seed: 2024)
        // Larger, varied weights than the default init so every part of the
        // model visibly moves the log-probabilities.
        var rng = SplitMix64(seed: 77)
        for p in m.parameters {
            let isNorm = p.name.hasSuffix("norm1.weight") || p.name.hasSuffix("norm2.weight") || p.name.hasSuffix("norm.weight")
            for i in 0..<p.count {
                let n = Float(rng.nextNormal())
                p.value[i] = isNorm ? 1 + 0.2 * n : (p.name.hasSuffix("bias") ? 0.1 * n : 0.25 * n)
            }
        }
        try Checkpoint.save(model: m, tokenizerJSON: "{\"golden\":true}", extraMetadata: [:],
                            to: dir.appendingPathComponent("golden-tiny.safetensors"))
        let lengths = [10, 7, 16], starts = [3, 0, 5]
        var rows: [Inputs.Row] = [], weights: [[Float]] = []
        for b in 0..<3 {
            let image = (0..<Self.config.imageFloats).map { _ in rng.nextFloat() * 2 - 1 }
            let tokens = (0..<lengths[b]).map { _ in Int(rng.next() % 40) }
            rows.append(Inputs.Row(image: image, tokens: tokens, target_start: starts[b]))
            weights.append((0..<(lengths[b] - starts[b])).map { _ in Float(rng.nextNormal()) })
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try enc.encode(Inputs(temperature: 0.8, rows: rows, loss_weights: weights))
            .write(to: dir.appendingPathComponent("golden-inputs.json"))
    }

    func testLogProbsMatchIndependentReference() throws {
        let (model, tok, _) = try Checkpoint.load(from: Self.fixtures.appendingPathComponent("golden-tiny.safetensors"))
        XCTAssertEqual(tok, "{\"golden\":true}")
        XCTAssertEqual(model.config, Self.config)
        let inputs = try JSONDecoder().decode(Inputs.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("golden-inputs.json")))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("golden-expected.json")))
        let r = try model.tokenLogProbs(images: inputs.rows.map(\.image), sequences: inputs.rows.map(\.tokens),
                                        targetStart: inputs.rows.map(\.target_start), temperature: inputs.temperature,
                                        withGrad: true, entropy: true)
        let got = r.logProbs.flatMap { $0 }, want = expected.logprobs.flatMap { $0 }.map { Float($0) }
        XCTAssertEqual(got.count, 25)
        let err = CoreTest.relativeError(got, want)
        let (m, at) = CoreTest.maxAbsDiff(got, want)
        XCTAssertLessThan(err, 1e-4, "log-probs: relative error \(err), largest difference \(m) at \(at)")
        // The reference log-probs are far from uniform, so this test can fail.
        XCTAssertGreaterThan(want.map { abs($0 + Float(Foundation.log(40.0))) }.max()!, 1)
        let gotE = r.entropy.flatMap { $0 }, wantE = expected.entropy.flatMap { $0 }.map { Float($0) }
        XCTAssertLessThan(CoreTest.relativeError(gotE, wantE), 1e-4, "entropy")

        // Gradient golden (written by the PyTorch reference when available).
        guard let grads = expected.grad else { return }
        model.zeroGrad()
        try model.backward(r, dLogProbs: inputs.loss_weights)
        var checked = 0
        for p in model.parameters {
            guard let g = grads[p.name] else { XCTFail("golden gradient lacks \(p.name)"); continue }
            let e = CoreTest.relativeError(Array(p.grad), g.map { Float($0) })
            XCTAssertLessThan(e, 1e-4, "gradient of \(p.name): relative error \(e)")
            checked += 1
        }
        XCTAssertEqual(checked, model.parameters.count)
    }
}
