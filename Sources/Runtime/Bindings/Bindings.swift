// The MedR1Lib bindings: data, model, sampler, rewards, trainers, plots.

import Foundation
import MedR1Lib

enum Bindings {
    /// Apply session-wide settings to MedR1Lib (thread count).
    static func configure(threads: Int?) {
        if let n = threads { Parallelism.setThreads(n) }
    }
}

extension Builtins {
    static func registerBindings(_ add: Register) {
        Bindings.registerData(add)
        Bindings.registerSynth(add)
        Bindings.registerModel(add)
        Bindings.registerPlot(add)
        Bindings.registerSampling(add)
        Bindings.registerScoring(add)
        Bindings.registerTraining(add)
        Bindings.registerEval(add)
        Bindings.registerExport(add)
        Bindings.registerRuns(add)
        Bindings.registerStudy(add)
    }
}

struct DecodedImage {
    var png: Data?
    var pixels: [Float]
    var width: Int
    var height: Int
    var channels: Int
}

extension Bindings {
    /// The sample's image decoded for the terminal, plus its PNG bytes for notebooks.
    static func sampleImage(_ s: Sample) throws -> DecodedImage {
        let url = URL(fileURLWithPath: s.imagePath)
        let bytes = try PNGImage.readBytes(url)
        let png = try PNGImage.decode(bytes, path: url.path)
        return DecodedImage(png: bytes, pixels: png.pixels, width: png.width, height: png.height, channels: png.channels)
    }

    static func registerSynth(_ add: Builtins.Register) {
        add("synth", options: ["n", "seed", "size", "to", "options", "noise", "contrast", "lesion_scale", "modalities", "types"]) { a, ctx in
            try a.expect(0...0, "synth(n: 2000, seed: 7, size: 64, to: \"medr1-data\")")
            var cfg = SynthMedConfig(count: try a.namedInt("n") ?? 1000, imageSize: try a.namedInt("size") ?? 64,
                                     seed: try Bindings.seedOption(a, ctx))
            if let o = try a.namedInt("options") { cfg.options = o }
            if let x = try a.namedNumber("noise") { cfg.noise = x }
            if let x = try a.namedNumber("contrast") { cfg.lesionContrast = x }
            if let x = try a.namedNumber("lesion_scale") { cfg.lesionScale = x }
            if let mods = try a.namedList("modalities") {
                let set = Set(try mods.map { try parseModality($0, a) })
                cfg.modalityWeights = Dictionary(uniqueKeysWithValues: Modality.allCases.map { ($0, set.contains($0) ? 1.0 : 0.0) })
            }
            if let types = try a.namedList("types") {
                let set = Set(try types.map { try parseQuestionType($0, a) })
                cfg.questionTypeWeights = Dictionary(uniqueKeysWithValues: QuestionType.allCases.map { ($0, set.contains($0) ? 1.0 : 0.0) })
            }
            let root = ctx.resolve(try a.namedString("to") ?? "medr1-data")
            let samples: [Sample]
            do {
                samples = try SynthMed.generate(cfg, to: root, shouldStop: { Interrupt.isRequested })
            } catch is CancellationError {
                throw InterruptedError("synth: stopped before all \(cfg.count) images were written; \(root.path) holds some of them and no new JSON: run synth again to finish it")
            }
            return .host(DatasetObject(Dataset(name: cfg.dataset, root: root, samples: samples)))
        }
    }
}
