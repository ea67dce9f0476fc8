// SynthMed's painters: one per modality, each drawing its visual signature,
// the chosen anatomy, and the lesion the question is about.
//
// Random streams are kept apart so that parts can be re-drawn independently:
// `base` (anatomy and its jitter), `lesion` (finding placement), `counted`
// (elements that are counted), `noise` (texture). Drawing a scene with the lesion
// (or the counted elements) left out gives the same image elsewhere, which is how
// the tests re-measure what was drawn (difference image = the lesion).

import Foundation

/// Everything that determines one SynthMed image.
public struct SynthMedScene: Equatable, Sendable {
    public var modality: Modality
    /// Index into the modality's `anatomies`.
    public var anatomy: Int
    /// Index into the modality's `findings`; 0 = normal (no lesion).
    public var finding: Int
    /// 1...3 (mild, moderate, severe): lesion size, or number of elements for count-graded findings.
    public var grade: Int
    /// Lesion quadrant 0...3 (upper left, upper right, lower left, lower right) where the modality uses it.
    public var quadrant: Int
    /// Skin-lesion colour index into `SynthMedVocabulary.colours`.
    public var colour: Int
    /// Fundus: right eye (optic disc on the image's right).
    public var rightEye: Bool
    /// 1...4: OCT lesion elements, or white blood cells in microscopy.
    public var count: Int
    /// Seed of shapes, jitter and noise.
    public var seed: UInt64

    public init(modality: Modality, anatomy: Int = 0, finding: Int = 0, grade: Int = 1, quadrant: Int = 0,
                colour: Int = 0, rightEye: Bool = false, count: Int = 1, seed: UInt64 = 0) {
        self.modality = modality; self.anatomy = anatomy; self.finding = finding; self.grade = grade
        self.quadrant = quadrant; self.colour = colour; self.rightEye = rightEye; self.count = count; self.seed = seed
    }
}

/// Which parts to draw (tests leave parts out to measure them).
public struct SynthParts: Sendable {
    public var lesion = true
    public var counted = true
    public init(lesion: Bool = true, counted: Bool = true) { self.lesion = lesion; self.counted = counted }
}

public enum SynthMedRender {
    /// Draws a scene at `size` x `size`. `noise` and `contrast` are the config's multipliers.
    /// `lesionScale` multiplies the size of lesions and lesion elements (capped where
    /// elements must stay apart to be counted, or inside the optic disc).
    public static func draw(_ s: SynthMedScene, size: Int, noise: Double = 1, contrast: Double = 1,
                            lesionScale: Double = 1, parts: SynthParts = SynthParts()) -> SynthCanvas {
        var p = Painter(scene: s, size: size, noise: noise, contrast: Float(contrast), lesionScale: lesionScale, parts: parts)
        switch s.modality {
        case .ct: p.ct()
        case .mri: p.mri()
        case .xray: p.xray()
        case .ultrasound: p.ultrasound()
        case .dermoscopy: p.dermoscopy()
        case .fundus: p.fundus()
        case .oct: p.oct()
        case .microscopy: p.microscopy()
        }
        return p.c
    }

    /// Lesion radius (normalised) of a grade, before jitter.
    static let gradeRadius = [0.05, 0.085, 0.125]
    /// Side of one cell of the 4 x 4 grid that counted elements and quadrant lesions
    /// are placed in: one 8-px patch of medr1-tiny's 32-px input. An element cut by
    /// a cell border would show as two or four partial elements to a model that
    /// sees the image patch by patch.
    static let cell = 0.25
}

private struct Painter {
    let s: SynthMedScene
    var c: SynthCanvas
    let noiseLevel: Double
    let contrast: Float
    let lesionScale: Double
    let parts: SynthParts
    var base: SynthMedRandom
    var les: SynthMedRandom
    var cnt: SynthMedRandom
    var tex: SynthMedRandom

    init(scene: SynthMedScene, size: Int, noise: Double, contrast: Float, lesionScale: Double, parts: SynthParts) {
        s = scene
        c = SynthCanvas(size: size, channels: SynthMedVocabulary.spec(scene.modality).channels)
        noiseLevel = noise
        self.contrast = contrast
        self.lesionScale = lesionScale
        self.parts = parts
        base = SynthMedRandom(seed: scene.seed, index: 0, salt: 1)
        les = SynthMedRandom(seed: scene.seed, index: 0, salt: 2)
        cnt = SynthMedRandom(seed: scene.seed, index: 0, salt: 3)
        tex = SynthMedRandom(seed: scene.seed, index: 0, salt: 4)
    }

