// Loader for Med-R1's training/test JSON: a list of
//   {"image": "<path>", "problem": "<question + options>", "solution": "<answer> C </answer>"}
// where `problem` carries the options after the question, either inline
// ("... A) CT, B) MRI, C) OCT") or one per line ("A: CT" / "A) CT").
//
// The records carry no modality or question type; Med-R1 splits its files by
// them instead. Each record's modality/type is taken from, in order: a
// `modality`/`modality_type` / `question_type` field in the record, the
// loader's `modality:` / `questionType:` argument, words in the file name
// ("CT_Modality_Recognition_train.json"). If none gives one, the record is an
// error that says to pass the argument.
import Foundation

public enum MedR1JSONLoader {
    /// Loads one Med-R1 JSON file; image paths are resolved against `imageRoot`
    /// (absolute paths are kept) and must exist. See OmniMedVQALoader.load for
    /// `skipBad` and errors.
    public static func load(file: URL, imageRoot: URL, modality: Modality? = nil,
                            questionType: QuestionType? = nil,
                            skipBad: Bool = false) throws -> (dataset: Dataset, skipped: Int) {
        let list = try readJSONList(file)
        let base = file.deletingPathExtension().lastPathComponent
        let fileModality = modality ?? modalityFromName(base)
        let fileType = questionType ?? questionTypeFromName(base)
        var samples: [Sample] = []
        samples.reserveCapacity(list.count)
        var skipped = 0
        for (i, raw) in list.enumerated() {
            do {
                samples.append(try sample(raw, index: i, file: file, imageRoot: imageRoot,
                                          modality: fileModality, questionType: fileType))
            } catch let e as DataLoadError {
                if skipBad { skipped += 1; continue }
                throw e
            }
        }
        return (Dataset(name: base, root: imageRoot, samples: samples), skipped)
    }

    static func sample(_ raw: Any, index: Int, file: URL, imageRoot: URL,
                       modality: Modality?, questionType: QuestionType?) throws -> Sample {
        let r = try JSONRecord(raw, file: file.path, index: index)
        let problem = try r.string("problem")
        guard let parsed = parseProblem(problem) else {
            throw r.error("problem", "found no options after the question (expected \"A) ...\" / \"A: ...\" "
                + "markers for at least A and B)")
        }
        let solution = try r.string("solution")
        guard let answerIndex = parseSolution(solution, options: parsed.options) else {
            throw r.error("solution", "\"\(solution)\" names none of the \(parsed.options.count) options "
                + "(expected <answer> X </answer> with X in A...\(PromptTemplate.optionLetter(parsed.options.count - 1)))")
        }

        // The image: a string, or a list holding one string.
        var imageText: String?
        if let list = r.fields["image"] as? [Any] {
            imageText = list.first as? String
        } else {
            imageText = try r.optionalString("image")
        }
        guard let imageRel = imageText, !imageRel.isEmpty else { throw r.error("image", "is missing") }
        let imagePath = try resolveImage(imageRel, root: imageRoot, record: r, field: "image")

        var m = modality
        for key in ["modality_type", "modality"] {
            if let text = try r.optionalString(key) {
                guard let parsedM = Modality(spelling: text) else {
                    throw r.error(key, "unknown modality \"\(text)\"")
                }
                m = parsedM
                break
            }
        }
        guard let mod = m else {
            throw r.error("modality", "is not given by the record or the file name; "
                + "give it when loading (modality: \"CT\")")
        }
        var q = questionType
        if let text = try r.optionalString("question_type") {
            guard let parsedQ = QuestionType(spelling: text) else {
                throw r.error("question_type", "unknown question type \"\(text)\"")
            }
            q = parsedQ
        }
        guard let qtype = q else {
            throw r.error("question_type", "is not given by the record or the file name; "
                + "give it when loading (question_type: \"Anatomy Identification\")")
        }
        let base = file.deletingPathExtension().lastPathComponent
        let id = try r.optionalString("id") ?? r.optionalString("question_id") ?? "\(base)-\(index)"
        return Sample(imagePath: imagePath, question: parsed.question, options: parsed.options,
                      answerIndex: answerIndex, modality: mod, questionType: qtype, dataset: base, id: id,
                      reasoning: try r.optionalString("reasoning"))
    }

    // MARK: - Parsing the problem and solution text

    /// Splits Med-R1's `problem` into the question and its options. Option markers are
    /// a capital letter followed by ")" or ":" (the same one for all options), at the
    /// start of the text or after whitespace or a comma, in order A, B, C, ...; an option's text runs to the next
    /// marker (trailing spaces, "," and ";" dropped). Nil when there are not at least
    /// the markers A and B.
    public static func parseProblem(_ problem: String) -> (question: String, options: [String])? {
        var probes = 0
        return parseProblem(problem, probes: &probes)
    }

