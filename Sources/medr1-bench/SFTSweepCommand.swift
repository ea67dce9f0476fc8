// `medr1-bench sft-sweep`: supervised training of the default model on SynthMed
// drawn in memory (no files), with greedy test accuracy by question type every
// few steps, to measure what limits learning (docs/experiments.md): a fixed
// training set against a fresh image for every question of every batch, the
// drawing size, and the recipe (lr, batch, warm-up, schedule).
import Foundation
import MedR1Lib

let sftSweepUsage = """
    usage: medr1-bench sft-sweep [--threads 2] [--steps 1000] [--eval-every 250] [--train N (0 = fresh draws)]
                                 [--draw 64] [--lr 1e-3] [--batch 64] [--warmup 0] [--cosine 0|1] [--min-lr 0.1]
                                 [--test 500] [--seed 0] [--noise 1] [--contrast 1] [--lesion-scale 1]
                                 [--easy-weight 1 (training frequency of modality and anatomy questions
                                                   against 1 for the others; the test set stays balanced)]
    """

/// SynthMed samples whose images are rendered on demand from their scene (no disk).
struct MemorySynth {
    var config: SynthMedConfig
    var drawSize: Int
    /// Item of a sample id, for the image loader.
    var items: [String: SynthMedItem] = [:]

    mutating func samples(_ range: Range<Int>, tag: String) -> [Sample] {
        range.map { i in
            let item = SynthMedQuestions.item(config, index: i)
            let id = "\(tag)\(i)"
            items[id] = item
            return Sample(imagePath: id, question: item.question, options: item.options, answerIndex: item.answerIndex,
                          modality: item.scene.modality, questionType: item.questionType, dataset: "SynthMed", id: id,
                          reasoning: item.reasoning)
        }
    }

    func loader(_ mc: ModelConfig) -> (Sample) throws -> [Float] {
        let items = self.items, size = drawSize, noise = config.noise, contrast = config.lesionContrast
        let scale = config.lesionScale
        return { s in
            guard let item = items[s.id] else { throw RLError.badImage("no item \(s.id)") }
            // quantised to 8 bits as the PNG files are
            var png = SynthMedRender.draw(item.scene, size: size, noise: noise, contrast: contrast, lesionScale: scale).image()
            png.pixels = png.pixels.map { ($0 * 255).rounded() / 255 }
            return try Preprocess.image(png, imageSize: mc.imageSize, channels: mc.channels)
        }
    }
}

