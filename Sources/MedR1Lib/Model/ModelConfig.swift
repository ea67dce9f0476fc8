import Foundation

// The medr1-tiny configuration (model-spec.md): every architectural knob with
// its default, and the conversion to and from the checkpoint's
// `__metadata__` strings (snake_case keys, values as decimal strings).

/// Sizes of medr1-tiny; other sizes are the same architecture with other numbers.
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Input images are resized to imageSize x imageSize.
    public var imageSize: Int = 32
    /// 3 (RGB) or 1 (gray) input channels.
    public var channels: Int = 3
    /// Patch side; nPatches = (imageSize / patch)^2.
    public var patch: Int = 8
    /// Width of every token.
    public var dModel: Int = 128
    /// Attention heads; head dim = dModel / nHeads.
    public var nHeads: Int = 4
    /// Bidirectional blocks over the patches.
    public var visionLayers: Int = 2
    /// Causal blocks over image + text.
    public var textLayers: Int = 4
    /// MLP hidden width = mlpRatio * dModel.
    public var mlpRatio: Int = 4
    /// Vocabulary size, from the tokenizer (512 by default).
    public var vocabSize: Int = 512
    /// Longest sequence: image tokens + text tokens.
    public var maxSeq: Int = 256
    /// RMSNorm epsilon.
    public var normEps: Float = 1e-5

    public init(imageSize: Int = 32, channels: Int = 3, patch: Int = 8, dModel: Int = 128, nHeads: Int = 4,
                visionLayers: Int = 2, textLayers: Int = 4, mlpRatio: Int = 4, vocabSize: Int = 512,
                maxSeq: Int = 256, normEps: Float = 1e-5) {
        self.imageSize = imageSize; self.channels = channels; self.patch = patch; self.dModel = dModel
        self.nHeads = nHeads; self.visionLayers = visionLayers; self.textLayers = textLayers
        self.mlpRatio = mlpRatio; self.vocabSize = vocabSize; self.maxSeq = maxSeq; self.normEps = normEps
    }

    /// Image tokens per image: (imageSize / patch)^2.
    public var nPatches: Int { (imageSize / patch) * (imageSize / patch) }
    /// Length of one flattened patch: patch * patch * channels.
    public var patchDim: Int { patch * patch * channels }
    /// Width of one attention head.
    public var headDim: Int { dModel / nHeads }
    /// Hidden width of the MLP.
    public var mlpHidden: Int { mlpRatio * dModel }
    /// Floats in one preprocessed image: imageSize * imageSize * channels.
    public var imageFloats: Int { imageSize * imageSize * channels }
    /// Longest text (in tokens) that fits after the image tokens.
    public var maxTextTokens: Int { maxSeq - nPatches }

    // MARK: - Limits
    // Upper bounds on every size, so that a config read from a file cannot make
    // the model allocate more than a few gigabytes (or overflow a size).

    /// Largest image side.
    public static let maxImageSize = 1024
    /// Largest token width.
    public static let maxDModel = 4096
    /// Most attention heads.
    public static let maxHeads = 256
    /// Most blocks in each tower (vision_layers, text_layers).
    public static let maxLayers = 256
    /// Largest MLP ratio.
    public static let maxMlpRatio = 16
    /// Largest vocabulary.
    public static let maxVocabSize = 1 << 20
    /// Longest sequence.
    public static let maxSeqLimit = 1 << 16
    /// Most parameters (floats) of the whole model: 2^28, 1 GiB of weights.
    public static let maxParameters = 1 << 28
    /// Largest norm_eps.
    public static let maxNormEps: Float = 1

    /// Number of weights of the model this config describes (MedR1Model's layout).
    /// Meaningful once the per-field limits of `validate` hold (no overflow then).
    public var parameterCount: Int {
        let d = dModel
        let block = 2 * d + 4 * d * d + 2 * mlpHidden * d
        let vision = d * patchDim + d + nPatches * d + visionLayers * block + d
        let text = vocabSize * d + maxSeq * d + textLayers * block + d
        return vision + text
    }

    /// Checks that the numbers make an architecture of bounded size; the message
    /// says which field and how to fix it.
    public func validate() throws {
        func fail(_ s: String) throws -> Never { throw ModelError(s) }
        for (name, v) in [("image_size", imageSize), ("channels", channels), ("patch", patch), ("d_model", dModel),
                          ("n_heads", nHeads), ("mlp_ratio", mlpRatio), ("vocab_size", vocabSize),
                          ("max_seq", maxSeq)] where v < 1 {
            try fail("config field \(name) is \(v): it must be at least 1")
        }
        if visionLayers < 0 { try fail("config field vision_layers is \(visionLayers): it must be at least 0") }
        if textLayers < 0 { try fail("config field text_layers is \(textLayers): it must be at least 0") }
        for (name, v, limit) in [("image_size", imageSize, Self.maxImageSize), ("patch", patch, Self.maxImageSize),
                                 ("d_model", dModel, Self.maxDModel), ("n_heads", nHeads, Self.maxHeads),
                                 ("vision_layers", visionLayers, Self.maxLayers), ("text_layers", textLayers, Self.maxLayers),
                                 ("mlp_ratio", mlpRatio, Self.maxMlpRatio), ("vocab_size", vocabSize, Self.maxVocabSize),
                                 ("max_seq", maxSeq, Self.maxSeqLimit)] where v > limit {
            try fail("config field \(name) is \(v): it must be at most \(limit)")
        }
        if channels != 1 && channels != 3 { try fail("config field channels is \(channels): use 1 (gray) or 3 (RGB)") }
        if imageSize % patch != 0 {
            try fail("config field image_size \(imageSize) is not a multiple of patch \(patch): choose a patch that divides it")
        }
        if dModel % nHeads != 0 {
            try fail("config field d_model \(dModel) is not a multiple of n_heads \(nHeads): choose n_heads dividing d_model")
        }
        if maxSeq <= nPatches {
            try fail("config field max_seq \(maxSeq) leaves no room for text after \(nPatches) image tokens: raise max_seq")
        }
        if !(normEps > 0) || !(normEps <= Self.maxNormEps) {
            try fail("config field norm_eps is \(normEps): it must be a finite number above 0 and at most \(Self.maxNormEps)")
        }
        if parameterCount > Self.maxParameters {
            try fail("config has \(parameterCount) parameters, more than the \(Self.maxParameters) allowed: "
                + "lower d_model, the layer counts, vocab_size or max_seq")
        }
    }

    // MARK: - Metadata strings

    /// The snake_case metadata keys, in spec order.
    public static let metadataKeys = ["image_size", "channels", "patch", "d_model", "n_heads", "vision_layers",
                                      "text_layers", "mlp_ratio", "vocab_size", "max_seq", "norm_eps"]

    /// One entry per config field, value as a string (e.g. "d_model": "128").
    public var metadata: [String: String] {
        ["image_size": "\(imageSize)", "channels": "\(channels)", "patch": "\(patch)", "d_model": "\(dModel)",
         "n_heads": "\(nHeads)", "vision_layers": "\(visionLayers)", "text_layers": "\(textLayers)",
         "mlp_ratio": "\(mlpRatio)", "vocab_size": "\(vocabSize)", "max_seq": "\(maxSeq)", "norm_eps": "\(normEps)"]
    }

    /// Reads the config fields from metadata strings. `source` (a file name)
    /// is put in front of every error message.
    public init(metadata: [String: String], source: String) throws {
        func int(_ key: String) throws -> Int {
            guard let s = metadata[key] else {
                throw ModelError("\(source): metadata field '\(key)' is missing: every config field must be in __metadata__")
            }
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
                throw ModelError("\(source): metadata field '\(key)' is '\(s)', not an integer")
            }
            return v
        }
        self.init()
        imageSize = try int("image_size"); channels = try int("channels"); patch = try int("patch")
        dModel = try int("d_model"); nHeads = try int("n_heads"); visionLayers = try int("vision_layers")
        textLayers = try int("text_layers"); mlpRatio = try int("mlp_ratio"); vocabSize = try int("vocab_size")
        maxSeq = try int("max_seq")
        guard let e = metadata["norm_eps"] else {
            throw ModelError("\(source): metadata field 'norm_eps' is missing: every config field must be in __metadata__")
        }
        guard let eps = Float(e.trimmingCharacters(in: .whitespaces)) else {
            throw ModelError("\(source): metadata field 'norm_eps' is '\(e)', not a number")
        }
        normEps = eps
        do { try validate() } catch let err as ModelError { throw ModelError("\(source): \(err.message)") }
    }
}

/// A bad model input or configuration; the message names the row, token or
/// field and says how to fix it.
public struct ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    /// Control characters (from a file's metadata) are escaped.
    public init(_ message: String) { self.message = JSONLiteral.escapingControls(message) }
    public var description: String { message }
}