    /// `parseProblem`, counting in `probes` the work done past one pass over the text
    /// (marker look-ups), so tests can check it stays O(n log n).
    static func parseProblem(_ problem: String, probes: inout Int) -> (question: String, options: [String])? {
        let chars = Array(problem)
        let markers = MarkerIndex(chars)
        // The A marker: the first one that a B marker (same delimiter) follows; if
        // another A marker sits between them, the later one ("Grade A: ...\nA) x\nB) y").
        var found: (a: Int, b: Int)?
        for a in markers.positions(0) {
            if let b = markers.first(1, delim: chars[a + 1], from: a + 2, probes: &probes) { found = (a, b); break }
        }
        guard var (a, b) = found else { return nil }
        while let later = markers.first(0, from: a + 1, probes: &probes), later < b,
              let nb = markers.first(1, delim: chars[later + 1], from: later + 2, probes: &probes) {
            (a, b) = (later, nb)
        }
        let delim = chars[a + 1]
        var starts = [a, b]
        var letter = 2  // "C"
        while letter < 26, let next = markers.first(letter, delim: delim, from: starts.last! + 2, probes: &probes) {
            starts.append(next)
            letter += 1
        }
        let trimSet = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: ",;"))
        var options: [String] = []
        for (k, s) in starts.enumerated() {
            let end = k + 1 < starts.count ? starts[k + 1] : chars.count
            let text = String(chars[(s + 2)..<end]).trimmingCharacters(in: trimSet)
            options.append(text)
        }
        let question = String(chars[0..<a]).trimmingCharacters(in: .whitespacesAndNewlines)
        return (question, options)
    }

    /// Positions of every option marker in a text, by letter (0 = "A") and delimiter,
    /// built in one pass; look-ups are binary searches.
    struct MarkerIndex {
        /// [letter][0: ")", 1: ":"] -> ascending positions of the letter.
        private var byDelim: [[[Int]]] = Array(repeating: [[], []], count: 26)
        /// [letter] -> ascending positions with either delimiter.
        private var any: [[Int]] = Array(repeating: [], count: 26)

        init(_ chars: [Character]) {
            var i = 0
            while i + 1 < chars.count {
                if let v = chars[i].asciiValue, v >= 65, v <= 90,
                   let d = MarkerIndex.delimIndex(chars[i + 1]),
                   i == 0 || chars[i - 1].isWhitespace || chars[i - 1] == "," {
                    let letter = Int(v) - 65
                    byDelim[letter][d].append(i)
                    any[letter].append(i)
                }
                i += 1
            }
        }

        static func delimIndex(_ c: Character) -> Int? { c == ")" ? 0 : c == ":" ? 1 : nil }

        func positions(_ letter: Int) -> [Int] { any[letter] }

        /// First marker of `letter` (with `delim`, or either) at or after `from`.
        func first(_ letter: Int, delim: Character? = nil, from: Int, probes: inout Int) -> Int? {
            let list = delim.map { byDelim[letter][MarkerIndex.delimIndex($0)!] } ?? any[letter]
            var lo = 0, hi = list.count
            while lo < hi {
                probes += 1
                let mid = (lo + hi) / 2
                if list[mid] < from { lo = mid + 1 } else { hi = mid }
            }
            return lo < list.count ? list[lo] : nil
        }
    }

    /// Index of the option named by `solution`: `<answer> C </answer>` or a bare
    /// letter; failing that, an answer text equal to an option's (normalised).
    public static func parseSolution(_ solution: String, options: [String]) -> Int? {
        var inner = solution
        if let open = solution.range(of: "<answer>"),
           let close = solution.range(of: "</answer>", range: open.upperBound..<solution.endIndex) {
            inner = String(solution[open.upperBound..<close.lowerBound])
        }
        let t = inner.trimmingCharacters(in: .whitespacesAndNewlines)
        if t.count == 1, let v = t.unicodeScalars.first?.value, v >= 65, v <= 90 {
            let i = Int(v) - 65
            return i < options.count ? i : nil
        }
        let a = normalizedAnswer(t)
        return options.firstIndex { normalizedAnswer($0) == a }
    }

    // MARK: - Modality and question type from a file name

    /// A modality named by a word of the file name ("CT_train" -> CT, "X-Ray_test" -> X-Ray).
    public static func modalityFromName(_ name: String) -> Modality? {
        let words = name.lowercased().split(whereSeparator: { $0 == "_" || $0 == "." || $0 == " " })
            .map { $0.replacingOccurrences(of: "-", with: "") }
        let table: [String: Modality] = [
            "ct": .ct, "mri": .mri, "mr": .mri, "xray": .xray, "ultrasound": .ultrasound, "us": .ultrasound,
            "dermoscopy": .dermoscopy, "fundus": .fundus, "oct": .oct, "microscopy": .microscopy,
        ]
        for w in words { if let m = table[w] { return m } }
        return nil
    }

    /// A question type spelled in the file name ("..._Lesion_Grading_..." -> Lesion Grading).
    public static func questionTypeFromName(_ name: String) -> QuestionType? {
        let key = String(name.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) }.map(Character.init))
        for q in QuestionType.allCases {
            let full = q.rawValue.lowercased().replacingOccurrences(of: " ", with: "")
            if key.contains(full) { return q }
        }
        return nil
    }
}
