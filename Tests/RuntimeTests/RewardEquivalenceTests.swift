import XCTest
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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try requirePython())
        p.arguments = [dir.appendingPathComponent("check_rewards.py").path] + (file.map { [$0] } ?? [])
        p.currentDirectoryURL = dir
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
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
        guard case .host(let t as TrainerObject)? = s.interpreter.globals.lookup(name), case .grpo(let g) = t.kind else {
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
        var rng = SplitMix(seed: 12345)
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

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
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
            for stmt in program.statements {
                switch stmt {
                case .functionDecl:
                    kept.append(Printer.print(Program(statements: [stmt], file: f)))
                case .binding(let l):
                    guard case .call(let c) = l.value, case .identifier(let callee, _) = c.callee,
                          ["grpo", "reward", "format", "accuracy", "format_nothink", "format_strict"].contains(callee) else { continue }
                    kept.append(Printer.print(Program(statements: [stmt], file: f)))
                    if callee == "grpo" { names.append(l.name) }
                default: continue
                }
            }
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
            """)
            run(s, sink, kept.joined(separator: "\n"))
            for n in names {
                run(s, sink, "step \(n), 2, quiet: true\nexport \(n), \"export-\(n)\", test: tr.test")
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
}
