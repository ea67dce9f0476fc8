import XCTest
import Foundation
import MedR1Lib
import Lang
@testable import Runtime

/// The trainer-side bindings end to end through the language, on a tiny model
/// (d_model 16, one layer each) and 16 SynthMed images of 16 px.
final class TrainingBindingTests: XCTestCase {
    static let setup = """
    let data = synth(n: 16, seed: 3, size: 16, to: "d")
    let tok = data.tokenizer(vocab: 300)
    let m = model(tokenizer: tok, seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
    """

    func session(metrics: Bool = false) throws -> (Session, CollectingSink) {
        let sink = CollectingSink()
        let dir = try TestSupportDir.make()
        let s = Session(options: SessionOptions(seed: 5, metricsPath: metrics ? dir.appendingPathComponent("run.jsonl").path : nil,
                                                sink: sink, baseDirectory: dir))
        // Test hook: what the SIGINT handler does, n times.
        s.interpreter.builtins.define("test_interrupt", .function(Builtin("test_interrupt") { a, _ in
            for _ in 0..<Int(a.positional[0].asNumber ?? 1) { Interrupt.request() }
            return .null
        }))
        // The same through a real signal and the SIGINT handler the REPL installs.
        s.interpreter.builtins.define("test_sigint", .function(Builtin("test_sigint") { a, _ in
            for _ in 0..<Int(a.positional[0].asNumber ?? 1) { raise(SIGINT) }
            return .null
        }))
        XCTAssertEqual(s.run(source: Self.setup, file: "setup.medr1"), .ok, sink.text)
        return (s, sink)
    }

    @discardableResult
    func run(_ s: Session, _ sink: CollectingSink, _ src: String, expect: RunOutcome = .ok) -> String {
        sink.clear()
        let outcome = s.run(source: src, file: "t.medr1")
        XCTAssertEqual(outcome, expect, sink.text)
        return sink.text
    }

    func trainer(_ s: Session, _ name: String = "t") -> TrainerObject {
        guard case .host(let t as TrainerObject)? = s.interpreter.globals.lookup(name) else {
            XCTFail("\(name) is not a trainer"); fatalError()
        }
        return t
    }

