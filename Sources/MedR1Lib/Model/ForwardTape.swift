// What the batched forward (Forward.swift) keeps for the backward
// (Backward.swift): per-block activations and the tape of one pass. The
// buffers are reused from call to call.

/// Saved activations of one transformer block over S packed rows.
final class BlockTape {
    let x = FloatBuffer(zeroed: false)      /// (S, d) block input (kept only with grad)
    let r1 = FloatBuffer(zeroed: false)     /// (S) 1/rms of x
    let a = FloatBuffer(zeroed: false)      /// (S, d) RMSNorm_1(x) (kept only without grad; recomputed from x, r1)
    let qkv = FloatBuffer(zeroed: false)    /// (S, 3d) q | k | v
    let probs = FloatBuffer(zeroed: false)  /// per (row, head) (L, L) attention probabilities
    let y = FloatBuffer(zeroed: false)      /// (S, d) heads' outputs, concatenated
    let x1 = FloatBuffer(zeroed: false)     /// (S, d) after the attention residual (kept only with grad)
    let r2 = FloatBuffer(zeroed: false)     /// (S) 1/rms of x1
    let m = FloatBuffer(zeroed: false)      /// (S, d) RMSNorm_2(x1) (kept only without grad; recomputed from x1, r2)
    let h = FloatBuffer(zeroed: false)      /// (S, 4d) m W1^T (pre-GELU)
    let t = FloatBuffer(zeroed: false)      /// (S, 4d) tanh(u) of the GELU (kept only with grad; gelu(h) = 0.5 h (1 + t))
}

/// Everything one batched forward keeps for its backward.
final class ForwardTape {
    var visionBlocks: [BlockTape] = []
    var textBlocks: [BlockTape] = []
    var visionLayout = PackedLayout(lengths: [], heads: 1)
    var textLayout = PackedLayout(lengths: [], heads: 1)
    var batch = 0
    /// Distinct images U (rows with identical images share one vision pass).
    var imageCount = 0
    /// (B) index of each row's image among the distinct ones.
    var imageIndex: [Int] = []
    var withGrad = false
    let patches = FloatBuffer(zeroed: false)  /// (U*N, patchDim)
    let visionX = FloatBuffer(zeroed: false)  /// (U*N, d) vision residual stream (ends pre-norm)
    let visionR = FloatBuffer(zeroed: false)  /// (U*N) 1/rms for the vision norm
    let img = FloatBuffer(zeroed: false)      /// (U*N, d) RMSNorm_vision output = image tokens
    let textX = FloatBuffer(zeroed: false)    /// (S, d) text residual stream (ends pre-norm)
    var tokenIDs: [Int] = []                  /// (T_total) text token ids, packed order
    var tokenRows: [Int] = []                 /// (T_total) packed row of each text token
    var needRows: [Int] = []                  /// (P) packed rows whose logits are needed
    var targets: [Int] = []                   /// (P) token predicted at each needed row
    var temperature: Float = 1
    let xF = FloatBuffer(zeroed: false)       /// (P, d) residual at needed rows
    let rF = FloatBuffer(zeroed: false)       /// (P)
    let hn = FloatBuffer(zeroed: false)       /// (P, d) RMSNorm_text at needed rows
    let logits = FloatBuffer(zeroed: false)   /// (P, V)
    // Backward scratch, shared by all layers.
    let dX = FloatBuffer(zeroed: false)       /// (S, d)
    /// (S, max(mlp hidden, 3d)) one scratch for the forward and the backward
    /// (never live at once): forward: the RMSNorm outputs (with grad), then
    /// gelu(h) of the block being computed; backward: dBig, the MLP backward
    /// and the attention dqkv.
    let gelu = FloatBuffer(zeroed: false)
    var dBig: FloatBuffer { gelu }
    /// (S, d) a block's RMSNorm output recomputed for its backward.
    let normOut = FloatBuffer(zeroed: false)
    let dSmall = FloatBuffer(zeroed: false)   /// (S, d)
    let dLogits = FloatBuffer(zeroed: false)  /// (P, V)
    let dHn = FloatBuffer(zeroed: false)      /// (P, d)
    let dVision = FloatBuffer(zeroed: false)  /// (U*N, d)
    let attnScratch = FloatBuffer(zeroed: false)
    let normScratch = FloatBuffer(zeroed: false)
    /// The head's log-softmax scratch (per tape, so passes on different workers do not share it).
    let headScratch = FloatBuffer(zeroed: false)

    /// The block tape for a layer: one per layer with grad, one shared otherwise.
    func block(vision: Bool, _ layer: Int, layers: Int) -> BlockTape {
        let n = withGrad ? layers : min(layers, 1)
        if vision { while visionBlocks.count < n { visionBlocks.append(BlockTape()) } } else {
            while textBlocks.count < n { textBlocks.append(BlockTape()) }
        }
        let i = withGrad ? layer : 0
        return vision ? visionBlocks[i] : textBlocks[i]
    }
}