    var hasLesion: Bool { s.finding > 0 && parts.lesion }
    func g(_ v: Float) -> SynthColor { SynthColor(gray: v) }
    /// Lesion colour: the surrounding tissue moved toward `target` by the contrast knob.
    func lesionColour(_ tissue: SynthColor, _ target: SynthColor) -> SynthColor { tissue.mix(target, contrast) }
    /// Lesion radius for the scene's grade, jittered by ±8% (grades stay apart).
    mutating func radius(scale: Double = 1) -> Double {
        SynthMedRender.gradeRadius[s.grade - 1] * scale * lesionScale * les.uniform(0.92, 1.08)
    }
    /// Centre of a lesion reaching `halfWidth` / `halfHeight` from it, in the scene's
    /// quadrant of the image (not of the jittered anatomy): at least its half extent
    /// plus a margin from both midlines, so the whole lesion lies in the named
    /// quadrant. A lesion up to moderate size sits inside one of the four central
    /// cells of the 4 x 4 grid (the model's 8-px patches at 32 px), whose centres
    /// are 0.125 from the midlines.
    mutating func quadrantCentre(halfWidth: Double, halfHeight: Double) -> (Double, Double) {
        let sx: Double = s.quadrant % 2 == 0 ? -1 : 1
        let sy: Double = s.quadrant < 2 ? -1 : 1
        let ox = max(SynthMedRender.cell / 2, halfWidth + 0.03) + les.uniform(0, 0.015)
        let oy = max(SynthMedRender.cell / 2, halfHeight + 0.03) + les.uniform(0, 0.015)
        return (0.5 + sx * ox, 0.5 + sy * oy)
    }
    /// Per-pixel noise is drawn independently for every pixel, so an image drawn at
    /// 64 px and shrunk to the model's 32 averages it down; drawn smaller than
    /// 64 px it is scaled by size / 64 so that it looks the same as that shrunk image
    /// (64 px and larger: unchanged).
    var pixelNoiseScale: Double { min(1, Double(c.size) / 64) }
    func sigma(_ v: Double) -> Double { v * noiseLevel * pixelNoiseScale }

    // MARK: - CT: axial section, black air, grey soft tissue, bright bone

    mutating func ct() {
        c.fill(g(0.03))
        let jx = base.uniform(-0.02, 0.02), jy = base.uniform(-0.02, 0.02)
        switch s.anatomy {
        case 0: // head: bright skull ring around grey brain, dark ventricles
            c.ellipse(0.5 + jx, 0.5 + jy, 0.36, 0.43, g(0.42))
            c.ring(0.5 + jx, 0.5 + jy, 0.375, 0.445, thickness: 0.05, g(0.97))
            c.ellipse(0.45 + jx, 0.48 + jy, 0.03, 0.09, angle: 0.25, g(0.16))
            c.ellipse(0.55 + jx, 0.48 + jy, 0.03, 0.09, angle: -0.25, g(0.16))
        case 1: // chest: body, dark lungs, heart, spine, sternum, rib dots
            c.ellipse(0.5 + jx, 0.52 + jy, 0.46, 0.34, g(0.36))
            c.ellipse(0.5 + jx, 0.52 + jy, 0.43, 0.31, g(0.5))
            c.ellipse(0.31 + jx, 0.48 + jy, 0.13, 0.2, g(0.07))
            c.ellipse(0.69 + jx, 0.48 + jy, 0.13, 0.2, g(0.07))
            c.ellipse(0.54 + jx, 0.53 + jy, 0.11, 0.1, g(0.58))
            c.ellipse(0.5 + jx, 0.77 + jy, 0.05, 0.045, g(0.95))
            c.ellipse(0.5 + jx, 0.25 + jy, 0.035, 0.018, g(0.9))
            for k in 0..<10 {
                let a = Double.pi * (0.1 + 0.8 * Double(k) / 9)
                let side: Double = k % 2 == 0 ? 1 : -1
                c.ellipse(0.5 + jx + side * 0.405 * cos(a / 2 + 0.3), 0.52 + jy - 0.29 * sin(a / 2 + 0.3) * (k < 5 ? 1 : -1),
                          0.018, 0.018, g(0.9))
            }
        default: // abdomen: liver, stomach, kidneys, spine, aorta, bowel gas
            c.ellipse(0.5 + jx, 0.52 + jy, 0.45, 0.35, g(0.36))
            c.ellipse(0.5 + jx, 0.52 + jy, 0.42, 0.32, g(0.5))
            c.ellipse(0.33 + jx, 0.44 + jy, 0.17, 0.15, g(0.63))
            c.ellipse(0.66 + jx, 0.41 + jy, 0.09, 0.07, g(0.3))
            c.ellipse(0.36 + jx, 0.66 + jy, 0.05, 0.075, g(0.7))
            c.ellipse(0.64 + jx, 0.66 + jy, 0.05, 0.075, g(0.7))
            c.ellipse(0.5 + jx, 0.76 + jy, 0.055, 0.05, g(0.95))
            c.ellipse(0.5 + jx, 0.64 + jy, 0.022, 0.022, g(0.72))
            for _ in 0..<4 {
                c.ellipse(base.uniform(0.4, 0.7) + jx, base.uniform(0.55, 0.75) + jy, 0.018, 0.015, g(0.08))
            }
        }
        if hasLesion {
            let r = radius()
            let (x, y) = quadrantCentre(halfWidth: r + 0.01, halfHeight: r + 0.01)
            if s.finding == 1 {
                c.ellipse(x, y, r, r * les.uniform(0.85, 1), angle: les.uniform(0, 3), lesionColour(g(0.5), g(0.9)))
            } else {
                c.ellipse(x, y, r, r, lesionColour(g(0.5), g(0.06)))
                c.ring(x, y, r, r, thickness: 0.02, lesionColour(g(0.5), g(0.85)))
            }
        }
        c.blur(passes: 1)
        c.noise(sigma(0.025), rng: &tex)
    }

