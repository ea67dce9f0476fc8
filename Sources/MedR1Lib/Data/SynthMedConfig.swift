// SynthMed: knobs of the synthetic medical VQA generator, its errors, and the
// seeded random numbers everything in it draws from.

import Foundation

/// Knobs of `SynthMed.generate`. Defaults give a balanced set that a tiny model
/// (32x32 input, d_model 128) learns mostly in ~1000 SFT steps: modality and
/// anatomy are easy, diagnosis medium, grading and attributes hard.
public struct SynthMedConfig: Codable, Equatable, Sendable {
    /// Number of samples (one image + one question each).
    public var count = 1000
    /// Side of the square images in pixels (the model resizes to its own imageSize;
    /// 64 keeps thin structures such as vessels and ribs visible after the resize to 32).
    /// Below 64 the per-pixel noise is scaled by size / 64, as shrinking from 64 would average it.
    public var imageSize = 64
    /// Seed of everything drawn: same seed and knobs = byte-identical files.
    public var seed: UInt64 = 0
    /// Options per question, 2...4 (fewer when a question has fewer valid answers,
    /// e.g. left/right eye). Options are always shuffled.
    public var options = 4
    /// Multiplier of image noise (0 = clean images, 1 = default, 2 = twice as noisy).
    public var noise = 1.0
    /// Multiplier of how far a lesion's intensity departs from the tissue around it
    /// (1 = default; 0.3 makes findings and grades hard to see).
    public var lesionContrast = 1.0
    /// Multiplier of lesion size (1 = default; grades keep their ratios). At the model's
    /// 32 px a mild lesion of scale 1 is about 3 px across; 1.5 makes findings, grades and
    /// counted elements easier to see. Element sizes are capped where elements must stay
    /// apart to be counted (OCT) or inside the optic disc (fundus cup).
    public var lesionScale = 1.0
    /// Relative frequency of each modality (missing = 0; all 1 by default).
    public var modalityWeights: [Modality: Double] = Dictionary(uniqueKeysWithValues: Modality.allCases.map { ($0, 1.0) })
    /// Relative frequency of each question type (missing = 0; all 1 by default).
    public var questionTypeWeights: [QuestionType: Double] = Dictionary(uniqueKeysWithValues: QuestionType.allCases.map { ($0, 1.0) })
    /// Name written as `dataset` and used for the folders and ids.
    public var dataset = "SynthMed"
    /// Worker threads for drawing and encoding (0 = all cores). Output does not depend on it.
    public var threads = 0

    public init(count: Int = 1000, imageSize: Int = 64, seed: UInt64 = 0) {
        self.count = count
        self.imageSize = imageSize
        self.seed = seed
    }

    /// The most samples one generation makes: its items are held in memory
    /// before any image is written, so a count is bounded before allocating.
    public static let maxCount = 1_000_000

    /// Throws a `SynthMedError` naming the bad knob as `synth(...)` spells it
    /// (`n`, `size`, `contrast`, ...) and its valid range.
    public func validate() throws {
        func bad(_ knob: String, _ why: String) -> SynthMedError { SynthMedError(message: "\(knob) \(why)") }
        guard (1...Self.maxCount).contains(count) else { throw bad("n", "must be in 1...\(Self.maxCount), got \(count)") }
        guard (8...1024).contains(imageSize) else { throw bad("size", "must be in 8...1024, got \(imageSize)") }
        guard (2...4).contains(options) else { throw bad("options", "must be 2, 3 or 4, got \(options)") }
        guard noise >= 0, noise.isFinite else { throw bad("noise", "must be a finite number >= 0, got \(noise)") }
        guard lesionContrast >= 0, lesionContrast.isFinite else { throw bad("contrast", "must be a finite number >= 0, got \(lesionContrast)") }
        guard (0.25...3).contains(lesionScale) else { throw bad("lesion_scale", "must be in 0.25...3, got \(lesionScale)") }
        guard modalityWeights.values.allSatisfy({ $0 >= 0 && $0.isFinite }),
              modalityWeights.values.contains(where: { $0 > 0 }) else {
            throw bad("modalities", "must name at least one modality (weights >= 0 with at least one > 0)")
        }
        guard questionTypeWeights.values.allSatisfy({ $0 >= 0 && $0.isFinite }),
              questionTypeWeights.values.contains(where: { $0 > 0 }) else {
            throw bad("types", "must name at least one question type (weights >= 0 with at least one > 0)")
        }
        guard !dataset.isEmpty, !dataset.contains("/") else {
            throw bad("the data set name", "must be non-empty and without '/', got \"\(dataset)\"")
        }
        guard threads >= 0 else { throw bad("threads", "must be >= 0 (0 = all cores), got \(threads)") }
    }
}

public struct SynthMedError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and fully determined by its seed,
/// so every sample can own a stream derived from (seed, index) and be drawn on any thread.
public struct SynthMedRandom: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// An independent stream for item `index` of stream `salt` under `seed`.
    public init(seed: UInt64, index: Int, salt: UInt64) {
        var mix = SynthMedRandom(seed: seed ^ (salt &* 0x9E37_79B9_7F4A_7C15))
        state = mix.next() ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03)
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }
    /// Uniform integer in 0..<n.
    public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    /// Standard normal (Box-Muller; one value per call, for simplicity).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 1e-300), u2 = unit()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
    /// Approximately standard normal from one 64-bit draw: the sum of four 16-bit
    /// uniforms (Irwin-Hall, variance 4/12 in all) rescaled to variance 1.
    /// Used for image noise, where it is ~10x cheaper than Box-Muller and looks the same.
    @inline(__always) public mutating func fastNormal() -> Double {
        let r = next()
        let s = Double(r & 0xFFFF) + Double((r >> 16) & 0xFFFF) + Double((r >> 32) & 0xFFFF) + Double(r >> 48)
        return (s / 65536 - 2) * 1.7320508075688772
    }
    /// Index drawn with probability proportional to `weights`.
    public mutating func weighted(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var r = unit() * total
        for (i, w) in weights.enumerated() where w > 0 {
            if r < w { return i }
            r -= w
        }
        return weights.lastIndex(where: { $0 > 0 }) ?? 0
    }
    /// Fisher-Yates shuffle.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}
