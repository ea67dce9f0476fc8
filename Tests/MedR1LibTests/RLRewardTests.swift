import XCTest
@testable import MedR1Lib

/// Built-in rewards on tricky strings, checked against hand-decided values and (for the
/// format regexes) against Swift's own Regex engine running Med-R1's pattern.
final class RLRewardTests: XCTestCase {
    static let sample = Sample(imagePath: "img.png", question: "Which modality?",
                               options: ["CT", "MRI", "Ultrasound", "Grade 2 lesion"], answerIndex: 2,
                               modality: .ultrasound, questionType: .modality, dataset: "SynthMed", id: "s1")

    func c(_ text: String, answerIndex: Int = 2) -> Completion {
        var s = Self.sample
        s.answerIndex = answerIndex
        return Completion(text: text, sample: s)
    }

    /// (text, format, format_nothink, format_strict)
    let formatCases: [(String, Double, Double, Double)] = [
        ("<think>x</think><answer>A</answer>", 1, 0, 1),
        ("<think>x</think> \n\t <answer>A</answer>", 1, 0, 1),
        ("<think>a\nb</think>\n<answer>line1\nline2</answer>", 1, 0, 1),
        (" <think>x</think><answer>A</answer>", 0, 0, 0),           // leading space: fullmatch fails
        ("<think>x</think><answer>A</answer>\n", 0, 0, 0),          // trailing newline
        ("<think>x</think> <answer>A </think><answer>A</answer>", 1, 0, 0), // nested: Med-R1 accepts
        ("<think>x</think><answer>A</answer><answer>B</answer>", 1, 0, 0),
        ("<answer>A</answer>", 0, 1, 0),
        ("  \n<answer>A</answer>", 0, 1, 0),
        ("<think>x</think>", 0, 0, 0),
        ("<think>x</think>text<answer>A</answer>", 0, 0, 0),
        ("<think></think><answer></answer>", 1, 0, 0),             // strict wants a non-blank answer
        ("<think>x<answer>A</answer>", 0, 0, 0),
        ("<think>x</think><answer>A", 0, 0, 0),
        ("<THINK>x</THINK><ANSWER>A</ANSWER>", 0, 0, 0),
        ("", 0, 0, 0),
        ("<think><think></think></think><answer>A</answer>", 1, 0, 0),
        ("<think>x</think>\u{00A0}<answer>é</answer>", 1, 0, 1),  // Unicode whitespace, like Python's \s
    ]

    /// (text, format_think_after)
    let thinkAfterCases: [(String, Double)] = [
        ("<answer>A</answer><think>x</think>", 1),
        ("<answer>A</answer> \n <think>a\nb</think>", 1),
        ("<answer>A</answer>\u{00A0}<think>x</think>", 1),     // Unicode whitespace, like Python's \s
        ("<answer>A </answer><think>x</answer> <think>y</think>", 1), // nested, as the lazy regex allows
        ("<answer></answer><think></think>", 1),
        ("<think>x</think><answer>A</answer>", 0),              // think first: the other template
        ("<answer>A</answer>", 0),
        (" <answer>A</answer><think>x</think>", 0),
        ("<answer>A</answer><think>x</think>\n", 0),
        ("<answer>A</answer>so<think>x</think>", 0),
        ("<answer>A</think>", 0),
    ]

