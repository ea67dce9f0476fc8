import XCTest
@testable import MedR1Lib

final class DatasetTests: XCTestCase {
    /// 40 samples: modality i % 8, question type i % 5 (every cell of 8 x 5 once).
    static func make(_ n: Int = 40) -> Dataset {
        let samples = (0..<n).map { i in
            Sample(imagePath: "/img/\(i).png", question: "Q\(i)?", options: ["x\(i)", "y\(i)"],
                   answerIndex: i % 2, modality: Modality.allCases[i % 8],
                   questionType: QuestionType.allCases[i % 5], dataset: "T", id: "s\(i)")
        }
        return Dataset(name: "T", root: URL(fileURLWithPath: "/img"), samples: samples)
    }

    func testRandomSplitIsSeededAndComplete() {
        let ds = DatasetTests.make()
        let (tr, te) = ds.split(train: 0.8, seed: 1)
        XCTAssertEqual(tr.count, 32)
        XCTAssertEqual(te.count, 8)
        XCTAssertEqual(Set(tr.samples.map(\.id) + te.samples.map(\.id)).count, 40)
        XCTAssertEqual(tr.name, "T[train]")
        XCTAssertEqual(te.name, "T[test]")
        // Order within a part follows the original order.
        let idx = tr.samples.map { Int($0.id.dropFirst())! }
        XCTAssertEqual(idx, idx.sorted())
        // Same seed, same split; another seed, another split.
        XCTAssertEqual(ds.split(train: 0.8, seed: 1).test.samples.map(\.id), te.samples.map(\.id))
        XCTAssertNotEqual(ds.split(train: 0.8, seed: 2).test.samples.map(\.id), te.samples.map(\.id))
        // Pinned (computed independently in Python from the SplitMix64 + Fisher-Yates
        // definition): the split is the same on every platform.
        XCTAssertEqual(te.samples.map(\.id), ["s3", "s14", "s19", "s21", "s23", "s25", "s36", "s39"])
        XCTAssertEqual(ds.split(train: 0, seed: 3).train.count, 0)
        XCTAssertEqual(ds.split(train: 1.5, seed: 3).train.count, 40)
        XCTAssertEqual(ds.split(train: 0.5, seed: 3).train.count, 20)
    }

