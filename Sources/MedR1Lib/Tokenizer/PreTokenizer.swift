// Pre-tokenisation: how text is cut into pieces before BPE sees it.
//
// BPE merges never cross a piece boundary, so the pieces decide what a token
// can be. Two stages, both on UTF-8 bytes (no String/Character work in the
// hot path):
//   1. special tokens (`<think>`, `</answer>`, ...) are cut out as atoms;
//   2. the text between them is cut GPT-2 style: runs of letters, runs of
//      digits, runs of other symbols, runs of whitespace, and a single space
//      in front of a word belongs to that word (" lesion" is one piece), so
//      that frequent words become single tokens with their leading space.
// Cutting is lossless: the pieces concatenate back to the input bytes, which
// is what makes decode(encode(s)) == s hold for any UTF-8 string.

/// One piece of pre-tokenised text: either a special token or a byte range.
enum PreToken: Equatable {
    /// Index into `Tokenizer.specialTokens`.
    case special(Int)
    /// Half-open byte range into the UTF-8 buffer being cut.
    case bytes(Range<Int>)
}

enum PreTokenizer {
    /// Character classes of the GPT-2 style split.
    private enum Kind: UInt8 { case letter, digit, space, other }

    /// Class of every ASCII byte, computed once.
    private static let asciiKind: [Kind] = (0..<128).map { b -> Kind in
        let c = UInt8(b)
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return .letter
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .digit
        case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D: return .space
        default: return .other
        }
    }

    /// Length in bytes of the UTF-8 sequence starting with `lead` (1 for stray bytes).
    @inline(__always)
    private static func scalarLength(_ lead: UInt8) -> Int {
        if lead < 0x80 { return 1 }
        if lead >= 0xF0 { return 4 }
        if lead >= 0xE0 { return 3 }
        if lead >= 0xC0 { return 2 }
        return 1
    }

    /// Class and byte length of the scalar at `i`.
    @inline(__always)
    private static func kind(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Kind, Int) {
        let lead = bytes[i]
        if lead < 0x80 { return (asciiKind[Int(lead)], 1) }
        let len = min(scalarLength(lead), bytes.count - i)
        var value: UInt32
        switch len {
        case 2: value = UInt32(lead & 0x1F)
        case 3: value = UInt32(lead & 0x0F)
        case 4: value = UInt32(lead & 0x07)
        default: return (.other, 1)
        }
        for k in 1..<len { value = (value << 6) | UInt32(bytes[i + k] & 0x3F) }
        guard let scalar = Unicode.Scalar(value) else { return (.other, len) }
        let p = scalar.properties
        if p.isWhitespace { return (.space, len) }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark:
            return (.letter, len)
        case .decimalNumber, .letterNumber, .otherNumber:
            return (.digit, len)
        default:
            return (.other, len)
        }
    }

    /// Cuts `bytes` into special tokens and GPT-2 style pieces.
    /// `specials` are the UTF-8 spellings of the atomic tokens; when
    /// `allowSpecial` is false they are treated as ordinary text.
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, specials: [[UInt8]],
                      allowSpecial: Bool) -> [PreToken] {
        var out: [PreToken] = []
        out.reserveCapacity(bytes.count / 3 + 4)
        var segmentStart = 0
        var i = 0
        let n = bytes.count
        if allowSpecial {
            while i < n {
                // Every special token starts with "<": only look there.
                if bytes[i] == UInt8(ascii: "<"), let s = matchSpecial(bytes, at: i, specials) {
                    if segmentStart < i { splitText(bytes, segmentStart..<i, into: &out) }
                    out.append(.special(s))
                    i += specials[s].count
                    segmentStart = i
                } else {
                    i += 1
                }
            }
        }
        if segmentStart < n { splitText(bytes, segmentStart..<n, into: &out) }
        return out
    }

    /// Index of the special token spelled at `bytes[i...]`, if any (longest first is
    /// not needed: no special token is a prefix of another).
    @inline(__always)
    private static func matchSpecial(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int,
                                     _ specials: [[UInt8]]) -> Int? {
        outer: for (s, spelling) in specials.enumerated() {
            if i + spelling.count > bytes.count { continue }
            for k in 0..<spelling.count where bytes[i + k] != spelling[k] { continue outer }
            return s
        }
        return nil
    }

    /// GPT-2 style cut of ordinary text in `range`.
    ///   letters+ | digits+ | other+ | whitespace+, where a single " " directly before
    ///   a non-space run is attached to that run (a longer whitespace run gives up
    ///   its last " " to the following run, as GPT-2's `\s+(?!\S)` does).
    private static func splitText(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                                  into out: inout [PreToken]) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let start = i
            var (k, len) = kind(bytes, i)
            if k == .space {
                // Whitespace run [start, j).
                var j = i + len
                while j < end {
                    let (k2, l2) = kind(bytes, j)
                    if k2 != .space { break }
                    j += l2
                }
                let lastIsSpace = bytes[j - 1] == 0x20
                if j < end && lastIsSpace {
                    if j - 1 > start {
                        // Keep the final " " for the following word.
                        out.append(.bytes(start..<(j - 1)))
                        i = j - 1
                        continue
                    }
                    // A single " " then a non-space run: one piece.
                    (k, len) = kind(bytes, j)
                    i = runEnd(bytes, from: j, kind: k, end: end)
                    out.append(.bytes(start..<i))
                    continue
                }
                out.append(.bytes(start..<j))
                i = j
                continue
            }
            i = runEnd(bytes, from: i, kind: k, end: end)
            out.append(.bytes(start..<i))
        }
    }

    /// End of the run of scalars of class `kind` starting at `from`.
    @inline(__always)
    private static func runEnd(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, kind: Kind,
                               end: Int) -> Int {
        var j = from
        while j < end {
            let (k, l) = self.kind(bytes, j)
            if k != kind { break }
            j += l
        }
        return min(j, end)
    }
}
