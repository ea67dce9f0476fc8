// Prompt and target text for a Sample (docs/model.md, "Prompt and target").
//
// Three prompt templates:
//   .tiny        (default) the question and the options, nothing else: a tiny model
//                learns the format from the targets, and every prompt token costs
//                compute in every GRPO step (docs/training.md).
//                With text answers the options are one comma-separated line
//                ("question\nCT, MRI, OCT\n", letters would be dead tokens: about
//                15 tokens on SynthMed); with letter answers they are lettered
//                lines "A) CT" as in Med-R1 (about 30 tokens).
//   .thinking    Med-R1's template, verbatim from its code (the Python
//                QUESTION_TEMPLATE, without the source indentation): the question
//                with options "A) ..." one per line, then the three-line task.
//   .noThinking  the same without the reasoning step (Med-R1's no-think ablation).
//   .thinkAfter  the same asking for the answer first and the reasoning after it
//                (the think-after ablation): `<answer>{answer}</answer><think>{reasoning}</think>`.
// Targets: `<think>{reasoning}</think><answer>{answer}</answer>`, answering with the
// option TEXT by default (docs/training.md: a tiny model cannot learn the
// letter mapping of shuffled options) or the letter (Med-R1's own form).
// Targets carry no `<|eos|>`: `tokens(for:tokenizer:answerStyle:)` frames sequences.

/// How the `<answer>` of a target names the right option.
public enum AnswerStyle: String, CaseIterable, Codable, Sendable {
    /// The option's text, e.g. `<answer>Ultrasound</answer>` (default for tiny models).
    case text
    /// The option's letter, e.g. `<answer>C</answer>` (Med-R1's form).
    case letter
}

public enum PromptTemplate: String, CaseIterable, Codable, Sendable {
    case tiny
    case thinking
    case noThinking
    case thinkAfter

    /// The default template (short prompts for medr1-tiny).
    public static let `default` = PromptTemplate.tiny

    /// Med-R1's task text after the question (thinking variant), verbatim.
    public static let medR1Task = """
        Your task:
        1. Think through the question step by step, enclose your reasoning process in <think>...</think> tags.
        2. Then provide the correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags.
        3. No extra information or text outside of these tags.
        """

    /// The no-thinking variant: Med-R1's task text without the reasoning step.
    public static let medR1NoThinkingTask = """
        Your task:
        1. Provide the correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags.
        2. No extra information or text outside of these tags.
        """

    /// The think-after variant: Med-R1's task text with the answer first and the reasoning after it.
    public static let medR1ThinkAfterTask = """
        Your task:
        1. Provide the correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags.
        2. Then explain your reasoning step by step, enclosed in <think>...</think> tags.
        3. No extra information or text outside of these tags.
        """

    /// The question followed by its options, one per line, as Med-R1 builds its
    /// `problem` field: "question\nA) first\nB) second".
    public static func questionWithOptions(_ s: Sample) -> String {
        var out = s.question
        for (i, o) in s.options.enumerated() {
            out += "\n" + optionLetter(i) + ") " + o
        }
        return out
    }

    /// "A", "B", ... for option index i.
    public static func optionLetter(_ i: Int) -> String {
        String(UnicodeScalar(UInt8(65 + i)))
    }

    /// The prompt text shown to the model for `s`. Only `.tiny` depends on
    /// `answerStyle` (lettered options only when the answer is a letter); Med-R1's
    /// templates always letter the options.
    public func prompt(for s: Sample, answerStyle: AnswerStyle = .text) -> String {
        switch self {
        case .tiny:
            if answerStyle == .text {
                return s.question + "\n" + s.options.joined(separator: ", ") + "\n"
            }
            return PromptTemplate.questionWithOptions(s) + "\n"
        case .thinking:
            return PromptTemplate.questionWithOptions(s) + "\n" + PromptTemplate.medR1Task
        case .noThinking:
            return PromptTemplate.questionWithOptions(s) + "\n" + PromptTemplate.medR1NoThinkingTask
        case .thinkAfter:
            return PromptTemplate.questionWithOptions(s) + "\n" + PromptTemplate.medR1ThinkAfterTask
        }
    }

    /// The answer named as `style` asks.
    public static func answer(for s: Sample, style: AnswerStyle) -> String {
        style == .text ? s.answerText : s.answerLetter
    }

    /// The supervised target for `s`: `<think>reasoning</think><answer>X</answer>`
    /// (`<think></think>` when the sample has no reasoning), `<answer>X</answer>` alone for
    /// `.noThinking`, `<answer>X</answer><think>reasoning</think>` for `.thinkAfter`.
    public func target(for s: Sample, answerStyle: AnswerStyle = .text) -> String {
        let answer = "<answer>" + PromptTemplate.answer(for: s, style: answerStyle) + "</answer>"
        let think = "<think>" + (s.reasoning ?? "") + "</think>"
        switch self {
        case .noThinking: return answer
        case .thinkAfter: return answer + think
        case .tiny, .thinking: return think + answer
        }
    }

    /// The built-in format reward that matches this template's targets.
    public var formatReward: Reward {
        switch self {
        case .noThinking: return .formatNoThink
        case .thinkAfter: return .formatThinkAfter
        case .tiny, .thinking: return .format
        }
    }

    /// Token ids of one training example: `prompt` = [<|bos|>] + encode(prompt text),
    /// `target` = encode(target text) + [<|eos|>]. The model sees prompt + target and
    /// learns (SFT) or is scored (GRPO) on the target part, from `prompt.count` on.
    public func tokens(for s: Sample, tokenizer: Tokenizer,
                       answerStyle: AnswerStyle = .text) -> (prompt: [Int], target: [Int]) {
        let p = [tokenizer.bos] + tokenizer.encode(prompt(for: s, answerStyle: answerStyle))
        let t = tokenizer.encode(target(for: s, answerStyle: answerStyle)) + [tokenizer.eos]
        return (p, t)
    }
}