    func testThinkAfterFormatAndTargets() throws {
        for (text, f) in thinkAfterCases {
            XCTAssertEqual(try Reward.formatThinkAfter.function(c(text)), f, "format_think_after of \(text.debugDescription)")
        }
        XCTAssertEqual(Reward.builtin("format_think_after")?.name, "format_think_after")
        XCTAssertEqual(c("<answer>C</answer><think>fan-shaped speckle</think>").answer, "C")
        XCTAssertEqual(try Reward.accuracy.function(c("<answer>C</answer><think>fan-shaped speckle</think>")), 1)
        // every template's own target scores 1 on the format reward it pairs with, 0 on the others'
        var s = Self.sample
        s.answerIndex = 2
        s.reasoning = "fan-shaped speckle so ultrasound"
        for t in PromptTemplate.allCases {
            for style in AnswerStyle.allCases {
                let target = Completion(text: t.target(for: s, answerStyle: style), sample: s)
                for other in [Reward.format, .formatNoThink, .formatThinkAfter] {
                    XCTAssertEqual(try other.function(target), other.name == t.formatReward.name ? 1 : 0, "\(t) \(style) \(other.name)")
                }
                XCTAssertEqual(try Reward.accuracy.function(target), 1, "\(t) \(style)")
            }
        }
    }

    func testFormatRewards() throws {
        for (text, f, nt, st) in formatCases {
            XCTAssertEqual(try Reward.format.function(c(text)), f, "format of \(text.debugDescription)")
            XCTAssertEqual(try Reward.formatNoThink.function(c(text)), nt, "format_nothink of \(text.debugDescription)")
            XCTAssertEqual(try Reward.formatStrict.function(c(text)), st, "format_strict of \(text.debugDescription)")
        }
    }

