import Foundation
import MedR1Lib

/// Pages as a browser shows them: headless Chromium takes a screenshot of an
/// HTML file, and the screenshot is read back with MedR1Lib's PNG reader.
enum Screenshot {
    /// The Chromium to run: Debian's (scripts/setup installs it), or another
    /// distribution's name for it. Nil when there is none.
    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Screenshots `page` into `png` at `width` x `height` CSS pixels, one image
    /// pixel each. Chromium runs with a profile, HOME and caches inside
    /// `scratch`, no network (every host name fails to resolve, so a page that
    /// asks for a CDN renders without it instead of waiting), and no sandbox
    /// (Chromium refuses to start its sandbox as root, which CI is). The run is
    /// bounded by `timeout` seconds: coreutils' timeout kills its whole process
    /// group, Chromium's helper processes included, so a stuck browser fails
    /// the test instead of hanging the suite.
    static func take(chromium: String, page: URL, to png: URL, width: Int, height: Int,
                     scratch: URL, timeout: Int = 60) throws {
        let home = scratch.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let log = scratch.appendingPathComponent("chromium.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["timeout", "--kill-after=5", "\(timeout)", chromium,
                             "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                             "--force-device-scale-factor=1", "--host-resolver-rules=MAP * ~NOTFOUND",
                             "--user-data-dir=" + scratch.appendingPathComponent("profile").path,
                             "--window-size=\(width),\(height)", "--screenshot=" + png.path, page.absoluteString]
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home.path
        environment["XDG_CONFIG_HOME"] = home.appendingPathComponent(".config").path
        environment["XDG_CACHE_HOME"] = home.appendingPathComponent(".cache").path
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        process.waitUntilExit()
        // The profile is a few megabytes that nothing reads afterwards.
        try? FileManager.default.removeItem(at: scratch.appendingPathComponent("profile"))
        let tail = { (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n") ?? "" }
        if process.terminationStatus == 124 || process.terminationStatus == 137 {
            throw Failure(description: "\(chromium) took more than \(timeout) s to screenshot \(page.lastPathComponent) and was stopped:\n\(tail())")
        }
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: png.path) else {
            throw Failure(description: "\(chromium) exited with status \(process.terminationStatus) and no screenshot:\n\(tail())")
        }
    }

    /// Red, green and blue of the pixel at row `y`, column `x`, in [0, 1]
    /// (gray images repeat their one channel).
    static func rgb(_ image: PNGImage, _ y: Int, _ x: Int) -> (Float, Float, Float) {
        image.channels >= 3 ? (image[y, x, 0], image[y, x, 1], image[y, x, 2])
            : (image[y, x, 0], image[y, x, 0], image[y, x, 0])
    }

    /// The share of pixels that are not white (light grey backgrounds count).
    static func inkedFraction(_ image: PNGImage) -> Double {
        var inked = 0
        for y in 0..<image.height {
            for x in 0..<image.width {
                let (r, g, b) = rgb(image, y, x)
                if min(r, g, b) < 0.98 { inked += 1 }
            }
        }
        return Double(inked) / Double(image.width * image.height)
    }

    /// Whether `colour` is within `tolerance` (per channel) of `hex` ("#1f77b4").
    static func isNear(_ colour: (Float, Float, Float), _ hex: String, tolerance: Float = 0.15) -> Bool {
        let value = Int(hex.dropFirst(), radix: 16) ?? 0
        return abs(colour.0 - Float((value >> 16) & 255) / 255) <= tolerance
            && abs(colour.1 - Float((value >> 8) & 255) / 255) <= tolerance
            && abs(colour.2 - Float(value & 255) / 255) <= tolerance
    }

    /// The pixels near the colour `hex`: how many, and their bounding box (nil when none).
    static func pixels(of image: PNGImage, near hex: String) -> (count: Int, box: (minX: Int, minY: Int, maxX: Int, maxY: Int)?) {
        var count = 0
        var box: (minX: Int, minY: Int, maxX: Int, maxY: Int)?
        for y in 0..<image.height {
            for x in 0..<image.width where isNear(rgb(image, y, x), hex) {
                count += 1
                box = box.map { (min($0.minX, x), min($0.minY, y), max($0.maxX, x), max($0.maxY, y)) } ?? (x, y, x, y)
            }
        }
        return (count, box)
    }

    /// The mean absolute difference per channel between `part` and the region of
    /// `image` whose top left corner is (`x`, `y`); nil when the region does not fit.
    static func difference(_ image: PNGImage, _ part: PNGImage, atX x0: Int, y y0: Int) -> Double? {
        guard x0 >= 0, y0 >= 0, x0 + part.width <= image.width, y0 + part.height <= image.height else { return nil }
        var total = 0.0
        for y in 0..<part.height {
            for x in 0..<part.width {
                let (a, b) = (rgb(image, y0 + y, x0 + x), rgb(part, y, x))
                total += Double(abs(a.0 - b.0) + abs(a.1 - b.1) + abs(a.2 - b.2))
            }
        }
        return total / Double(3 * part.width * part.height)
    }

    /// Lines of text (or any dark marks) between rows `from` and `to`: runs of
    /// consecutive rows that hold a dark pixel, counted.
    static func darkBands(_ image: PNGImage, rows: Range<Int>) -> Int {
        var bands = 0
        var inBand = false
        for y in rows.clamped(to: 0..<image.height) {
            var dark = false
            for x in 0..<image.width {
                let (r, g, b) = rgb(image, y, x)
                if max(r, g, b) < 0.5 { dark = true; break }
            }
            if dark && !inBand { bands += 1 }
            inBand = dark
        }
        return bands
    }
}
