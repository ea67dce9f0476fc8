// The transformer block of both towers and the output head, written once
// for the two ways the model runs:
//   - the batched forward (Forward.swift): all tokens of all rows packed
//     into one (S, d) residual stream, attention per packed sequence, the
//     activations kept for the backward when training;
//   - a decode step (Decode.swift): one new token per row, on one worker's
//     rows, attention over the key/value cache.
// The two differ only in the attention (a closure here), in where the
// activations go (BlockActivations) and in the form of the weights
// (WeightMatrix: packed for the decode kernels or plain for BLAS). The
// block's sequence of operations and the choice of kernel for each product
// live here and nowhere else.

/// A weight matrix W (out, in) as the right operand of y = x W^T: the
/// model's row-major parameters, and optionally the same matrix packed into
/// 16-column panels (PackedWeights, made at prefill for decoding).
struct WeightMatrix {
    /// W (out, in) row-major, in the model's parameters.
    let plain: UnsafePointer<Float>
    /// W packed by `PackedLinear.pack`, or nil.
    let packed: UnsafePointer<Float>?
    let outDim: Int
    let inDim: Int

    /// y (rows, out) (+)= x (rows, in) W^T, ldx and ldy the row strides;
    /// `accumulate` adds to y (the residual stream). The one place that
    /// picks a block product's kernel: the packed decode kernel
    /// (PackedLinear: AVX-512 or AVX2) for a packed matrix, otherwise
    /// BLAS.gemm (the AVX-512 product or OpenBLAS, split over the threads
    /// outside a parallel region).
    @inline(__always)
    func product(_ x: UnsafePointer<Float>, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int, rows: Int,
                 accumulate: Bool) {
        if let packed {
            PackedLinear.forward(x, ldx: ldx, packed, y, ldy: ldy, rows: rows, inDim: inDim, outDim: outDim,
                                 accumulate: accumulate)
        } else {
            BLAS.gemm(transB: true, m: rows, n: outDim, k: inDim, a: x, lda: ldx, b: plain, ldb: inDim,
                      beta: accumulate ? 1 : 0, c: y, ldc: ldy)
        }
    }
}

/// One block's weights for a forward: the two norm gains and the four matrices.
struct BlockWeights {
    let norm1: UnsafePointer<Float>   /// (d)
    let qkv: WeightMatrix             /// (3d, d)
    let o: WeightMatrix               /// (d, d)
    let norm2: UnsafePointer<Float>   /// (d)
    let fc1: WeightMatrix             /// (4d, d)
    let fc2: WeightMatrix             /// (d, 4d)
}

/// Where one block forward over S rows writes its activations. Buffers may
/// alias where their lives do not overlap (a decode step uses one (S, d)
/// buffer for both norm outputs; without grad the batched forward writes
/// gelu(h) over h).
struct BlockActivations {
    /// (S, d) a copy of the block input, or nil (kept for the backward).
    var input: UnsafeMutablePointer<Float>? = nil
    let a: UnsafeMutablePointer<Float>     /// (S, d) RMSNorm_1(x)
    let r1: UnsafeMutablePointer<Float>    /// (S) its 1/rms
    let qkv: UnsafeMutablePointer<Float>   /// (S, 3d) q | k | v
    let y: UnsafeMutablePointer<Float>     /// (S, d) the heads' outputs, concatenated
    /// (S, d) a copy of the stream after the attention residual, or nil (kept for the backward).
    var mid: UnsafeMutablePointer<Float>? = nil
    let m: UnsafeMutablePointer<Float>     /// (S, d) RMSNorm_2 of that
    let r2: UnsafeMutablePointer<Float>    /// (S) its 1/rms
    let h: UnsafeMutablePointer<Float>     /// (S, 4d) m W1^T (pre-GELU)
    let g: UnsafeMutablePointer<Float>     /// (S, 4d) gelu(h)
    /// (S, 4d) tanh(u) of the GELU, or nil (kept for the backward).
    var tanh: UnsafeMutablePointer<Float>? = nil
}

