// BPE training: learn merges from a corpus until the vocabulary has the size asked.
//
// Classic byte-level BPE (Sennrich et al. 2016; GPT-2's byte variant):
//   words  = distinct pre-tokens of the corpus with their counts
//   repeat: pick the most frequent adjacent pair (ties: smallest (left, right)),
//           give it a new id, rewrite every word containing it.
// Incremental: pair counts are updated only for the words that contain the
// merged pair (an index pair -> words), and the best pair comes from a max-heap
// with lazy deletion. The choice at each step is the maximum of a total order
// over the current counts, so the result does not depend on Dictionary or Set
// iteration order: the same corpus gives the same merges in every process.
import Foundation

extension Tokenizer {
    /// Learns a byte-level BPE tokenizer of `vocabSize` ids from `corpus`.
    /// Special-token spellings in the corpus are atoms and never merged into.
    /// Stops early (smaller vocabulary) only when no adjacent pair is left;
    /// a `vocabSize` at or below 263 (specials + bytes) gives a byte-only tokenizer.
    /// No merge makes a token longer than `maxTokenBytes` (what `init(json:)` accepts).
    public static func train(corpus: [String], vocabSize: Int) -> Tokenizer {
        let wantMerges = max(0, vocabSize - firstMergeId)
        if wantMerges == 0 { return Tokenizer(merges: []) }

        // 1. Distinct pieces with counts.
        let specials = specialTokens.map { Array($0.utf8) }
        var pieceCount: [[UInt8]: Int] = [:]
        for text in corpus {
            var utf8 = Array(text.utf8)
            utf8.withUnsafeMutableBufferPointer { mbuf in
                let buf = UnsafeBufferPointer(mbuf)
                for p in PreTokenizer.split(buf, specials: specials, allowSpecial: true) {
                    if case .bytes(let r) = p, r.count > 1 { pieceCount[Array(buf[r]), default: 0] += 1 }
                }
            }
        }
        // Sorted, so word indices (and everything after) are reproducible.
        let sortedPieces = pieceCount.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words: [[Int]] = sortedPieces.map { $0.key.map { byteOffset + Int($0) } }
        let counts: [Int] = sortedPieces.map { $0.value }

        // 2. Pair counts and where each pair occurs.
        var pairCount: [UInt64: Int] = [:]
        var pairWords: [UInt64: [Int32]] = [:]
        for (w, word) in words.enumerated() {
            for j in 0..<(word.count - 1) {
                let key = pairKey(word[j], word[j + 1])
                pairCount[key, default: 0] += counts[w]
                pairWords[key, default: []].append(Int32(w))
            }
        }
        var heap = PairHeap()
        for (key, c) in pairCount { heap.push(PairHeap.Entry(count: c, key: key)) }

        // 3. Merge loop.
        var merges: [(left: Int, right: Int)] = []
        merges.reserveCapacity(min(wantMerges, 1 << 16))  // the corpus may run out of pairs long before
        var tokenLength = [Int](repeating: 1, count: firstMergeId)  // bytes (specials never merge)
        var touched: [UInt64: Int] = [:]
        while merges.count < wantMerges, let top = heap.pop() {
            guard let current = pairCount[top.key], current == top.count, current > 0 else { continue }
            let left = Int(top.key >> 32), right = Int(top.key & 0xFFFF_FFFF)
            guard tokenLength[left] + tokenLength[right] <= maxTokenBytes else { continue }
            tokenLength.append(tokenLength[left] + tokenLength[right])
            let newId = firstMergeId + merges.count
            merges.append((left, right))
            touched.removeAll(keepingCapacity: true)
            // A word can be listed several times (once per occurrence when indexed):
            // visit each once, in increasing order.
            var seen = Set<Int32>()
            let occurrences = (pairWords[top.key] ?? []).sorted()
            for w32 in occurrences where seen.insert(w32).inserted {
                let w = Int(w32)
                let old = words[w]
                guard old.count > 1 else { continue }
                var merged: [Int] = []
                merged.reserveCapacity(old.count)
                var j = 0
                var changed = false
                while j < old.count {
                    if j + 1 < old.count && old[j] == left && old[j + 1] == right {
                        merged.append(newId); j += 2; changed = true
                    } else {
                        merged.append(old[j]); j += 1
                    }
                }
                guard changed else { continue }
                let c = counts[w]
                for k in 0..<(old.count - 1) {
                    let key = pairKey(old[k], old[k + 1])
                    pairCount[key, default: 0] -= c
                    touched[key] = 1
                }
                for k in 0..<max(0, merged.count - 1) {
                    let key = pairKey(merged[k], merged[k + 1])
                    pairCount[key, default: 0] += c
                    touched[key] = 1
                    if merged[k] == newId || merged[k + 1] == newId {
                        pairWords[key, default: []].append(w32)
                    }
                }
                words[w] = merged
            }
            pairCount[top.key] = nil
            pairWords[top.key] = nil
            for key in touched.keys {
                guard let c = pairCount[key] else { continue }
                if c <= 0 { pairCount[key] = nil; pairWords[key] = nil; continue }
                heap.push(PairHeap.Entry(count: c, key: key))
            }
        }
        return Tokenizer(merges: merges)
    }
}

/// Max-heap of (count, pair) with ties broken toward the smaller pair key
/// (smaller left id, then smaller right id), so the order is total.
struct PairHeap {
    struct Entry {
        var count: Int
        var key: UInt64
        /// True when `self` should come out before `other`.
        @inline(__always)
        func before(_ other: Entry) -> Bool {
            count != other.count ? count > other.count : key < other.key
        }
    }
    private var items: [Entry] = []

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].before(items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < items.count && items[l].before(items[best]) { best = l }
                if r < items.count && items[r].before(items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}
