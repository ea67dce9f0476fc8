import XCTest
@testable import MedR1Lib

final class PromptTests: XCTestCase {
    static let sample = Sample(imagePath: "/x.png", question: "What imaging modality is shown?",
                               options: ["MRI", "Ultrasound", "CT"], answerIndex: 1,
                               modality: .ultrasound, questionType: .modality, dataset: "T", id: "1",
                               reasoning: "fan-shaped speckle so ultrasound")

    func testTinyPrompt() {
        XCTAssertEqual(PromptTemplate.default, .tiny)
        XCTAssertEqual(PromptTemplate.tiny.prompt(for: PromptTests.sample),
                       "What imaging modality is shown?\nMRI, Ultrasound, CT\n")
        XCTAssertEqual(PromptTemplate.tiny.prompt(for: PromptTests.sample, answerStyle: .letter),
                       "What imaging modality is shown?\nA) MRI\nB) Ultrasound\nC) CT\n")
    }

    func testThinkingPromptIsMedR1Verbatim() {
        XCTAssertEqual(PromptTemplate.thinking.prompt(for: PromptTests.sample), """
        What imaging modality is shown?
        A) MRI
        B) Ultrasound
        C) CT
        Your task:
        1. Think through the question step by step, enclose your reasoning process in <think>...</think> tags.
        2. Then provide the correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags.
        3. No extra information or text outside of these tags.
        """)
        XCTAssertEqual(PromptTemplate.noThinking.prompt(for: PromptTests.sample), """
        What imaging modality is shown?
        A) MRI
        B) Ultrasound
        C) CT
        Your task:
        1. Provide the correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags.
        2. No extra information or text outside of these tags.
        """)
        XCTAssertEqual(PromptTemplate.thinkAfter.prompt(for: PromptTests.sample), """
        What imaging modality is shown?
        A) MRI
        B) Ultrasound
        C) CT
        Your task:
        1. Provide the correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags.
        2. Then explain your reasoning step by step, enclosed in <think>...</think> tags.
        3. No extra information or text outside of these tags.
        """)
    }

    func testTargets() {
        let s = PromptTests.sample
        XCTAssertEqual(PromptTemplate.tiny.target(for: s),
                       "<think>fan-shaped speckle so ultrasound</think><answer>Ultrasound</answer>")
        XCTAssertEqual(PromptTemplate.thinking.target(for: s, answerStyle: .letter),
                       "<think>fan-shaped speckle so ultrasound</think><answer>B</answer>")
        XCTAssertEqual(PromptTemplate.noThinking.target(for: s, answerStyle: .letter), "<answer>B</answer>")
        XCTAssertEqual(PromptTemplate.thinkAfter.target(for: s),
                       "<answer>Ultrasound</answer><think>fan-shaped speckle so ultrasound</think>")
        var bare = s
        bare.reasoning = nil
        XCTAssertEqual(PromptTemplate.tiny.target(for: bare), "<think></think><answer>Ultrasound</answer>")
    }

    func testTokensFraming() {
        let s = PromptTests.sample
        let tok = Tokenizer.train(corpus: Dataset(name: "T", root: URL(fileURLWithPath: "/"), samples: [s]).corpus(),
                                  vocabSize: 300)
        let (p, t) = PromptTemplate.tiny.tokens(for: s, tokenizer: tok)
        XCTAssertEqual(p.first, tok.bos)
        XCTAssertEqual(tok.decode(Array(p.dropFirst())), PromptTemplate.tiny.prompt(for: s))
        XCTAssertEqual(t.first, tok.think)
        XCTAssertEqual(t.last, tok.eos)
        XCTAssertEqual(t.dropLast().last, tok.answerEnd)
        XCTAssertEqual(tok.decode(t), PromptTemplate.tiny.target(for: s) + "<|eos|>")
        // The tiny prompt stays short: a few dozen tokens at most.
        XCTAssertLessThan(p.count, 40)
        let (pl, tl) = PromptTemplate.tiny.tokens(for: s, tokenizer: tok, answerStyle: .letter)
        XCTAssertEqual(tok.decode(pl), "<|bos|>" + PromptTemplate.tiny.prompt(for: s, answerStyle: .letter))
        XCTAssertEqual(tok.decode(tl), "<think>fan-shaped speckle so ultrasound</think><answer>B</answer><|eos|>")
    }
}
