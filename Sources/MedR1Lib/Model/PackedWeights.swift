// The text blocks' and the head's weights of a model packed once, at
// prefill, for the decode products (PackedLinear.swift): a cache decodes
// with the weights it was prefilled with.

/// One weight matrix W (out, in) packed as panels of 16 output rows:
/// panel p holds W[16p + c][k] at (p * in + k) * 16 + c.
struct PackedMatrix {
    let offset: Int   /// first float in PackedWeights.storage
    let outDim: Int
    let inDim: Int
}

/// The text blocks' and the head's weights of a model, packed for `PackedLinear`.
final class PackedWeights: @unchecked Sendable {
    struct Block {
        let qkv: PackedMatrix   /// (3d, d)
        let o: PackedMatrix     /// (d, d)
        let fc1: PackedMatrix   /// (4d, d)
        let fc2: PackedMatrix   /// (d, 4d)
    }
    let storage: FloatBuffer
    let blocks: [Block]
    /// (vocab, d), the tied embedding; nil when vocab is not a multiple of 16 (BLAS then).
    let head: PackedMatrix?

    /// Nil when d or the MLP width is not a multiple of 16 (the caller then uses BLAS).
    init?(model: MedR1Model) {
        let c = model.config, d = c.dModel, hid = c.mlpHidden, V = c.vocabSize
        guard d % 16 == 0, hid % 16 == 0 else { return nil }
        var total = 0
        func reserve(_ out: Int, _ inDim: Int) -> PackedMatrix {
            defer { total += out * inDim }
            return PackedMatrix(offset: total, outDim: out, inDim: inDim)
        }
        blocks = model.textBlocks.map { _ in
            Block(qkv: reserve(3 * d, d), o: reserve(d, d), fc1: reserve(hid, d), fc2: reserve(d, hid))
        }
        head = V % 16 == 0 ? reserve(V, d) : nil
        storage = DecodeBufferPool.take(total)
        let w = model.values.pointer
        for (b, o) in zip(blocks, model.textBlocks) {
            PackedLinear.pack(w + o.qkv, into: storage.pointer + b.qkv.offset, outDim: 3 * d, inDim: d)
            PackedLinear.pack(w + o.o, into: storage.pointer + b.o.offset, outDim: d, inDim: d)
            PackedLinear.pack(w + o.fc1, into: storage.pointer + b.fc1.offset, outDim: hid, inDim: d)
            PackedLinear.pack(w + o.fc2, into: storage.pointer + b.fc2.offset, outDim: d, inDim: hid)
        }
        if let head { PackedLinear.pack(w + model.embed, into: storage.pointer + head.offset, outDim: V, inDim: d) }
    }

    func pointer(_ m: PackedMatrix) -> UnsafePointer<Float> { UnsafePointer(storage.pointer + m.offset) }

    /// The storage goes back to the pool for the next prefill (no fresh pages to fault in).
    deinit { DecodeBufferPool.give([storage]) }
}
