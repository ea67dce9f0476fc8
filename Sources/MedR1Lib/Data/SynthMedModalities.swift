// SynthMed's vocabulary: for each modality, what can be drawn (anatomy, findings,
// the attribute asked about) and the words used for options and reasoning.
// The painters in SynthMedRender.swift draw exactly these; the questions in
// SynthMedQuestions.swift ask about them.

/// What "Other Biological Attributes" asks about, per modality.
public enum SynthAttribute: Sendable, Equatable {
    /// Quadrant of the lesion in the image: upper left / upper right / lower left / lower right.
    case quadrant
    /// Colour of the skin lesion.
    case colour
    /// Which eye: the optic disc lies on the nasal side, i.e. the image's right for a right eye.
    case eye
    /// Number of counted elements (1...4): OCT lesions, white blood cells.
    case count(noun: String, question: String, needsLesion: Bool)
}

/// A named thing that can be drawn, with the reasoning phrase that names what shows it.
public struct SynthLabel: Sendable, Equatable {
    /// Option text (what the model answers).
    public let name: String
    /// Short grounded evidence, e.g. "skull ring around brain"; reasoning is "<why> so <name>".
    public let why: String
    /// Noun for grading/attribute reasoning ("tumor", "haemorrhages").
    public let noun: String
    /// Grade shown by number of elements rather than size (reasoning says few/several/many).
    public let gradedByCount: Bool

    init(_ name: String, _ why: String, noun: String = "", byCount: Bool = false) {
        self.name = name
        self.why = why
        self.noun = noun
        self.gradedByCount = byCount
    }
}

/// Everything SynthMed knows about one modality.
public struct SynthModalitySpec: Sendable {
    public let modality: Modality
    /// Option text for "Modality Recognition".
    public let optionName: String
    /// OmniMedVQA's `modality_type` spelling.
    public let omniName: String
    /// 1 (grayscale PNG) or 3 (RGB PNG).
    public let channels: Int
    /// Reasoning evidence for the modality ("fan-shaped speckle").
    public let signature: String
    public let anatomies: [SynthLabel]
    /// Index 0 is always "normal".
    public let findings: [SynthLabel]
    public let attribute: SynthAttribute
}

public enum SynthMedVocabulary {
    public static let grades = ["mild", "moderate", "severe"]
    /// Distractor added to the three grades (a graded question always shows a lesion).
    public static let gradeDistractor = "normal"
    public static let quadrants = ["upper left", "upper right", "lower left", "lower right"]
    public static let colours = ["brown", "black", "red", "blue"]
    public static let eyes = ["left eye", "right eye"]
    public static let counts = ["1", "2", "3", "4"]
    static let countWords = ["one", "two", "three", "four"]
    static let sizeWords = ["small", "medium", "large"]
    static let amountWords = ["few", "several", "many"]

    static let normal = SynthLabel("normal", "no focal lesion")