extension MedR1Model {
    /// A block's weights in the model's parameters; with `packed`, text
    /// block `layer`'s matrices also packed (decoding).
    @inline(__always)
    func blockWeights(_ o: BlockOffsets, packed: PackedWeights? = nil, layer: Int = 0) -> BlockWeights {
        let d = config.dModel, hid = config.mlpHidden, w = values.pointer
        let pb = packed?.blocks[layer]
        func matrix(_ offset: Int, _ outDim: Int, _ inDim: Int, _ m: PackedMatrix?) -> WeightMatrix {
            WeightMatrix(plain: w + offset, packed: packed.flatMap { p in m.map { p.pointer($0) } }, outDim: outDim,
                         inDim: inDim)
        }
        return BlockWeights(norm1: w + o.norm1, qkv: matrix(o.qkv, 3 * d, d, pb?.qkv), o: matrix(o.o, d, d, pb?.o),
                            norm2: w + o.norm2, fc1: matrix(o.fc1, hid, d, pb?.fc1),
                            fc2: matrix(o.fc2, d, hid, pb?.fc2))
    }

    /// The output head, tied to the token embedding: (vocab, d), packed when `packed` has it.
    @inline(__always)
    func headWeights(packed: PackedWeights? = nil) -> WeightMatrix {
        WeightMatrix(plain: values.pointer + embed, packed: packed.flatMap { p in p.head.map { p.pointer($0) } },
                     outDim: config.vocabSize, inDim: config.dModel)
    }

    /// One block over `rows` rows, updating the residual stream x (rows, d) in place:
    ///   x = x + attn(RMSNorm_1(x)) Wo^T;  x = x + gelu(RMSNorm_2(x) W1^T) W2^T
    /// `attention(qkv, y)` turns the (rows, 3d) q | k | v into the heads'
    /// outputs y (rows, d). Inside a parallel region (a decode worker's
    /// rows) the products stay on the calling thread (BLAS.gemm splits only
    /// outside one) and GELU runs in pieces below its own parallel threshold.
    @inline(__always)
    func transformerBlock(_ wt: BlockWeights, x: UnsafeMutablePointer<Float>, rows S: Int, _ act: BlockActivations,
                          attention: (_ qkv: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Void) {
        let d = config.dModel, hid = config.mlpHidden, eps = config.normEps
        if let input = act.input { input.update(from: x, count: S * d) }
        RMSNorm.forward(x, wt.norm1, act.a, act.r1, rows: S, d: d, eps: eps)
        wt.qkv.product(act.a, ldx: d, into: act.qkv, ldy: 3 * d, rows: S, accumulate: false)
        attention(act.qkv, act.y)
        wt.o.product(act.y, ldx: d, into: x, ldy: d, rows: S, accumulate: true)
        if let mid = act.mid { mid.update(from: x, count: S * d) }
        RMSNorm.forward(x, wt.norm2, act.m, act.r2, rows: S, d: d, eps: eps)
        wt.fc1.product(act.m, ldx: d, into: act.h, ldy: hid, rows: S, accumulate: false)
        if Parallelism.inParallelRegion {
            // In pieces below GELU's own parallel threshold (this already runs on one worker).
            var i = 0
            while i < S * hid {
                let n = min(1 << 14, S * hid - i)
                GELU.forward(act.h + i, act.g + i, n, tanhOut: act.tanh.map { $0 + i })
                i += n
            }
        } else {
            GELU.forward(act.h, act.g, S * hid, tanhOut: act.tanh)
        }
        wt.fc2.product(act.g, ldx: hid, into: x, ldy: d, rows: S, accumulate: true)
    }

    /// logits (rows, vocab) = RMSNorm_text(x) embed^T, x (rows, d); the norm
    /// output and its 1/rms go to `normOut` and `rInv`.
    @inline(__always)
    func headLogits(_ x: UnsafePointer<Float>, rows: Int, head: WeightMatrix, normOut: UnsafeMutablePointer<Float>,
                    rInv: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>) {
        let d = config.dModel
        RMSNorm.forward(x, values.pointer + textNorm, normOut, rInv, rows: rows, d: d, eps: config.normEps)
        head.product(normOut, ldx: d, into: logits, ldy: config.vocabSize, rows: rows, accumulate: false)
    }
}
