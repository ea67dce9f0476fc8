// A `# %%` script after it ran, as the notebook renderers draw it: prose cells
// (`# %% [markdown]`, Jupytext's percent format) and code cells with their
// outputs, converted from the session's output events.
import Foundation

/// One `# %%` cell after it ran: its source and everything it produced, in order.
public struct NotebookCell: Equatable, Sendable {
    /// Code runs and has outputs; prose is Markdown and has none.
    public enum Kind: Equatable, Sendable { case code, markdown }
    public var kind: Kind
    /// The text after `# %%` on the marker line (without a `[markdown]` tag), if any.
    public var title: String?
    /// Code: the cell's statements as written (without the marker line).
    /// Prose: the Markdown text, the comment marks of its lines removed.
    public var source: String
    /// Printed text, tables, images and errors in the order they appeared.
    public var outputs: [NotebookOutput]

    public init(kind: Kind = .code, title: String?, source: String, outputs: [NotebookOutput]) {
        self.kind = kind
        self.title = title
        self.source = source
        self.outputs = outputs
    }

    /// Whether a statement of the cell failed.
    public var failed: Bool { outputs.contains { if case .error = $0 { return true } else { return false } } }
}

/// One piece of cell output.
public enum NotebookOutput: Equatable, Sendable {
    /// Printed text (may contain ANSI escapes; the renderers strip them).
    case text(String)
    /// A table: an optional title, column headers and rows of already-formatted cells.
    case table(title: String?, columns: [String], rows: [[String]])
    /// An image to embed: PNG bytes (a plot, or a sample shown with `show`).
    case png(Data, caption: String?)
    /// An SVG document to embed (plots written with `to: "x.svg"`).
    case svg(String, caption: String?)
    /// A syntax or runtime error, as the session rendered it (with location and caret).
    case error(String)
}

/// Jupytext's cell tags that mark prose: `# %% [markdown]`, `# %% Title [md]`.
enum CellMarker {
    /// The marker's title without its prose tag, and whether it had one.
    static func parse(_ title: String) -> (title: String, markdown: Bool) {
        for tag in ["[markdown]", "[md]"] {
            if let range = title.range(of: tag) {
                var rest = title
                rest.removeSubrange(range)
                return (rest.trimmingCharacters(in: .whitespaces), true)
            }
        }
        return (title, false)
    }

    /// The Markdown of a prose cell: `# ` or `#` taken off each comment line.
    static func prose(_ lines: [String]) -> String {
        lines.map { line -> String in
            let body = line.drop { $0 == " " || $0 == "\t" }
            guard body.hasPrefix("#") else { return line }
            let text = body.dropFirst()
            return String(text.hasPrefix(" ") ? text.dropFirst() : text)
        }.joined(separator: "\n")
    }
}

extension Session {
    /// Runs the notebook and converts each cell's output events for the
    /// renderers (`NotebookOutput.outputs`). Paths the script wrote are shown
    /// relative to `pageDirectory` when given (the folder of the page being written).
    public func notebookCells(source: String, file: String, pageDirectory: URL? = nil) -> [NotebookCell] {
        let savedDisplay = interpreter.displayDirectory
        interpreter.displayDirectory = pageDirectory ?? savedDisplay
        defer { interpreter.displayDirectory = savedDisplay }
        return runNotebook(source: source, file: file).map { cell in
            if cell.isMarkdown {
                return NotebookCell(kind: .markdown, title: cell.title, source: cell.source, outputs: [])
            }
            let outputs = NotebookOutput.outputs(of: cell.outputs, shownPath: interpreter.shownPath)
            return NotebookCell(title: cell.title, source: cell.source, outputs: outputs)
        }
    }
}

extension NotebookOutput {
    /// A cell's output events as notebook outputs: consecutive printed lines
    /// become one text block, plots and shown images with PNG bytes become
    /// images (their terminal text otherwise), an SVG plot file its document.
    public static func outputs(of events: [OutputEvent], shownPath: (String) -> String) -> [NotebookOutput] {
        var outputs: [NotebookOutput] = []
        func addText(_ text: String) {
            if case .text(let previous)? = outputs.last {
                outputs[outputs.count - 1] = .text(previous + text.ensuringNewline)
            } else {
                outputs.append(.text(text.ensuringNewline))
            }
        }
        for event in events {
            switch event {
            case .text(let text):
                addText(text)
            case .table(let title, let columns, let rows, _):
                outputs.append(.table(title: title, columns: columns, rows: rows))
            case .plot(let title, let png, let text, let file):
                if let png {
                    outputs.append(.png(png, caption: title.isEmpty ? nil : title))
                } else if let file, file.lowercased().hasSuffix(".svg"),
                          let data = FileManager.default.contents(atPath: file) {
                    outputs.append(.svg(String(decoding: data, as: UTF8.self), caption: title.isEmpty ? nil : title))
                } else if let text {
                    addText(text)
                } else if let file {
                    addText("plot written to \(shownPath(file))")
                }
            case .image(let png, let text):
                if let png { outputs.append(.png(png, caption: nil)) } else { addText(text) }
            case .error(let message):
                outputs.append(.error(message))
            }
        }
        return outputs
    }
}

/// Paths as a page shows them: relative to the page's folder, so a page
/// names no folder of the machine that made it.
public enum PagePaths {
    /// `path` relative to `directory` (with `../` where needed); a relative
    /// path is taken as relative to `directory` already.
    public static func relative(_ path: String, to directory: URL) -> String {
        guard path.hasPrefix("/") else { return path }
        let target = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let base = directory.standardizedFileURL.pathComponents
        var common = 0
        while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
        let ups = Array(repeating: "..", count: base.count - common)
        let rest = Array(target[common...])
        let joined = (ups + rest).joined(separator: "/")
        return joined.isEmpty ? "." : joined
    }
}
