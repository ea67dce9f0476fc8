import XCTest
import Foundation
import TestSupport
@testable import MedR1Lib

/// Loaders on small fixture files written at run time (quirks included).
final class LoaderTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = try TestSupport.temporaryDirectory("medr1-loader")
        for name in ["a.png", "b.png", "c.png", "d.png"] {
            try touch("Images/Fix/\(name)")
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func touch(_ rel: String) throws {
        let url = root.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: url)
    }

    @discardableResult
    func write(_ rel: String, _ text: String) throws -> URL {
        let url = root.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// OmniMedVQA records with the known quirks.
    static let omniRecords = """
    [
     {"dataset": "Fix", "question_id": "q0", "question_type": "Anatomy Identification",
      "question": "Which organ is shown?", "gt_answer": "Lung.", "image_path": "Images/Fix/a.png",
      "option_A": "Liver", "option_B": "lung", "option_C": "Brain", "option_D": "Knee",
      "modality_type": "CT(Computed Tomography)"},
     {"dataset": "Fix", "question_id": 17, "question_type": "Disease Diagnosis",
      "question": "Is there a lesion?", "gt_answer": " NO ", "image_path": "Images/Fix/b.png",
      "option_A": "Yes", "option_B": "No",
      "modality": "MR (Mag-netic Resonance Imaging)"},
     {"dataset": "Fix", "question_id": "q2", "question_type": "Lesion Grading",
      "question": "Grade?", "gt_answer": "grade 2", "image_path": "Images/Fix/c.png",
      "option_A": "Grade 1", "option_B": "Grade 2", "option_C": "Grade 3",
      "modality_type": "OCT (Optical Coherence Tomography", "reasoning": "two bands thickened"}
    ]
    """

    func testOmniMedVQAQuirks() throws {
        try write("QA_information/Open-access/Fix.json", LoaderTests.omniRecords)
        try write("QA_information/Restricted-access/Other.json", """
        [{"dataset": "Other", "question_id": "z", "question_type": "Modality Recognition",
          "question": "Modality?", "gt_answer": "Fundus Photography", "image_path": "Images/Fix/d.png",
          "option_A": "Fundus Photography", "option_B": "X-Ray", "modality_type": "Fundus Photography"}]
        """)
        let (ds, skipped) = try OmniMedVQALoader.load(root: root, skipBad: false)
        XCTAssertEqual(skipped, 0)
        XCTAssertEqual(ds.count, 4)
        XCTAssertEqual(ds.name, root.lastPathComponent)  // two source data sets
        let s = ds.samples
        XCTAssertEqual(s.map(\.answerIndex), [1, 1, 1, 0])
        XCTAssertEqual(s.map(\.modality), [.ct, .mri, .oct, .fundus])
        XCTAssertEqual(s.map(\.questionType), [.anatomy, .disease, .grading, .modality])
        XCTAssertEqual(s.map(\.id), ["q0", "17", "q2", "z"])
        XCTAssertEqual(s.map { $0.options.count }, [4, 2, 3, 2])
        XCTAssertEqual(s[0].options, ["Liver", "lung", "Brain", "Knee"])
        XCTAssertEqual(s[0].imagePath, root.appendingPathComponent("Images/Fix/a.png").path)
        XCTAssertEqual(s[2].reasoning, "two bands thickened")
        XCTAssertNil(s[0].reasoning)
        XCTAssertEqual(s[3].dataset, "Other")
    }

    func testModalityAndQuestionTypeSpellings() {
        let spellings: [(String, Modality)] = [
            ("CT(Computed Tomography)", .ct), ("MR (Mag-netic Resonance Imaging)", .mri), ("X-Ray", .xray),
            ("ultrasound", .ultrasound), ("Dermoscopy", .dermoscopy), ("Fundus Photography", .fundus),
            ("OCT (Optical Coherence Tomography", .oct), ("Microscopy Images", .microscopy),
            ("MRI", .mri), ("CT", .ct), ("OCT", .oct),
        ]
        for (text, m) in spellings { XCTAssertEqual(Modality(spelling: text), m, text) }
        for m in Modality.allCases { XCTAssertEqual(Modality(spelling: m.rawValue), m) }
        XCTAssertNil(Modality(spelling: "PET"))
        for q in QuestionType.allCases {
            XCTAssertEqual(QuestionType(spelling: q.rawValue), q)
            XCTAssertEqual(QuestionType(spelling: q.rawValue.uppercased().replacingOccurrences(of: " ", with: "_")), q)
        }
        XCTAssertNil(QuestionType(spelling: "Counting"))
    }

    func testAnswerMatching() {
        XCTAssertEqual(OmniMedVQALoader.matchAnswer("  Lung. ", options: ["liver", "LUNG"]), 1)
        XCTAssertEqual(OmniMedVQALoader.matchAnswer("B", options: ["liver", "lung"]), 1)
        XCTAssertEqual(OmniMedVQALoader.matchAnswer("A", options: ["B", "A"]), 1)  // text first
        XCTAssertNil(OmniMedVQALoader.matchAnswer("C", options: ["liver", "lung"]))
        XCTAssertNil(OmniMedVQALoader.matchAnswer("kidney", options: ["liver", "lung"]))
    }

    /// One record with `change` applied to a valid base record.
    func omniFile(_ records: [String]) throws {
        try write("QA_information/Open-access/Bad.json", "[" + records.joined(separator: ",") + "]")
    }

    static func record(_ extra: String = "", answer: String = "Lung", image: String = "Images/Fix/a.png",
                       modality: String = "\"modality_type\": \"X-Ray\"") -> String {
        """
        {"dataset": "Bad", "question_id": "x", "question_type": "Anatomy Identification",
         "question": "Which organ?", "gt_answer": "\(answer)", "image_path": "\(image)",
         "option_A": "Liver", "option_B": "Lung", \(modality)\(extra)}
        """
    }

    func loadError(skipBad: Bool = false) -> String {
        do {
            _ = try OmniMedVQALoader.load(root: root, skipBad: skipBad)
            return "no error"
        } catch { return "\(error)" }
    }

    func testOmniMedVQAErrorsNameFileRecordField() throws {
        let file = root.appendingPathComponent("QA_information/Open-access/Bad.json").path
        let fix = " (fix the record, or load with skip_bad: true to skip bad records)"

        try omniFile([LoaderTests.record(), LoaderTests.record(answer: "Kidney")])
        XCTAssertEqual(loadError(), "\(file): record 1, field 'gt_answer': \"Kidney\" matches none of the options [\"Liver\", \"Lung\"]" + fix)

        try omniFile([LoaderTests.record(image: "Images/Fix/missing.png")])
        XCTAssertEqual(loadError(), "\(file): record 0, field 'image_path': image file not found: "
                       + root.appendingPathComponent("Images/Fix/missing.png").path + fix)

        try omniFile([LoaderTests.record(modality: "\"modality_type\": \"PET\"")])
        XCTAssertEqual(loadError(), "\(file): record 0, field 'modality_type': unknown modality \"PET\"; known: "
                       + "CT, MRI, X-Ray, Ultrasound, Dermoscopy, Fundus, OCT, Microscopy" + fix)

        try omniFile([LoaderTests.record(modality: "\"other\": 1")])
        XCTAssertEqual(loadError(), "\(file): record 0, field 'modality_type': is missing (neither modality_type nor modality is present)" + fix)

        try omniFile([LoaderTests.record(), "42"])
        XCTAssertEqual(loadError(), "\(file): record 1: is not a JSON object (got a number)" + fix)

        try write("QA_information/Open-access/Bad.json", "[{\"question\": ")
        XCTAssertTrue(loadError().hasPrefix("\(file): is not valid JSON"), loadError())

        try write("QA_information/Open-access/Bad.json", "{\"a\": 1}")
        XCTAssertEqual(loadError(), "\(file): must hold a JSON list of records, got an object")
    }

    func testOmniMedVQASkipBadCounts() throws {
        try omniFile([LoaderTests.record(), LoaderTests.record(answer: "Kidney"),
                      LoaderTests.record(image: "nope.png"), LoaderTests.record(), "[]"])
        try write("QA_information/Open-access/Broken.json", "not json")
        let (ds, skipped) = try OmniMedVQALoader.load(root: root, skipBad: true)
        XCTAssertEqual(ds.count, 2)
        XCTAssertEqual(skipped, 4)  // 3 bad records + 1 unreadable file
        XCTAssertEqual(ds.name, "Bad")
    }

    func testOmniMedVQAMissingLayout() {
        XCTAssertEqual(loadError(), "\(root.appendingPathComponent("QA_information").path): no such directory; "
            + "an OmniMedVQA root holds QA_information/**/<dataset>.json and the images "
            + "(generate one with synth, or give the folder that contains QA_information)")
    }

    // MARK: - Med-R1 JSON

    func testMedR1ProblemParsing() {
        let inline = MedR1JSONLoader.parseProblem("What modality is this? A) CT, B) MRI, C) X-Ray")
        XCTAssertEqual(inline?.question, "What modality is this?")
        XCTAssertEqual(inline?.options, ["CT", "MRI", "X-Ray"])
        let lines = MedR1JSONLoader.parseProblem("Which organ?\nA: Liver\nB: Lung, left\nC: Brain\nD: Knee")
        XCTAssertEqual(lines?.question, "Which organ?")
        XCTAssertEqual(lines?.options, ["Liver", "Lung, left", "Brain", "Knee"])
        let paren = MedR1JSONLoader.parseProblem("Grade A: how bad?\nA) mild\nB) severe")
        XCTAssertEqual(paren?.question, "Grade A: how bad?")
        XCTAssertEqual(paren?.options, ["mild", "severe"])
        XCTAssertNil(MedR1JSONLoader.parseProblem("No options here"))
        XCTAssertNil(MedR1JSONLoader.parseProblem("Only A) one"))

        XCTAssertEqual(MedR1JSONLoader.parseSolution("<answer> C </answer>", options: ["a", "b", "c"]), 2)
        XCTAssertEqual(MedR1JSONLoader.parseSolution("B", options: ["a", "b"]), 1)
        XCTAssertEqual(MedR1JSONLoader.parseSolution("<answer>Lung.</answer>", options: ["liver", "lung"]), 1)
        XCTAssertNil(MedR1JSONLoader.parseSolution("<answer> D </answer>", options: ["a", "b", "c"]))
        XCTAssertEqual(MedR1JSONLoader.modalityFromName("X-Ray_Modality_Recognition_train"), .xray)
        XCTAssertEqual(MedR1JSONLoader.questionTypeFromName("X-Ray_Modality_Recognition_train"), .modality)
        XCTAssertNil(MedR1JSONLoader.modalityFromName("doctor_notes"))
    }

    func testMedR1Load() throws {
        let file = try write("medr1/CT_Anatomy_Identification_test.json", """
        [{"image": "Images/Fix/a.png", "problem": "Which organ? A) Liver, B) Lung, C) Brain", "solution": "<answer> B </answer>"},
         {"image": "Images/Fix/b.png", "problem": "Which organ?\\nA: Liver\\nB: Lung", "solution": "<answer> A </answer>",
          "modality": "MRI", "question_type": "Disease Diagnosis"}]
        """)
        let (ds, skipped) = try MedR1JSONLoader.load(file: file, imageRoot: root)
        XCTAssertEqual(skipped, 0)
        XCTAssertEqual(ds.name, "CT_Anatomy_Identification_test")
        XCTAssertEqual(ds.samples.map(\.answerIndex), [1, 0])
        XCTAssertEqual(ds.samples.map(\.modality), [.ct, .mri])
        XCTAssertEqual(ds.samples.map(\.questionType), [.anatomy, .disease])
        XCTAssertEqual(ds.samples.map(\.id), ["CT_Anatomy_Identification_test-0", "CT_Anatomy_Identification_test-1"])
        XCTAssertEqual(ds.samples[0].options, ["Liver", "Lung", "Brain"])
        XCTAssertEqual(ds.samples[0].question, "Which organ?")
        // Arguments override the file name.
        let (ds2, _) = try MedR1JSONLoader.load(file: file, imageRoot: root, modality: .oct, questionType: .grading)
        XCTAssertEqual(ds2.samples.map(\.modality), [.oct, .mri])
    }

    func testMedR1Errors() throws {
        let file = try write("medr1/data.json", """
        [{"image": "Images/Fix/a.png", "problem": "Which organ? A) Liver, B) Lung", "solution": "<answer> B </answer>"},
         {"image": "Images/Fix/a.png", "problem": "Which organ? A) Liver, B) Lung", "solution": "<answer> E </answer>"},
         {"image": "Images/Fix/zz.png", "problem": "Which organ? A) Liver, B) Lung", "solution": "A"},
         {"image": "Images/Fix/a.png", "problem": "Which organ?", "solution": "A"}]
        """)
        let fix = " (fix the record, or load with skip_bad: true to skip bad records)"
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message { _ = try MedR1JSONLoader.load(file: file, imageRoot: root) },
                       "\(file.path): record 0, field 'modality': is not given by the record or the file name; "
                       + "give it when loading (modality: \"CT\")" + fix)
        XCTAssertEqual(message { _ = try MedR1JSONLoader.load(file: file, imageRoot: root, modality: .ct, questionType: .anatomy) },
                       "\(file.path): record 1, field 'solution': \"<answer> E </answer>\" names none of the 2 options "
                       + "(expected <answer> X </answer> with X in A...B)" + fix)
        let (ds, skipped) = try MedR1JSONLoader.load(file: file, imageRoot: root, modality: .ct,
                                                     questionType: .anatomy, skipBad: true)
        XCTAssertEqual(ds.count, 1)
        XCTAssertEqual(skipped, 3)
    }
}