    // MARK: - MRI: soft-tissue contrast, bright fat and fluid, dark cortical bone

    mutating func mri() {
        c.fill(g(0.02))
        let jx = base.uniform(-0.02, 0.02), jy = base.uniform(-0.02, 0.02)
        switch s.anatomy {
        case 0: // brain (T2): bright scalp fat, dark skull, grey cortex, wavy white matter, bright ventricles
            c.ellipse(0.5 + jx, 0.5 + jy, 0.38, 0.45, g(0.82))
            c.ellipse(0.5 + jx, 0.5 + jy, 0.35, 0.42, g(0.08))
            c.ellipse(0.5 + jx, 0.5 + jy, 0.32, 0.39, g(0.52))
            c.blob(0.5 + jx, 0.5 + jy, 0.24, waves: [(k: 11, amp: 0.07, phase: base.uniform(0, 6.3)),
                                                     (k: 5, amp: 0.05, phase: base.uniform(0, 6.3))], g(0.36))
            c.ellipse(0.45 + jx, 0.48 + jy, 0.035, 0.1, angle: 0.25, g(0.92))
            c.ellipse(0.55 + jx, 0.48 + jy, 0.035, 0.1, angle: -0.25, g(0.92))
        case 1: // knee (sagittal): soft tissue, posterior fat, femur and tibia with dark cortex, cartilage
            c.ellipse(0.5 + jx, 0.5, 0.36, 0.55, g(0.3))
            c.ellipse(0.74 + jx, 0.5, 0.09, 0.3, g(0.8))
            c.ellipse(0.48 + jx, 0.2 + jy, 0.17, 0.31, g(0.04))
            c.ellipse(0.48 + jx, 0.2 + jy, 0.15, 0.29, g(0.72))
            c.ellipse(0.5 + jx, 0.83 + jy, 0.18, 0.27, g(0.04))
            c.ellipse(0.5 + jx, 0.83 + jy, 0.16, 0.25, g(0.7))
            c.ellipse(0.49 + jx, 0.52 + jy, 0.15, 0.025, g(0.48))
            c.ellipse(0.24 + jx, 0.42 + jy, 0.04, 0.085, g(0.7))
        default: // spine (sagittal): vertebral bodies, bright discs, CSF canal with cord
            c.ellipse(0.5, 0.5, 0.47, 0.62, g(0.3))
            for k in 0..<6 {
                let y = 0.04 + Double(k) * 0.185 + jy
                c.ellipse(0.4 + jx, y, 0.13, 0.075, g(0.6))
                c.ellipse(0.4 + jx, y + 0.093, 0.12, 0.02, g(0.88))
                c.ellipse(0.75 + jx, y, 0.05, 0.04, g(0.55))
            }
            c.line(0.61 + jx, 0, 0.61 + jx, 1, width: 0.07, g(0.9))
            c.line(0.61 + jx, 0, 0.61 + jx, 1, width: 0.035, g(0.45))
        }
        if hasLesion {
            let r = radius()
            let (x, y) = quadrantCentre(halfWidth: 1.2 * r, halfHeight: 1.2 * r)
            if s.finding == 1 {
                c.blob(x, y, r, waves: [(k: 5, amp: 0.12, phase: les.uniform(0, 6.3))], lesionColour(g(0.5), g(0.97)))
            } else {
                c.ellipse(x, y, r * 1.2, r * 0.75, angle: les.uniform(0, 3.1), lesionColour(g(0.5), g(0.1)))
            }
        }
        // bias field: coil sensitivity falls off to one side
        let tilt = Float(base.uniform(-0.15, 0.15))
        c.shade { x, _, v in v * (1 + tilt * Float(x - 0.5)) }
        c.blur(passes: 2)
        c.noise(sigma(0.02), rng: &tex)
    }

