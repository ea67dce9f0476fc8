// A small mutation fuzzer for builds without libFuzzer: inputs are seed
// files changed by a few byte edits, token-level edits (the language's own
// keywords and punctuation, interesting numbers) and splices of two seeds.
// Deterministic by seed (the project's SplitMix64), so a short run in the
// test suite sees the same inputs every time.

import MedR1Lib

struct Mutator {
    let seeds: [[UInt8]]
    private var rng: SplitMix64

    static let dictionary: [String] = [
        "let ", "fn ", "fn(x) => ", "=> ", "if ", "else ", "for ", " in ", "while ", "return ", "break", "continue",
        "true", "false", "nil", "and ", "or ", "not ", "(", ")", "[", "]", "{", "}", ",", ":", ".", "..", "..<",
        "=", "==", "!=", "<", "<=", ">", ">=", "~", "!~", "+", "-", "*", "/", "%", "**", "\"", "\\", "\\(", "#", "# %%",
        "\n", " ", "0", "-1", "1e308", "-1e308", "1e300", "-1e300", "0/0", "[1e300]", "seed: -1", "top_k: ", "max_tokens: ", "9007199254740993", "1e-320", "0.5", "nan", "2147483648",
        "len(", "range(", "take(", "split(", "join(", "replace(", "find(", "find_all(", "match(", "sort(",
        "reverse(", "zip(", "map(", "filter(", "reduce(", "round(", "pow(", "str(", "repr(", "num(", "keys(",
        "values(", "has(", "append(", "print(", "sum(", "mean(", "std(", "min(", "max(", "type(", "help(",
        "reward(", "format(", "accuracy(", "sampler(", "cross_modality(", "summary(", "counts(",
        "\"[A-D]\"", "\"(\"", "\"\\\\\"", "\"é\"", "\"\u{0301}\"", "\"\u{1F600}\"", "{a: 1, b: [2]}", "x", "f(x)",
    ]

    init(seeds: [[UInt8]], seed: UInt64) {
        self.seeds = seeds.isEmpty ? [[]] : seeds
        rng = SplitMix64(seed: seed)
    }

    private mutating func random() -> UInt64 { rng.next() }

    private mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(random() % UInt64(n)) }

    mutating func next() -> [UInt8] {
        var input = seeds[below(seeds.count)]
        // Start from a piece of the seed sometimes, so inputs stay small and varied.
        if input.count > 256, below(2) == 0 {
            let start = below(input.count)
            input = Array(input[start..<min(input.count, start + 64 + below(512))])
        }
        for _ in 0..<(1 + below(3)) { mutate(&input) }
        if input.count > 4096 { input.removeLast(input.count - 4096) }
        return input
    }

    private mutating func mutate(_ input: inout [UInt8]) {
        let at = below(input.count + 1)
        // Whole lines keep more inputs valid, so they reach the interpreter.
        var lines: [ArraySlice<UInt8>] { input.split(separator: 10, omittingEmptySubsequences: false) }
        switch below(13) {
        case 9, 10:  // a line of any seed inserted at a line break
            let other = seeds[below(seeds.count)].split(separator: 10, omittingEmptySubsequences: false)
            var ls = lines
            ls.insert(other[below(other.count)], at: below(ls.count + 1))
            input = Array(ls.joined(separator: [10]))
        case 11:  // a line deleted
            var ls = lines
            if ls.count > 1 { ls.remove(at: below(ls.count)) }
            input = Array(ls.joined(separator: [10]))
        case 12:  // two lines swapped
            var ls = lines
            if ls.count > 1 { ls.swapAt(below(ls.count), below(ls.count)) }
            input = Array(ls.joined(separator: [10]))
        case 0 where !input.isEmpty:  // flip a byte
            input[below(input.count)] = UInt8(truncatingIfNeeded: random())
        case 1 where !input.isEmpty:  // delete a run
            let n = min(input.count - min(at, input.count - 1), 1 + below(16))
            let s = min(at, input.count - 1)
            input.removeSubrange(s..<(s + n))
        case 2, 3:  // insert a token
            input.insert(contentsOf: Array(Mutator.dictionary[below(Mutator.dictionary.count)].utf8), at: at)
        case 4 where !input.isEmpty:  // duplicate a run (nesting, repetition)
            let s = below(input.count)
            let piece = input[s..<min(input.count, s + 1 + below(64))]
            for _ in 0..<(1 + below(3)) { input.insert(contentsOf: piece, at: at) }
        case 5:  // splice in part of another seed
            let other = seeds[below(seeds.count)]
            guard !other.isEmpty else { return }
            let s = below(other.count)
            input.insert(contentsOf: other[s..<min(other.count, s + 1 + below(128))], at: at)
        case 6 where !input.isEmpty:  // replace a digit run by an interesting number
            if let d = input.indices.dropFirst(below(input.count)).first(where: { input[$0] >= 48 && input[$0] <= 57 }) {
                var e = d
                while e < input.count, input[e] >= 48 && input[e] <= 57 || input[e] == 46 { e += 1 }
                let numbers = ["0", "-1", "1e9", "1e308", "-1e300", "4294967296", "0.0000001", "255", "65536", "1e18", "0/0"]
                input.replaceSubrange(d..<e, with: Array(numbers[below(numbers.count)].utf8))
            }
        case 7 where !input.isEmpty:  // a random byte (control characters, invalid UTF-8)
            input.insert(UInt8(truncatingIfNeeded: random()), at: at)
        default:  // an unbalanced bracket or quote
            input.insert(contentsOf: Array(["(", "[", "{", "\"", ")", "]", "}", "\\("][below(8)].utf8), at: at)
        }
    }
}
