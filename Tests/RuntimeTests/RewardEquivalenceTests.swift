import XCTest
import TestSupport
import Foundation
import Lang
import MedR1Lib
@testable import Runtime

/// `export` to TRL: the exported Python rewards give medr1's values on every completion
/// (recorded rollouts and hostile text), the option mapping, the translator's refusals,
/// the atomic folder and reading TRL's log back. Runs the system's python3 (standard
/// library only); skipped, saying so, where there is none.
final class RewardEquivalenceTests: XCTestCase {
    static let python: String? = {
        for p in ["/usr/bin/python3", "/usr/local/bin/python3"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":") {
            let p = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }()

    func requirePython() throws -> String {
        guard let p = Self.python else { throw XCTSkip("python3 is not installed: the reward-equivalence check needs it (apt-get install python3)") }
        return p
    }

    /// Runs `python3 check_rewards.py [file]` in `dir`; returns (exit code, output).
    func checkRewards(_ dir: URL, _ file: String? = nil) throws -> (Int32, String) {
        let r = try TestSupport.runProcess(URL(fileURLWithPath: try requirePython()),
                                           [dir.appendingPathComponent("check_rewards.py").path] + (file.map { [$0] } ?? []),
                                           directory: dir)
        return (r.status, r.stdout + r.stderr)
    }

    /// "reward values: N agree, M differ" -> (N, M).
    func counts(_ output: String) -> (Int, Int)? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("reward values: ") }) else { return nil }
        let nums = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return nums.count == 2 ? (nums[0], nums[1]) : nil
    }

    func session() throws -> (Session, CollectingSink, URL) {
        let sink = CollectingSink()
        let dir = try TestSupportDir.make()
        return (Session(options: SessionOptions(seed: 5, sink: sink, baseDirectory: dir)), sink, dir)
    }

    func run(_ s: Session, _ sink: CollectingSink, _ src: String, file: StaticString = #filePath, line: UInt = #line) {
        sink.clear()
        XCTAssertEqual(s.run(source: src, file: "t.medr1"), .ok, sink.text, file: file, line: line)
    }

    func grpoTrainer(_ s: Session, _ name: String) throws -> GRPOTrainer {
        guard case .host(let t as TrainerObject)? = s.interpreter.globals.lookup(name), let g = t.grpo else {
            throw XCTSkip("no GRPO trainer named \(name)")
        }
        return g
    }

    // MARK: - Hostile text

    /// Completions that try every edge of the rewards: tags unclosed, nested, doubled, in the
    /// wrong order; Unicode whitespace, combining marks right after tags, emoji sequences,
    /// Hangul, case mappings that change length, control characters, empty text.
    static func hostileTexts(options: [String]) -> [String] {
        let pieces = ["<think>", "</think>", "<answer>", "</answer>", "<answer", "think>", "</answer", "<", ">", "/",
                      " ", "\n", "\t", "\r\n", "\u{0B}", "\u{0C}", "\u{85}", "\u{A0}", "\u{2028}", "\u{3000}", "\u{1C}", "\u{200B}",
                      "A", "b", "(C)", "D.", "b)", "c:", "B. ", ".", "..", "e\u{301}", "\u{E9}", "\u{301}", "\u{FE0F}", "\u{200D}",
                      "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}", "\u{1F1EB}\u{1F1F7}", "\u{1F44D}\u{1F3FD}", "\u{1100}\u{1161}\u{11A8}",
                      "\u{915}\u{93F}", "\u{3A3}", "\u{130}", "\u{DF}", "\u{FB01}", "\u{0}", "\u{1B}[31m", "\"", "\\", "${x}", "{Question}",
                      "1e3", "42", "-7", "0x1F", "3.5", "\u{663}", "\u{FF21}", "\u{10400}"] + options + options.map { $0.uppercased() }
        var rng = SplitMix64(seed: 12345)
        var out = ["", " ", "<think></think><answer></answer>", "<think>x</think><answer>y</answer>",
                   "<think>\u{301}</think>\u{301}<answer>\u{301}A</answer>", "<answer>\u{301}A</answer>", "<answer>A</answer>\u{301}",
                   "<think>a</think> \u{85}\u{2028}<answer> A </answer>", "<think>x</think>\u{1C}<answer>A</answer>",
                   "<think><think>x</think></think><answer><answer>A</answer></answer>", "<think>x</think><answer>A</answer><answer>B</answer>",
                   "<think>x</think> <answer>A </think><answer>A</answer>", "<answer>A</answer><think>x</think>",
                   "   <answer>b) x</answer>", "\n<answer>\n(c)\n</answer>", "<think>unclosed <answer>A", "<answer></answer>"]
        for o in options {
            out.append("<think>it is \(o)</think><answer>\(o)</answer>")
            out.append("<think>\(o)</think>\n<answer> \(o.uppercased()). </answer>")
            out.append("<think>x</think><answer>b. \(o)</answer>")
            out.append("<think>x</think><answer>(A) \(o.lowercased())</answer>")
        }
        for _ in 0..<260 {
            let n = 1 + Int(rng.next() % 9)
            var s = ""
            for _ in 0..<n { s += pieces[Int(rng.next() % UInt64(pieces.count))] }
            // Half of them framed like an answer, so the rewards see their structure.
            if rng.next() % 2 == 0 { s = "<think>" + s + "</think>" + (rng.next() % 2 == 0 ? " " : "") + "<answer>" + s + "</answer>" }
            out.append(s)
        }
        return out
    }

    /// Writes hostile.jsonl (every hostile text against several samples, valued by the trainer's
    /// own rewards) into the export folder and checks it; returns the number of values compared.
    func checkHostile(_ g: GRPOTrainer, data: Dataset, folder: URL, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        var completions: [Completion] = []
        for s in data.samples.prefix(3) {
            for (k, t) in Self.hostileTexts(options: s.options).enumerated() {
                completions.append(Completion(text: t, sample: s, tokens: Array(repeating: 0, count: k % 50),
                                              finishReason: k % 7 == 0 ? .length : .eos))
            }
        }
        let table = try RewardTable.evaluate(g.rewards, on: completions)
        let export = TRLExport(trainer: g, train: data, test: nil, steps: 1)
        let lines = TRLExport.rolloutLines(completions, table, export: export, images: [:])
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: folder.appendingPathComponent("hostile.jsonl"))
        let (code, out) = try checkRewards(folder, "hostile.jsonl")
        XCTAssertEqual(code, 0, String(out.suffix(3000)), file: file, line: line)
        let c = counts(out)
        XCTAssertEqual(c?.1, 0, out, file: file, line: line)
        XCTAssertEqual(c?.0, completions.count * g.rewards.count, out, file: file, line: line)
        return c?.0 ?? 0
    }

    // MARK: - The example scripts' trainers

    /// Every `grpo(...)` of scripts/examples, with its rewards and options, on a small data set
    /// and model: exported, its rollouts and the hostile texts checked in Python.
    func testExampleTrainersRewardsAgreeInPython() throws {
        _ = try requirePython()
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".medr1") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 4)
        var trainers = 0, values = 0
        for f in files {
            let source = try String(contentsOf: examples.appendingPathComponent(f), encoding: .utf8)
            let (program, diags) = Parser.parseScript(source: source, file: f)
            XCTAssertTrue(diags.isEmpty, "\(f): \(diags)")
            // The rewards, the functions they use and the grpo trainers; data and models are small stand-ins.
            var kept: [String] = [], names: [String] = []
            // A trainer built inside a function (one per seed) is lifted to the top level, where
            // `w` and `parts` below stand in for the function's parameter and the script's split.
            var statements: [Stmt] = []
            for stmt in program.statements {
                statements.append(stmt)
                if case .functionDecl(let fn) = stmt, case .block(let body) = fn.body { statements += body.statements }
            }
            for stmt in statements {
                switch stmt {
                case .functionDecl:
                    kept.append(Printer.print(Program(statements: [stmt], file: f)))
                case .binding(let l):
                    guard case .call(let c) = l.value, case .identifier(let callee, _) = c.callee,
                          ["grpo", "reward", "format", "accuracy", "format_nothink", "format_think_after", "format_strict"].contains(callee) else { continue }
                    kept.append(Printer.print(Program(statements: [stmt], file: f)))
                    if callee == "grpo" { names.append(l.name) }
                default: continue
                }
            }
            // Scripts that build no grpo trainer (SFT runs, studies) have nothing to export;
            // one that calls grpo( must have its trainer found above.
            if !source.contains("grpo(") { continue }
            XCTAssertFalse(names.isEmpty, "\(f) has no grpo trainer")
            let (s, sink, dir) = try session()
            run(s, sink, """
            let data = synth(n: 40, seed: 3, size: 16, to: "d")
            let tr = data.split(train: 0.8, seed: 1)
            let train = tr.train
            let seen = tr.train
            let tok = tr.train.tokenizer(vocab: 300)
            let m = model(tokenizer: tok, seed: 1, d_model: 32, vision_layers: 1, text_layers: 1, image_size: 16)
            let quiet = m
            let think = m
            let parts = tr
            let w = sft(m, tr.train, seed: 4)
            """)
            run(s, sink, kept.joined(separator: "\n"))
            for n in names {
                run(s, sink, "\(n).set(prompts: 2, max_tokens: 24)\nstep \(n), 2, quiet: true\nexport \(n), \"export-\(n)\", test: tr.test")
                let folder = dir.appendingPathComponent("export-\(n)")
                let (code, out) = try checkRewards(folder)
                XCTAssertEqual(code, 0, "\(f) \(n): \(out.suffix(3000))")
                let g = try grpoTrainer(s, n)
                XCTAssertEqual(counts(out)?.0, g.last!.completions.count * g.rewards.count, "\(f) \(n): \(out)")
                values += try checkHostile(g, data: g.dataset, folder: folder)
                trainers += 1
            }
        }
        XCTAssertGreaterThanOrEqual(trainers, 5)
        XCTAssertGreaterThan(values, 5000)
    }

    // MARK: - Hand-written rewards: every construct the translator accepts

    static let constructs = """
    let bonus = 0.25
    let words = ["ct", "mri", "x-ray"]
    let table = {short: 0.1, long: -0.1, "two words": [1, 2]}
    fn helper(x, k = 2) = x * k
    fn fact(n) = if n <= 1 then 1 else n * fact(n - 1)
    fn r_arith(c) = helper(len(c.text)) % 7 - 3 / 2 + 2 ** 3 - -1 + +bonus + fact(4) + (-7) % 3
    fn r_strings(c) {
        let t = lower(c.text)
        let u = upper(trim(c.text))
        let parts = split(t, "<")
        let ws = split(c.text)
        let s = "${len(parts)}:${len(ws)}:${round(len(t) / 3, 2)}:${len(u)}"
        if starts_with(t, "<think>") and ends_with(t, "</answer>") { return len(s) }
        if contains(t, "answer") then 1 else if replace(t, "a", "b") == t then 2 else 3
    }
    fn r_compare(c) {
        let a = c.answer
        let k = 0
        if a != nil and a < "m" { k += 1 }
        if a != nil and a >= "B" { k += 2 }
        if c.text == "" or c.text > "<think>" { k += 4 }
        if len(c.text) <= 10 { k -= 1 } else { k *= 2 }
        k /= 2
        k
    }
    fn r_lists(c) {
        let xs = map(split(c.text), fn(w) => len(w))
        let ys = filter(xs, fn(n) => n > 3)
        let total = 0
        for x in xs {
            if x > 100 { break }
            if x == 2 { continue }
            total += x
        }
        for i in 0..<3 { total += i }
        for ch in "ab\\u{301}c" { total += len(ch) }
        let k = 0
        while k < 3 { k += 1 }
        let both = xs + [1, 2]
        sum(ys) + total + k + len(append(ys, 1)) + max([1, len(xs)]) + min(5, len(ys)) + len(both)
            + (if any(xs, fn(n) => n == 1) then 1 else 0) + (if all(xs, fn(n) => n > 0) then 1 else 0)
            + len(reverse(xs)) + len(take(xs, 2)) + len(zip(xs, ys)) + (if contains(xs, 3) then 1 else 0)
    }
    fn r_records(c) {
        let r = {a: 1, b: "x", "c d": [1, 2]}
        let s = c.sample
        (if has(r, "a") then r.a else 0) + len(keys(r)) + len(values(r)) + len(r["c d"]) + len(table["two words"])
            + (if s.answer_index >= 0 then 1 else 0) + len(s.options)
            + (if contains(words, lower(s.modality)) then table.short else table.long)
            + (if s.answer == s.options[s.answer_index] then 1 else 0) + len(s.question_type) + len(s.id)
            + (if contains(r, "b") then 1 else 0) + (if ({a: 1, b: [2]}) == ({a: 1, b: [2]}) then 1 else 0)
    }
    fn r_regex(c) {
        let f = find(c.text, "<answer>(.*?)</answer>")
        let found = find_all(c.text, "[A-D]|\\\\d+")
        let m = match(c.text, "<think>(.*)</think>\\\\s*<answer>([^<]*)</answer>$", full: true)
        let g = if m == nil then 0 else (if m.groups[1] == nil then 100 else len(m.groups[1])) + m.start
        let m2 = match(c.text, "(x)?(<answer>)")
        let g2 = if m2 == nil then 0 else (if m2.groups[0] == nil then 10 else 20) + m2.start
        (if f == nil then 0 else len(f)) + len(found) + g + g2 + (if c.text ~ "\\\\d+" then 1 else 0)
            + (if c.text !~ "\\\\w\\\\s\\\\S" then 1 else 0) + (if c.text ~ "(?<tag>[ab])\\\\k<tag>" then 1 else 0)
            + (if c.text ~ "^<think>" then 1 else 0) + (if c.text ~ "answer>$" then 1 else 0)
            + (if c.text ~ "\\\\Q<think>\\\\E\\\\D{2,}?" then 1 else 0) + (if c.text ~ "(?=<a)(?!<ab)(?<=>)<" then 1 else 0)
            + (if c.text ~ "[^\\\\s<>]+\\\\x{263A}|\\\\u00E9|[\\\\n\\\\t]{2}|\\\\W\\\\z" then 1 else 0)
    }
    fn r_misc(c) {
        let n = num(trim(c.answer or ""))
        let x = if n == nil then 0 else n
        str(c.length) == "${c.length}" and type(c.answer) == "string" and not (c.finish_reason == "length") and x < 1e6
    }
    fn r_math(c) = sqrt(len(c.text)) + log(1 + len(c.text)) + exp(-1) + floor(2.5) + ceil(-2.5) + abs(-3) + pow(2, 0.5) + round(len(c.text) / 7, 2) + round(2.5) + mean([1, 2, len(c.text)]) + len(c.text) ** 0.5
    fn r_index(c) = if len(c.text) > 2 then len(c.text[0] + c.text[-1]) + (0..<3)[1] + len(0...4) + [5, 6][-1] else 0
    fn r_interp(c) = len("${c.think} | ${c.answer} | ${[1, "a", nil, true]} | ${ {k: 2.5, s: "q\\"t"} } | ${1e20} | ${0.1} | ${9.1e15} | ${c.sample.reasoning}")
    fn r_method(c) = len(c.text.lower()) + len(c.text.find_all("<")) + len(c.text.trim())
    fn r_block(c) {
        fn inner(s) {
            let n = 0
            for w in split(s) { n += 1 }
            n
        }
        let f = fn(v) { let w = v * 2; w + 1 }
        let v = if c.answer == nil { 0 } else { inner(c.answer) }
        if v > 1 {
            let v = 10
            f(v)
        } else {
            f(v)
        }
    }
    fn r_branches(c) = if c.answer == nil { let k = 2; k * 3 } else if len(c.answer) > 3 { let n = len(c.answer); n - 1 } else { 0.5 }
    let rewards_all = [format(), format_nothink(), format_think_after(), format_strict(), accuracy(), r_arith, r_strings, r_compare, r_lists,
                       r_records, r_regex, r_misc, r_math, r_index, r_interp, r_method, r_block, r_branches,
                       reward(fn(c) => c.text ~ "<answer>\\\\s*[A-D]\\\\s*</answer>", name: "letter")]
    """

    func testHandWrittenRewardsAgreeInPython() throws {
        _ = try requirePython()
        let (s, sink, dir) = try session()
        run(s, sink, """
        let data = synth(n: 24, seed: 4, size: 16, to: "d")
        let m = model(tokenizer: data.tokenizer(vocab: 300), seed: 1, d_model: 32, vision_layers: 1, text_layers: 1, image_size: 16)
        """)
        run(s, sink, Self.constructs)
        run(s, sink, """
        let t = grpo(m, data, rewards: rewards_all, group: 4, prompts: 2, max_tokens: 24, seed: 2)
        step t, quiet: true
        export t, "hand"
        """)
        let folder = dir.appendingPathComponent("hand")
        let (code, out) = try checkRewards(folder)
        XCTAssertEqual(code, 0, String(out.suffix(3000)))
        XCTAssertEqual(counts(out)?.0, 8 * 19, out)
        let g = try grpoTrainer(s, "t")
        XCTAssertGreaterThan(try checkHostile(g, data: g.dataset, folder: folder), 10000)
        // The translation is real Python of the constructs, not a call back into medr1.
        let py = try String(contentsOf: folder.appendingPathComponent("rewards.py"), encoding: .utf8)
        XCTAssertTrue(py.contains("def medr1_fact(n):"), py)
        XCTAssertTrue(py.contains("for "), py)
        XCTAssertTrue(py.contains("while _t("), py)
    }

    // MARK: - Refusals

    /// Each reward fails to export with the construct and its line:col; the folder is not written.
    func testUntranslatableRewardsAreErrorsWithTheirPlace() throws {
        let (s, sink, dir) = try session()
        run(s, sink, """
        let data = synth(n: 8, seed: 4, size: 16, to: "d")
        let m = model(tokenizer: data.tokenizer(vocab: 300), seed: 1, d_model: 32, vision_layers: 1, text_layers: 1, image_size: 16)
        """)
        let cases: [(String, String)] = [
            ("fn r(c) = if c.text ~ \"\\\\bA\\\\b\" then 1 else 0",
             "r.medr1:1:23: cannot translate to Python: the regular expression \"\\\\bA\\\\b\" uses the word boundary \\b at character 1"),
            ("fn r(c) = if c.text ~ \"(?i)a\" then 1 else 0",
             "r.medr1:1:23: cannot translate to Python: the regular expression \"(?i)a\" uses inline flags (?...) at character 1"),
            ("fn r(c) = if c.text ~ \"a++\" then 1 else 0",
             "r.medr1:1:23: cannot translate to Python: the regular expression \"a++\" uses a possessive repetition"),
            ("fn r(c) = if c.text ~ \"\\\\p{L}\" then 1 else 0",
             "r.medr1:1:23: cannot translate to Python: the regular expression \"\\\\p{L}\" uses a Unicode property"),
            ("let p = \"a\"\nfn r(c) = if c.text ~ p then 1 else 0",
             "r.medr1:2:23: cannot translate to Python: the pattern of '~' is computed when the reward runs"),
            ("fn r(c) {\n    let xs = [1]\n    xs[0] = 2\n    xs[0]\n}",
             "r.medr1:3:5: cannot translate to Python: assignment to an element or a field"),
            ("fn r(c) = len(read_text(\"x\"))",
             "r.medr1:1:15: cannot translate to Python: the builtin 'read_text' is not available to exported rewards"),
            ("fn r(c) = len(m)",
             "r.medr1:1:15: cannot translate to Python: 'm' holds a model"),
            ("fn r(c) = 1 + if c.text == \"\" { let a = 1; a } else { 2 }",
             "r.medr1:1:31: cannot translate to Python: an if whose branch has statements, used as a value"),
        ]
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("out"), withIntermediateDirectories: true)
        try Data("old".utf8).write(to: dir.appendingPathComponent("out/marker"))
        for (source, message) in cases {
            sink.clear()
            XCTAssertEqual(s.run(source: source, file: "r.medr1"), .ok, sink.text)
            sink.clear()
            XCTAssertEqual(s.run(source: "export grpo(m, data, rewards: [format(), r], group: 2, prompts: 1), \"out\"", file: "e.medr1"),
                           .runtimeError, source)
            XCTAssertTrue(sink.text.contains(message), "\(source):\n\(sink.text)")
            XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("out/marker"), encoding: .utf8), "old")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".out.") }
        XCTAssertEqual(leftovers, [])
    }

    // MARK: - Options

    func testOptionsMapThroughTheTableWithTranslatedValues() throws {
        var c = GRPOConfig()
        c.group = 6
        c.promptsPerStep = 4
        c.scaleRewards = .none
        c.lossType = .drGRPO
        c.schedule = .cosine(warmup: 10, total: 200, minFactor: 0.1)
        c.delta = 0
        c.seed = 9
        let (settings, unmapped) = TRLExport.settings(c)
        func value(_ name: String) -> String? { settings.first { $0.trl == name }?.python }
        XCTAssertEqual(value("num_generations"), "6")
        XCTAssertEqual(value("per_device_train_batch_size"), "NUM_GENERATIONS")
        XCTAssertEqual(value("steps_per_generation"), "batch_fields()[\"steps_per_generation\"]")
        XCTAssertEqual(value("scale_rewards"), "\"none\"")
        XCTAssertEqual(value("loss_type"), "\"dr_grpo\"")
        XCTAssertEqual(value("lr_scheduler_type"), "\"cosine_with_min_lr\"")
        XCTAssertEqual(value("warmup_steps"), "10")
        XCTAssertEqual(value("lr_scheduler_kwargs"), "{\"min_lr_rate\": 0.1}")
        XCTAssertEqual(value("max_steps"), "200")
        XCTAssertEqual(value("delta"), "None")
        XCTAssertEqual(value("epsilon"), "0.2")
        XCTAssertEqual(value("max_completion_length"), "64")
        XCTAssertEqual(value("seed"), "9")
        XCTAssertEqual(unmapped, [])
        // Every row that names a TRL field reaches the config, whatever rows are added later.
        for rule in GRPOConfig.optionRules where rule.trl != nil && !rule.isPart {
            XCTAssertNotNil(value(rule.trl!), "\(rule.keyword) -> \(rule.trl!) missing")
        }
        c.scaleRewards = .group
        c.schedule = .warmup(steps: 5)
        let (s2, _) = TRLExport.settings(c)
        XCTAssertEqual(s2.first { $0.trl == "scale_rewards" }?.python, "\"group\"")
        XCTAssertEqual(s2.first { $0.trl == "lr_scheduler_type" }?.python, "\"constant_with_warmup\"")
        XCTAssertEqual(s2.first { $0.trl == "warmup_steps" }?.python, "5")
        // A row without a TRL name is reported, not dropped silently.
        let extra = GRPOConfig.optionRules + [OptionRule<GRPOConfig>.number("only_in_medr1", \.beta, .closed(0, 1), "a test row")]
        XCTAssertEqual(TRLExport.settings(c, rules: extra).unmapped, ["only_in_medr1"])
    }

    func testExportWritesTheFolderWholeAndReplacesThePreviousOne() throws {
        let (s, sink, dir) = try session()
        run(s, sink, """
        let data = synth(n: 10, seed: 4, size: 16, to: "d")
        let tr = data.split(train: 0.8, seed: 1)
        let m = model(tokenizer: data.tokenizer(vocab: 300), seed: 1, d_model: 32, vision_layers: 1, text_layers: 1, image_size: 16)
        let t = grpo(m, tr.train, group: 2, prompts: 2, max_tokens: 8, template: "thinking", answer_style: "letter", scale_rewards: false)
        """)
        let out = dir.appendingPathComponent("x")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: out.appendingPathComponent("stale.txt"))
        run(s, sink, "export t, \"x\", test: tr.test")
        XCTAssertTrue(sink.text.contains("exported the GRPO trainer to x: 8 training samples, 2 test samples, 2 rewards, 0 recorded completions"), sink.text)
        let names = Set(try FileManager.default.subpathsOfDirectory(atPath: out.path))
        XCTAssertFalse(names.contains("stale.txt"))
        for f in ["README.md", "rewards.py", "train_grpo.py", "check_rewards.py", "rollouts.jsonl", "accelerate/zero2.yaml",
                  "accelerate/zero3.yaml", "data/train.jsonl", "data/test.jsonl"] {
            XCTAssertTrue(names.contains(f), "\(f) missing: \(names.sorted())")
        }
        XCTAssertEqual(names.filter { $0.hasPrefix("data/images/") && $0.hasSuffix(".png") }.count, 10)
        let lines = try String(contentsOf: out.appendingPathComponent("data/train.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 8)
        guard case .record(let r) = try JSONValue.parse(String(lines[0]), source: "train.jsonl"),
              case .string(let image)? = r["image"], case .string(let problem)? = r["problem"], case .string(let solution)? = r["solution"],
              case .number(let k)? = r["answer_index"] else { return XCTFail("bad record \(lines[0])") }
        let sample = tr(s).samples[0]
        XCTAssertTrue(image.hasPrefix("images/"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("data/" + image).path))
        XCTAssertEqual(problem, PromptTemplate.questionWithOptions(sample))
        XCTAssertEqual(solution, "<answer> \(sample.answerLetter) </answer>")
        XCTAssertEqual(Int(k), sample.answerIndex)
        let script = try String(contentsOf: out.appendingPathComponent("train_grpo.py"), encoding: .utf8)
        XCTAssertTrue(script.contains("\"scale_rewards\": \"none\","), script)
        XCTAssertTrue(script.contains("QUESTION_TEMPLATE = \"{Question}\\nYour task:\\n1. Think through"), script)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".x.") }, [])
    }

    func tr(_ s: Session) -> Dataset {
        guard case .record(let r)? = s.interpreter.globals.lookup("tr"), case .host(let d as DatasetObject)? = r["train"] else { return Dataset(name: "", root: URL(fileURLWithPath: "/"), samples: []) }
        return d.dataset
    }

    // MARK: - TRL's log

    static let trainerState = """
    {"best_metric": null, "global_step": 2, "log_history": [
      {"clip_ratio/low_mean": 0.0, "completions/mean_length": 16.0, "entropy": 5.979, "epoch": 0.04, "frac_reward_zero_std": 0.0,
       "grad_norm": 1.03, "kl": 0.0, "learning_rate": 0.0001, "loss": 1.0e-07, "num_tokens": 480.0, "reward": -0.2163,
       "reward_std": 0.051, "rewards/format/mean": 0.0, "rewards/format/std": 0.0, "step": 1, "step_time": 9.5},
      {"completions/mean_length": 14.88, "epoch": 0.08, "kl": 7.5e-05, "reward": -0.195, "reward_std": 0.11, "step": 2, "step_time": 17.1},
      {"epoch": 0.08, "step": 2, "total_flos": 0.0, "train_loss": 1.6e-06, "train_runtime": 27.2}
    ], "max_steps": 2}
    """

    func testReadTRLLogGivesAHistoryWithMedr1Names() throws {
        let (s, sink, dir) = try session()
        try Data(Self.trainerState.utf8).write(to: dir.appendingPathComponent("trainer_state.json"))
        run(s, sink, """
        let h = read_trl_log("trainer_state.json")
        print(len(h), h[0].step, h[0].mode, h[0].reward, h[0].seconds, h[1].kl, h[0]["rewards/format/mean"], h[1]["completions/mean_length"])
        print(has(h[0], "epoch"), has(h[0], "step_time"))
        plot h, ["reward", "kl"], to: "trl.svg"
        """)
        XCTAssertTrue(sink.text.hasPrefix("2 1 grpo -0.2163 9.5 7.5e-05 0 14.88\nfalse false"), sink.text)
        let bad: [(String, String)] = [
            ("{\"log_history\": 3}", "no log_history list in it"),
            ("{\"log_history\": [{\"reward\": 1}]}", "log_history[0] has no whole-number step"),
            ("[1, 2", "bad.json:"),
        ]
        for (text, message) in bad {
            try Data(text.utf8).write(to: dir.appendingPathComponent("bad.json"))
            sink.clear()
            XCTAssertEqual(s.run(source: "read_trl_log(\"bad.json\")", file: "e.medr1"), .runtimeError)
            XCTAssertTrue(sink.text.contains(message), "\(text): \(sink.text)")
        }
    }
}