    // MARK: - X-ray: projection, bones white on dark, soft tissue grey

    mutating func xray() {
        c.fill(g(0.06))
        let jx = base.uniform(-0.02, 0.02), jy = base.uniform(-0.02, 0.02)
        switch s.anatomy {
        case 0: // chest PA: torso, lungs, mediastinum, heart, ribs, clavicles
            c.ellipse(0.5 + jx, 0.62 + jy, 0.5, 0.55, g(0.32))
            c.ellipse(0.31 + jx, 0.52 + jy, 0.15, 0.31, g(0.12))
            c.ellipse(0.69 + jx, 0.52 + jy, 0.15, 0.31, g(0.12))
            c.ellipse(0.5 + jx, 0.55 + jy, 0.065, 0.45, g(0.55))
            c.ellipse(0.56 + jx, 0.7 + jy, 0.14, 0.12, g(0.5))
            for side in [-1.0, 1.0] {
                for k in 0..<6 {
                    let y0 = 0.26 + Double(k) * 0.085 + jy
                    c.polyline([(0.5 + jx + side * 0.06, y0), (0.5 + jx + side * 0.3, y0 + 0.03),
                                (0.5 + jx + side * 0.4, y0 + 0.11)], width: 0.024, g(0.62), alpha: 0.8)
                }
                c.line(0.5 + jx + side * 0.05, 0.2 + jy, 0.5 + jx + side * 0.32, 0.14 + jy, width: 0.035, g(0.72))
            }
        case 1: // hand PA: palm and fingers (soft tissue), metacarpals and phalanges with joint gaps
            c.ellipse(0.5 + jx, 0.75 + jy, 0.22, 0.2, g(0.3))
            let fingers: [(Double, Double, Double, Double)] = [
                (0.34, 0.66, 0.28, 0.2), (0.44, 0.62, 0.42, 0.1), (0.53, 0.62, 0.55, 0.08), (0.62, 0.64, 0.67, 0.14),
                (0.7, 0.78, 0.88, 0.5)]
            for (bx, by, tx, ty) in fingers {
                c.line(bx + jx, by + jy, tx + jx, ty + jy, width: 0.08, g(0.3))
            }
            for (bx, by, tx, ty) in fingers {
                let segs = [0.0, 0.45, 0.7, 0.88, 1.0]
                for k in 0..<(segs.count - 1) {
                    let a = segs[k] + 0.02, b = segs[k + 1] - 0.02
                    c.line(bx + (tx - bx) * a + jx, by + (ty - by) * a + jy, bx + (tx - bx) * b + jx, by + (ty - by) * b + jy,
                           width: 0.036, g(0.85))
                }
            }
            for k in 0..<6 {
                c.ellipse(0.4 + Double(k % 3) * 0.09 + jx, 0.84 + Double(k / 3) * 0.07 + jy, 0.035, 0.03, g(0.8))
            }
        default: // knee AP: soft tissue, femur with condyles, tibia, fibula, faint patella
            c.ellipse(0.5 + jx, 0.5, 0.27, 0.62, g(0.3))
            c.line(0.5 + jx, -0.05, 0.5 + jx, 0.4 + jy, width: 0.17, g(0.8))
            c.ellipse(0.5 + jx, 0.42 + jy, 0.16, 0.075, g(0.82))
            c.ellipse(0.5 + jx, 0.58 + jy, 0.15, 0.055, g(0.8))
            c.line(0.5 + jx, 0.6 + jy, 0.5 + jx, 1.05, width: 0.15, g(0.8))
            c.line(0.66 + jx, 0.63 + jy, 0.66 + jx, 1.05, width: 0.045, g(0.72))
            c.ellipse(0.5 + jx, 0.38 + jy, 0.07, 0.06, g(0.95), alpha: 0.5)
        }
        if hasLesion {
            let r = radius()
            if s.finding == 1 {
                let (x, y) = quadrantCentre(halfWidth: r + 0.01, halfHeight: r + 0.01)
                c.ellipse(x, y, r, r, lesionColour(g(0.35), g(0.95)))
            } else {
                // jagged dark line with bright (sclerotic) edges, length grows with grade
                let len = [0.16, 0.28, 0.42][s.grade - 1] * les.uniform(0.95, 1.05), a = les.uniform(-0.6, 0.6)
                let (x, y) = quadrantCentre(halfWidth: 0.5 * len * abs(cos(a)) + 0.03,
                                            halfHeight: 0.5 * len * abs(sin(a)) + 0.03)
                var pts: [(Double, Double)] = []
                for k in 0...4 {
                    let t = Double(k) / 4 - 0.5
                    let zig = (k % 2 == 0 ? 1.0 : -1.0) * 0.025
                    pts.append((x + t * len * cos(a) - zig * sin(a), y + t * len * sin(a) + zig * cos(a)))
                }
                c.polyline(pts, width: 0.05, lesionColour(g(0.35), g(0.95)))
                c.polyline(pts, width: 0.022, lesionColour(g(0.35), g(0.0)))
            }
        }
        c.blur(passes: 1)
        c.noise(sigma(0.02), rng: &tex)
    }

