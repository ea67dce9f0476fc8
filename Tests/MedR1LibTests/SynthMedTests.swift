import XCTest
import TestSupport
@testable import MedR1Lib

/// SynthMed: determinism, OmniMedVQA layout and fields, option and reasoning rules, knobs.
final class SynthMedTests: XCTestCase {
    var tmp: URL!
    override func setUpWithError() throws { tmp = try TestSupport.temporaryDirectory("synthmed") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func files(under root: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
        for case let url as URL in e where !url.hasDirectoryPath {
            out[String(url.path.dropFirst(root.path.count))] = try Data(contentsOf: url)
        }
        return out
    }

    func testSameSeedGivesByteIdenticalFilesWhateverTheThreadCount() throws {
        var config = SynthMedConfig(count: 40, imageSize: 32, seed: 7)
        config.threads = 1
        let a = try SynthMed.generate(config, to: tmp.appendingPathComponent("a"))
        config.threads = 3
        let b = try SynthMed.generate(config, to: tmp.appendingPathComponent("b"))
        let fa = try files(under: tmp.appendingPathComponent("a")), fb = try files(under: tmp.appendingPathComponent("b"))
        XCTAssertEqual(fa.count, 41)  // 40 PNGs + 1 JSON
        XCTAssertEqual(Set(fa.keys), Set(fb.keys))
        for (k, v) in fa { XCTAssertEqual(v, fb[k], "file \(k) differs") }
        XCTAssertEqual(a.map(\.question), b.map(\.question))
        XCTAssertEqual(a.map(\.options), b.map(\.options))
        // another seed changes the data
        config.seed = 8
        let c = try SynthMed.generate(config, to: tmp.appendingPathComponent("c"))
        XCTAssertNotEqual(a.map(\.options), c.map(\.options))
    }

    func testOmniMedVQALayoutAndFields() throws {
        let config = SynthMedConfig(count: 60, imageSize: 32, seed: 3)
        let samples = try SynthMed.generate(config, to: tmp)
        let json = tmp.appendingPathComponent("QA_information/Open-access/SynthMed.json")
        let records = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [[String: String]]
        XCTAssertEqual(records.count, 60)
        let omni: Set<String> = ["CT(Computed Tomography)", "MR (Mag-netic Resonance Imaging)", "X-Ray", "ultrasound",
                                 "Dermoscopy", "Fundus Photography", "OCT (Optical Coherence Tomography", "Microscopy Images"]
        for (i, (r, s)) in zip(records, samples).enumerated() {
            XCTAssertEqual(r["dataset"], "SynthMed")
            XCTAssertEqual(r["question_id"], String(format: "SynthMed_%06d", i))
            XCTAssertEqual(r["question_type"], s.questionType.rawValue)
            XCTAssertEqual(r["question"], s.question)
            XCTAssertEqual(r["gt_answer"], s.answerText)
            XCTAssertEqual(r["reasoning"], s.reasoning)
            XCTAssertTrue(omni.contains(r["modality_type"] ?? ""), "record \(i): \(r)")
            XCTAssertEqual(r["image_path"], "Images/SynthMed/\(s.modality.rawValue)/\(s.id).png")
            XCTAssertEqual(tmp.appendingPathComponent(r["image_path"]!).path, s.imagePath)
            let letters = ["A", "B", "C", "D"].prefix(s.options.count)
            XCTAssertEqual(letters.map { r["option_\($0)"] }, s.options.map { Optional($0) })
            XCTAssertEqual(Set(r.keys), Set(["dataset", "question_id", "question_type", "question", "gt_answer", "image_path",
                                             "modality_type", "reasoning"] + letters.map { "option_\($0)" }))
            let png = try PNGImage.read(URL(fileURLWithPath: s.imagePath))
            XCTAssertEqual([png.width, png.height], [32, 32])
            XCTAssertEqual(png.channels, [.dermoscopy, .fundus, .microscopy].contains(s.modality) ? 3 : 1)
        }
    }

    func testOmniMedVQALoaderReadsBackExactlyWhatWasGenerated() throws {
        let samples = try SynthMed.generate(SynthMedConfig(count: 80, imageSize: 16, seed: 9), to: tmp)
        let (dataset, skipped) = try OmniMedVQALoader.load(root: tmp)
        XCTAssertEqual(skipped, 0)
        let loaded = dataset.samples.sorted { $0.id < $1.id }
        XCTAssertEqual(loaded.count, samples.count)
        for (a, b) in zip(loaded, samples) {
            XCTAssertEqual(URL(fileURLWithPath: a.imagePath).standardizedFileURL.path,
                           URL(fileURLWithPath: b.imagePath).standardizedFileURL.path)
            var a2 = a
            a2.imagePath = b.imagePath
            XCTAssertEqual(a2, b)
        }
        // and the model input for an image is (S, S, 3) in [-1, 1]
        let x = try Preprocess.load(URL(fileURLWithPath: samples[0].imagePath), imageSize: 32, channels: 3)
        XCTAssertEqual(x.count, 32 * 32 * 3)
        XCTAssertTrue(x.allSatisfy { $0 >= -1 && $0 <= 1 })
    }

    /// Image temporaries left by a generation killed mid-write (kill -9) are
    /// removed by the next generation into the same folders; a live writer's
    /// temporary and other hidden files stay.
    func testNextGenerationRemovesImageTemporariesOfAKilledOne() throws {
        let config = SynthMedConfig(count: 8, imageSize: 16, seed: 9)
        let samples = try SynthMed.generate(config, to: tmp)
        let folder = URL(fileURLWithPath: samples[0].imagePath).deletingLastPathComponent()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let dead = p.processIdentifier
        let name = URL(fileURLWithPath: samples[0].imagePath).lastPathComponent
        let stale = [".\(name).tmp-\(dead)-1f", ".other.png.tmp-\(dead)-a0", ".\(name).old-\(dead)-2"]
        let kept = [".\(name).tmp-\(getpid())-3f", ".keep", ".x.tmp-\(dead)", ".tmp-\(dead)-1"]
        for n in stale + kept { try Data("half".utf8).write(to: folder.appendingPathComponent(n)) }
        _ = try SynthMed.generate(config, to: tmp)
        let hidden = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(hidden.sorted(), kept.sorted())
    }

    func testOptionsAreDistinctShuffledAndContainTheAnswer() throws {
        let config = SynthMedConfig(count: 2000, imageSize: 16, seed: 11)
        var answerPositions = [Int](repeating: 0, count: 4)
        for i in 0..<config.count {
            let item = SynthMedQuestions.item(config, index: i)
            XCTAssertEqual(Set(item.options).count, item.options.count, "item \(i): \(item.options)")
            XCTAssertTrue((2...4).contains(item.options.count))
            // only left/right eye has fewer than 4 valid options
            if !(item.scene.modality == .fundus && item.questionType == .attribute) { XCTAssertEqual(item.options.count, 4) }
            XCTAssertTrue(item.reasoning.hasSuffix(" so \(item.answer)"), item.reasoning)
            let words = item.reasoning.split(separator: " ").count
            XCTAssertTrue((4...12).contains(words), "item \(i) reasoning has \(words) words: \(item.reasoning)")
            if item.options.count == 4 { answerPositions[item.answerIndex] += 1 }
        }
        // shuffled: each letter holds the answer about a quarter of the time
        let total = answerPositions.reduce(0, +)
        for n in answerPositions { XCTAssertEqual(Double(n) / Double(total), 0.25, accuracy: 0.04, "\(answerPositions)") }
    }

    func testMixKnobsAndTwoOptions() throws {
        var config = SynthMedConfig(count: 300, imageSize: 16, seed: 2)
        config.modalityWeights = [.oct: 1, .fundus: 3]
        config.questionTypeWeights = [.grading: 1]
        config.options = 2
        let items = (0..<300).map { SynthMedQuestions.item(config, index: $0) }
        XCTAssertEqual(Set(items.map(\.scene.modality)), [.oct, .fundus])
        let fundus = items.filter { $0.scene.modality == .fundus }.count
        XCTAssertEqual(Double(fundus) / 300, 0.75, accuracy: 0.07)
        XCTAssertTrue(items.allSatisfy { $0.questionType == .grading && $0.options.count == 2 && $0.scene.finding > 0 })
    }

    func testQuestionTypeNamesAndModalityMix() throws {
        let config = SynthMedConfig(count: 4000, imageSize: 16, seed: 5)
        var byType: [QuestionType: Int] = [:], byModality: [Modality: Int] = [:]
        for i in 0..<config.count {
            let item = SynthMedQuestions.item(config, index: i)
            byType[item.questionType, default: 0] += 1
            byModality[item.scene.modality, default: 0] += 1
        }
        for t in QuestionType.allCases { XCTAssertEqual(Double(byType[t] ?? 0) / 4000, 0.2, accuracy: 0.03, "\(t)") }
        for m in Modality.allCases { XCTAssertEqual(Double(byModality[m] ?? 0) / 4000, 0.125, accuracy: 0.025, "\(m)") }
    }

    func testBadConfigIsAnErrorNamingTheKnob() throws {
        var config = SynthMedConfig(count: 10)
        config.options = 5
        XCTAssertThrowsError(try SynthMed.generate(config, to: tmp)) { error in
            XCTAssertEqual("\(error)", "options must be 2, 3 or 4, got 5")
        }
        config = SynthMedConfig(count: 10)
        config.modalityWeights = [.ct: 0]
        XCTAssertThrowsError(try SynthMed.generate(config, to: tmp)) { error in
            XCTAssertEqual("\(error)", "modalities must name at least one modality (weights >= 0 with at least one > 0)")
        }
        XCTAssertThrowsError(try SynthMed.generate(SynthMedConfig(count: 0), to: tmp)) { error in
            XCTAssertEqual("\(error)", "n must be in 1...1000000, got 0")
        }
        // A count beyond the bound is refused before the items are allocated (1e14 aborted).
        XCTAssertThrowsError(try SynthMed.generate(SynthMedConfig(count: 100_000_000_000_000), to: tmp)) { error in
            XCTAssertEqual("\(error)", "n must be in 1...1000000, got 100000000000000")
        }
        XCTAssertThrowsError(try SynthMed.generate(SynthMedConfig(count: 2, imageSize: 1_000_000_000), to: tmp)) { error in
            XCTAssertEqual("\(error)", "size must be in 8...1024, got 1000000000")
        }
        config = SynthMedConfig(count: 2)
        config.lesionScale = 4
        XCTAssertThrowsError(try SynthMed.generate(config, to: tmp)) { error in
            XCTAssertEqual("\(error)", "lesion_scale must be in 0.25...3, got 4.0")
        }
    }
}
