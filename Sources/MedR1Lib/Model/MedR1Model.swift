import Foundation

// medr1-tiny (docs/model.md): a ViT-style vision tower over image patches and
// a causal text decoder over [image tokens, text tokens] with the output head
// tied to the token embedding. This file holds the parameters (one flat
// buffer, named views in spec order), initialisation, copy and summary; the
// passes are in Forward.swift and Backward.swift (the block shared with
// decoding in TransformerBlock.swift), decoding in Decode.swift.

/// Offsets of one transformer block's parameters in the flat buffer.
/// q, k, v are adjacent, so `qkv` is one (3d, d) matrix for a fused product.
struct BlockOffsets {
    var norm1 = 0   /// (d)
    var qkv = 0     /// (3d, d): q.weight, k.weight, v.weight
    var o = 0       /// (d, d)
    var norm2 = 0   /// (d)
    var fc1 = 0     /// (4d, d)
    var fc2 = 0     /// (d, 4d)
}

/// medr1-tiny with its parameters. Entry points (everything that takes user
/// input `throws` a ModelError naming the row, token or field):
///   `init(config:seed:) throws`, `copy()`, `zeroGrad()`, `summary`,
///   `tokenLogProbs(images:sequences:targetStart:temperature:withGrad:entropy:) throws`,
///   `backward(_:dLogProbs:) throws`, `prefill(image:prompt:) throws`,
///   `prefill(images:prompts:) throws`, `expand(_:copies:)`, `decode(_:tokens:) throws`.
/// Not thread-safe: one model is used from one thread at a time (its
/// workspaces are reused between calls); the library parallelises inside.
public final class MedR1Model {
    public let config: ModelConfig
    /// All parameters in spec order, views into `values` / `grads`.
    public private(set) var parameters: [Parameter] = []
    /// Flat parameter values and gradients (parameterCount floats each).
    let values: FloatBuffer
    let grads: FloatBuffer
    /// Total number of parameter values.
    public let parameterCount: Int

    // Offsets of each parameter group.
    var patchW = 0      /// (d, patchDim)
    var patchB = 0      /// (d)
    var visionPos = 0   /// (nPatches, d)
    var visionBlocks: [BlockOffsets] = []
    var visionNorm = 0  /// (d)
    var embed = 0       /// (vocab, d)
    var textPos = 0     /// (maxSeq, d)
    var textBlocks: [BlockOffsets] = []
    var textNorm = 0    /// (d)

    /// Reused activation storage (see ForwardTape.swift and Decode.swift).
    var spareTape: ForwardTape?
    let inferenceTape = ForwardTape()
    /// One no-grad tape per worker of a data-parallel forward (the first is `inferenceTape`).
    lazy var inferenceTapes: [ForwardTape] = [inferenceTape]
    /// One tape per worker of `logProbsWithBackward`.
    var trainingTapes: [ForwardTape] = []
    /// Gradient lanes 1... of `logProbsWithBackward` (lane 0 is `grads`), zero between passes.
    var laneGrads: [FloatBuffer] = []
    let scratch = FloatBuffer()
    let decodeWork = DecodeWorkspace()

    /// A model with freshly initialised weights (docs/model.md, "Weights"):
    /// matrices, embeddings and position tables ~ N(0, 0.02); attn.o and
    /// mlp.fc2 ~ N(0, 0.02 / sqrt(2 * layers of that tower)); norm gains 1;
    /// biases 0. Draws in parameter order from SplitMix64(seed).
    public convenience init(config: ModelConfig = ModelConfig(), seed: UInt64) throws {
        try self.init(config: config, initialise: true, seed: seed)
    }

