// Loader for OmniMedVQA's layout (and SynthMed, which writes the same layout).
//
//   <root>/QA_information/**/<dataset>.json   a JSON list of records:
//     dataset, question_id, question_type, question, gt_answer, image_path,
//     option_A, option_B[, option_C[, option_D]], modality_type
//   <root>/<image_path>                       the image, path relative to root
//
// Quirks of the real files, handled here (issue 3):
//   - gt_answer is the option TEXT, not a letter: matched after trimming,
//     case-folding and dropping a final "." (a bare letter is accepted only when
//     no option text matches);
//   - option_C / option_D may be missing (2-4 options), but not an option
//     before a present one (that would re-letter the options);
//   - one record spells the field `modality` instead of `modality_type`;
//   - modality spellings such as "MR (Mag-netic Resonance Imaging)" map to the
//     8 canonical names (`Modality.init?(spelling:)`).
// An optional `reasoning` string (written by SynthMed) becomes Sample.reasoning.
import Foundation

public enum OmniMedVQALoader {
    /// Option fields in letter order.
    static let optionKeys = ["option_A", "option_B", "option_C", "option_D",
                             "option_E", "option_F", "option_G", "option_H"]

    /// Loads every `QA_information/**/*.json` under `root`, files in path order.
    /// With `skipBad`, bad records (and files that are not a JSON list) are skipped
    /// and counted in `skipped`; without it the first one throws a `DataLoadError`
    /// naming file, record index and field.
    public static func load(root: URL, skipBad: Bool = false) throws -> (dataset: Dataset, skipped: Int) {
        let files = try questionFiles(root: root)
        var samples: [Sample] = []
        var skipped = 0
        for file in files {
            let list: [Any]
            do {
                list = try readJSONList(file)
            } catch let e as DataLoadError {
                if skipBad { skipped += 1; continue }
                throw e
            }
            for (i, raw) in list.enumerated() {
                do {
                    samples.append(try sample(raw, index: i, file: file, root: root))
                } catch let e as DataLoadError {
                    if skipBad { skipped += 1; continue }
                    throw e
                }
            }
        }
        let names = Set(samples.map(\.dataset))
        let name = names.count == 1 ? names.first! : root.lastPathComponent
        return (Dataset(name: name, root: root, samples: samples), skipped)
    }

    /// The question files under `root`, sorted by path. Throws when there are none,
    /// saying what layout was expected.
    public static func questionFiles(root: URL) throws -> [URL] {
        let qa = root.appendingPathComponent("QA_information")
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: qa.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataLoadError(file: qa.path, message: "no such directory; an OmniMedVQA root holds "
                + "QA_information/**/<dataset>.json and the images (generate one with synth, or give the folder that contains QA_information)")
        }
        var files: [URL] = []
        if let e = FileManager.default.enumerator(at: qa, includingPropertiesForKeys: nil) {
            for case let url as URL in e where url.pathExtension.lowercased() == "json" {
                files.append(url)
            }
        }
        files.sort { $0.path < $1.path }
        guard !files.isEmpty else {
            throw DataLoadError(file: qa.path, message: "holds no .json question files")
        }
        return files
    }

    /// One record to a Sample; throws a DataLoadError naming the field at fault.
    static func sample(_ raw: Any, index: Int, file: URL, root: URL) throws -> Sample {
        let r = try JSONRecord(raw, file: file.path, index: index)
        let question = try r.string("question")

        // Options are lettered from A without gaps: a missing option_A before a present
        // option_B would otherwise shift every letter (and the answer's meaning).
        var options: [String] = []
        var firstMissing: String?
        for key in optionKeys {
            guard let o = try r.optionalString(key) else {
                if firstMissing == nil { firstMissing = key }
                continue
            }
            if let gap = firstMissing {
                throw r.error(gap, "is missing but \(key) is present: options must be lettered from option_A without gaps")
            }
            options.append(o.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard options.count >= 2 else {
            throw r.error(options.isEmpty ? "option_A" : "option_B",
                          "needs at least 2 options (option_A, option_B), found \(options.count)")
        }

        let gt = try r.string("gt_answer")
        guard let answerIndex = matchAnswer(gt, options: options) else {
            throw r.error("gt_answer", "\"\(gt)\" matches none of the options \(options)")
        }

        let modalityKey = r.fields["modality_type"] != nil ? "modality_type" : "modality"
        guard let modalityText = try r.optionalString(modalityKey) else {
            throw r.error("modality_type", "is missing (neither modality_type nor modality is present)")
        }
        guard let modality = Modality(spelling: modalityText) else {
            throw r.error(modalityKey, "unknown modality \"\(modalityText)\"; known: "
                + Modality.allCases.map(\.rawValue).joined(separator: ", "))
        }

        let typeText = try r.string("question_type")
        guard let qtype = QuestionType(spelling: typeText) else {
            throw r.error("question_type", "unknown question type \"\(typeText)\"; known: "
                + QuestionType.allCases.map(\.rawValue).joined(separator: ", "))
        }

        let imagePath = try resolveImage(try r.string("image_path"), root: root, record: r, field: "image_path")
        let dataset = try r.optionalString("dataset") ?? file.deletingPathExtension().lastPathComponent
        let id = try r.optionalString("question_id") ?? "\(dataset)-\(index)"
        let reasoning = try r.optionalString("reasoning")

        return Sample(imagePath: imagePath, question: question, options: options, answerIndex: answerIndex,
                      modality: modality, questionType: qtype, dataset: dataset, id: id, reasoning: reasoning)
    }

    /// Index of the option `answer` names: the first option whose normalised text
    /// equals the normalised answer; failing that, a bare letter "A"..."H" within range.
    public static func matchAnswer(_ answer: String, options: [String]) -> Int? {
        let a = normalizedAnswer(answer)
        if let i = options.firstIndex(where: { normalizedAnswer($0) == a }) { return i }
        let trimmed = answer.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        if trimmed.count == 1, let v = trimmed.unicodeScalars.first?.value, v >= 65, Int(v) - 65 < options.count {
            return Int(v) - 65
        }
        return nil
    }
}
