import XCTest
@testable import MedR1Lib

/// Every answer is determined by what was drawn: for a sample of each question type,
/// re-measure the image. The lesion (or the counted cells) is found as the difference
/// between the scene drawn with and without it (same random streams elsewhere), then
/// its area, centroid, colour, sign and number of connected parts are compared with
/// the answer.
final class SynthMedAnswerTests: XCTestCase {
    let size = 64

    /// Pixels where the two canvases differ by more than `threshold` on any channel.
    func diffMask(_ a: SynthCanvas, _ b: SynthCanvas, threshold: Float = 0.05) -> [Bool] {
        (0..<(size * size)).map { p in
            (0..<a.channels).contains { c in abs(a.data[p * a.channels + c] - b.data[p * b.channels + c]) > threshold }
        }
    }
    func lesionMask(_ s: SynthMedScene, threshold: Float = 0.05) -> (SynthCanvas, [Bool]) {
        let with = SynthMedRender.draw(s, size: size), without = SynthMedRender.draw(s, size: size, parts: SynthParts(lesion: false))
        return (with, diffMask(with, without, threshold: threshold))
    }
    /// 4-connected components of a mask.
    func components(_ mask: [Bool]) -> Int {
        var seen = [Bool](repeating: false, count: mask.count), n = 0
        for start in mask.indices where mask[start] && !seen[start] {
            n += 1
            var stack = [start]
            seen[start] = true
            while let p = stack.popLast() {
                let x = p % size, y = p / size
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < size && ny < size {
                    let q = ny * size + nx
                    if mask[q] && !seen[q] { seen[q] = true; stack.append(q) }
                }
            }
        }
        return n
    }
    /// OCT elements sit side by side: count runs of image columns that contain lesion pixels.
    func columnRuns(_ mask: [Bool]) -> Int {
        var runs = 0, inside = false
        for x in 0..<size {
            let hit = (0..<size).contains { mask[$0 * size + x] }
            if hit && !inside { runs += 1 }
            inside = hit
        }
        return runs
    }
    func items(_ type: QuestionType, count: Int = 240,
               seed: UInt64 = UInt64(ProcessInfo.processInfo.environment["MEDR1_ANSWER_SEED"] ?? "") ?? 21) -> [SynthMedItem] {
        var config = SynthMedConfig(count: count, imageSize: size, seed: seed)
        config.questionTypeWeights = [type: 1]
        return (0..<count).map { SynthMedQuestions.item(config, index: $0) }
    }

    func testGradeOrdersLesionArea() throws {
        // within each (modality, finding), every mild lesion is smaller than every moderate one, and so on
        var areas: [String: [Int: [Int]]] = [:]
        for item in items(.grading) {
            let s = item.scene
            XCTAssertGreaterThan(s.finding, 0)
            XCTAssertEqual(item.answer, ["mild", "moderate", "severe"][s.grade - 1])
            let mask = lesionMask(s).1
            // OCT grades the size of each pocket or druse, whatever their number
            let area = mask.filter { $0 }.count / (s.modality == .oct ? max(1, columnRuns(mask)) : 1)
            XCTAssertGreaterThan(area, 0, "\(s)")
            areas["\(s.modality) \(s.finding)", default: [:]][s.grade, default: []].append(area)
        }
        XCTAssertEqual(areas.count, 16, "every abnormal finding of every modality was graded")
        for (key, byGrade) in areas {
            for g in 1...2 {
                guard let lo = byGrade[g]?.max(), let hi = byGrade[g + 1]?.min() else { continue }
                XCTAssertLessThan(lo, hi, "\(key): largest grade-\(g) area \(lo) >= smallest grade-\(g + 1) area \(hi)")
            }
        }
    }

    func testLesionScaleEnlargesLesionsKeepsGradesAndLeavesTheDefaultAlone() throws {
        var small = 0, big = 0
        for item in items(.grading, count: 60) {
            let s = item.scene
            XCTAssertEqual(SynthMedRender.draw(s, size: size, lesionScale: 1).data, SynthMedRender.draw(s, size: size).data)
            let a = lesionMask(s).1.filter { $0 }.count
            let b = diffMask(SynthMedRender.draw(s, size: size, lesionScale: 1.5),
                             SynthMedRender.draw(s, size: size, lesionScale: 1.5, parts: SynthParts(lesion: false)))
                .filter { $0 }.count
            XCTAssertGreaterThanOrEqual(b, a, "\(s)")
            // sized lesions (fundus spots and microscopy cells are counted; glaucoma's cup is capped)
            if [.ct, .mri, .ultrasound, .dermoscopy].contains(s.modality) { small += a; big += b }
        }
        // area grows about with the square of the scale (a fixed-width rim and tissue of the
        // lesion's own brightness keep it below 2.25)
        XCTAssertGreaterThan(Double(big), 1.6 * Double(small), "\(small) -> \(big)")
    }

