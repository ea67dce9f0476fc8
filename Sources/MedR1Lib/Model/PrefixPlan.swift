// Which rows of a teacher-forced batch share a prefix. In GRPO the G
// completions of a prompt are G rows with the same image and the same prompt
// tokens; their prefix (image tokens + prompt) is computed once and each
// completion runs as a continuation of it (PackedLayout), which is what
// docs/benchmarks.md describes for W1: 8 x (16 + 48) + 64 x 64 = 4,608 positions
// per pass instead of 64 x 128 = 8,192.

/// Rows of a `tokenLogProbs` batch grouped by shared prefix.
struct PrefixPlan {
    /// Groups in order of their first row; each lists its rows in order.
    /// Rows with the same image, the same targetStart and the same tokens
    /// before it form one group; a row that shares with no other is a group of one.
    var groups: [[Int]]
    /// Packed positions of each group: N + targetStart + the rows' tokens
    /// after it for a shared group, N + the row's tokens for a group of one.
    var positions: [Int]

    private struct Key: Hashable {
        let image: ImageKey
        let prefix: [Int]
    }

    init(images: [[Float]], sequences: [[Int]], targetStart: [Int], nPatches N: Int) {
        var index: [Key: Int] = [:]
        groups = []
        for b in sequences.indices {
            let key = Key(image: ImageKey(images[b]), prefix: Array(sequences[b][0..<targetStart[b]]))
            if let g = index[key] { groups[g].append(b) } else { index[key] = groups.count; groups.append([b]) }
        }
        positions = groups.map { rows in
            if rows.count == 1 { return N + sequences[rows[0]].count }
            let ts = targetStart[rows[0]]
            return N + ts + rows.reduce(0) { $0 + sequences[$1].count - ts }
        }
    }
}

/// An image as a dictionary key: hashes its size and 16 values spread over
/// it instead of all 3,072 (hashing whole images was 1-2% of W4's time);
/// equality still compares every value (at once when both share storage,
/// as a prompt's G rows do).
struct ImageKey: Hashable {
    let pixels: [Float]
    init(_ pixels: [Float]) { self.pixels = pixels }

    func hash(into h: inout Hasher) {
        let n = pixels.count
        h.combine(n)
        if n > 0 { for k in 0..<16 { h.combine(pixels[k * n / 16]) } }
    }

    static func == (a: ImageKey, b: ImageKey) -> Bool { a.pixels == b.pixels }
}