    // MARK: - Ultrasound: sector (fan) field, speckle, depth attenuation

    mutating func ultrasound() {
        let apex = (0.5, 0.02), halfAngle = 0.72, rMin = 0.1, rMax = 0.98
        let gain = Float(base.uniform(0.9, 1.1))
        c.fill(g(0))
        c.shade { x, y, _ in
            let depth = ((x - apex.0) * (x - apex.0) + (y - apex.1) * (y - apex.1)).squareRoot()
            return SynthColor(gray: 0.45 * gain * Float(1 - 0.4 * depth))
        }
        let jx = base.uniform(-0.03, 0.03), jy = base.uniform(-0.03, 0.03)
        switch s.anatomy {
        case 0: // liver: even parenchyma, dark vessels, bright diaphragm arc
            for _ in 0..<3 {
                let x0 = base.uniform(0.3, 0.7), y0 = base.uniform(0.3, 0.7), a = base.uniform(0, 3.1)
                c.line(x0 - 0.16 * cos(a), y0 - 0.16 * sin(a), x0 + 0.16 * cos(a), y0 + 0.16 * sin(a),
                       width: 0.035, g(0.06))
            }
            c.ring(0.5 + jx, -0.25 + jy, 0.85, 1.1, thickness: 0.035, g(0.85))
        case 1: // kidney: dark cortex bean, bright capsule and central sinus
            let a = base.uniform(-0.2, 0.2)
            c.ellipse(0.5 + jx, 0.55 + jy, 0.31, 0.17, angle: a, g(0.75))
            c.ellipse(0.5 + jx, 0.55 + jy, 0.29, 0.15, angle: a, g(0.2))
            c.ellipse(0.5 + jx, 0.55 + jy, 0.16, 0.06, angle: a, g(0.85))
        default: // bladder: anechoic sac near the probe with posterior enhancement (above
            // the upper quadrants' lesions, which a black cyst on it would hide)
            c.ellipse(0.5 + jx, 0.33 + jy, 0.17, 0.1, g(0.65), alpha: 0.6)
            c.ellipse(0.5 + jx, 0.2 + jy, 0.17, 0.07, g(0.02))
        }
        if hasLesion {
            let r = radius(scale: 0.85)
            let (x, y) = quadrantCentre(halfWidth: 1.1 * r, halfHeight: 1.1 * r)
            if s.finding == 1 {
                c.ellipse(x, y, r, r, lesionColour(g(0.4), g(0.01)))
            } else {
                c.blob(x, y, r, waves: [(k: 4, amp: 0.1, phase: les.uniform(0, 6.3))], lesionColour(g(0.4), g(0.9)))
            }
        }
        c.speckle((0.35 + 0.25 * noiseLevel) * pixelNoiseScale, rng: &tex)
        c.blur(passes: 1)
        c.mask(g(0)) { x, y in
            // sector: inside the annulus rMin...rMax and within ±halfAngle of straight down
            let dx = x - apex.0, dy = y - apex.1
            let r = (dx * dx + dy * dy).squareRoot()
            let edge = r * sin(abs(atan2(dx, dy)) - halfAngle)
            return max(rMin - r, r - rMax, edge)
        }
    }

