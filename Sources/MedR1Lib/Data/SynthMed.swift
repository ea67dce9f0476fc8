// SynthMed: a synthetic medical VQA set with OmniMedVQA's shape, written to disk
// in OmniMedVQA's layout so the same loader reads synthetic and real data:
//   <root>/Images/<dataset>/<Modality>/<id>.png
//   <root>/QA_information/Open-access/<dataset>.json
// Each JSON record has OmniMedVQA's fields (dataset, question_id, question_type,
// question, gt_answer = option text, image_path relative to root, option_A..D,
// modality_type with OmniMedVQA's spellings) plus `reasoning`.
//
// Determinism: item i depends only on (seed, i, knobs); images are drawn on
// several threads but each from its own random streams, and the JSON is written
// once in index order, so the same config gives byte-identical files.

import Foundation

public enum SynthMed {
    /// Writes `config.count` samples under `root` and returns them (absolute image paths).
    /// Existing files with the same names are overwritten. `shouldStop` is polled
    /// before each image (Ctrl-C); once it is true the workers finish the image
    /// they are on and `generate` throws `CancellationError` without writing the
    /// JSON; the images written so far stay.
    public static func generate(_ config: SynthMedConfig, to root: URL,
                                shouldStop: @escaping @Sendable () -> Bool = { false }) throws -> [Sample] {
        try config.validate()
        let items = try (0..<config.count).map { i in
            if i % 1024 == 0, shouldStop() { throw CancellationError() }
            return SynthMedQuestions.item(config, index: i)
        }
        let fm = FileManager.default
        let imageRoot = root.appendingPathComponent("Images").appendingPathComponent(config.dataset)
        let qaDir = root.appendingPathComponent("QA_information").appendingPathComponent("Open-access")
        do {
            for m in Set(items.map(\.scene.modality)) {
                try fm.createDirectory(at: imageRoot.appendingPathComponent(m.rawValue), withIntermediateDirectories: true)
            }
            try fm.createDirectory(at: qaDir, withIntermediateDirectories: true)
        } catch {
            throw SynthMedError(message: "\(root.path): cannot create the output folders (\(FileIO.reason(error))); choose a writable root")
        }
        // Images are written without a clean-up per file; the temporaries of a
        // generation killed mid-write go here, one folder listing each.
        for m in Set(items.map(\.scene.modality)) {
            FileIO.removeStaleTemporaries(inFolder: imageRoot.appendingPathComponent(m.rawValue))
        }
        let ids = (0..<config.count).map { id(config, $0) }
        let relative = (0..<config.count).map { i in
            "Images/\(config.dataset)/\(items[i].scene.modality.rawValue)/\(ids[i]).png"
        }

        // draw and encode in parallel: worker w takes indices w, w + T, w + 2T, ...
        let threads = max(1, config.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : config.threads)
        let failures = FailureBox()
        DispatchQueue.concurrentPerform(iterations: threads) { w in
            var i = w
            while i < config.count && !failures.any && !shouldStop() {
                let canvas = SynthMedRender.draw(items[i].scene, size: config.imageSize, noise: config.noise,
                                                 contrast: config.lesionContrast, lesionScale: config.lesionScale)
                do {
                    try canvas.image().write(to: root.appendingPathComponent(relative[i]), bitDepth: 8, fast: true)
                } catch {
                    failures.add(i, "\(error)")
                }
                i += threads
            }
        }
        if let (_, message) = failures.first {
            throw SynthMedError(message: "SynthMed: \(message)")
        }
        if shouldStop() { throw CancellationError() }

        var json = "[\n"
        for (i, item) in items.enumerated() {
            let spec = SynthMedVocabulary.spec(item.scene.modality)
            var fields: [(String, String)] = [
                ("dataset", config.dataset), ("question_id", ids[i]), ("question_type", item.questionType.rawValue),
                ("question", item.question), ("gt_answer", item.answer), ("image_path", relative[i]),
            ]
            for (k, option) in item.options.enumerated() {
                fields.append(("option_\(Character(UnicodeScalar(UInt8(65 + k))))", option))
            }
            fields.append(("modality_type", spec.omniName))
            fields.append(("reasoning", item.reasoning))
            json += "  {" + fields.map { "\(JSONLiteral.string($0.0)): \(JSONLiteral.string($0.1))" }.joined(separator: ", ") + "}"
            json += i + 1 < items.count ? ",\n" : "\n"
        }
        json += "]\n"
        let jsonURL = qaDir.appendingPathComponent("\(config.dataset).json")
        do {
            try FileIO.writeAtomically(Data(json.utf8), to: jsonURL)
        } catch {
            throw SynthMedError(message: "\(jsonURL.path): cannot write (\(FileIO.reason(error)))")
        }

        return items.enumerated().map { i, item in
            Sample(imagePath: root.appendingPathComponent(relative[i]).path, question: item.question,
                   options: item.options, answerIndex: item.answerIndex, modality: item.scene.modality,
                   questionType: item.questionType, dataset: config.dataset, id: ids[i], reasoning: item.reasoning)
        }
    }

    /// The id (and file name) of sample `index`: "<dataset>_000042".
    public static func id(_ config: SynthMedConfig, _ index: Int) -> String {
        let digits = String(index)
        return "\(config.dataset)_" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }


    // MARK: - Contact sheet

    /// A grid PNG for looking at a data set: one row per modality present, in `Modality.allCases`
    /// order (CT, MRI, X-Ray, Ultrasound, Dermoscopy, Fundus, OCT, Microscopy), the first
    /// `perRow` samples of that modality left to right, each scaled to `cell` px, 2 px apart.
    public static func contactSheet(_ samples: [Sample], perRow: Int = 8, cell: Int = 64, to url: URL) throws {
        let present = Modality.allCases.filter { m in samples.contains { $0.modality == m } }
        let gap = 2, rows = max(1, present.count)
        let width = perRow * (cell + gap) + gap, height = rows * (cell + gap) + gap
        var sheet = [Float](repeating: 0.15, count: width * height * 3)
        for (row, m) in present.enumerated() {
            for (col, sample) in samples.filter({ $0.modality == m }).prefix(perRow).enumerated() {
                let png = try PNGImage.read(URL(fileURLWithPath: sample.imagePath))
                let colour = png.hasAlpha ? png.channels - 1 : png.channels
                let small = Preprocess.resizeBilinear(png.pixels, width: png.width, height: png.height, stride: png.channels,
                                                      keep: colour, outWidth: cell, outHeight: cell)
                let x0 = gap + col * (cell + gap), y0 = gap + row * (cell + gap)
                for y in 0..<cell {
                    for x in 0..<cell {
                        for c in 0..<3 {
                            sheet[((y0 + y) * width + x0 + x) * 3 + c] = small[(y * cell + x) * colour + (colour == 3 ? c : 0)]
                        }
                    }
                }
            }
        }
        try PNGImage(width: width, height: height, channels: 3, pixels: sheet).write(to: url)
    }
}

/// First failure of the parallel writers (index, message), shared under a lock.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [(Int, String)] = []
    func add(_ i: Int, _ m: String) { lock.lock(); failures.append((i, m)); lock.unlock() }
    var any: Bool { lock.lock(); defer { lock.unlock() }; return !failures.isEmpty }
    var first: (Int, String)? { lock.lock(); defer { lock.unlock() }; return failures.min { $0.0 < $1.0 } }
}
