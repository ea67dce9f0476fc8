import XCTest
import TestSupport
@testable import MedR1Lib

/// Writes a contact sheet of SynthMed (one row per modality). scripts/contact-sheet runs
/// this with MEDR1_CONTACT_SHEET=<png path> to make a sheet to look at; without it the
/// sheet goes to a temporary folder and only its size is checked.
final class SynthMedContactSheetTests: XCTestCase {
    func testContactSheet() throws {
        let env = ProcessInfo.processInfo.environment
        let root = try TestSupport.temporaryDirectory("synthmed-sheet")
        defer { try? FileManager.default.removeItem(at: root) }
        var config = SynthMedConfig(count: env["MEDR1_CONTACT_SHEET"] == nil ? 80 : 160, imageSize: Int(env["MEDR1_SHEET_SIZE"] ?? "") ?? 64,
                                    seed: UInt64(env["MEDR1_SHEET_SEED"] ?? "") ?? 1)
        config.noise = Double(env["MEDR1_SHEET_NOISE"] ?? "") ?? 1
        if let only = env["MEDR1_SHEET_MODALITY"].flatMap(Modality.init(rawValue:)) { config.modalityWeights = [only: 1] }
        if let only = env["MEDR1_SHEET_TYPE"].flatMap(QuestionType.init(rawValue:)) { config.questionTypeWeights = [only: 1] }
        let samples = try SynthMed.generate(config, to: root)
        let out = env["MEDR1_CONTACT_SHEET"].map { URL(fileURLWithPath: $0) } ?? root.appendingPathComponent("sheet.png")
        try SynthMed.contactSheet(samples, perRow: 10, cell: Int(env["MEDR1_SHEET_CELL"] ?? "") ?? 64, to: out)
        let sheet = try PNGImage.read(out)
        let cell = Int(env["MEDR1_SHEET_CELL"] ?? "") ?? 64
        XCTAssertEqual(sheet.width, 10 * (cell + 2) + 2)
        XCTAssertEqual(sheet.height, Set(samples.map(\.modality)).count * (cell + 2) + 2)
        XCTAssertEqual(sheet.channels, 3)
        if env["MEDR1_CONTACT_SHEET"] != nil {
            // print the row captions: what each sample in the sheet is
            for m in Modality.allCases {
                let row = samples.filter { $0.modality == m }.prefix(10)
                print("\(m.rawValue): " + row.map { "\($0.questionType.rawValue.prefix(8))=\($0.answerText)" }.joined(separator: " | "))
            }
        }
    }
}
