// Byte-level BPE tokenizer (docs/model.md, "Tokenizer").
//
// Vocabulary layout (fixed, so ids mean the same thing in every checkpoint):
//   0..6     the atomic special tokens, in `Tokenizer.specialTokens` order
//            (<|pad|> is 0 so that zero-filled padding is padding);
//   7..262   the 256 byte values (id = 7 + byte), so every UTF-8 string is
//            encodable and decode(encode(s)) == s exactly;
//   263...   one token per learned merge, in merge order (rank).
// Training lives in BPETrainer.swift, the JSON form in Tokenizer+JSON.swift.
import Foundation

public final class Tokenizer: @unchecked Sendable {
    // @unchecked: the only mutable state is the piece cache, guarded by `lock`.

    /// Spellings of the atomic special tokens; index = id.
    public static let specialTokens = ["<|pad|>", "<|bos|>", "<|eos|>", "<think>", "</think>",
                                       "<answer>", "</answer>"]
    /// Id of byte value 0.
    public static let byteOffset = specialTokens.count
    /// Id of the first merged token.
    public static let firstMergeId = byteOffset + 256

    public let pad = 0
    public let bos = 1
    public let eos = 2
    public let think = 3
    public let thinkEnd = 4
    public let answer = 5
    public let answerEnd = 6

    /// Learned merges in rank order: merge r joins (left, right) into id firstMergeId + r.
    public let merges: [(left: Int, right: Int)]
    /// Number of ids: specials + 256 bytes + merges.
    public var vocabSize: Int { Tokenizer.firstMergeId + merges.count }

    /// UTF-8 bytes of every id (specials spelled out).
    let tokenBytes: [[UInt8]]
    /// (left << 32 | right) -> rank of the merge.
    private let mergeRank: [UInt64: Int32]
    private let specialBytes: [[UInt8]] = Tokenizer.specialTokens.map { Array($0.utf8) }

    /// Cache of encoded pieces (bytes of one pre-token -> ids): training and
    /// sampling encode the same few hundred words again and again.
    private var cache: [[UInt8]: [Int]] = [:]
    private let lock = NSLock()
    /// Pieces longer than this are encoded but not cached (keeps the cache small).
    private static let maxCachedPiece = 64
    /// Upper bound on cache entries; the cache is cleared when it grows past this.
    private static let maxCacheEntries = 200_000

    /// A tokenizer with the given merges. Merges must only refer to ids defined
    /// before them (checked by `init(json:)`, trusted here).
    init(merges: [(left: Int, right: Int)]) {
        self.merges = merges
        var bytes = Tokenizer.specialTokens.map { Array($0.utf8) }
        for b in 0..<256 { bytes.append([UInt8(b)]) }
        var rank: [UInt64: Int32] = [:]
        rank.reserveCapacity(merges.count)
        for (r, m) in merges.enumerated() {
            bytes.append(bytes[m.left] + bytes[m.right])
            rank[Tokenizer.pairKey(m.left, m.right)] = Int32(r)
        }
        self.tokenBytes = bytes
        self.mergeRank = rank
    }

    @inline(__always)
    static func pairKey(_ a: Int, _ b: Int) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

    // MARK: - Encoding

    /// Token ids of `text`. Special-token spellings in the text become their single
    /// ids unless `allowSpecial` is false (then they are encoded as plain bytes).
    /// No `<|bos|>`/`<|eos|>` is added: callers frame sequences themselves.
    public func encode(_ text: String, allowSpecial: Bool = true) -> [Int] {
        var utf8 = Array(text.utf8)
        return utf8.withUnsafeMutableBufferPointer { buf in
            encodeBytes(UnsafeBufferPointer(buf), allowSpecial: allowSpecial)
        }
    }

