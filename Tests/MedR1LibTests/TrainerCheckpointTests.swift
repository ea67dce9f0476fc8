import Foundation
import XCTest
import TestSupport
@testable import MedR1Lib

/// Trainer checkpoint folders: replaced as a whole, verified on resume, append-only
/// history, every trainer.json field checked, and I/O errors in words.
final class TrainerCheckpointTests: XCTestCase {
    let tok = RLFixture.tokenizer()

    func sft(seed: UInt64 = 1) throws -> SFTTrainer {
        var c = SFTConfig()
        c.batchSize = 2
        c.seed = 3
        return try SFTTrainer(model: try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: seed), tokenizer: tok,
                              dataset: RLFixture.dataset, config: c, template: .tiny, images: RLFixture.images())
    }

    func grpo() throws -> GRPOTrainer {
        try GRPOTrainer(model: try MedR1Model(config: RLFixture.config(vocab: tok.vocabSize), seed: 1), tokenizer: tok,
                        dataset: RLFixture.dataset, config: RLFixture.grpoConfig(), template: .tiny, images: RLFixture.images())
    }

    func resumeError(_ dir: URL, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try SFTTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())
            XCTFail("resume succeeded", file: file, line: line)
            return ""
        } catch { return "\(error)" }
    }

    func entries(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    /// Edits trainer.json as JSON.
    func editManifest(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("trainer.json")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: url)
    }

    func testFolderLayoutAndAppendOnlyHistory() throws {
        let root = try TestSupport.temporaryDirectory()
        let dir = root.appendingPathComponent("runs/x.ckpt")
        let t = try sft()
        try t.step()
        try t.save(to: dir)
        XCTAssertEqual(try entries(dir), ["history.jsonl", "model.safetensors", "optimizer.safetensors", "trainer.json"])
        let history = dir.appendingPathComponent("history.jsonl")
        let inode = try FileManager.default.attributesOfItem(atPath: history.path)[.systemFileNumber] as! UInt64
        let firstBytes = try Data(contentsOf: history)
        try t.step()
        try t.step()
        try t.save(to: dir)
        // The new version's history is the previous file (same inode) with two lines appended.
        let after = try Data(contentsOf: history)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: history.path)[.systemFileNumber] as? UInt64, inode)
        XCTAssertEqual(after.prefix(firstBytes.count), firstBytes)
        XCTAssertEqual(after.split(separator: 0x0A).count, 3)
        XCTAssertEqual(try entries(dir.deletingLastPathComponent()), ["x.ckpt"], "no temporaries left")
        let r = try SFTTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())
        XCTAssertEqual(r.history.steps, t.history.steps)
        XCTAssertEqual(r.stepCount, 3)
        // A resumed trainer appends to the same file again.
        try r.step()
        try r.save(to: dir)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: history.path)[.systemFileNumber] as? UInt64, inode)
        XCTAssertEqual(try Data(contentsOf: history).split(separator: 0x0A).count, 4)
        // Another trainer's history is not a continuation: written whole, a new file.
        let other = try sft(seed: 2)
        try other.step()
        try other.save(to: dir)
        XCTAssertNotEqual(try FileManager.default.attributesOfItem(atPath: history.path)[.systemFileNumber] as? UInt64, inode)
        XCTAssertEqual(try SFTTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images()).history.steps,
                       other.history.steps)
    }

    func testMixedFolderIsRefused() throws {
        let root = try TestSupport.temporaryDirectory()
        let a = root.appendingPathComponent("a.ckpt"), b = root.appendingPathComponent("b.ckpt")
        let t = try sft()
        try t.step()
        try t.save(to: a)
        try t.step()
        try t.save(to: b)
        let model = a.appendingPathComponent("model.safetensors")
        try FileManager.default.removeItem(at: model)
        try FileManager.default.copyItem(at: b.appendingPathComponent("model.safetensors"), to: model)
        let e = resumeError(a)
        XCTAssertTrue(e.hasPrefix("\(model.path) does not belong to the save recorded in trainer.json (step 1): the file has "), e)
        XCTAssertTrue(e.hasSuffix("the folder mixes files of different saves: resume from an intact checkpoint"), e)
        // The optimiser of the other save, with the manifest entry forged to match its bytes: its step gives it away.
        let u = try sft()
        try u.step()
        try FileManager.default.removeItem(at: a)
        try u.save(to: a)
        let opt = a.appendingPathComponent("optimizer.safetensors")
        try FileManager.default.removeItem(at: opt)
        try FileManager.default.copyItem(at: b.appendingPathComponent("optimizer.safetensors"), to: opt)
        let optData = try Data(contentsOf: opt)
        try editManifest(a) { obj in
            var files = obj["files"] as! [String: Any]
            files["optimizer.safetensors"] = ["bytes": optData.count, "fnv1a64": FileIO.hex(FileIO.fnv1a64(optData)), "step": 1]
            obj["files"] = files
        }
        XCTAssertEqual(resumeError(a), "\(opt.path) is from trainer step 2, trainer.json from step 1: resume from an intact checkpoint")
        // A history cut short.
        try FileManager.default.removeItem(at: a)
        try t.save(to: a)
        let h = a.appendingPathComponent("history.jsonl")
        try Data(try Data(contentsOf: h).dropLast(5)).write(to: h)
        XCTAssertTrue(resumeError(a).hasSuffix("history.jsonl: has \(try Data(contentsOf: h).count) bytes, trainer.json records \(try Data(contentsOf: h).count + 5): the file is truncated or from another save"), resumeError(a))
        // A missing file.
        try FileManager.default.removeItem(at: a)
        try t.save(to: a)
        try FileManager.default.removeItem(at: model)
        XCTAssertEqual(resumeError(a), "\(model.path): cannot read (no such file); the checkpoint is incomplete")
    }

    func testStaleTemporariesAreRemovedAndAnEmptiedPathRestored() throws {
        let root = try TestSupport.temporaryDirectory()
        let dir = root.appendingPathComponent("x.ckpt")
        let t = try sft()
        try t.step()
        try t.save(to: dir)
        // A writer that no longer runs.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let dead = p.processIdentifier
        let stale = root.appendingPathComponent(".x.ckpt.tmp-\(dead)-1f")
        try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: false)
        try Data("half".utf8).write(to: stale.appendingPathComponent("model.safetensors"))
        let mine = root.appendingPathComponent(".x.ckpt.tmp-\(getpid())-2f")   // a live writer's: kept
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: false)
        try t.step()
        try t.save(to: dir)
        XCTAssertEqual(try entries(root), [".x.ckpt.tmp-\(getpid())-2f", "x.ckpt"])
        try FileManager.default.removeItem(at: mine)
        // Killed between moving the old version aside and renaming the new one in.
        let aside = root.appendingPathComponent(".x.ckpt.old-\(dead)-3f")
        try FileManager.default.moveItem(at: dir, to: aside)
        let r = try SFTTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())
        XCTAssertEqual(r.stepCount, 2)
        XCTAssertEqual(try entries(root), ["x.ckpt"])
    }

    func testSaveRefusesToReplaceWhatIsNotACheckpoint() throws {
        let root = try TestSupport.temporaryDirectory()
        let t = try sft()
        let file = root.appendingPathComponent("f.ckpt")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try t.save(to: file)) {
            XCTAssertEqual("\($0)", "\(file.path): is a file, not a trainer checkpoint folder: save the trainer to another path")
        }
        let folder = root.appendingPathComponent("notes")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        try Data("keep me".utf8).write(to: folder.appendingPathComponent("a.txt"))
        XCTAssertThrowsError(try t.save(to: folder)) {
            XCTAssertEqual("\($0)", "\(folder.path): is a folder that holds no trainer checkpoint (no trainer.json), and a save replaces the whole folder: save the trainer to another path")
        }
        XCTAssertEqual(try entries(folder), ["a.txt"])
    }

    func testEveryTrainerJSONFieldIsChecked() throws {
        let root = try TestSupport.temporaryDirectory()
        let dir = root.appendingPathComponent("x.ckpt")
        let t = try sft()
        try t.step()
        try t.save(to: dir)
        let good = try Data(contentsOf: dir.appendingPathComponent("trainer.json"))
        let file = dir.appendingPathComponent("trainer.json").path
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("negative cursor", { o in var order = o["order"] as! [String: Any]; order["position"] = -1; o["order"] = order },
             "field 'order.position' is -1: it must be in 0...1099511627776"),
            ("huge batch", { o in var c = o["sft"] as! [String: Any]; c["batchSize"] = 1_000_000_000; o["sft"] = c },
             "field 'sft.batchSize' is 1000000000: it must be in 1...65536"),
            ("huge image", { o in var c = o["modelConfig"] as! [String: Any]; c["imageSize"] = 1_000_000_000; o["modelConfig"] = c },
             "field 'modelConfig' is not a possible model: config field "),
            ("negative steps", { o in o["stepCount"] = -3 }, "field 'stepCount' is -3: it must be in 0...1099511627776"),
            ("nan lr", { o in var c = o["sft"] as! [String: Any]; c["learningRate"] = "nan"; o["sft"] = c },
             "field 'sft.learningRate' is nan: it must be a number in [0.0, 1000000.0]"),
            ("infinite eps", { o in var c = o["sft"] as! [String: Any]; c["adamEps"] = "inf"; o["sft"] = c },
             "field 'sft.adamEps' is inf: it must be a number in [1e-30, 1.0]"),
            ("unknown kind", { o in o["kind"] = "ppo" }, "field 'kind' is \"ppo\": it must be \"grpo\" or \"sft\""),
            ("history lines", { o in var h = o["history"] as! [String: Any]; h["lines"] = 7; o["history"] = h },
             "field 'history.lines' is 7, stepCount is 1: one line per step"),
            ("missing field", { o in o["order"] = nil }, "not a trainer state file: field 'order' is missing"),
            ("wrong type", { o in o["stepCount"] = "one" }, "not a trainer state file: field 'stepCount' has the wrong type"),
        ]
        for (name, edit, message) in cases {
            try good.write(to: dir.appendingPathComponent("trainer.json"))
            try editManifest(dir, edit)
            let e = resumeError(dir)
            // The model config's own wording is ModelConfig's: only the start is pinned.
            if message.hasSuffix("config field ") { XCTAssertTrue(e.hasPrefix("\(file): \(message)"), e) }
            else { XCTAssertEqual(e, "\(file): \(message)", name) }
        }
        try good.write(to: dir.appendingPathComponent("trainer.json"))
        XCTAssertNoThrow(try SFTTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images()))
    }

    /// A checkpoint written before an option existed, or under an older name of a setting,
    /// still resumes: a missing key takes the default, `maxCompletionTokens` is read as
    /// `maxTokens`, and the resumed run continues exactly as the saved one.
    func testCheckpointsWithoutNewerOptionsResumeWithTheirDefaults() throws {
        let root = try TestSupport.temporaryDirectory()
        let dir = root.appendingPathComponent("g.ckpt")
        let t = try grpo()
        try t.step()
        try t.save(to: dir)
        try editManifest(dir) { obj in
            var g = obj["grpo"] as! [String: Any]
            XCTAssertEqual(g["maxTokens"] as? Int, 5)
            g["maxCompletionTokens"] = g.removeValue(forKey: "maxTokens")
            g["numIterations"] = nil
            g["maskTruncatedCompletions"] = nil
            obj["grpo"] = g
        }
        let r = try GRPOTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())
        XCTAssertEqual(r.config, t.config)
        XCTAssertEqual(r.config.maxTokens, 5)
        XCTAssertEqual(try r.step().withoutTiming, try t.step().withoutTiming)
        // A wrong type inside the settings is still reported at its place in the file.
        try editManifest(dir) { obj in
            var g = obj["grpo"] as! [String: Any]
            g["group"] = "three"
            obj["grpo"] = g
        }
        XCTAssertThrowsError(try GRPOTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())) {
            XCTAssertTrue("\($0)".hasSuffix("trainer.json: not a trainer state file: field 'grpo.group' has the wrong type"), "\($0)")
        }
    }

    func testReferenceOfAnotherArchitectureIsRefused() throws {
        let root = try TestSupport.temporaryDirectory()
        let dir = root.appendingPathComponent("g.ckpt")
        let t = try grpo()
        try t.save(to: dir)
        var c = RLFixture.config(vocab: tok.vocabSize)
        c.dModel = 32
        let other = try MedR1Model(config: c, seed: 3)
        let ref = dir.appendingPathComponent("reference.safetensors")
        let data = try Checkpoint.encode(model: other, tokenizerJSON: tok.toJSON(), extraMetadata: ["trainer_step": "0"], path: ref.path)
        try FileManager.default.removeItem(at: ref)
        try data.write(to: ref)
        try editManifest(dir) { obj in
            var files = obj["files"] as! [String: Any]
            files["reference.safetensors"] = ["bytes": data.count, "fnv1a64": FileIO.hex(FileIO.fnv1a64(data)), "step": 0]
            obj["files"] = files
        }
        XCTAssertThrowsError(try GRPOTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())) {
            XCTAssertTrue("\($0)".contains("reference.safetensors has another architecture than the policy (image_size 8, channels 3, patch 4, d_model 32,"), "\($0)")
            XCTAssertTrue("\($0)".hasSuffix("the reference must be a copy of the policy's architecture"), "\($0)")
        }
    }

    /// Format 1 (metrics inside trainer.json, no manifest, no history.jsonl) still resumes.
    func testFormatOneCheckpointsStillResume() throws {
        let root = try TestSupport.temporaryDirectory()
        let dir = root.appendingPathComponent("old.ckpt")
        let t = try sft()
        try t.step()
        try t.step()
        try t.save(to: dir)
        let enc = JSONEncoder()
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let metrics = try JSONSerialization.jsonObject(with: enc.encode(t.history.steps))
        try editManifest(dir) { obj in
            obj["format"] = 1
            obj["files"] = nil
            obj["history"] = nil
            obj["metrics"] = metrics
        }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("history.jsonl"))
        let r = try SFTTrainer.resume(from: dir, dataset: RLFixture.dataset, images: RLFixture.images())
        XCTAssertEqual(r.history.steps, t.history.steps)
        let a = try t.step(), b = try r.step()
        XCTAssertEqual(a.withoutTiming, b.withoutTiming)
        // Saved again, it becomes format 2.
        try r.save(to: dir)
        XCTAssertEqual(try entries(dir), ["history.jsonl", "model.safetensors", "optimizer.safetensors", "trainer.json"])
    }

    func testIOErrorsInWords() throws {
        XCTAssertEqual(FileIO.reason(errno: ENOSPC), "no space left on the device")
        XCTAssertEqual(FileIO.reason(errno: EFBIG), "file too large (the file-size limit was reached)")
        XCTAssertEqual(FileIO.reason(errno: EACCES), "permission denied")
        XCTAssertEqual(FileIO.reason(errno: EROFS), "read-only file system")
        let root = try TestSupport.temporaryDirectory()
        // Foundation's errors through their underlying errno, not "error 512".
        do { _ = try Data(contentsOf: root) } catch { XCTAssertEqual(FileIO.reason(error), "is a directory") }
        do { try "x".write(to: root, atomically: true, encoding: .utf8) } catch { XCTAssertEqual(FileIO.reason(error), "is a directory") }
        XCTAssertThrowsError(try FileIO.writeAtomically(Data("x".utf8), to: root)) {
            XCTAssertEqual("\($0)", "\(root.path): cannot replace the file (is a directory)")
        }
        XCTAssertEqual(try entries(root.deletingLastPathComponent()).filter { $0.hasPrefix(".\(root.lastPathComponent)") }, [],
                       "the temporary is removed")
    }
}
