// What the trainers feed the model for one Sample: the preprocessed image (decoded
// from PNG once, then cached: a GRPO step must not decode 16 PNGs every time) and
// the prompt / target token ids of the chosen template, also cached.
import Foundation

/// Preprocessed images by path, loaded on first use. Not thread-safe: one owner at a time.
public final class ImageCache {
    public let imageSize: Int
    public let channels: Int
    /// Turns a sample into its (imageSize, imageSize, channels) floats in [-1, 1].
    /// Default: `Preprocess.load` of the sample's PNG. Tests replace it with a generator.
    public var loader: (Sample) throws -> [Float]
    private var store: [String: [Float]] = [:]

    public init(imageSize: Int = 32, channels: Int = 3, loader: ((Sample) throws -> [Float])? = nil) {
        self.imageSize = imageSize
        self.channels = channels
        self.loader = loader ?? { s in
            try Preprocess.load(URL(fileURLWithPath: s.imagePath), imageSize: imageSize, channels: channels)
        }
    }

    public convenience init(config: ModelConfig) {
        self.init(imageSize: config.imageSize, channels: config.channels)
    }

    /// The sample's image, decoded at most once. Errors name the sample and its path.
    public func image(for s: Sample) throws -> [Float] {
        if let x = store[s.imagePath] { return x }
        let x: [Float]
        do { x = try loader(s) } catch {
            throw RLError.badImage("cannot read the image of sample \(s.id) (\(s.imagePath)): \(error)")
        }
        guard x.count == imageSize * imageSize * channels else {
            throw RLError.badImage("the image of sample \(s.id) has \(x.count) values, expected "
                                   + "\(imageSize)x\(imageSize)x\(channels) = \(imageSize * imageSize * channels)")
        }
        store[s.imagePath] = x
        return x
    }

    public var count: Int { store.count }
    public func removeAll() { store.removeAll() }
}

/// Token ids of one sample under a template: prompt ([<|bos|>] + prompt text) and target
/// (target text + [<|eos|>]), cached by sample id.
public final class ExampleEncoder {
    public let tokenizer: Tokenizer
    public let template: PromptTemplate
    public let answerStyle: AnswerStyle
    private var store: [String: (prompt: [Int], target: [Int])] = [:]

    public init(tokenizer: Tokenizer, template: PromptTemplate = .default, answerStyle: AnswerStyle = .text) {
        self.tokenizer = tokenizer
        self.template = template
        self.answerStyle = answerStyle
    }

    public func tokens(for s: Sample) -> (prompt: [Int], target: [Int]) {
        let key = s.id + "\u{1}" + s.imagePath
        if let x = store[key] { return x }
        let x = template.tokens(for: s, tokenizer: tokenizer, answerStyle: answerStyle)
        store[key] = x
        return x
    }

    /// Completion text from sampled tokens: the final <|eos|> dropped, special tokens kept
    /// (so `<think>` and `<answer>` show as text for the rewards).
    public func text(of tokens: [Int]) -> String {
        var t = tokens
        if t.last == tokenizer.eos { t.removeLast() }
        return tokenizer.decode(t)
    }
}

/// Deterministic order of samples: epoch e is a seeded permutation of the data set, and
/// draws continue across epochs, so the order is a pure function of (seed, position) and a
/// resumed trainer only needs its position.
public struct SampleOrder: Codable, Sendable, Equatable {
    public let count: Int
    public let seed: UInt64
    /// Samples handed out so far.
    public var position: Int = 0

    public init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
    }

    /// The next `n` sample indices.
    public mutating func next(_ n: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(n)
        var cachedEpoch = -1
        var perm: [Int] = []
        for _ in 0..<n {
            let e = position / count
            if e != cachedEpoch { perm = SampleOrder.permutation(count, seed: seed, epoch: e); cachedEpoch = e }
            out.append(perm[position % count])
            position += 1
        }
        return out
    }

    /// Fisher-Yates with SplitMix64 seeded by (seed, epoch).
    static func permutation(_ n: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &+ 0x5EED)
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                p.swapAt(i, j)
            }
        }
        return p
    }
}
