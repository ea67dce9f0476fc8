// `medr1-bench learn-check`: SFT warm-up then GRPO on SynthMed, printing reward and
// test accuracy before and after (does training really learn? see docs/training.md). Run it through
// scripts/learn-check (release build, OpenBLAS core type set).
import Foundation
import MedR1Lib

let learnCheckUsage = """
    usage: medr1-bench learn-check [--threads 2] [--samples N] [--sft N] [--grpo N] [--test N] [--seed S]
                                   [--group G] [--prompts P] [--grpo-lr X] [--beta X] [--max-tokens N]
                                   [--log-every N] [--data DIR] [--save-sft DIR] [--load-sft DIR]
    """

/// Parses the arguments after `learn-check`, runs the check, returns the exit code.
func runLearnCheck(_ arguments: [String]) -> Int32 {
    var cfg = LearnCheckConfig()
    var threads = 2
    var args = ArraySlice(arguments)
    func fail(_ s: String) -> Int32 {
        writeError("medr1-bench learn-check: \(s)\n\(learnCheckUsage)")
        return 2
    }
    while let a = args.popFirst() {
        if a == "-h" || a == "--help" { writeLine(learnCheckUsage); return 0 }
        guard let v = args.popFirst() else { return fail("\(a) needs a value") }
        func int() -> Int? { Int(v) }
        func dbl() -> Double? { Double(v) }
        switch a {
        case "--threads": guard let n = int() else { return fail("--threads \(v): not an integer") }; threads = n
        case "--samples": guard let n = int() else { return fail("--samples \(v): not an integer") }; cfg.samples = n
        case "--sft": guard let n = int() else { return fail("--sft \(v): not an integer") }; cfg.sftSteps = n
        case "--grpo": guard let n = int() else { return fail("--grpo \(v): not an integer") }; cfg.grpoSteps = n
        case "--test": guard let n = int() else { return fail("--test \(v): not an integer") }; cfg.testQuestions = n
        case "--seed": guard let n = UInt64(v) else { return fail("--seed \(v): not an integer") }; cfg.seed = n
        case "--group": guard let n = int() else { return fail("--group \(v): not an integer") }; cfg.grpo.group = n
        case "--prompts": guard let n = int() else { return fail("--prompts \(v): not an integer") }; cfg.grpo.promptsPerStep = n
        case "--max-tokens": guard let n = int() else { return fail("--max-tokens \(v): not an integer") }; cfg.grpo.maxTokens = n
        case "--log-every": guard let n = int() else { return fail("--log-every \(v): not an integer") }; cfg.logEvery = max(1, n)
        case "--grpo-lr": guard let x = dbl() else { return fail("--grpo-lr \(v): not a number") }; cfg.grpo.learningRate = x
        case "--beta": guard let x = dbl() else { return fail("--beta \(v): not a number") }; cfg.grpo.beta = x
        case "--data": cfg.dataRoot = v
        case "--save-sft": cfg.saveSFT = v
        case "--load-sft": cfg.loadSFT = v
        default: return fail("unknown option \(a)")
        }
    }
    Parallelism.setThreads(threads)
    do {
        _ = try LearnCheck.run(cfg) { line in writeLine(line) }
        return 0
    } catch {
        writeError("medr1-bench learn-check: \(error)")
        return 1
    }
}
