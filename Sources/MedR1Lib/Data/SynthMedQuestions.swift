// SynthMed's questions: for sample i, draw a modality and question type from the
// configured mix, then a scene whose content makes the question answerable
// (a graded question always has a lesion), then the question, its shuffled
// options and a short reasoning that names what was drawn ("<evidence> so <answer>").

/// One generated item before it is written: the scene, the question and its answer.
public struct SynthMedItem: Equatable, Sendable {
    public var scene: SynthMedScene
    public var questionType: QuestionType
    public var question: String
    /// Shown in this order (A, B, ...).
    public var options: [String]
    public var answerIndex: Int
    /// "<evidence> so <answer>", 5-12 words.
    public var reasoning: String
    public var answer: String { options[answerIndex] }
}

public enum SynthMedQuestions {
    /// The item for sample `index` under `config`; depends only on (seed, index, knobs).
    public static func item(_ config: SynthMedConfig, index: Int) -> SynthMedItem {
        var rng = SynthMedRandom(seed: config.seed, index: index, salt: 0)
        let modality = Modality.allCases[rng.weighted(Modality.allCases.map { config.modalityWeights[$0] ?? 0 })]
        let type = QuestionType.allCases[rng.weighted(QuestionType.allCases.map { config.questionTypeWeights[$0] ?? 0 })]
        let spec = SynthMedVocabulary.spec(modality)

        var scene = SynthMedScene(modality: modality)
        scene.anatomy = rng.below(spec.anatomies.count)
        scene.finding = rng.below(spec.findings.count)
        scene.grade = 1 + rng.below(3)
        scene.quadrant = rng.below(4)
        scene.colour = rng.below(SynthMedVocabulary.colours.count)
        scene.rightEye = rng.below(2) == 1
        scene.count = 1 + rng.below(4)
        scene.seed = rng.next()
        // questions about a lesion need one
        let needsLesion: Bool
        switch type {
        case .grading: needsLesion = true
        case .attribute:
            switch spec.attribute {
            case .quadrant, .colour: needsLesion = true
            case .eye: needsLesion = false
            case .count(_, _, let needs): needsLesion = needs
            }
        default: needsLesion = false
        }
        if needsLesion && scene.finding == 0 { scene.finding = 1 + rng.below(spec.findings.count - 1) }

        let anatomy = spec.anatomies[scene.anatomy], finding = spec.findings[scene.finding]
        let phrase = rng.below(2)
        var question: String, answer: String, why: String, pool: [String]
        switch type {
        case .modality:
            question = ["What imaging modality is this?", "Which modality was used for this image?"][phrase]
            answer = spec.optionName
            why = spec.signature
            pool = SynthMedVocabulary.specs.map(\.optionName)
        case .anatomy:
            question = ["Which part of the body is shown?", "What anatomy is imaged here?"][phrase]
            answer = anatomy.name
            why = anatomy.why
            pool = spec.anatomies.map(\.name) + SynthMedVocabulary.allAnatomies
        case .disease:
            question = ["What is the most likely diagnosis?", "Which finding is present?"][phrase]
            answer = finding.name
            why = finding.why
            pool = spec.findings.map(\.name) + SynthMedVocabulary.allFindings
        case .grading:
            question = ["How severe is the lesion?", "What is the grade of the lesion?"][phrase]
            answer = SynthMedVocabulary.grades[scene.grade - 1]
            let amount = finding.gradedByCount ? SynthMedVocabulary.amountWords : SynthMedVocabulary.sizeWords
            why = finding.name == "glaucoma" ? "\(SynthMedVocabulary.sizeWords[scene.grade - 1]) pale cup"
                : "\(amount[scene.grade - 1]) \(finding.noun)"
            pool = SynthMedVocabulary.grades + [SynthMedVocabulary.gradeDistractor]
        case .attribute:
            switch spec.attribute {
            case .quadrant:
                question = ["Where is the lesion in the image?", "In which part of the image is the lesion?"][phrase]
                answer = SynthMedVocabulary.quadrants[scene.quadrant]
                why = "\(finding.noun) at \(answer)"
                pool = SynthMedVocabulary.quadrants
            case .colour:
                question = ["What colour is the lesion?", "What is the colour of the lesion?"][phrase]
                answer = SynthMedVocabulary.colours[scene.colour]
                why = "the \(finding.noun) looks \(answer)"
                pool = SynthMedVocabulary.colours
            case .eye:
                question = ["Which eye is shown?", "Is this the left or right eye?"][phrase]
                answer = SynthMedVocabulary.eyes[scene.rightEye ? 1 : 0]
                why = "optic disc on the \(scene.rightEye ? "right" : "left") side"
                pool = SynthMedVocabulary.eyes
            case .count(let noun, let q, _):
                question = q
                answer = SynthMedVocabulary.counts[scene.count - 1]
                let elements = modality == .oct ? finding.noun : noun
                why = "\(SynthMedVocabulary.countWords[scene.count - 1]) \(elements)"
                pool = SynthMedVocabulary.counts
            }
        }
        // options: the answer plus distinct distractors (own modality's first, then others), shuffled
        var distractors: [String] = []
        for p in pool where p != answer && !distractors.contains(p) { distractors.append(p) }
        let ownCount = type == .anatomy ? spec.anatomies.count - 1 : type == .disease ? spec.findings.count - 1 : 0
        var own = Array(distractors.prefix(ownCount)), rest = Array(distractors.dropFirst(ownCount))
        rng.shuffle(&own)
        rng.shuffle(&rest)
        var options = [answer] + Array((own + rest).prefix(config.options - 1))
        rng.shuffle(&options)
        return SynthMedItem(scene: scene, questionType: type, question: question, options: options,
                            answerIndex: options.firstIndex(of: answer)!, reasoning: "\(why) so \(answer)")
    }
}