    private func encodeBytes(_ bytes: UnsafeBufferPointer<UInt8>, allowSpecial: Bool) -> [Int] {
        let pieces = PreTokenizer.split(bytes, specials: specialBytes, allowSpecial: allowSpecial)
        var out: [Int] = []
        out.reserveCapacity(bytes.count / 2 + 1)
        lock.lock()
        defer { lock.unlock() }
        for piece in pieces {
            switch piece {
            case .special(let s):
                out.append(s)
            case .bytes(let r):
                if r.count == 1 {
                    out.append(Tokenizer.byteOffset + Int(bytes[r.lowerBound]))
                    continue
                }
                let key = Array(bytes[r])
                if let hit = cache[key] {
                    out.append(contentsOf: hit)
                    continue
                }
                let ids = bpe(key)
                if key.count <= Tokenizer.maxCachedPiece {
                    if cache.count >= Tokenizer.maxCacheEntries { cache.removeAll(keepingCapacity: true) }
                    cache[key] = ids
                }
                out.append(contentsOf: ids)
            }
        }
        return out
    }

    /// Applies the merges to one piece: repeatedly join the adjacent pair of lowest
    /// rank (all its occurrences, left to right) until no pair has a merge. This is
    /// the same order in which training created the merges.
    func bpe(_ piece: [UInt8]) -> [Int] {
        var ids = piece.map { Tokenizer.byteOffset + Int($0) }
        while ids.count > 1 {
            var bestRank = Int32.max
            for j in 0..<(ids.count - 1) {
                if let r = mergeRank[Tokenizer.pairKey(ids[j], ids[j + 1])], r < bestRank { bestRank = r }
            }
            if bestRank == .max { break }
            let m = merges[Int(bestRank)]
            let newId = Tokenizer.firstMergeId + Int(bestRank)
            var merged: [Int] = []
            merged.reserveCapacity(ids.count)
            var j = 0
            while j < ids.count {
                if j + 1 < ids.count && ids[j] == m.left && ids[j + 1] == m.right {
                    merged.append(newId)
                    j += 2
                } else {
                    merged.append(ids[j])
                    j += 1
                }
            }
            ids = merged
        }
        return ids
    }

    // MARK: - Decoding

    /// Text of `ids`. Special tokens are spelled out unless `skipSpecial` is true.
    /// Ids outside the vocabulary, and byte sequences that are not valid UTF-8
    /// (possible when a model emits a partial multi-byte character), decode to U+FFFD.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 3)
        let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]
        for id in ids {
            if id < 0 || id >= tokenBytes.count {
                bytes.append(contentsOf: replacement)
            } else if id < Tokenizer.byteOffset {
                if !skipSpecial { bytes.append(contentsOf: tokenBytes[id]) }
            } else {
                bytes.append(contentsOf: tokenBytes[id])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Readable spelling of one token (for showing rollouts token by token): the
    /// decoded text when it is valid UTF-8, else the bytes as `<0xNN>`.
    public func tokenString(_ id: Int) -> String {
        guard id >= 0 && id < tokenBytes.count else { return "<unk:\(id)>" }
        let b = tokenBytes[id]
        if let s = String(bytes: b, encoding: .utf8) { return s }
        return b.map { "<0x" + String($0, radix: 16, uppercase: true) + ">" }.joined()
    }

    /// True for the ids of the atomic special tokens.
    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < Tokenizer.byteOffset }

    /// Drops the encoding cache (memory only; results are unchanged).
    public func clearCache() {
        lock.lock()
        cache.removeAll()
        lock.unlock()
    }
}

extension Tokenizer: CustomStringConvertible {
    public var description: String {
        "Tokenizer(byte-level BPE, vocab \(vocabSize): \(Tokenizer.specialTokens.count) special + 256 bytes + \(merges.count) merges)"
    }
}

extension Tokenizer: Equatable {
    /// Same merges (the rest of the vocabulary is fixed), so same encodings.
    public static func == (a: Tokenizer, b: Tokenizer) -> Bool {
        a.merges.count == b.merges.count
            && zip(a.merges, b.merges).allSatisfy { $0.left == $1.left && $0.right == $1.right }
    }
}