extension LoaderTests {
    func testDatasetLoadChoosesFormat() throws {
        try write("QA_information/Open-access/Fix.json", LoaderTests.omniRecords)
        let (omni, _) = try Dataset.load(root)
        XCTAssertEqual(omni.count, 3)
        XCTAssertEqual(omni.name, "Fix")
        let file = try write("CT_Anatomy_Identification.json", """
        [{"image": "Images/Fix/a.png", "problem": "Which organ? A) Liver, B) Lung", "solution": "<answer> B </answer>"}]
        """)
        let (medr1, _) = try Dataset.load(file)
        XCTAssertEqual(medr1.samples.map(\.answerText), ["Lung"])
        let missing = root.appendingPathComponent("nothing")
        XCTAssertThrowsError(try Dataset.load(missing)) { error in
            XCTAssertEqual("\(error)", "\(missing.path): does not exist; give an OmniMedVQA/SynthMed folder "
                + "(holding QA_information/) or a Med-R1 .json file")
        }
    }
}

extension LoaderTests {
    /// SynthMed writes OmniMedVQA's layout: the loader must read back exactly the
    /// samples the generator returned (written by another helper's code).
    func testLoadsSynthMedOutput() throws {
        let generated = try SynthMed.generate(SynthMedConfig(count: 40, imageSize: 32, seed: 5), to: root)
        let (ds, skipped) = try OmniMedVQALoader.load(root: root)
        XCTAssertEqual(skipped, 0)
        XCTAssertEqual(ds.name, "SynthMed")
        XCTAssertEqual(ds.count, 40)
        let loaded = Dictionary(uniqueKeysWithValues: ds.samples.map { ($0.id, $0) })
        for g in generated {
            guard let l = loaded[g.id] else { return XCTFail("sample \(g.id) not loaded") }
            XCTAssertEqual(l.question, g.question)
            XCTAssertEqual(l.options, g.options)
            XCTAssertEqual(l.answerIndex, g.answerIndex, g.id)
            XCTAssertEqual(l.modality, g.modality)
            XCTAssertEqual(l.questionType, g.questionType)
            XCTAssertEqual(l.reasoning, g.reasoning)
            XCTAssertTrue(l.imagePath.hasSuffix(URL(fileURLWithPath: g.imagePath).lastPathComponent), l.imagePath)
            XCTAssertTrue(FileManager.default.fileExists(atPath: l.imagePath))
        }
    }
}