    // MARK: - Dermoscopy: skin-toned RGB, pigmented lesion, hairs, round dermatoscope field

    mutating func dermoscopy() {
        let tone = Float(base.uniform(-0.08, 0.05))
        let skin = SynthColor(0.86 + tone, 0.66 + tone, 0.55 + tone)
        c.fill(skin)
        let gx = Float(base.uniform(-0.1, 0.1)), gy = Float(base.uniform(-0.1, 0.1))
        c.shade { x, y, v in v * (1 + gx * Float(x - 0.5) + gy * Float(y - 0.5)) }
        if hasLesion {
            let target: [SynthColor] = [SynthColor(0.48, 0.28, 0.16), SynthColor(0.13, 0.09, 0.08),
                                        SynthColor(0.74, 0.16, 0.2), SynthColor(0.3, 0.36, 0.58)]
            let col = lesionColour(skin, target[s.colour])
            let x = 0.5 + les.uniform(-0.06, 0.06), y = 0.5 + les.uniform(-0.06, 0.06)
            let r = radius(scale: 1.9)
            if s.finding == 1 {
                c.ellipse(x, y, r, r * les.uniform(0.85, 1), angle: les.uniform(0, 3.1), col)
                c.ellipse(x, y, r * 0.5, r * 0.5, col * 0.88, alpha: 0.6)
            } else {
                c.blob(x, y, r, waves: [(k: 3, amp: 0.16, phase: les.uniform(0, 6.3)),
                                        (k: 5, amp: 0.1, phase: les.uniform(0, 6.3)),
                                        (k: 9, amp: 0.06, phase: les.uniform(0, 6.3))], col)
                for _ in 0..<3 {
                    c.ellipse(x + les.uniform(-0.4, 0.4) * r, y + les.uniform(-0.4, 0.4) * r, r * 0.3, r * 0.22,
                              angle: les.uniform(0, 3.1), col * 0.55, alpha: 0.8)
                }
            }
        }
        for _ in 0..<(1 + base.below(3)) {
            var x = base.uniform(0.1, 0.9), y = base.uniform(0.1, 0.9)
            var a = base.uniform(0, 6.3)
            var pts = [(x, y)]
            for _ in 0..<4 {
                a += base.uniform(-0.4, 0.4)
                x += 0.1 * cos(a); y += 0.1 * sin(a)
                pts.append((x, y))
            }
            c.polyline(pts, width: 0.012, SynthColor(0.2, 0.15, 0.12), alpha: 0.9)
        }
        c.blur(passes: 1)
        c.noise(sigma(0.015), rng: &tex)
        c.mask(SynthColor(0.03, 0.02, 0.02), distance: SynthCanvas.circle(0.5, 0.5, 0.48))
    }

    // MARK: - Fundus: orange-red disc on black, bright optic disc, branching vessels

