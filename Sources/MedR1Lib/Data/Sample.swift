// One multiple-choice medical VQA item, whatever its source (SynthMed,
// OmniMedVQA, Med-R1's JSON). Every loader and the generator produce this.

/// The 8 imaging modalities of OmniMedVQA / Med-R1, canonical spelling.
public enum Modality: String, CaseIterable, Codable, Sendable, Comparable {
    case ct = "CT"
    case mri = "MRI"
    case xray = "X-Ray"
    case ultrasound = "Ultrasound"
    case dermoscopy = "Dermoscopy"
    case fundus = "Fundus"
    case oct = "OCT"
    case microscopy = "Microscopy"

    public static func < (a: Modality, b: Modality) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The 5 question types, spelled as OmniMedVQA and Med-R1 spell them.
public enum QuestionType: String, CaseIterable, Codable, Sendable, Comparable {
    case modality = "Modality Recognition"
    case anatomy = "Anatomy Identification"
    case disease = "Disease Diagnosis"
    case grading = "Lesion Grading"
    case attribute = "Other Biological Attributes"

    public static func < (a: QuestionType, b: QuestionType) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

public struct Sample: Codable, Equatable, Sendable {
    /// Absolute or data-set-relative path of the PNG (resolved by the loader to an absolute path).
    public var imagePath: String
    public var question: String
    /// 2-4 option texts, in the order shown (A, B, C, D).
    public var options: [String]
    /// Index into `options` of the right answer.
    public var answerIndex: Int
    public var modality: Modality
    public var questionType: QuestionType
    /// Source data set name (e.g. "SynthMed", or OmniMedVQA's `dataset` field).
    public var dataset: String
    public var id: String
    /// Grounded reasoning text for SFT targets (SynthMed provides it; real data may not).
    public var reasoning: String?

    public init(imagePath: String, question: String, options: [String], answerIndex: Int,
                modality: Modality, questionType: QuestionType, dataset: String, id: String,
                reasoning: String? = nil) {
        self.imagePath = imagePath
        self.question = question
        self.options = options
        self.answerIndex = answerIndex
        self.modality = modality
        self.questionType = questionType
        self.dataset = dataset
        self.id = id
        self.reasoning = reasoning
    }

    /// The option letter of the right answer ("A", "B", ...).
    public var answerLetter: String { String(UnicodeScalar(UInt8(65 + answerIndex))) }
    /// The text of the right option.
    public var answerText: String { options[answerIndex] }
}
