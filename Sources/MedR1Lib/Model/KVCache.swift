// The key/value cache of decoding: a prompt's prefix (image tokens + prompt
// tokens) computed once by `prefill` and shared by reference among the G
// completions made by `expand` (KVPrefix), each row's own decoded tokens
// (KVSuffix), and the value type that ties them to the rows (KVCache). The
// decode step itself is in Decode.swift.

/// The state of several decoding rows: each row has a (shared) prefix and
/// its own decoded suffix. A value type with copy-on-write storage.
public struct KVCache: @unchecked Sendable {
    var prefixes: [KVPrefix]
    /// Index into `prefixes` of each row.
    var rowPrefix: [Int]
    var suffix: KVSuffix
    let vocab: Int
    /// (rows, vocab) logits at each row's last position, flat.
    var logits: [Float]
    /// The model's text-block and head weights as of `prefill`, packed for
    /// the decode products (nil, or a nil head, for dimensions that are not
    /// multiples of 16: BLAS then). A cache decodes with the weights it was prefilled with,
    /// like its keys and values; prefill again after changing the weights.
    let packed: PackedWeights?

    /// Logits (rows, vocab) at each row's last position: after `prefill` they
    /// predict the first completion token, after `decode` the next one.
    public var lastLogits: [[Float]] {
        (0..<rows).map { Array(logits[($0 * vocab)..<(($0 + 1) * vocab)]) }
    }
    /// Number of rows.
    public var rows: Int { rowPrefix.count }
    /// Positions (image + text tokens) held for a row.
    public func length(row: Int) -> Int { prefixes[rowPrefix[row]].length + suffix.lengths[row] }
    /// Tokens decoded after the prefix, for a row.
    public func decodedCount(row: Int) -> Int { suffix.lengths[row] }
}

/// Keys and values of a shared prefix, per text layer, per head, in one of
/// two layouts. With the AVX-512 kernels (and a head size that is a multiple
/// of 16), as 16-column panels (`panels`), the layout of PackedProduct512's
/// packed operand: the G rows sharing the prefix attend to it as two small
/// matrix products (`DecodeAttention.attendGroup`). Otherwise in `keys` and
/// `values` for `DecodeAttention.attendRow`: keys in tiles of 8 positions,
/// (heads, stride / 8, dh, 8) with stride = length rounded up to 8 and zero
/// padding (DecodeAttention.scores); values (heads, length, dh). Each head's
/// keys and values are contiguous.
final class KVPrefix: @unchecked Sendable {
    let length: Int
    /// Positions rounded up to 8 (whole key tiles).
    let stride: Int
    /// Empty when `panels` holds the keys and values.
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    let panels: Panels?

    /// Per text layer, per head: keys (length16 / 16, dh, 16), key j's
    /// element e at ((j / 16) dh + e) 16 + j % 16, zero past `length`; values
    /// (dh / 16, length, 16), value j's element e at ((e / 16) length + j) 16 + e % 16.
    struct Panels {
        /// Positions rounded up to 16 (whole key panels).
        let length16: Int
        let keys: [FloatBuffer]
        let values: [FloatBuffer]
    }

    init(length: Int, layers: Int, d: Int, heads: Int) {
        self.length = length
        stride = DecodeAttention.padded(length)
        let s = stride
        if DecodeAttention.groupedPrefix(dh: d / heads) {
            let l16 = (length + 15) & ~15
            panels = Panels(length16: l16,
                            keys: (0..<layers).map { _ in FloatBuffer(count: d * l16, zeroed: true) },
                            values: (0..<layers).map { _ in FloatBuffer(count: length * d, zeroed: false) })
            keys = []; values = []
        } else {
            panels = nil
            keys = (0..<layers).map { _ in FloatBuffer(count: d * s, zeroed: true) }
            values = (0..<layers).map { _ in FloatBuffer(count: length * d, zeroed: false) }
        }
    }

