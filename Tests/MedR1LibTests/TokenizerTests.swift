import XCTest
@testable import MedR1Lib

final class TokenizerTests: XCTestCase {
    /// A small corpus in the style of the data: prompts and targets.
    static let corpus: [String] = {
        let mods = ["CT", "MRI", "X-Ray", "Ultrasound", "Dermoscopy", "Fundus", "OCT", "Microscopy"]
        var lines: [String] = []
        for (i, m) in mods.enumerated() {
            let opts = (0..<4).map { mods[(i + $0 * 3) % mods.count] }
            lines.append("What imaging modality is shown?\nA) \(opts[0])\nB) \(opts[1])\nC) \(opts[2])\nD) \(opts[3])\n")
            lines.append("<think>bright bone ring and organs so \(m)</think><answer>\(m)</answer>")
            lines.append("Which organ is visible in this image? The lesion is large.")
        }
        return lines
    }()

    static let tok = Tokenizer.train(corpus: corpus, vocabSize: 320)

    func roundTrip(_ s: String, file: StaticString = #filePath, line: UInt = #line) {
        let t = TokenizerTests.tok
        let ids = t.encode(s)
        XCTAssertEqual(t.decode(ids), s, "round trip of \(s.debugDescription) via \(ids)", file: file, line: line)
        XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < t.vocabSize }, file: file, line: line)
    }

    func testLayoutAndSize() {
        let t = TokenizerTests.tok
        XCTAssertEqual(t.vocabSize, 320)
        XCTAssertEqual(t.merges.count, 320 - 263)
        XCTAssertEqual([t.pad, t.bos, t.eos, t.think, t.thinkEnd, t.answer, t.answerEnd], [0, 1, 2, 3, 4, 5, 6])
        // Byte ids: "A" is byte 65, id 7 + 65.
        XCTAssertEqual(Tokenizer(merges: []).encode("A"), [72])
        XCTAssertEqual(Tokenizer.train(corpus: ["a b"], vocabSize: 100).vocabSize, 263)
    }

    func testRoundTripASCIIAccentedCJKEmoji() {
        roundTrip("")
        roundTrip("What imaging modality is shown?\nA) CT\nB) MRI\n")
        roundTrip("  leading and   inner  spaces\t\ttabs\r\nCRLF trailing   ")
        roundTrip("Ünïcödé: café, naïve, Ærøskøbing, e\u{301} combining")
        roundTrip("医学图像 CT 扫描显示肝脏")
        roundTrip("emoji 🩺🫀 family 👨‍👩‍👧 flag 🇯🇵 done")
        roundTrip("numbers 12345 and 3.14159, symbols #$%^&*()_+{}|:\"<>?")
        roundTrip("<think>looks like <b>html</b> and < think > not special</think>")
        roundTrip("<|bos|><|eos|><|pad|><think></think><answer></answer>")
        roundTrip("<|bo<think>s|>")  // a special inside a broken special
    }

    func testSpecialTokensAreSingleIds() {
        let t = TokenizerTests.tok
        XCTAssertEqual(t.encode("<|pad|><|bos|><|eos|><think></think><answer></answer>"), [0, 1, 2, 3, 4, 5, 6])
        let ids = t.encode("<think>x</think><answer>CT</answer>")
        XCTAssertEqual(ids.first, t.think)
        XCTAssertEqual(ids.last, t.answerEnd)
        XCTAssertEqual(ids.filter { t.isSpecial($0) }, [3, 4, 5, 6])
        // As plain text, no special id appears and the text still round-trips.
        let plain = t.encode("<think>x</think>", allowSpecial: false)
        XCTAssertFalse(plain.contains { t.isSpecial($0) })
        XCTAssertEqual(t.decode(plain), "<think>x</think>")
        XCTAssertEqual(t.decode([t.bos, t.think] + t.encode("CT") + [t.eos], skipSpecial: true), "CT")
    }

    func testMergesCompressFrequentWords() {
        let t = TokenizerTests.tok
        // " modality" appears 8 times in the corpus: BPE should compress it well.
        let byteCount = Array(" modality".utf8).count
        XCTAssertLessThan(t.encode(" modality").count, byteCount)
        XCTAssertEqual(t.encode(" modality").count, 4)
        // The specials never appear inside merged tokens.
        for id in Tokenizer.firstMergeId..<t.vocabSize {
            let s = t.tokenString(id)
            XCTAssertFalse(s.contains("<think>") || s.contains("answer>"), "token \(id) = \(s.debugDescription)")
        }
    }

    func testTrainingIsDeterministic() {
        let a = Tokenizer.train(corpus: TokenizerTests.corpus, vocabSize: 300)
        let b = Tokenizer.train(corpus: TokenizerTests.corpus, vocabSize: 300)
        XCTAssertEqual(a.toJSON(), b.toJSON())
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, Tokenizer.train(corpus: TokenizerTests.corpus, vocabSize: 299))
        // Tie-break: with every pair counted once, the smallest (left, right) wins:
        // "ab" and "cd" both have count 1; bytes a=97 < c=99, so (a,b) is merge 0.
        let t = Tokenizer.train(corpus: ["cd", "ab"], vocabSize: 264)
        XCTAssertEqual(t.merges.count, 1)
        XCTAssertEqual(t.merges[0].left, 7 + 97)
        XCTAssertEqual(t.merges[0].right, 7 + 98)
    }

    func testMostFrequentPairMergedFirst() {
        // "xy" occurs 3 times, "ab" once: first merge is (x, y).
        let t = Tokenizer.train(corpus: ["xy xy xy ab"], vocabSize: 264)
        XCTAssertEqual(t.merges[0].left, 7 + 120)
        XCTAssertEqual(t.merges[0].right, 7 + 121)
        XCTAssertEqual(t.encode("xy"), [263])
    }

    func testJSONRoundTripGivesIdenticalEncodings() throws {
        let t = TokenizerTests.tok
        let u = try Tokenizer(json: t.toJSON())
        XCTAssertEqual(u.vocabSize, t.vocabSize)
        XCTAssertEqual(u.toJSON(), t.toJSON())
        for s in TokenizerTests.corpus + ["café 🩺 医学", "<think>a</think><answer>b</answer>"] {
            XCTAssertEqual(u.encode(s), t.encode(s))
        }
    }

    func testInvalidJSONErrors() {
        func message(_ json: String) -> String {
            do { _ = try Tokenizer(json: json); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("{not json").hasPrefix("tokenizer JSON is not valid JSON (starts with \"{not json\")"),
                      message("{not json"))
        XCTAssertEqual(message("[1,2]"), "tokenizer JSON must be an object with fields format, version, specials, merges")
        XCTAssertEqual(message(#"{"format":"gpt2","version":1,"specials":[],"merges":[]}"#),
                       #"tokenizer JSON: field 'format' is "gpt2", expected "medr1-byte-bpe""#)
        let specials = Tokenizer.specialTokens.map { "\"\($0)\"" }.joined(separator: ",")
        XCTAssertEqual(message(#"{"format":"medr1-byte-bpe","version":1,"specials":[\#(specials)]}"#),
                       "tokenizer JSON: field 'merges' is missing or not a list")
        XCTAssertEqual(message(#"{"format":"medr1-byte-bpe","version":1,"specials":[\#(specials)],"merges":[[7,8],[263,263],[7,999]]}"#),
                       "tokenizer JSON: merges[2] = [7, 999] refers to an id outside 7..<265 (bytes and earlier merges); the file is corrupt")
        XCTAssertEqual(message(#"{"format":"medr1-byte-bpe","version":1,"specials":[\#(specials)],"merges":[[7]]}"#),
                       "tokenizer JSON: merges[0] must be a pair of integer ids [left, right]")
        XCTAssertEqual(message(#"{"format":"medr1-byte-bpe","version":2,"specials":[],"merges":[]}"#),
                       "tokenizer JSON: field 'version' is 2, this build reads version 1")
    }

    func testDecodeOfInvalidIdsAndPartialUTF8() {
        let t = TokenizerTests.tok
        XCTAssertEqual(t.decode([-1, 99_999]), "\u{FFFD}\u{FFFD}")
        // The first byte of "é" (0xC3) alone is not valid UTF-8.
        XCTAssertEqual(t.decode([7 + 0xC3]), "\u{FFFD}")
        XCTAssertEqual(t.tokenString(7 + 0xC3), "<0xC3>")
        XCTAssertEqual(t.tokenString(t.think), "<think>")
    }

    func testEncodingCacheDoesNotChangeResults() {
        let t = Tokenizer.train(corpus: TokenizerTests.corpus, vocabSize: 300)
        let s = TokenizerTests.corpus.joined(separator: " ")
        let first = t.encode(s)
        let second = t.encode(s)
        t.clearCache()
        XCTAssertEqual(first, second)
        XCTAssertEqual(t.encode(s), first)
        // bpe() of a piece equals the piece's encoding.
        XCTAssertEqual(t.bpe(Array(" imaging".utf8)), t.encode(" imaging"))
    }

    func testPreTokenizerPieces() {
        func pieces(_ s: String) -> [String] {
            var b = Array(s.utf8)
            return b.withUnsafeMutableBufferPointer { mb in
                let buf = UnsafeBufferPointer(mb)
                return PreTokenizer.split(buf, specials: Tokenizer.specialTokens.map { Array($0.utf8) },
                                          allowSpecial: true).map { p -> String in
                    switch p {
                    case .special(let i): return Tokenizer.specialTokens[i]
                    case .bytes(let r): return String(decoding: buf[r], as: UTF8.self)
                    }
                }
            }
        }
        XCTAssertEqual(pieces("What is it?"), ["What", " is", " it", "?"])
        XCTAssertEqual(pieces("a   b\n"), ["a", "  ", " b", "\n"])
        XCTAssertEqual(pieces("<think>so CT</think>"), ["<think>", "so", " CT", "</think>"])
        XCTAssertEqual(pieces("x12y café"), ["x", "12", "y", " café"])
    }
}