    public static let specs: [SynthModalitySpec] = [
        SynthModalitySpec(
            modality: .ct, optionName: "CT", omniName: "CT(Computed Tomography)", channels: 1,
            signature: "grey body slice with white bone",
            anatomies: [SynthLabel("head", "skull ring around brain"),
                        SynthLabel("chest", "dark lungs beside heart"),
                        SynthLabel("abdomen", "liver kidneys and spine")],
            findings: [normal,
                       SynthLabel("tumor", "solid bright mass", noun: "tumor"),
                       SynthLabel("cyst", "dark round spot with thin wall", noun: "cyst")],
            attribute: .quadrant),
        SynthModalitySpec(
            modality: .mri, optionName: "MRI", omniName: "MR (Mag-netic Resonance Imaging)", channels: 1,
            signature: "soft tissue contrast with bright fluid",
            anatomies: [SynthLabel("brain", "folded brain with bright ventricles"),
                        SynthLabel("knee", "femur meets tibia at cartilage"),
                        SynthLabel("spine", "stacked vertebrae and bright discs")],
            findings: [normal,
                       SynthLabel("tumor", "bright lobulated mass", noun: "tumor"),
                       SynthLabel("infarct", "dark wedge of tissue", noun: "infarct")],
            attribute: .quadrant),
        SynthModalitySpec(
            modality: .xray, optionName: "X-ray", omniName: "X-Ray", channels: 1,
            signature: "white bones on dark film",
            anatomies: [SynthLabel("chest", "ribs over dark lungs"),
                        SynthLabel("hand", "finger bones"),
                        SynthLabel("knee", "long bones meet at joint")],
            findings: [normal,
                       SynthLabel("nodule", "round white spot", noun: "nodule"),
                       SynthLabel("fracture", "dark jagged line", noun: "fracture")],
            attribute: .quadrant),
        SynthModalitySpec(
            modality: .ultrasound, optionName: "ultrasound", omniName: "ultrasound", channels: 1,
            signature: "fan-shaped speckle",
            anatomies: [SynthLabel("liver", "even tissue with dark vessels"),
                        SynthLabel("kidney", "bean shape with bright centre"),
                        SynthLabel("bladder", "dark fluid sac")],
            findings: [normal,
                       SynthLabel("cyst", "black round area", noun: "cyst"),
                       SynthLabel("mass", "bright solid area", noun: "mass")],
            attribute: .quadrant),
        SynthModalitySpec(
            modality: .dermoscopy, optionName: "dermoscopy", omniName: "Dermoscopy", channels: 3,
            signature: "magnified skin in round view",
            anatomies: [SynthLabel("skin", "skin surface")],
            findings: [SynthLabel("normal", "plain skin without lesion"),
                       SynthLabel("nevus", "round even lesion", noun: "nevus"),
                       SynthLabel("melanoma", "irregular mottled lesion", noun: "melanoma")],
            attribute: .colour),
        SynthModalitySpec(
            modality: .fundus, optionName: "fundus photography", omniName: "Fundus Photography", channels: 3,
            signature: "orange retina with vessels",
            anatomies: [SynthLabel("retina", "optic disc and vessels")],
            findings: [SynthLabel("normal", "clear retina and small cup"),
                       SynthLabel("diabetic retinopathy", "red dots and yellow spots", noun: "spots", byCount: true),
                       SynthLabel("glaucoma", "large pale cup in disc", noun: "cup")],
            attribute: .eye),
        SynthModalitySpec(
            modality: .oct, optionName: "OCT", omniName: "OCT (Optical Coherence Tomography", channels: 1,
            signature: "layered retinal bands",
            anatomies: [SynthLabel("retina", "retinal layers with foveal dip")],
            findings: [SynthLabel("normal", "smooth intact layers"),
                       SynthLabel("macular edema", "dark fluid pockets in layers", noun: "fluid pockets"),
                       SynthLabel("drusen", "bumps under bright band", noun: "drusen")],
            attribute: .count(noun: "lesions", question: "How many lesions are there?", needsLesion: true)),
        SynthModalitySpec(
            modality: .microscopy, optionName: "microscopy", omniName: "Microscopy Images", channels: 3,
            signature: "stained cells on slide",
            anatomies: [SynthLabel("blood", "red blood cells")],
            findings: [SynthLabel("normal", "regular red cells only"),
                       SynthLabel("malaria", "dots inside red cells", noun: "infected cells", byCount: true),
                       SynthLabel("sickle cell anemia", "crescent shaped red cells", noun: "sickle cells", byCount: true)],
            attribute: .count(noun: "white cells", question: "How many white blood cells are there?", needsLesion: false)),
    ]

    /// The spec of a modality.
    public static func spec(_ m: Modality) -> SynthModalitySpec {
        specs[Modality.allCases.firstIndex(of: m)!]
    }

    /// Every anatomy name once, in order of first appearance (distractor pool).
    public static let allAnatomies: [String] = {
        var seen: [String] = []
        for s in specs { for a in s.anatomies where !seen.contains(a.name) { seen.append(a.name) } }
        return seen
    }()

    /// Every abnormal finding name once (distractor pool).
    public static let allFindings: [String] = {
        var seen: [String] = []
        for s in specs { for f in s.findings.dropFirst() where !seen.contains(f.name) { seen.append(f.name) } }
        return seen
    }()
}