    mutating func fundus() {
        let R = 0.46
        let warm = Float(base.uniform(-0.05, 0.05))
        let retina = SynthColor(0.8 + warm, 0.34 + warm / 2, 0.12)
        c.fill(g(0))
        c.shade { x, y, _ in
            let d2 = ((x - 0.5) * (x - 0.5) + (y - 0.5) * (y - 0.5)) / (R * R)
            return retina * Float(max(0, 1 - 0.4 * d2))
        }
        c.ellipse(0.5, 0.5, 0.075, 0.075, SynthColor(0.5, 0.18, 0.07), alpha: 0.5)
        let side: Double = s.rightEye ? 1 : -1
        let dx = 0.5 + side * 0.27, dy = 0.5 + base.uniform(-0.03, 0.03)
        let vessel = SynthColor(0.45, 0.08, 0.05)
        for up in [-1.0, 1.0] {
            // temporal arcade curves round the macula; nasal branches run outward
            let bend = base.uniform(-0.03, 0.03)
            let temporal = [(dx, dy), (dx - side * 0.12, dy + up * (0.13 + bend)), (dx - side * 0.27, dy + up * (0.2 + bend)),
                            (dx - side * 0.45, dy + up * (0.17 + bend))]
            c.polyline(temporal, width: 0.022, vessel, alpha: 0.85)
            c.line(temporal[2].0, temporal[2].1, temporal[2].0 + side * 0.02, temporal[2].1 + up * 0.13, width: 0.014, vessel, alpha: 0.8)
            c.polyline([(dx, dy), (dx + side * 0.08, dy + up * 0.16), (dx + side * 0.12, dy + up * 0.32)],
                       width: 0.018, vessel, alpha: 0.85)
        }
        // disc 6 px across at the model's 32 px, a deeper yellow than its pale cup so
        // the cup's size (glaucoma and its grade) shows
        c.ellipse(dx, dy, 0.1, 0.1, SynthColor(0.92, 0.6, 0.3))
        let cupR = hasLesion && s.finding == 2 ? min([0.05, 0.068, 0.086][s.grade - 1] * lesionScale, 0.092) : 0.03
        c.ellipse(dx, dy, cupR, cupR, SynthColor(1, 0.95, 0.8))
        if hasLesion && s.finding == 1 {
            let n = [3, 7, 12][s.grade - 1]
            var placed = 0
            while placed < n {
                let a = les.uniform(0, 6.3), d = les.uniform(0.05, 0.36)
                let x = 0.5 + d * cos(a), y = 0.5 + d * sin(a)
                if (x - dx) * (x - dx) + (y - dy) * (y - dy) < 0.14 * 0.14 { continue }
                // spots at least 2 px across at the model's 32 px
                if placed % 2 == 0 {
                    c.ellipse(x, y, 0.036 * lesionScale, 0.036 * lesionScale, lesionColour(retina, SynthColor(0.4, 0.03, 0.02)))
                } else {
                    c.ellipse(x, y, 0.032 * lesionScale, 0.032 * lesionScale, lesionColour(retina, SynthColor(1, 0.9, 0.35)))
                }
                placed += 1
            }
        }
        c.blur(passes: 1)
        c.noise(sigma(0.012), rng: &tex)
        c.mask(g(0), distance: SynthCanvas.circle(0.5, 0.5, R))
    }

    // MARK: - OCT: B-scan with layered bands, foveal dip, speckle

    mutating func oct() {
        let tilt = base.uniform(-0.04, 0.04), depth = base.uniform(-0.02, 0.02)
        let fovea = 0.5 + base.uniform(-0.04, 0.04)
        func surface(_ x: Double) -> Double { 0.24 + depth + 0.1 * exp(-pow((x - fovea) / 0.1, 2)) + tilt * (x - 0.5) }
        // the RPE runs along the middle of the grid's third row, so drusen on it stay in that row
        func rpe(_ x: Double) -> Double { 0.635 + depth + tilt * (x - 0.5) }
        // layer boundaries as fractions of the surface-to-RPE thickness, with their gray levels
        let bands: [(Double, Float)] = [(0.12, 0.75), (0.35, 0.5), (0.47, 0.22), (0.55, 0.48), (0.88, 0.18), (0.94, 0.72), (1.0, 0.3)]
        c.shade { x, y, _ in
            let top = surface(x), bottom = rpe(x)
            if y < top { return SynthColor(gray: 0.04) }
            if y < bottom {
                let f = (y - top) / (bottom - top)
                for (edge, v) in bands where f < edge { return SynthColor(gray: v) }
                return SynthColor(gray: 0.3)
            }
            if y < bottom + 0.035 { return SynthColor(gray: 0.95) }
            return SynthColor(gray: Float(max(0.08, 0.45 - 1.4 * (y - bottom - 0.035))))
        }
        if parts.lesion && s.finding > 0 {
            // one element per column of the 4 x 4 grid (SynthMedRender.cell), centred in it
            // and at most 0.17 wide: elements never touch or straddle a cell border, so
            // they can be counted patch by patch
            var slots = (0..<4).map { (Double($0) + 0.5) * SynthMedRender.cell }
            les.shuffle(&slots)
            let rx = min([0.038, 0.052, 0.064][s.grade - 1] * lesionScale, 0.08) * les.uniform(0.94, 1.06)
            for x0 in slots.prefix(s.count) {
                let x = x0 + les.uniform(-0.005, 0.005)
                if s.finding == 1 {
                    // fluid: dark pocket in the neural retina, kept above the grid's midline
                    let y = min(surface(x) + 0.5 * (rpe(x) - surface(x)), 0.49 - rx * 0.85)
                    c.ellipse(x, y, rx, rx * 0.85, lesionColour(g(0.4), g(0.02)))
                } else {
                    // druse: the bright RPE band lifted into a dome over medium-grey deposit,
                    // rising into the dark outer nuclear layer
                    let y = rpe(x) - 0.01
                    c.ellipse(x, y, rx, rx * 1.25, lesionColour(g(0.2), g(0.97)))
                    c.ellipse(x, y + 0.012, rx - 0.018, rx * 1.25 - 0.022, lesionColour(g(0.2), g(0.45)))
                }
            }
        }
        c.speckle((0.25 + 0.15 * noiseLevel) * pixelNoiseScale, rng: &tex)
        c.blur(passes: 1)
        c.noise(sigma(0.015), rng: &tex)
    }