    func testAttributesMatchTheImage() throws {
        var checked: [String: Int] = [:]
        for item in items(.attribute) {
            let s = item.scene
            switch SynthMedVocabulary.spec(s.modality).attribute {
            case .quadrant:
                // centroid of the lesion lies in the named quadrant
                let mask = lesionMask(s).1
                let pts = mask.indices.filter { mask[$0] }
                let cx = Double(pts.map { $0 % size }.reduce(0, +)) / Double(pts.count) + 0.5
                let cy = Double(pts.map { $0 / size }.reduce(0, +)) / Double(pts.count) + 0.5
                let measured = (cy < Double(size) / 2 ? "upper" : "lower") + " " + (cx < Double(size) / 2 ? "left" : "right")
                XCTAssertEqual(measured, item.answer, "\(s)")
                checked["quadrant", default: 0] += 1
            case .colour:
                // median colour of the lesion's interior (mask eroded by one pixel, so no
                // edge pixels blended with skin) is nearest to the named colour
                let (img, mask) = lesionMask(s)
                let inner = mask.indices.filter { p in
                    let x = p % size, y = p / size
                    return mask[p] && x > 0 && y > 0 && x < size - 1 && y < size - 1
                        && mask[p - 1] && mask[p + 1] && mask[p - size] && mask[p + size]
                }
                let mean: [Float] = (0..<3).map { c in inner.map { img.data[$0 * 3 + c] }.sorted()[inner.count / 2] }
                let refs: [(String, [Float])] = [("brown", [0.48, 0.28, 0.16]), ("black", [0.13, 0.09, 0.08]),
                                                 ("red", [0.74, 0.16, 0.2]), ("blue", [0.3, 0.36, 0.58])]
                let nearest = refs.min { a, b in zip(a.1, mean).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
                    < zip(b.1, mean).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) }!.0
                XCTAssertEqual(nearest, item.answer, "mean colour \(mean) for \(s)")
                checked["colour", default: 0] += 1
            case .eye:
                // the brightest spot (the optic cup) is on the image's right for a right eye
                let img = SynthMedRender.draw(s, size: size)
                let sums: [Float] = (0..<(size * size)).map { p in img.data[p * 3] + img.data[p * 3 + 1] + img.data[p * 3 + 2] }
                let bright = sums.indices.max { sums[$0] < sums[$1] }!
                XCTAssertEqual(bright % size < size / 2 ? "left eye" : "right eye", item.answer, "\(s)")
                checked["eye", default: 0] += 1
            case .count:
                // connected parts of the counted elements
                let mask: [Bool]
                if s.modality == .microscopy {
                    let with = SynthMedRender.draw(s, size: size)
                    mask = diffMask(with, SynthMedRender.draw(s, size: size, parts: SynthParts(counted: false)))
                } else {
                    mask = lesionMask(s, threshold: 0.1).1
                }
                let n = s.modality == .oct ? columnRuns(mask) : components(mask)
                XCTAssertEqual(String(n), item.answer, "\(s)")
                checked["count \(s.modality)", default: 0] += 1
            }
        }
        XCTAssertEqual(Set(checked.keys), ["quadrant", "colour", "eye", "count oct", "count microscopy"], "\(checked)")
    }

    /// What the default model sees: a canvas as 8-bit PNG pixels preprocessed to its
    /// 32 px input, one value per pixel (channels averaged), in [0, 1].
    func modelView(_ c: SynthCanvas) throws -> [Float] {
        var png = c.image()
        png.pixels = png.pixels.map { ($0 * 255).rounded() / 255 }
        let x = try Preprocess.image(png, imageSize: 32, channels: 3)
        return (0..<(32 * 32)).map { p in (x[p * 3] + x[p * 3 + 1] + x[p * 3 + 2]) / 6 + 0.5 }
    }

    /// Counted elements and quadrant lesions, measured at the model's 32 px where the
    /// image is cut into a 4 x 4 grid of 8-px patches: every counted element lies in
    /// one patch (an element cut by a patch border shows as two or four partial ones,
    /// and a white cell at the centre as four), the patches holding elements number
    /// the label, and a quadrant lesion lies wholly in the labelled quadrant.
    func testCountedElementsAndQuadrantLesionsStayInsideTheModelsPatches() throws {
        var checked: [String: Int] = [:]
        for seed: UInt64 in [21, 22] {
            for item in items(.attribute, count: 300, seed: seed) {
                let s = item.scene
                let attribute = SynthMedVocabulary.spec(s.modality).attribute
                let without: SynthParts
                switch attribute {
                case .quadrant: without = SynthParts(lesion: false)
                case .count: without = s.modality == .microscopy ? SynthParts(counted: false) : SynthParts(lesion: false)
                default: continue
                }
                let a = try modelView(SynthMedRender.draw(s, size: size))
                let b = try modelView(SynthMedRender.draw(s, size: size, parts: without))
                let mask = zip(a, b).map { abs($0 - $1) > 0.04 }
                let pixels = mask.indices.filter { mask[$0] }
                XCTAssertFalse(pixels.isEmpty, "nothing drawn: \(s)")
                if case .quadrant = attribute {
                    let quadrants = Set(pixels.map { p in (p / 32 < 16 ? "upper" : "lower") + " " + (p % 32 < 16 ? "left" : "right") })
                    XCTAssertEqual(quadrants, [item.answer], "\(s)")
                    checked["quadrant \(s.modality)", default: 0] += 1
                    continue
                }
                // each 4-connected part of the elements lies in one patch
                var label = [Int](repeating: -1, count: mask.count), parts = 0
                for start in pixels where label[start] < 0 {
                    var stack = [start], patches: Set<Int> = []
                    label[start] = parts
                    while let p = stack.popLast() {
                        let x = p % 32, y = p / 32
                        patches.insert(y / 8 * 4 + x / 8)
                        for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < 32 && ny < 32 {
                            let q = ny * 32 + nx
                            if mask[q] && label[q] < 0 { label[q] = parts; stack.append(q) }
                        }
                    }
                    XCTAssertEqual(patches.count, 1, "an element spans patches \(patches.sorted()): \(s)")
                    parts += 1
                }
                let patches = Set(pixels.map { $0 / 32 / 8 * 4 + $0 % 32 / 8 })
                XCTAssertEqual(String(patches.count), item.answer, "\(s)")
                checked["count \(s.modality)", default: 0] += 1
            }
        }
        XCTAssertEqual(Set(checked.keys), ["quadrant ct", "quadrant mri", "quadrant xray", "quadrant ultrasound",
                                           "count oct", "count microscopy"], "\(checked)")
    }

    /// Sensor noise is drawn per pixel: an image drawn at 64 px and shrunk to the model's
    /// 32 averages it to half, so one drawn at 32 px directly gets half as much (and one
    /// at 64 px the full amount), and the two look alike to the model.
    func testPixelNoiseDrawnAt32MatchesA64ImageShrunk() throws {
        let scene = SynthMedScene(modality: .ct, anatomy: 0, seed: 5)
        func noiseStd(_ n: Int) -> Double {
            let a = SynthMedRender.draw(scene, size: n).data, b = SynthMedRender.draw(scene, size: n, noise: 0).data
            let d = zip(a, b).map { Double($0 - $1) }
            let mean = d.reduce(0, +) / Double(d.count)
            return (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count)).squareRoot()
        }
        XCTAssertEqual(noiseStd(64), 0.025, accuracy: 0.002)
        XCTAssertEqual(noiseStd(32), 0.0125, accuracy: 0.001)
        XCTAssertEqual(noiseStd(128), 0.025, accuracy: 0.002)
    }

    func testDiagnosisMatchesLesionPresenceAndBrightness() throws {
        // normal: nothing drawn; bright findings raise the image, dark ones lower it
        let brighter: Set<String> = ["tumor", "nodule", "mass", "drusen", "glaucoma"]
        // (a CT cyst is a dark centre in a bright wall: no single sign, not checked here)
        let darker: Set<String> = ["cyst", "infarct", "macular edema", "malaria"]
        var checked = 0
        for item in items(.disease, count: 160) {
            let s = item.scene
            let (with, mask) = lesionMask(s, threshold: 0.02)
            let area = mask.filter { $0 }.count
            if item.answer == "normal" { XCTAssertEqual(area, 0, "\(s)"); continue }
            XCTAssertGreaterThan(area, 0, "\(s)")
            let without = SynthMedRender.draw(s, size: size, parts: SynthParts(lesion: false))
            var delta: Float = 0
            for p in mask.indices where mask[p] {
                for c in 0..<with.channels { delta += with.data[p * with.channels + c] - without.data[p * with.channels + c] }
            }
            if s.modality == .ct && item.answer == "cyst" { continue }
            if brighter.contains(item.answer) {
                XCTAssertGreaterThan(delta, 0, "\(item.answer) should brighten the image: \(s)")
                checked += 1
            } else if darker.contains(item.answer) {
                XCTAssertLessThan(delta, 0, "\(item.answer) should darken the image: \(s)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 60)
    }
}
