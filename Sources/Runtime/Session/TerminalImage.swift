// Images in the terminal: each character cell shows two pixels stacked,
// the upper half block "▀" with the top pixel as foreground colour and the
// bottom pixel as background, in 24-bit ANSI colour. Without colour, a
// grey-level character ramp.

import Foundation

public enum TerminalImage {
    /// Render (H, W, C) row-major pixels in [0, 1] (C = 1 grey, 3 RGB, 4 RGBA),
    /// scaled by nearest neighbour to at most `maxWidth` columns.
    public static func render(pixels: [Float], width: Int, height: Int, channels: Int,
                              maxWidth: Int = 32, color: Bool = true) -> String {
        guard width > 0, height > 0, pixels.count >= width * height * channels else { return "(empty image)" }
        let cols = min(width, maxWidth)
        let scale = Double(width) / Double(cols)
        let rowsOut = max(1, Int((Double(height) / scale).rounded()))
        func rgb(_ x: Int, _ y: Int) -> (Int, Int, Int) {
            let sx = min(width - 1, Int(Double(x) * scale)), sy = min(height - 1, Int(Double(y) * scale))
            let base = (sy * width + sx) * channels
            func q(_ v: Float) -> Int { Int((max(0, min(1, v)) * 255).rounded()) }
            if channels >= 3 { return (q(pixels[base]), q(pixels[base + 1]), q(pixels[base + 2])) }
            let g = q(pixels[base])
            return (g, g, g)
        }
        var lines: [String] = []
        if color {
            var y = 0
            while y < rowsOut {
                var line = ""
                for x in 0..<cols {
                    let top = rgb(x, y)
                    line += "\u{1B}[38;2;\(top.0);\(top.1);\(top.2)m"
                    if y + 1 < rowsOut {
                        let bot = rgb(x, y + 1)
                        line += "\u{1B}[48;2;\(bot.0);\(bot.1);\(bot.2)m▀"
                    } else {
                        line += "\u{1B}[49m▀"
                    }
                }
                lines.append(line + "\u{1B}[0m")
                y += 2
            }
        } else {
            // Two characters per pixel keep the aspect ratio of a terminal cell.
            let ramp = Array(" .:-=+*#%@")
            for y in 0..<rowsOut {
                var line = ""
                for x in 0..<cols {
                    let (r, g, b) = rgb(x, y)
                    let lum = (0.299 * Double(r) + 0.587 * Double(g) + 0.114 * Double(b)) / 255
                    let c = ramp[min(ramp.count - 1, Int(lum * Double(ramp.count)))]
                    line += String(repeating: c, count: 2)
                }
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n")
    }
}