    /// Stores position i's keys and values of one layer, from `k` and `v` (d each, heads in order).
    @inline(__always)
    func write(layer: Int, position i: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, heads: Int, dh: Int) {
        if let p = panels {
            let kp = p.keys[layer].pointer, vp = p.values[layer].pointer
            for hd in 0..<heads {
                let kcol = kp + hd * p.length16 * dh + (i / 16) * dh * 16 + i % 16
                for e in 0..<dh { kcol[e * 16] = k[hd * dh + e] }
                let vrow = vp + hd * length * dh + i * 16
                for q in 0..<(dh / 16) { (vrow + q * length * 16).update(from: v + hd * dh + q * 16, count: 16) }
            }
            return
        }
        let kt = keys[layer].pointer, vt = values[layer].pointer
        for hd in 0..<heads {
            let tile = kt + (hd * stride + (i / 8) * 8) * dh + i % 8
            for e in 0..<dh { tile[e * 8] = k[hd * dh + e] }
            (vt + (hd * length + i) * dh).update(from: v + hd * dh, count: dh)
        }
    }
}

/// Per-row keys and values of the tokens decoded after the prefix, per
/// text layer, in the prefix's layout per (row, head): keys
/// (rows, heads, capacity / 8, dh, 8) in 8-position tiles, values
/// (rows, heads, capacity, dh). Capacity is a multiple of 8; a row's key
/// tile is zeroed when its first position is written, so the columns from
/// the row's length to the tile's end read as zero.
final class KVSuffix: @unchecked Sendable {
    let capacity: Int
    let rows: Int, layers: Int, d: Int, heads: Int
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    var lengths: [Int]

    /// Memory is only touched as tokens are written (no zero fill of the
    /// whole capacity), so an exact-capacity suffix costs what it holds.
    init(rows: Int, layers: Int, d: Int, heads: Int, capacity: Int) {
        let cap = DecodeAttention.padded(max(capacity, 1))
        self.rows = rows; self.layers = layers; self.d = d; self.heads = heads; self.capacity = cap
        keys = (0..<layers).map { _ in DecodeBufferPool.take(rows * cap * d) }
        values = (0..<layers).map { _ in DecodeBufferPool.take(rows * cap * d) }
        lengths = [Int](repeating: 0, count: rows)
    }

    deinit { DecodeBufferPool.give(keys + values) }

    /// Stores the new token's key and value of one layer for rows `rows`,
    /// at each row's current length, from qkv (R, 3d) indexed by the global
    /// row (q | k | v, heads in order). A key tile is zeroed as it is started
    /// (the score kernel reads whole tiles).
    @inline(__always)
    func append(layer l: Int, rows: Range<Int>, qkv: UnsafePointer<Float>) {
        let cap = capacity, dh = d / heads
        let sk = keys[l].pointer, sv = values[l].pointer
        for r in rows {
            let len = lengths[r]
            let kr = qkv + r * 3 * d + d, vr = kr + d
            for hd in 0..<heads {
                let rh = r * heads + hd
                let tile = sk + (rh * cap + (len / 8) * 8) * dh
                if len % 8 == 0 { tile.update(repeating: 0, count: 8 * dh) }
                let col = tile + len % 8, kh = kr + hd * dh
                for e in 0..<dh { col[e * 8] = kh[e] }
                let vdst = sv + (rh * cap + len) * dh, vh = vr + hd * dh
                for e in 0..<dh { vdst[e] = vh[e] }
            }
        }
    }

    /// A copy with the given rows (in order) of this suffix, with room for at least `newCap` tokens per row.
    func select(_ rowsWanted: [Int], capacity newCap: Int? = nil) -> KVSuffix {
        let s = KVSuffix(rows: rowsWanted.count, layers: layers, d: d, heads: heads,
                         capacity: max(newCap ?? capacity, capacity))
        let cap = s.capacity, dh = d / heads
        for l in 0..<layers {
            for (i, r) in rowsWanted.enumerated() where lengths[r] > 0 {
                let n = lengths[r]
                for hd in 0..<heads {
                    // Whole tiles (the last one's unused columns are zero).
                    (s.keys[l].pointer + (i * heads + hd) * cap * dh)
                        .update(from: keys[l].pointer + (r * heads + hd) * capacity * dh,
                                count: DecodeAttention.padded(n) * dh)
                    (s.values[l].pointer + (i * heads + hd) * cap * dh)
                        .update(from: values[l].pointer + (r * heads + hd) * capacity * dh, count: n * dh)
                }
            }
        }
        s.lengths = rowsWanted.map { lengths[$0] }
        return s
    }
}