    // MARK: - Microscopy: blood smear, pink red cells with pale centres, purple white cells

    mutating func microscopy() {
        let stain = Float(base.uniform(-0.05, 0.05))
        c.fill(SynthColor(0.94, 0.88 + stain, 0.9))
        // white cells (0.17 across) sit near the centres of distinct cells of the 4 x 4
        // grid (SynthMedRender.cell): none is cut by a cell border
        var cells = Array(0..<16)
        cnt.shuffle(&cells)
        let wbc = cells.prefix(s.count).map { k in
            ((Double(k % 4) + 0.5) * SynthMedRender.cell + cnt.uniform(-0.015, 0.015),
             (Double(k / 4) + 0.5) * SynthMedRender.cell + cnt.uniform(-0.015, 0.015))
        }
        var rbc: [(Double, Double, Double)] = []
        for k in 0..<36 {
            let x = (Double(k % 6) + 0.5) / 6 + base.uniform(-0.03, 0.03)
            let y = (Double(k / 6) + 0.5) / 6 + base.uniform(-0.03, 0.03)
            let r = base.uniform(0.05, 0.062)
            if wbc.contains(where: { ($0.0 - x) * ($0.0 - x) + ($0.1 - y) * ($0.1 - y) < 0.13 * 0.13 }) { continue }
            rbc.append((x, y, r))
        }
        let red = SynthColor(0.88, 0.5 + stain, 0.56), pale = SynthColor(0.95, 0.72, 0.75)
        var order = Array(rbc.indices)
        les.shuffle(&order)
        let affected = hasLesion ? Set(order.prefix([2, 4, 7][s.grade - 1])) : []
        for (i, (x, y, r)) in rbc.enumerated() {
            if affected.contains(i) && s.finding == 2 {
                c.ellipse(x, y, r * 1.4, r * 0.55, angle: les.uniform(0, 3.1), lesionColour(red, SynthColor(0.62, 0.12, 0.22)))
                continue
            }
            c.ellipse(x, y, r, r, red)
            c.ellipse(x, y, r * 0.45, r * 0.45, pale, alpha: 0.7)
            if affected.contains(i) {
                // a parasite ring 2 px across at the model's 32 px
                c.ring(x + les.uniform(-0.2, 0.2) * r, y + les.uniform(-0.2, 0.2) * r, 0.024, 0.024, thickness: 0.02,
                       lesionColour(red, SynthColor(0.35, 0.08, 0.42)))
            }
        }
        if parts.counted {
            for (x, y) in wbc {
                c.ellipse(x, y, 0.085, 0.085, SynthColor(0.82, 0.72, 0.88))
                c.blob(x, y, 0.055, waves: [(k: 3, amp: 0.25, phase: cnt.uniform(0, 6.3))], SynthColor(0.38, 0.12, 0.52))
            }
        }
        c.blur(passes: 1)
        c.noise(sigma(0.012), rng: &tex)
    }
}
