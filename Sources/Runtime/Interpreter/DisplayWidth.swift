// How many terminal columns text takes, for aligning table columns. A
// character (grapheme cluster) takes 2 columns when it is East Asian Wide or
// Fullwidth (CJK ideographs, kana, Hangul syllables, fullwidth forms) or an
// emoji shown as a picture, 0 when it starts with a combining mark or an
// invisible format character (zero-width space, joiners), and 1 otherwise.
// Marks that follow a base character belong to its cluster and add nothing.
// This is the width terminals give (as wcwidth does); control characters
// never reach it (tables show them as escapes first).

public enum DisplayWidth {
    /// Columns `text` takes in a terminal.
    public static func of(_ text: String) -> Int {
        text.reduce(0) { $0 + of($1) }
    }

    /// Columns one character takes: 0, 1 or 2.
    public static func of(_ c: Character) -> Int {
        let scalars = c.unicodeScalars
        guard let first = scalars.first else { return 0 }
        // An emoji shown as a picture: by default, or asked for with VS16 (U+FE0F).
        if first.properties.isEmojiPresentation { return 2 }
        if first.properties.isEmoji, scalars.contains("\u{FE0F}") { return 2 }
        switch first.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        return isWide(first) ? 2 : 1
    }

    /// East Asian Wide and Fullwidth code points outside the emoji (Unicode's
    /// EastAsianWidth.txt, W and F, in blocks).
    static func isWide(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x1100...0x115F,    // Hangul Jamo leading consonants
             0x2E80...0x303E,    // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
             0x3041...0x33FF,    // kana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK strokes, enclosed, compatibility
             0x3400...0x4DBF,    // CJK extension A
             0x4E00...0x9FFF,    // CJK unified ideographs
             0xA000...0xA4CF,    // Yi
             0xA960...0xA97F,    // Hangul Jamo extended A
             0xAC00...0xD7A3,    // Hangul syllables
             0xF900...0xFAFF,    // CJK compatibility ideographs
             0xFE10...0xFE19,    // vertical forms
             0xFE30...0xFE6F,    // CJK compatibility forms, small forms
             0xFF00...0xFF60,    // fullwidth forms
             0xFFE0...0xFFE6,    // fullwidth signs
             0x16FE0...0x16FE4, 0x17000...0x18CFF, 0x1B000...0x1B2FF,  // Tangut, Khitan, kana supplements
             0x1F200...0x1F2FF,  // enclosed ideographic supplement
             0x20000...0x2FFFD, 0x30000...0x3FFFD:  // CJK extensions B and later
            return true
        default:
            return false
        }
    }
}
