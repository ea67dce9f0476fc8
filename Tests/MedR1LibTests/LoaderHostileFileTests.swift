import Foundation
import XCTest
@testable import MedR1Lib

/// Data-set files that are malformed, not regular files, or built to make a
/// parser slow; and records whose options would be silently re-lettered.
extension LoaderTests {
    var badFile: String { root.appendingPathComponent("QA_information/Open-access/Bad.json").path }

    func testMalformedJSONNamesLineAndColumn() throws {
        try write("QA_information/Open-access/Bad.json", "[\n  {\"question\": \"a\"},\n  {\"question\": ]\n")
        XCTAssertEqual(loadError(), "\(badFile): is not valid JSON: line 3, column 16: invalid value")
        try write("QA_information/Open-access/Bad.json", "[\n  {\"question\": \"é\",\n   \"x\": 1")
        XCTAssertEqual(loadError(), "\(badFile): is not valid JSON: line 3, column 10: unexpected end of file during JSON parse")
        let medr1 = try write("medr1/CT_Anatomy_Identification.json", "[{\"image\": \"a.png\",\n \"problem\": \"x\" \"solution\": 1}]")
        XCTAssertEqual(message { _ = try MedR1JSONLoader.load(file: medr1, imageRoot: root) },
                       "\(medr1.path): is not valid JSON: line 2, column 17: invalid value")
    }

    func testJSONErrorsWithoutAPositionSayNoPosition() {
        func error(_ text: String) -> FileInput.JSONSyntaxError? {
            do { _ = try FileInput.jsonObject(Data(text.utf8)); return nil } catch { return error as? FileInput.JSONSyntaxError }
        }
        XCTAssertEqual(error("[1e999]"), .init(line: nil, column: nil, reason: "number 1e999 is not representable in Swift"))
        XCTAssertEqual(error("[1e999]")?.description, "number 1e999 is not representable in Swift")
        XCTAssertEqual(error("[\"abc"), .init(line: 1, column: 6, reason: "unexpected end of file during JSON parse"))
    }

    func testLineColumnCountsCharactersNotBytes() {
        let data = Data("ab\néé x".utf8)  // 'x' is byte 8, character 4 of line 2
        XCTAssertEqual(FileInput.lineColumn(data, offset: 8).line, 2)
        XCTAssertEqual(FileInput.lineColumn(data, offset: 8).column, 4)
        XCTAssertEqual(FileInput.lineColumn(data, offset: 0).column, 1)
    }

    func testDataJSONThatIsAFIFOIsRefused() throws {
        let qa = root.appendingPathComponent("QA_information/Open-access")
        try FileManager.default.createDirectory(at: qa, withIntermediateDirectories: true)
        let fifo = qa.appendingPathComponent("Pipe.json")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        XCTAssertEqual(loadError(), "\(fifo.path): is not a regular file (it is a FIFO): give the path of a file")
    }

    func testOversizedDataJSONIsRefusedBeforeReading() throws {
        let url = root.appendingPathComponent("QA_information/Open-access/Bad.json")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNGHostileFileTests.sparseFile(url, starting: Data("[".utf8), size: FileInput.maxDataJSONBytes + 1)
        XCTAssertEqual(loadError(), "\(badFile): is 134217729 bytes, more than the 134217728 bytes allowed for a data-set JSON file")
    }