    /// The hand-written matchers agree with Swift Regex running Med-R1's exact patterns, on the
    /// cases above and on 3000 strings glued from tag fragments.
    func testMatchersAgreeWithRegex() throws {
        let think = try Regex("<think>.*?</think>\\s*<answer>.*?</answer>").dotMatchesNewlines()
        let noThink = try Regex("\\s*<answer>.*?</answer>").dotMatchesNewlines()
        let after = try Regex("<answer>.*?</answer>\\s*<think>.*?</think>").dotMatchesNewlines()
        var texts = formatCases.map(\.0) + thinkAfterCases.map(\.0)
        let pieces = ["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "A", "x", "<", "think>", "</"]
        var state: UInt64 = 12345
        for _ in 0..<3000 {
            var t = ""
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let n = Int(state >> 60) + 2
            for _ in 0..<n {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                t += pieces[Int(state >> 33) % pieces.count]
            }
            texts.append(t)
            texts.append("<think>" + t + "</answer>")
            texts.append("<answer>" + t + "</think>")
        }
        var checked = 0
        for t in texts {
            XCTAssertEqual(RewardMatch.thinkAnswer(t), t.wholeMatch(of: think) != nil, "format on \(t.debugDescription)")
            XCTAssertEqual(RewardMatch.answerOnly(t), t.wholeMatch(of: noThink) != nil, "nothink on \(t.debugDescription)")
            XCTAssertEqual(RewardMatch.answerThink(t), t.wholeMatch(of: after) != nil, "think-after on \(t.debugDescription)")
            checked += 1
        }
        XCTAssertEqual(checked, formatCases.count + thinkAfterCases.count + 9000)
    }

    func testAccuracyReward() throws {
        // (text, expected) with the right option C = "Ultrasound"
        let cases: [(String, Double)] = [
            ("<think>x</think><answer>C</answer>", 1),
            ("<think>x</think><answer>c</answer>", 1),
            ("<think>x</think><answer> ultrasound </answer>", 1),
            ("<think>x</think><answer>ULTRASOUND.</answer>", 1),
            ("<think>x</think><answer>C. Ultrasound</answer>", 1),
            ("<think>x</think><answer>(C)</answer>", 1),
            ("<think>x</think><answer>C)</answer>", 1),
            ("<answer>C</answer>", 1),                                        // accuracy ignores the think part
            ("<think>x</think><answer>B. Ultrasound</answer>", 0),            // letter and text disagree
            ("<think>x</think><answer>B</answer>", 0),
            ("<think>x</think><answer>MRI</answer>", 0),
            ("<think>x</think><answer>ultra sound</answer>", 0),              // whitespace collapsed, not removed
            ("Ultrasound", 0),                                                // no answer tags
            ("<think>x</think><answer>C", 0),                                 // unclosed
            ("<think>x</think> <answer>C </think><answer>C</answer>", 0),     // first answer is "C </think><answer>C"
            ("<think>x</think><answer></answer>", 0),
            ("<think>x</think><answer>C</answer><answer>B</answer>", 1),      // the first answer counts
        ]
        for (text, want) in cases {
            XCTAssertEqual(try Reward.accuracy.function(c(text)), want, "accuracy of \(text.debugDescription)")
        }
        // Multi-word option text, whitespace runs and newlines inside.
        XCTAssertEqual(try Reward.accuracy.function(c("<answer>grade  2\nLESION</answer>", answerIndex: 3)), 1)
        XCTAssertEqual(try Reward.accuracy.function(c("<answer>D</answer>", answerIndex: 3)), 1)
        XCTAssertEqual(try Reward.accuracy.function(c("<answer>grade 2</answer>", answerIndex: 3)), 0)
    }

    func testCompletionParsing() {
        let x = c("<think> fan-shaped\nspeckle </think> <answer> Ultrasound </answer>")
        XCTAssertEqual(x.think, " fan-shaped\nspeckle ")
        XCTAssertEqual(x.answer, "Ultrasound")
        XCTAssertNil(c("<think>x").think)
        XCTAssertNil(c("<think>x</think>").answer)
        XCTAssertEqual(c("<answer>a</answer><answer>b</answer>").answer, "a")
    }

    func testWeightedSumKeepsEachReward() throws {
        let comps = [c("<think>x</think><answer>C</answer>"), c("<think>x</think><answer>B</answer>"),
                     c("<answer>Ultrasound</answer>")]
        let table = try RewardTable.evaluate([.format, Reward.accuracy.weighted(2)], on: comps)
        XCTAssertEqual(table.names, ["format", "accuracy"])
        XCTAssertEqual(table.values, [[1, 1, 0], [1, 0, 1]])
        XCTAssertEqual(table.totals, [3, 1, 2])
        let acc = try XCTUnwrap(table.stats("accuracy"))
        XCTAssertEqual(acc.mean, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(acc.std, (1.0 / 3.0).squareRoot(), accuracy: 1e-12)   // N-1: sum sq 2/3 over 2
        XCTAssertNil(table.stats("nope"))
    }

    struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }

    func testThrowingAndNaNRewardsNameTheCompletion() {
        var comps = [c("<answer>C</answer>"), c("<answer>bad</answer>")]
        comps[1].promptIndex = 3
        let throwing = Reward(name: "picky") { comp in
            if comp.answer == "bad" { throw Boom() }
            return 1
        }
        XCTAssertThrowsError(try RewardTable.evaluate([.format, throwing], on: comps)) { err in
            XCTAssertEqual(String(describing: err),
                "reward 'picky' failed on completion 1 (prompt 3, sample s1): threw boom; "
                + "completion text: \"<answer>bad</answer>\". The step was not applied; "
                + "fix the reward so it returns a number in [-1e6, 1e6] for every completion.")
        }
        let nan = Reward(name: "nanny") { _ in .nan }
        XCTAssertThrowsError(try RewardTable.evaluate([nan], on: comps)) { err in
            let e = err as? RewardError
            XCTAssertEqual(e?.completionIndex, 0)
            XCTAssertEqual(e?.reason, "returned nan")
        }
        let inf = Reward(name: "big") { _ in .infinity }
        XCTAssertThrowsError(try RewardTable.evaluate([inf], on: comps)) { err in
            XCTAssertEqual((err as? RewardError)?.reason, "returned inf")
        }
    }

    func testBuiltinLookup() {
        XCTAssertEqual(Reward.builtin("format")?.name, "format")
        XCTAssertEqual(Reward.builtin("format_strict")?.name, "format_strict")
        XCTAssertEqual(Reward.builtin("accuracy")?.name, "accuracy")
        XCTAssertNil(Reward.builtin("accuracyy"))
    }
}