    func testSplitMix64ReferenceValues() {
        // First outputs of SplitMix64 seeded with 0 (reference values of the
        // published algorithm, as in Java's SplittableRandom and Vigna's C code).
        var r = SplitMix64(seed: 0)
        XCTAssertEqual(r.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(r.next(), 0x6E78_9E6A_A1B9_65F4)
    }

    func testSplitByModalityAndType() {
        let ds = DatasetTests.make()
        let (ctmri, rest) = ds.split(byModality: [.ct, .mri])
        XCTAssertEqual(ctmri.count, 10)
        XCTAssertEqual(rest.count, 30)
        XCTAssertTrue(ctmri.samples.allSatisfy { [.ct, .mri].contains($0.modality) })
        XCTAssertFalse(rest.samples.contains { [.ct, .mri].contains($0.modality) })
        XCTAssertEqual(ctmri.name, "T[CT,MRI]")
        let (grading, others) = ds.split(byQuestionType: [.grading])
        XCTAssertEqual(grading.count, 8)
        XCTAssertEqual(others.count, 32)
        XCTAssertEqual(ds.filter { $0.answerIndex == 0 }.count, 20)
        XCTAssertEqual(ds.prefix(3).samples.map(\.id), ["s0", "s1", "s2"])
    }

    func testCountsTable() {
        let ds = DatasetTests.make().filter { $0.modality == .ct || $0.modality == .oct }
        let c = ds.counts()
        XCTAssertEqual(c[.ct, .modality], 1)
        XCTAssertEqual(c.total(modality: .ct), 5)
        XCTAssertEqual(c.total(questionType: .anatomy), 2)
        XCTAssertEqual(c.total, 10)
        XCTAssertEqual(c.description, """
        modality  Modality  Anatomy  Disease  Grading  Attribute  total
        CT               1        1        1        1          1      5
        OCT              1        1        1        1          1      5
        total            2        2        2        2          2     10
        """)
    }

    func testCorpusAndTokenizer() {
        let ds = DatasetTests.make(4)
        let lines = ds.corpus()
        XCTAssertEqual(lines.count, 16)
        XCTAssertEqual(lines[0], "Q0?\nx0, y0\n")
        XCTAssertEqual(lines[1], "<think></think><answer>x0</answer>")
        XCTAssertEqual(lines[2], "Q0?\nA) x0\nB) y0\n")
        XCTAssertEqual(lines[3], "<think></think><answer>A</answer>")
        // Only 2 merges are possible before every word is a single token: training
        // stops there rather than inventing tokens.
        let tok = ds.trainTokenizer(vocabSize: 280)
        XCTAssertEqual(tok.vocabSize, 265)
        for line in lines { XCTAssertEqual(tok.decode(tok.encode(line)), line) }
    }

    func testTokenizerTrainsOn10kTexts() {
        // ~10k short texts to vocab 512 (speed is measured by scripts/bench-style
        // runs, never asserted here: the time is only printed).
        // Words made of 3 syllables out of 20: thousands of distinct words.
        let syllables = ["le", "sion", "bri", "ght", "ring", "or", "gan", "spe", "ckle", "fan", "sha", "ped",
                         "disc", "ves", "sel", "lay", "er", "gra", "de", "mild"]
        var corpus: [String] = []
        var x: UInt64 = 7
        for i in 0..<10_000 {
            var line = "Q\(i % 97): "
            for _ in 0..<8 {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                let k = Int(x >> 33)
                line += syllables[k % 20] + syllables[(k / 20) % 20] + syllables[(k / 400) % 20] + " "
            }
            corpus.append(line)
        }
        let start = Date()
        let t = Tokenizer.train(corpus: corpus, vocabSize: 512)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(t.vocabSize, 512)
        let encStart = Date()
        var total = 0
        var bytes = 0
        for line in corpus {
            let ids = t.encode(line)
            total += ids.count; bytes += line.utf8.count
            XCTAssertEqual(t.decode(ids), line)
        }
        let encSeconds = Date().timeIntervalSince(encStart)
        // 505 merges over a 20-syllable language: well under half a token per byte.
        XCTAssertLessThan(Double(total), 0.5 * Double(bytes), "\(total) tokens for \(bytes) bytes")
        print("tokenizer: train 10k texts -> 512 in \(seconds) s; encode 10k in \(encSeconds) s, \(total) tokens")
    }
}

extension DatasetTests {
    func testStratifiedSplitKeepsTheMix() {
        // 80 samples: every modality x type cell twice; a 50% stratified split puts
        // exactly one of each pair in train.
        let ds = Dataset(name: "T", root: URL(fileURLWithPath: "/"),
                         samples: DatasetTests.make(40).samples + DatasetTests.make(40).samples.map {
                             var s = $0; s.id += "b"; return s })
        let (tr, te) = ds.split(train: 0.5, seed: 9, stratified: true)
        XCTAssertEqual(tr.count, 40)
        XCTAssertEqual(te.count, 40)
        for m in Modality.allCases {
            for q in QuestionType.allCases {
                XCTAssertEqual(tr.counts()[m, q], 1, "\(m) \(q)")
            }
        }
        XCTAssertEqual(ds.split(train: 0.5, seed: 9, stratified: true).train, tr)
    }

    func testShuffledIsSeededPermutation() {
        let ds = DatasetTests.make(10)
        let a = ds.shuffled(seed: 5)
        XCTAssertEqual(a, ds.shuffled(seed: 5))
        XCTAssertNotEqual(a.samples.map(\.id), ds.samples.map(\.id))
        XCTAssertEqual(Set(a.samples.map(\.id)), Set(ds.samples.map(\.id)))
    }
}