    func testSamplerAndSampleShowGroupsWithLogProbs() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let sp = sampler(temperature: 0.8, top_k: 20, max_tokens: 6, seed: 9)
        print(sp)
        let g = sample(m, data[0], sp, group: 3)
        print(len(g), len(g.texts), g[0].finish_reason == "length" or g[0].finish_reason == "eos", len(g[0].logprobs) == g[0].length)
        show g
        let a = sample(m, data[0], group: 2, max_tokens: 5, seed: 4)
        let b = sample(m, data[0], group: 2, max_tokens: 5, seed: 4)
        print(a.texts == b.texts, a.logprobs == b.logprobs)
        let r = sample(m, data.take(3), group: 2, max_tokens: 4, seed: 1)
        print(len(r.groups), r.prompts, r.group)
        """)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "sampler: temperature 0.8, top_k 20, top_p 1, max_tokens 6, seed 9")
        XCTAssertEqual(lines[1], "3 3 true true")
        XCTAssertTrue(lines[2].hasPrefix("group 0: "), out)
        XCTAssertTrue(out.contains("#  format  accuracy  reward  advantage  len  finish"), out)
        XCTAssertTrue(out.contains("logp  text"), out)
        XCTAssertTrue(out.contains("true true\n3 3 2"), out)
        // Bad options name the valid ones.
        run(s, sink, "sampler(temp: 1)", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("sampler has no option 'temp'; options: temperature, top_k, top_p, min_p, repetition_penalty, greedy, max_tokens, stop, max_completion_length, seed"), sink.text)
    }

    /// Without rewards:, grpo and sample score with the template's format reward and accuracy.
    func testDefaultRewardsFollowTheTemplate() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let t = grpo(m, data, group: 2, prompts: 2, template: "thinkAfter")
        print(t.config.rewards)
        print(grpo(m, data, group: 2, prompts: 2, template: "noThinking").config.rewards)
        print(grpo(m, data, group: 2, prompts: 2).config.rewards)
        let g = sample(m, data[0], group: 2, max_tokens: 4, template: "thinkAfter")
        print(g[0].rewards)
        """)
        XCTAssertEqual(out, """
        ["format_think_after", "accuracy"]
        ["format_nothink", "accuracy"]
        ["format", "accuracy"]
        {format_think_after: 0, accuracy: 0}
        """)
        run(s, sink, "grpo(m, data, weights: [1], template: \"thinkAfter\")", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("weights has 1 entries for the 2 default rewards (format_think_after, accuracy)"), sink.text)
    }

    func testUnknownTrainerOptionListsTheValidOnes() throws {
        let (s, sink) = try session()
        run(s, sink, "let t = grpo(m, data, bogus: 1)", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("grpo has no option 'bogus'; options: rewards, weights, reward_weights, group, prompts, beta, lr, eps_low, eps_high, delta, loss, "
                                         + "scale_rewards, importance_sampling_level, top_entropy_quantile, sapo_temperature_pos, sapo_temperature_neg, "
                                         + "num_iterations, mask_truncated, steps_per_generation, gradient_accumulation_steps, sync_ref_model, ref_model_mixup_alpha, "
                                         + "ref_model_sync_steps, max_tokens, temperature"), sink.text)
        run(s, sink, "let t = grpo(m, data, loss: \"ppo\")", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("unknown loss \"ppo\"; use one of \"grpo\", \"bnpo\", \"dr_grpo\", \"dapo\", \"cispo\", \"sapo\""), sink.text)
        run(s, sink, "let t = grpo(m, data, group: 1)", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("t.medr1:1:9: error: grpo: group must be a whole number in [2, 1024], got 1"), sink.text)
        run(s, sink, "let t = sft(m, data, schedule: \"cosine\")", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("schedule \"cosine\" needs steps:"), sink.text)
    }

    /// A reward written in the language gives rewards 1, 2, ..., 8 over two groups of four,
    /// so each group's advantages are (r - 2.5) / (sqrt(5/3) + 1e-4), computed here by hand.
    func testLanguageRewardSetsAdvantagesAsComputedByHand() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let k = 0
        fn counter(c) {
            k += 1
            return k
        }
        let t = grpo(m, data, rewards: [counter], group: 4, prompts: 2, max_tokens: 6, lr: 1e-3, seed: 2)
        step t
        print(t.last.rewards.total)
        print(t.step, len(t.history), t.metrics.reward)
        """)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("grpo step 1  reward 4.500 (counter 4.50)  zero-std 0.00"), out)
        XCTAssertEqual(lines[1], "[1, 2, 3, 4, 5, 6, 7, 8]")
        XCTAssertEqual(lines[2], "1 1 4.5")
        let sd = (5.0 / 3.0).squareRoot()
        let byHand = [1.0, 2, 3, 4].map { ($0 - 2.5) / (sd + 1e-4) }
        let t = trainer(s)
        guard let g = t.grpo else { return XCTFail() }
        XCTAssertEqual(g.last!.advantages, byHand + byHand)
        XCTAssertEqual(g.history.last!["rewards/counter/mean"], 4.5)

        // rescore: the same completions under another reward, no sampling.
        let rescored = run(s, sink, """
        let j = 0
        fn first_only(c) {
            j += 1
            return if j % 4 == 1 then 1 else 0
        }
        rescore t.last with: [first_only]
        j = 0
        let r2 = rescore(t.last, with: [first_only])
        print(r2.advantages)
        print(r2.before.reward, r2.reward)
        """)
        // Group [1, 0, 0, 0]: mean 0.25, sample std 0.5.
        let a1 = 0.75 / (0.5 + 1e-4), a0 = -0.25 / (0.5 + 1e-4)
        XCTAssertTrue(rescored.hasPrefix("rescored 2 groups x G 4 with [first_only] (weights 1)\nreward 4.500 -> 0.250; "
                                         + "zero-std groups 0/2 -> 0/2; advantages changed in 2 groups"), rescored)
        let advLine = rescored.split(separator: "\n").map(String.init).first { $0.hasPrefix("[") }
        XCTAssertEqual(advLine, Value.list(([a1, a0, a0, a0] + [a1, a0, a0, a0]).map(Value.number)).repr)
        XCTAssertTrue(rescored.hasSuffix("4.5 0.25"), rescored)
        // With weights and scale_rewards off: advantages are r - mean.
        let w = run(s, sink, """
        j = 0
        let r3 = rescore(t.last, with: [first_only, format()], weights: [2, 0], scale_rewards: false)
        print(r3.advantages[0], r3.advantages[1])
        """)
        XCTAssertTrue(w.hasSuffix("1.5 -0.5"), w)
    }

    /// The loop closes: rescore the last rollout, train one step on it, then change the
    /// trainer's rewards and weights in place; a save records them and resume takes them.
    func testRescoreThenTrainAndSetRewards() throws {
        let (s, sink) = try session()
        run(s, sink, """
        let k = 0
        fn counter(c) {
            k += 1
            return k
        }
        let j = 0
        fn first_only(c) {
            j += 1
            return if j % 4 == 1 then 1 else 0
        }
        let t = grpo(m, data, rewards: [counter], group: 4, prompts: 2, max_tokens: 6, lr: 1e-3, seed: 2, beta: 0)
        step t
        """)
        let g = try XCTUnwrap(trainer(s).grpo)
        let ref = g.reference, refValues = g.reference.flatValues
        let shown = run(s, sink, "let r = rescore(t.last, with: [first_only])\nshow r")
        // Before: counter 1..4 in each group, (r - 2.5) / (sqrt(5/3) + 1e-4); after: [1, 0, 0, 0],
        // (r - 0.25) / (0.5 + 1e-4).
        XCTAssertTrue(shown.contains("advantages before"), shown)
        XCTAssertTrue(shown.contains("-1.16 -0.39 +0.39 +1.16  +1.50 -0.50 -0.50 -0.50"), shown)
        let out = run(s, sink, "step t, with: r\nprint(t.step, t.metrics.reward, t.last.advantages == r.advantages, t.config.rewards)")
        XCTAssertEqual(out.split(separator: "\n").last.map(String.init), "2 0.25 true [\"counter\"]", out)
        XCTAssertTrue(out.hasPrefix("grpo step 2  reward 0.250 (first_only 0.25)"), out)
        let a1 = 0.75 / (0.5 + 1e-4), a0 = -0.25 / (0.5 + 1e-4)
        XCTAssertEqual(g.last?.advantages, [a1, a0, a0, a0, a1, a0, a0, a0])

        let set = run(s, sink, """
        t.set(rewards: [format(), first_only], weights: [1, 0.5], lr: 2e-3)
        print(t.config.rewards, t.config.weights, t.config.lr)
        t.set(weights: [2, 1])
        print(t.config.weights)
        step t, quiet: true
        print(t.last.rewards.total[1] == t.last.rewards.format[1] * 2 + t.last.rewards.first_only[1], t.step)
        save t, "runs/set"
        j = 0
        let t2 = resume("runs/set", data, rewards: [format(), first_only], weights: [2, 1])
        print(t2.step, t2.config.weights)
        """)
        XCTAssertTrue(g.reference === ref, "t.set keeps the reference model")
        XCTAssertFalse(g.reference.flatValues != refValues, "beta 0 and no sync: the reference is as made")
        let lines = set.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(2)), ["[\"format\", \"first_only\"] [1, 0.5] 0.002", "[2, 1]"], set)
        XCTAssertTrue(lines.contains("true 3"), set)
        XCTAssertEqual(lines.last, "3 [2, 1]", set)
        run(s, sink, "t.set(weights: [1])", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("error: trainer.set: weights has 1 entries for the trainer's 2 rewards (format, first_only)"), sink.text)
        run(s, sink, "resume(\"runs/set\", data, rewards: [format(), first_only])", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("was trained with weights [2, 1], resume was given [1, 1]"), sink.text)
        run(s, sink, "step t, 2, with: r", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("step t, with: r trains one update on the rollout r; give no step count"), sink.text)
        run(s, sink, "step t, with: 3", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("with: must be a rollout (e.g. rescore t.last with: [...]), got number 3"), sink.text)
        run(s, sink, "let w = sft(m, data, batch: 2)\nstep w, with: r", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("with: trains a GRPO trainer on a rollout, not an sft trainer"), sink.text)
        XCTAssertEqual(run(s, sink, "print(t.step)"), "3", "failed calls change nothing")
    }

    func testGroupTableAndTrainerFields() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let t = grpo(m, data, group: 3, prompts: 2, max_tokens: 5, seed: 1, beta: 0.02, eps_high: 0.28, loss: "dr_grpo", warmup: 2)
        step t
        let g = t.last.groups[0]
        print(len(g), g.sample.id == t.last.groups[0].sample.id, len(t.last.groups))
        print(t.config.group, t.config.prompts, t.config.beta, t.config.eps_high, t.config.loss, t.config.schedule)
        print(t.step, has(t.metrics, "kl"), t.metrics.step, t.history[0].mode)
        show t.last.groups[1]
        t.set(lr: 3e-4, beta: 0.05)
        print(t.config.lr, t.config.beta)
        print(t)
        """)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[1], "3 true 2")
        XCTAssertEqual(lines[2], "3 2 0.02 0.28 dr_grpo warmup(2)")
        XCTAssertEqual(lines[3], "1 true 1 grpo")
        XCTAssertTrue(lines[4].hasPrefix("group 1: "), out)
        XCTAssertTrue(out.contains("#  format  accuracy  reward  advantage  len  finish    logp  text") || out.contains("#  format  accuracy  reward  advantage  len  finish"), out)
        XCTAssertTrue(out.contains("0.0003 0.05"), out)
        XCTAssertTrue(out.contains("grpo trainer on SynthMed (16 samples): step 1\n  2 prompts x G 3, lr 0.0003 (warmup(2)), beta 0.05, loss dr_grpo"), out)
        XCTAssertTrue(out.contains("  rewards: format + accuracy"), out)
    }

    /// SFT steps, the --metrics file (header then one line per step, numbers bit-exact),
    /// the compact printing policy, and plotting the history.
    func testStepsRecordMetricsExactlyAndPrintCompactly() throws {
        let (s, sink) = try session(metrics: true)
        let out = run(s, sink, """
        let w = sft(m, data, batch: 4, lr: 1e-3, seed: 1)
        step w, 12
        let t = grpo(m, data, group: 2, prompts: 2, max_tokens: 5, seed: 1)
        step t, 3
        plot t.history, ["reward", "rewards/accuracy", "kl"], to: "p/reward.png"
        plot w, to: "p/loss.png"
        """)
        let lines = out.split(separator: "\n").map(String.init)
        // 12 SFT steps print every 2nd step and a final summary; 3 GRPO steps print each.
        XCTAssertEqual(lines.filter { $0.hasPrefix("sft step ") }.map { $0.split(separator: " ")[2] }, ["2", "4", "6", "8", "10", "12"], out)
        XCTAssertTrue(lines.contains { $0.hasPrefix("sft: 12 steps in ") && $0.contains("t.step = 12; loss ") }, out)
        XCTAssertEqual(lines.filter { $0.hasPrefix("grpo step ") }.count, 3, out)
        let file = s.options.baseDirectory.appendingPathComponent("run.jsonl")
        let rec = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(rec.count, 1 + 12 + 3)
        XCTAssertTrue(rec[0].hasPrefix("{\"header\": \"medr1-metrics\""), rec[0])
        // The header names the first trainer and its run.
        XCTAssertTrue(rec[0].hasSuffix(", \"trainer\": \"sft\", \"run\": \"sft-1\"}"), rec[0])
        // Every number's text reads back (Swift's correctly rounded parser) as the very same Double.
        let all = trainer(s, "w").history.steps + trainer(s, "t").history.steps
        for (k, (line, m)) in zip(rec.dropFirst(), all).enumerated() {
            let pairs = line.dropFirst().dropLast().components(separatedBy: ", ").map { $0.components(separatedBy: ": ") }
            // Each line names its run: the SFT trainer is the session's first, GRPO its second.
            XCTAssertEqual(pairs[0], ["\"run\"", k < 12 ? "\"sft-1\"" : "\"grpo-2\""], line)
            XCTAssertEqual(pairs[1], ["\"step\"", String(m.step)])
            XCTAssertEqual(pairs.dropFirst(3).map { String($0[0].dropFirst().dropLast()) }, m.names, line)
            for (p, y) in zip(pairs.dropFirst(3), m.values) { XCTAssertEqual(Double(p[1])?.bitPattern, y.bitPattern, line) }
        }
        let png = try Data(contentsOf: s.options.baseDirectory.appendingPathComponent("p/reward.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.options.baseDirectory.appendingPathComponent("p/loss.png").path))
        XCTAssertEqual(JSONLiteral.number(-0.0), "-0.0")
        XCTAssertEqual(JSONLiteral.number(0.1 + 0.2), "0.30000000000000004")
        XCTAssertEqual(Bindings.autoEvery(1000), 100)
        XCTAssertEqual(Bindings.autoEvery(25), 5)
        XCTAssertEqual(Bindings.autoEvery(8), 1)
    }

    /// A GRPO trainer whose reward presses Ctrl-C once, during step 3.
    static let interruptDuringStep3 = """
        let fired = false
        fn hook(c) {
            if t.step == 2 and not fired {
                fired = true
                test_interrupt(1)
            }
            return 0
        }
        let t = grpo(m, data, rewards: [format(), hook], group: 2, prompts: 2, max_tokens: 5, seed: 1)

        """

    /// One Ctrl-C during step 3 of `step t, 5` (from a reward written in the language):
    /// step 3 completes, steps 4 and 5 do not run; counts, history and recording agree.
    func testOneInterruptStopsAfterTheCurrentStep() throws {
        let (s, sink) = try session(metrics: true)
        let out = run(s, sink, Self.interruptDuringStep3 + "step t, 5", expect: .runtimeError)
        XCTAssertTrue(out.contains("interrupted: stopped after step 3 (3 of 5 steps done); the trainer is consistent"), out)
        XCTAssertEqual(run(s, sink, "print(t.step, len(t.history), t.metrics.step)"), "3 3 3")
        let rec = try String(contentsOf: s.options.baseDirectory.appendingPathComponent("run.jsonl"), encoding: .utf8)
        XCTAssertEqual(rec.split(separator: "\n").count, 1 + 3)
    }

    /// `:save` keeps what an interrupted `step t, 5` did: the 3 steps that completed.
    func testSavedSessionReplaysTheStepsOfAnInterruptedStep() throws {
        let (s, sink) = try session()
        run(s, sink, Self.interruptDuringStep3)
        XCTAssertEqual(s.push("step(t, 5, quiet: true)"), .ran(ok: false))
        Interrupt.clear()
        XCTAssertEqual(s.successfulStatements.last, "step(t, 3, quiet: true)")
        let want = run(s, sink, "print(t.step, map(t.history, fn(h) => h.reward), map(t.history, fn(h) => h.loss))")
        // What :save writes, run in a fresh session, ends in the same state.
        let (r, rsink) = try session()
        // The hook stands for a person pressing Ctrl-C; nobody presses it during the replay.
        let saved = s.successfulStatements.dropFirst(3).joined(separator: "\n")
            .replacingOccurrences(of: "test_interrupt(1)", with: "0")
        XCTAssertEqual(r.run(source: saved, file: "saved.medr1"), .ok, rsink.text)
        Interrupt.clear()
        XCTAssertEqual(run(r, rsink, "print(t.step, map(t.history, fn(h) => h.reward), map(t.history, fn(h) => h.loss))"), want)
        XCTAssertTrue(want.hasPrefix("3 ["), want)
    }

    /// A loop or a function around `step` interrupted after it trained cannot be
    /// replayed to stop at the same point: `:save` keeps it as comment lines
    /// that say so, rather than dropping it without a word. A loop that took
    /// no trainer step is left out as before.
    func testInterruptedLoopAroundStepIsSavedAsAComment() throws {
        let (s, sink) = try session()
        run(s, sink, Self.interruptDuringStep3)
        XCTAssertEqual(s.push("for i in 0..<3 {\n    step(t, 2, quiet: true)\n}"), .ran(ok: false))
        Interrupt.clear()
        XCTAssertEqual(s.successfulStatements.last, """
            # left out by :save: interrupted after 3 trainer steps; a replay has fewer steps
            # for i in 0..<3 {
            #     step(t, 2, quiet: true)
            # }
            """)
        XCTAssertEqual(run(s, sink, "print(t.step)"), "3")
        XCTAssertEqual(s.push("fn more() { step(t, 2, quiet: true)\n test_interrupt(1)\n step(t, 2, quiet: true) }"), .ran(ok: true))
        XCTAssertEqual(s.push("more()"), .ran(ok: false))
        Interrupt.clear()
        XCTAssertEqual(s.successfulStatements.last, Session.leftOutMarker + "2 trainer steps; a replay has fewer steps\n# more()")
        let count = s.successfulStatements.count
        XCTAssertEqual(s.push("let n = 0\nwhile true { n += 1\n if n == 5 { test_interrupt(1) } }"), .ran(ok: false))
        Interrupt.clear()
        XCTAssertEqual(s.successfulStatements.count, count + 1, "only the let is saved")
        // The saved text parses: the comment lines are comments.
        let (_, diags) = Parser.parseScript(source: s.successfulStatements.joined(separator: "\n"), file: "saved.medr1")
        XCTAssertEqual(diags.count, 0, "\(diags)")
    }

    /// Two Ctrl-Cs during step 3: the step is dropped, the parameters are bit-identical to
    /// before it, and the next step equals step 3 of an uninterrupted run.
    func testSecondInterruptAbortsTheStepLeavingTheModelAsBefore() throws {
        let script = """
        let arm = false
        fn hook(c) {
            if arm {
                arm = false
                test_interrupt(2)
            }
            return 0
        }
        let t = grpo(m, data, rewards: [accuracy(), hook], group: 2, prompts: 2, max_tokens: 5, seed: 1, lr: 1e-2)
        step t, 2
        """
        let (s, sink) = try session(metrics: true)
        run(s, sink, script)
        let t = trainer(s)
        guard let g = t.grpo else { return XCTFail() }
        let before = g.model.flatValues, mBefore = g.optimizer.m, vBefore = g.optimizer.v
        let out = run(s, sink, "arm = true\nstep t, 3", expect: .runtimeError)
        XCTAssertTrue(out.contains("interrupted: aborted step 3: the model, optimiser and sampler are as before it; 0 of 3 steps done, t.step = 2"), out)
        XCTAssertEqual(g.model.flatValues, before)
        XCTAssertEqual(g.optimizer.m, mBefore)
        XCTAssertEqual(g.optimizer.v, vBefore)
        XCTAssertEqual(run(s, sink, "print(t.step, len(t.history))"), "2 2")
        run(s, sink, "step t")
        let rec = try String(contentsOf: s.options.baseDirectory.appendingPathComponent("run.jsonl"), encoding: .utf8)
        XCTAssertEqual(rec.split(separator: "\n").count, 1 + 3)

        let (u, usink) = try session()
        run(u, usink, script + "\nstep t")
        XCTAssertEqual(trainer(u).history.steps.map(\.withoutTiming), g.history.steps.map(\.withoutTiming))
        guard let ug = trainer(u).grpo else { return XCTFail() }
        XCTAssertEqual(ug.model.flatValues, g.model.flatValues)
    }

    /// A real SIGINT (handled by Interrupt.installHandler) during step 2 of `step t, 4`.
    func testRealSIGINTStopsAfterTheCurrentStep() throws {
        let (s, sink) = try session()
        Interrupt.installHandler()
        defer { signal(SIGINT, SIG_DFL) }
        let out = run(s, sink, """
        let fired = false
        fn hook(c) {
            if t.step == 1 and not fired {
                fired = true
                test_sigint(1)
            }
            return 0
        }
        let t = grpo(m, data, rewards: [hook], group: 2, prompts: 1, max_tokens: 3, seed: 1)
        step t, 4
        """, expect: .runtimeError)
        XCTAssertTrue(out.contains("interrupted: stopped after step 2 (2 of 4 steps done); the trainer is consistent"), out)
        XCTAssertEqual(run(s, sink, "print(t.step, len(t.history))"), "2 2")
    }

    func testSaveResumeAndModelCheckpoints() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let t = grpo(m, data, group: 2, prompts: 2, max_tokens: 5, seed: 1)
        step t
        save t, "runs/x.ckpt"
        let t2 = resume("runs/x.ckpt", data)
        print(t2.step, len(t2.history), t2.config.group)
        step t
        step t2
        print(t.metrics.loss == t2.metrics.loss, t.metrics.reward == t2.metrics.reward, t.metrics.kl == t2.metrics.kl)
        save m, "m.safetensors"
        let m2 = load_model("m.safetensors")
        let a = sample(m, data[1], group: 2, max_tokens: 6, seed: 3)
        let b = sample(m2, data[1], group: 2, max_tokens: 6, seed: 3)
        print(a.texts == b.texts, a.logprobs == b.logprobs, m2.parameters == m.parameters)
        let w = sft(m, data, batch: 2, seed: 4)
        step w
        save w, "runs/sft"
        let w2 = resume("runs/sft", data)
        print(w2.step, w2.config.batch)
        """)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("saved grpo trainer at step 1 to runs/x.ckpt"), out)
        XCTAssertTrue(lines.contains("1 1 2"), out)
        XCTAssertTrue(lines.contains("true true true"), out)
        XCTAssertTrue(lines.contains("saved model (\(trainer(s).modelObject.model.parameterCount) parameters) to m.safetensors"), out)
        XCTAssertEqual(lines.filter { $0 == "true true true" }.count, 2, out)
        XCTAssertEqual(lines.last, "1 2")
        run(s, sink, "resume(\"runs/x.ckpt\", data, rewards: [format()])", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("pass the same rewards in the same order"), sink.text)
        run(s, sink, "resume(\"nowhere\", data)", expect: .runtimeError)
        XCTAssertTrue(sink.text.contains("nowhere is not a trainer state"), sink.text)
    }

    func testResumeRefusesAMixedCheckpointAndSaveNamesWhatFailed() throws {
        let (s, sink) = try session()
        run(s, sink, """
        let w = sft(m, data, batch: 2, seed: 4)
        step w
        save w, "runs/a"
        step w
        save w, "runs/b"
        write_text("notes/keep.txt", "mine")
        """)
        let base = s.options.baseDirectory.appendingPathComponent("runs")
        let model = base.appendingPathComponent("a/model.safetensors")
        try FileManager.default.removeItem(at: model)
        try FileManager.default.copyItem(at: base.appendingPathComponent("b/model.safetensors"), to: model)
        run(s, sink, "let w2 = resume(\"runs/a\", data)", expect: .runtimeError)
        XCTAssertTrue(sink.text.hasPrefix("t.medr1:1:10: error: resume: \(model.path) does not belong to the save recorded in trainer.json (step 1)"), sink.text)
        run(s, sink, "save w, \"notes\"", expect: .runtimeError)
        XCTAssertTrue(sink.text.hasPrefix("t.medr1:1:1: error: save: cannot save to notes: is a folder that holds no trainer checkpoint (no trainer.json), and a save replaces the whole folder: save the trainer to another path"), sink.text)
        XCTAssertEqual(run(s, sink, "print(w.step, read_text(\"notes/keep.txt\"))"), "2 mine")
    }

    func testEvalTableHeatmapAndCrossModality() throws {
        let (s, sink) = try session()
        let out = run(s, sink, """
        let e = eval(m, data, max_tokens: 6, name: "base")
        print(e)
        print(e.total, e.accuracy >= 0 and e.accuracy <= 1, e.format >= 0, len(keys(e.by_modality)) > 0)
        let e2 = eval(m, data, by: ["modality"], max_tokens: 6)
        print(e2.table.columns)
        let e3 = eval(m, data, temperature: 1, samples: 2, max_tokens: 4, name: "sampled", seed: 2)
        print(e3.total)
        plot e, to: "p/heat.png"
        let x = cross_modality([e, e3])
        print(x.columns[0], len(x.rows))
        """)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("eval base (greedy): accuracy "), out)
        XCTAssertTrue(out.contains("16 true true true"), out)
        XCTAssertTrue(out.contains("[\"modality\", \"accuracy\", \"n\"]"), out)
        XCTAssertTrue(out.contains("\n32\n"), out)
        XCTAssertTrue(out.contains("trained on 2"), out)
        let png = try Data(contentsOf: s.options.baseDirectory.appendingPathComponent("p/heat.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }

    /// The demo script parses, and its reward-prototyping cell runs on a tiny rollout.
    func testQuickstartParsesAndItsRescoreCellRuns() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/examples/quickstart.medr1")
        let source = try String(contentsOf: url, encoding: .utf8)
        let (_, diags) = Parser.parseScript(source: source, file: "quickstart.medr1")
        XCTAssertEqual(diags.map { $0.rendered() }, [])
        let cell = source.components(separatedBy: "# %%").first { $0.hasPrefix(" Reward prototyping") }!
            .split(separator: "\n").dropFirst().joined(separator: "\n")
        let (s, sink) = try session()
        let out = run(s, sink, """
        let t = grpo(m, data, group: 2, prompts: 2, max_tokens: 4, seed: 1)
        step t
        \(cell)
        print(consistent({think: "bright bone so CT", answer: "ct"}), consistent({think: nil, answer: "CT"}))
        """)
        XCTAssertTrue(out.contains("rescored 2 groups x G 2 with [format, accuracy, consistent] (weights 1, 1, 0.5)"), out)
        XCTAssertTrue(out.hasSuffix("1 0"), out)
    }

    func testHelpCoversEveryNewBuiltin() {
        for name in ["sampler", "sample", "sft", "grpo", "step", "rescore", "eval", "save", "resume", "load_model", "cross_modality", "trainer.set"] {
            XCTAssertNotNil(HelpTable.entry(name), name)
            XCTAssertEqual(HelpTable.entry(name)?.topic == "training" || HelpTable.entry(name)?.topic == "model", true, name)
        }
    }
}
