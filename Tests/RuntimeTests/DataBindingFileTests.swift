import XCTest
import Foundation
@testable import Runtime

/// load_medr1's modality:/question_type: options, loader errors in the
/// language's spelling, and `show` of a sample whose image cannot be decoded.
final class DataBindingFileTests: XCTestCase {
    var dir: URL!
    var sink: CollectingSink!
    var session: Session!

    override func setUpWithError() throws {
        dir = try TestSupportDir.make()
        sink = CollectingSink()
        session = Session(options: SessionOptions(seed: 5, sink: sink, baseDirectory: dir))
        // A Med-R1 file whose name and records carry no modality or question type.
        try """
        [{"image": "img/a.png", "problem": "Which organ? A) Liver, B) Lung", "solution": "<answer> B </answer>"}]
        """.write(to: dir.appendingPathComponent("data.json"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("img"), withIntermediateDirectories: true)
        try Data("not a png at all".utf8).write(to: dir.appendingPathComponent("img/a.png"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testLoadMedR1TakesModalityAndQuestionType() {
        XCTAssertEqual(session.run(source: """
        let d = load_medr1("data.json", modality: "CT", question_type: "Anatomy Identification")
        print(len(d), d[0].modality, d[0].question_type, d[0].answer)
        """, file: "t.medr1"), .ok, sink.text)
        XCTAssertEqual(sink.text, "1 CT Anatomy Identification Lung")
        sink.clear()
        XCTAssertEqual(session.run(source: """
        let d2 = load("data.json", modality: "X-Ray", question_type: "Lesion Grading")
        print(d2[0].modality, d2[0].question_type)
        """, file: "t.medr1"), .ok, sink.text)
        XCTAssertEqual(sink.text, "X-Ray Lesion Grading")
    }

    func testLoadMedR1ErrorsSpeakTheLanguage() {
        XCTAssertEqual(session.run(source: "load_medr1(\"data.json\")", file: "e.medr1"), .runtimeError)
        let path = dir.appendingPathComponent("data.json").path
        XCTAssertTrue(sink.text.contains("e.medr1:1:1: error: load_medr1: \(path): record 0, field 'modality': is not given by the record or the file name; "
                                          + "give it when loading (modality: \"CT\") (fix the record, or load with skip_bad: true "
                                          + "to skip bad records)"), sink.text)
        sink.clear()
        XCTAssertEqual(session.run(source: "load_medr1(\"data.json\", modality: \"PET\")", file: "e.medr1"), .runtimeError)
        XCTAssertTrue(sink.text.contains("unknown modality \"PET\""), sink.text)
    }

    func testTokenizerVocabIsBounded() {
        XCTAssertEqual(session.run(source: """
        let d = load_medr1("data.json", modality: "CT", question_type: "Anatomy Identification")
        d.tokenizer(vocab: 1000000000000)
        """, file: "t.medr1"), .runtimeError)
        XCTAssertTrue(sink.text.contains("vocab: 1000000000000 is out of range: use 1 to 1048576"), sink.text)
    }

    func testShowSaysWhyTheImageIsMissing() {
        XCTAssertEqual(session.run(source: """
        let d = load_medr1("data.json", modality: "CT", question_type: "Anatomy Identification")
        show d[0]
        """, file: "t.medr1"), .ok, sink.text)
        let path = dir.appendingPathComponent("img/a.png").path
        XCTAssertTrue(sink.text.hasPrefix("(image not shown: \(path): not a PNG file (the first 8 bytes are not the PNG signature))\n"),
                      sink.text)
        XCTAssertTrue(sink.text.contains("<- answer"), sink.text)
    }
}