    func testControlCharactersFromDataAreEscapedInErrors() throws {
        try omniFile([LoaderTests.record(modality: #""modality_type": "\u001b[2J\nPET""#)])
        XCTAssertEqual(loadError(), "\(badFile): record 0, field 'modality_type': unknown modality \"\\u001b[2J\\nPET\"; known: "
                       + "CT, MRI, X-Ray, Ultrasound, Dermoscopy, Fundus, OCT, Microscopy"
                       + " (fix the record, or load with skip_bad: true to skip bad records)")
    }

    func testOmniMedVQAOptionGapIsAnError() throws {
        // option_B and option_C but no option_A: the letters would shift by one.
        let record = """
        {"dataset": "Bad", "question_id": "x", "question_type": "Anatomy Identification",
         "question": "Which organ?", "gt_answer": "Lung", "image_path": "Images/Fix/a.png",
         "option_B": "Liver", "option_C": "Lung", "modality_type": "CT"}
        """
        try omniFile([record])
        XCTAssertEqual(loadError(), "\(badFile): record 0, field 'option_A': is missing but option_B is present: "
                       + "options must be lettered from option_A without gaps"
                       + " (fix the record, or load with skip_bad: true to skip bad records)")
        try omniFile([LoaderTests.record(#", "option_D": "Brain""#)])
        XCTAssertEqual(loadError(), "\(badFile): record 0, field 'option_C': is missing but option_D is present: "
                       + "options must be lettered from option_A without gaps"
                       + " (fix the record, or load with skip_bad: true to skip bad records)")
    }

    func testMedR1QuestionTypeErrorUsesTheLanguageSpelling() throws {
        let file = try write("medr1/data.json", """
        [{"image": "Images/Fix/a.png", "problem": "Which organ? A) Liver, B) Lung", "solution": "B"}]
        """)
        XCTAssertEqual(message { _ = try MedR1JSONLoader.load(file: file, imageRoot: root, modality: .ct) },
                       "\(file.path): record 0, field 'question_type': is not given by the record or the file name; "
                       + "give it when loading (question_type: \"Anatomy Identification\")"
                       + " (fix the record, or load with skip_bad: true to skip bad records)")
    }

    func testProblemParsingIsNearLinear() {
        // 40,000 "A)" markers and no "B)": each A marker needs a B look-up.
        let noB = String(repeating: "A) x ", count: 40_000)
        var probes = 0
        XCTAssertNil(MedR1JSONLoader.parseProblem(noB, probes: &probes))
        XCTAssertLessThanOrEqual(probes, 20 * noB.count)
        // The same with a B at the very end: every earlier A is skipped for the last one.
        let lateB = noB + "B) y"
        probes = 0
        let parsed = MedR1JSONLoader.parseProblem(lateB, probes: &probes)
        XCTAssertEqual(parsed?.options, ["x", "y"])
        XCTAssertEqual(parsed?.question.count, noB.count - 6)  // without the last "A) x " and its space
        XCTAssertLessThanOrEqual(probes, 20 * lateB.count)
        // Short problems parse as before.
        XCTAssertEqual(MedR1JSONLoader.parseProblem("Grade A: how bad?\nA) mild\nB) severe")?.options, ["mild", "severe"])
    }

    func testProblemParsingAgreesWithTheDirectSearch() {
        // Random short problems over the characters that matter: the indexed parser
        // must give what a plain left-to-right search for each marker gives.
        let pieces = ["A)", " A)", " B)", " C)", " D)", " A:", " B:", " C:", "\nA)", "\nB)", ",B)", "B)", " A", ")", "x", "yz"]
        var rng = SplitMix64(seed: 11)
        var parsed = 0
        for _ in 0..<3000 {
            let n = Int(rng.next() % 14)
            let text = (0..<n).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let got = MedR1JSONLoader.parseProblem(text)
            let want = Self.directParse(text)
            XCTAssertEqual(got?.question, want?.question, text.debugDescription)
            XCTAssertEqual(got?.options, want?.options, text.debugDescription)
            if got != nil { parsed += 1 }
        }
        XCTAssertGreaterThan(parsed, 300, "the random problems exercise the option paths")
    }

    /// The quadratic reference: scan forward from each position for each marker.
    static func directParse(_ problem: String) -> (question: String, options: [String])? {
        let chars = Array(problem)
        func marker(_ letter: Character, from: Int, _ delims: Set<Character>) -> Int? {
            var i = from
            while i + 1 < chars.count {
                if chars[i] == letter, delims.contains(chars[i + 1]), i == 0 || chars[i - 1].isWhitespace || chars[i - 1] == "," {
                    return i
                }
                i += 1
            }
            return nil
        }
        var search = 0
        var found: (a: Int, b: Int)?
        while let a = marker("A", from: search, [")", ":"]) {
            if let b = marker("B", from: a + 2, [chars[a + 1]]) { found = (a, b); break }
            search = a + 1
        }
        guard var (a, b) = found else { return nil }
        while let later = marker("A", from: a + 1, [")", ":"]), later < b,
              let nb = marker("B", from: later + 2, [chars[later + 1]]) {
            (a, b) = (later, nb)
        }
        var starts = [a, b]
        for letter in "CDEFGHIJKLMNOPQRSTUVWXYZ" {
            guard let next = marker(letter, from: starts.last! + 2, [chars[a + 1]]) else { break }
            starts.append(next)
        }
        let trimSet = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: ",;"))
        let options = starts.indices.map { k in
            String(chars[(starts[k] + 2)..<(k + 1 < starts.count ? starts[k + 1] : chars.count)]).trimmingCharacters(in: trimSet)
        }
        return (String(chars[0..<a]).trimmingCharacters(in: .whitespacesAndNewlines), options)
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }
}