func runSFTSweep(_ arguments: [String]) -> Int32 {
    var threads = 2, steps = 1000, evalEvery = 250, trainCount = 0, draw = 64, batch = 64, warmup = 0, testCount = 500
    var lr = 1e-3, cosine = false, minLR = 0.1, seed: UInt64 = 0, noise = 1.0, contrast = 1.0, lesionScale = 1.0
    var easyWeight = 1.0
    var args = ArraySlice(arguments)
    func fail(_ s: String) -> Int32 { writeError("medr1-bench sft-sweep: \(s)\n\(sftSweepUsage)"); return 2 }
    while let a = args.popFirst() {
        if a == "-h" || a == "--help" { writeLine(sftSweepUsage); return 0 }
        guard let v = args.popFirst() else { return fail("\(a) needs a value") }
        guard let x = Double(v) else { return fail("\(a) \(v): not a number") }
        switch a {
        case "--threads": threads = Int(x)
        case "--steps": steps = Int(x)
        case "--eval-every": evalEvery = max(1, Int(x))
        case "--train": trainCount = Int(x)
        case "--draw": draw = Int(x)
        case "--lr": lr = x
        case "--batch": batch = Int(x)
        case "--warmup": warmup = Int(x)
        case "--cosine": cosine = x != 0
        case "--min-lr": minLR = x
        case "--test": testCount = Int(x)
        case "--seed": seed = UInt64(x)
        case "--noise": noise = x
        case "--contrast": contrast = x
        case "--lesion-scale": lesionScale = x
        case "--easy-weight": easyWeight = x
        default: return fail("unknown option \(a)")
        }
    }
    Parallelism.setThreads(threads)
    do {
        let t0 = Date()
        var sc = SynthMedConfig(count: 1, imageSize: draw, seed: seed)
        sc.noise = noise
        sc.lesionContrast = contrast
        sc.lesionScale = lesionScale
        var synth = MemorySynth(config: sc, drawSize: draw)
        let fresh = trainCount == 0
        let balanced = synth.config.questionTypeWeights
        synth.config.questionTypeWeights[.modality] = easyWeight
        synth.config.questionTypeWeights[.anatomy] = easyWeight
        let train = synth.samples(0..<(fresh ? steps * batch : trainCount), tag: "train")
        synth.config.questionTypeWeights = balanced
        var testSynth = synth
        testSynth.config.seed = seed &+ 1_000_003
        let test = testSynth.samples(0..<testCount, tag: "test")
        synth.items.merge(testSynth.items) { a, _ in a }
        let trainSet = Dataset(name: "train", root: URL(fileURLWithPath: "/"), samples: train)
        let testSet = Dataset(name: "test", root: URL(fileURLWithPath: "/"), samples: test)
        let tok = Dataset(name: "tok", root: URL(fileURLWithPath: "/"), samples: Array(train.prefix(4000)))
            .trainTokenizer(vocabSize: 512, template: .tiny)
        var mc = ModelConfig()
        mc.vocabSize = max(mc.vocabSize, tok.vocabSize)
        let images = ImageCache(imageSize: mc.imageSize, channels: mc.channels, loader: synth.loader(mc))
        let testImages = ImageCache(imageSize: mc.imageSize, channels: mc.channels, loader: synth.loader(mc))
        var cfg = SFTConfig()
        cfg.batchSize = batch
        cfg.learningRate = lr
        cfg.seed = seed
        cfg.schedule = cosine ? .cosine(warmup: warmup, total: steps, minFactor: minLR) : (warmup > 0 ? .warmup(steps: warmup) : .constant)
        let sft = try SFTTrainer(model: try MedR1Model(config: mc, seed: seed), tokenizer: tok, dataset: trainSet,
                                 config: cfg, template: .tiny, images: images)
        let ev = Evaluator(tokenizer: tok, template: .tiny, sampler: SamplerConfig(greedy: true, maxTokens: 48))
        writeLine("sft-sweep: \(fresh ? "fresh draws" : "fixed set of \(trainCount)"), draw \(draw) px, lr \(lr), batch \(batch), "
                  + "lesion scale \(lesionScale), schedule \(cfg.schedule), seed \(seed), test \(testCount), threads \(threads)")
        var trainSeconds = 0.0, lossSum = 0.0, lossN = 0
        for s in 1...steps {
            let ts = Date()
            let m = try sft.step()
            if fresh { images.removeAll() }  // fresh images for the next batch's questions
            trainSeconds += Date().timeIntervalSince(ts)
            lossSum += m["loss"] ?? .nan; lossN += 1
            if s % evalEvery == 0 || s == steps {
                let r = try ev.evaluate(sft.model, on: testSet, images: testImages)
                let types = QuestionType.allCases.map { String(format: "%.2f", r.byQuestionType[$0]?.rate ?? .nan) }
                let testLoss = try sft.loss(on: Array(test.prefix(200)))
                writeLine(String(format: "step %5d  loss %.4f  test loss %.4f  test %.3f  ", s, lossSum / Double(lossN),
                                 testLoss, r.accuracy.rate)
                          + "[" + types.joined(separator: " ") + "]"
                          + String(format: "  train %.0f s  wall %.0f s", trainSeconds, Date().timeIntervalSince(t0)))
                lossSum = 0; lossN = 0
                if s == steps { writeLine(r.table.description) }
            }
        }
        return 0
    } catch {
        writeError("medr1-bench sft-sweep: \(error)")
        return 1
    }
}