    init(config: ModelConfig, initialise: Bool, seed: UInt64) throws {
        try config.validate()
        self.config = config
        // Lay out the names.
        var specs: [(String, [Int], Float)] = []  // name, shape, init std (0: zeros, -1: ones)
        let d = config.dModel, h = config.mlpHidden
        func block(_ prefix: String, layers: Int) {
            let resStd = 0.02 / Float(2 * max(layers, 1)).squareRoot()
            specs.append(("\(prefix).norm1.weight", [d], -1))
            specs.append(("\(prefix).attn.q.weight", [d, d], 0.02))
            specs.append(("\(prefix).attn.k.weight", [d, d], 0.02))
            specs.append(("\(prefix).attn.v.weight", [d, d], 0.02))
            specs.append(("\(prefix).attn.o.weight", [d, d], resStd))
            specs.append(("\(prefix).norm2.weight", [d], -1))
            specs.append(("\(prefix).mlp.fc1.weight", [h, d], 0.02))
            specs.append(("\(prefix).mlp.fc2.weight", [d, h], resStd))
        }
        specs.append(("vision.patch.weight", [d, config.patchDim], 0.02))
        specs.append(("vision.patch.bias", [d], 0))
        specs.append(("vision.pos", [config.nPatches, d], 0.02))
        for i in 0..<config.visionLayers { block("vision.blocks.\(i)", layers: config.visionLayers) }
        specs.append(("vision.norm.weight", [d], -1))
        specs.append(("text.embed.weight", [config.vocabSize, d], 0.02))
        specs.append(("text.pos", [config.maxSeq, d], 0.02))
        for i in 0..<config.textLayers { block("text.blocks.\(i)", layers: config.textLayers) }
        specs.append(("text.norm.weight", [d], -1))

        let total = specs.reduce(0) { $0 + $1.1.reduce(1, *) }
        parameterCount = total
        values = FloatBuffer(count: total)
        grads = FloatBuffer(count: total)
        var offset = 0
        var index: [String: Int] = [:]
        for (name, shape, _) in specs {
            parameters.append(Parameter(name: name, shape: shape, offset: offset, values: values, grads: grads))
            index[name] = offset
            offset += shape.reduce(1, *)
        }
        func blockOffsets(_ prefix: String) -> BlockOffsets {
            BlockOffsets(norm1: index["\(prefix).norm1.weight"]!, qkv: index["\(prefix).attn.q.weight"]!,
                         o: index["\(prefix).attn.o.weight"]!, norm2: index["\(prefix).norm2.weight"]!,
                         fc1: index["\(prefix).mlp.fc1.weight"]!, fc2: index["\(prefix).mlp.fc2.weight"]!)
        }
        patchW = index["vision.patch.weight"]!; patchB = index["vision.patch.bias"]!
        visionPos = index["vision.pos"]!; visionNorm = index["vision.norm.weight"]!
        embed = index["text.embed.weight"]!; textPos = index["text.pos"]!; textNorm = index["text.norm.weight"]!
        visionBlocks = (0..<config.visionLayers).map { blockOffsets("vision.blocks.\($0)") }
        textBlocks = (0..<config.textLayers).map { blockOffsets("text.blocks.\($0)") }

        if initialise {
            var rng = SplitMix64(seed: seed)
            for (p, spec) in zip(parameters, specs) {
                let v = p.value
                switch spec.2 {
                case -1: v.update(repeating: 1)
                case 0: v.update(repeating: 0)
                default:
                    let std = Double(spec.2)
                    for i in 0..<v.count { v[i] = Float(rng.nextNormal() * std) }
                }
            }
        }
    }

    /// A deep copy: same config and weights (and gradients), independent storage.
    public func copy() -> MedR1Model {
        let m = try! MedR1Model(config: config, initialise: false, seed: 0)
        m.values.pointer.update(from: values.pointer, count: parameterCount)
        // The copy's gradients are already zero (calloc'd, not yet resident):
        // copy only non-zero ones, so a reference model that never runs a
        // backward keeps no resident gradient memory (5 MiB of W6).
        let g = grads.pointer
        if (0..<parameterCount).contains(where: { g[$0] != 0 }) {
            m.grads.pointer.update(from: g, count: parameterCount)
        }
        return m
    }

    /// Sets every gradient to zero.
    public func zeroGrad() { grads.zero(parameterCount) }

    /// The parameter with this spec name, or nil.
    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }

    /// Copies all weights from another model of the same config (e.g. to
    /// refresh a reference policy without reallocating).
    public func loadWeights(from other: MedR1Model) throws {
        guard other.config == config else {
            throw ModelError("loadWeights: the other model's config differs (\(other.config)) from this one (\(config))")
        }
        values.pointer.update(from: other.values.pointer, count: parameterCount)
    }

    /// All weights as one flat array in parameter order (for tests and optimisers' state).
    public var flatValues: [Float] { values.array(parameterCount) }
    /// All gradients as one flat array in parameter order.
    public var flatGrads: [Float] { grads.array(parameterCount) }

    /// Parameters per part and the total, e.g. for the REPL's `summary(model)`.
    public var summary: String {
        func count(_ prefix: String) -> Int {
            parameters.filter { $0.name.hasPrefix(prefix) }.reduce(0) { $0 + $1.count }
        }
        let c = config
        let rows: [(String, Int)] = [
            ("vision patch embed + pos", count("vision.patch") + count("vision.pos")),
            ("vision blocks (\(c.visionLayers))", count("vision.blocks.")),
            ("vision norm", count("vision.norm")),
            ("text embed (tied head)", count("text.embed")),
            ("text pos", count("text.pos")),
            ("text blocks (\(c.textLayers))", count("text.blocks.")),
            ("text norm", count("text.norm")),
        ]
        var s = "medr1-tiny: image \(c.imageSize)x\(c.imageSize)x\(c.channels), patch \(c.patch) (\(c.nPatches) image tokens), "
        s += "d_model \(c.dModel), heads \(c.nHeads), vision layers \(c.visionLayers), text layers \(c.textLayers), "
        s += "mlp \(c.mlpHidden), vocab \(c.vocabSize), max_seq \(c.maxSeq)\n"
        for (name, n) in rows {
            s += name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%10d\n", n)
        }
        s += "total".padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%10d", parameterCount)
        return s
    }
}
