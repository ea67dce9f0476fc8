// A notebook as Jupyter writes it (nbformat 4.5): markdown cells, code cells
// with execution counts and outputs (text as a stream, tables as HTML and
// text, plots as PNG, errors), and a kernelspec naming medr1's kernel, so the
// file opens in JupyterLab and VS Code and runs again with the kernel.
import Foundation

extension NotebookRenderer {
    /// The kernel `scripts/jupyter` installs (see the kernelspec in the README).
    public static let kernelName = "medr1"

    /// The notebook as nbformat 4 JSON (keys sorted, two-space indent, as Jupyter writes it).
    public func ipynb(_ cells: [NotebookCell]) -> Data {
        let numbers = Self.numbers(cells)
        let notebook = Ipynb.Notebook(
            cells: cells.enumerated().map { index, cell in
                let id = "cell-\(index + 1)"
                guard let number = numbers[index] else {
                    let heading = cell.title.map { "## \($0)\n\n" } ?? ""
                    return Ipynb.Cell(id: id, markdown: heading + Prose.markdown(cell.source))
                }
                return Ipynb.Cell(id: id, code: cell.source, count: number, outputs: cell.outputs.map(Self.ipynbOutput))
            },
            metadata: .init(
                kernelspec: .init(display_name: "medr1", language: "medr1", name: Self.kernelName),
                language_info: .init(name: "medr1", file_extension: ".medr1", mimetype: "text/x-medr1",
                                     version: Medr1Version.version),
                title: title, medr1: subtitle))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and lists cannot fail.
        return (try? encoder.encode(notebook)) ?? Data()
    }

    static func ipynbOutput(_ output: NotebookOutput) -> Ipynb.Output {
        switch output {
        case .text(let text):
            return .init(output_type: "stream", name: "stdout", text: Ipynb.lines(Escaping.strippingANSI(text)))
        case .error(let message):
            let plain = Escaping.strippingANSI(message)
            let first = plain.split(separator: "\n").first.map(String.init) ?? plain
            return .init(output_type: "error", ename: "Error", evalue: first,
                         traceback: plain.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        case .table(let title, let columns, let rows):
            let html = NotebookRenderer(title: "", subtitle: "").htmlOutput(output)
            let text = TableValue(title: title, columns: columns, rows: rows.map { $0.map(Value.string) }).render()
            return .init(output_type: "display_data", data: ["text/html": Ipynb.lines(html), "text/plain": Ipynb.lines(text)],
                         metadata: [:])
        case .png(let data, let caption):
            return .init(output_type: "display_data",
                         data: ["image/png": [data.base64EncodedString()], "text/plain": [caption ?? "figure"]], metadata: [:])
        case .svg(let svg, let caption):
            return .init(output_type: "display_data",
                         data: ["image/svg+xml": Ipynb.lines(svg), "text/plain": [caption ?? "figure"]], metadata: [:])
        }
    }
}

/// The parts of nbformat 4 that medr1 writes; names as in the format.
enum Ipynb {
    struct Notebook: Encodable {
        var cells: [Cell]
        var metadata: Metadata
        var nbformat = 4
        var nbformat_minor = 5
    }

    struct Metadata: Encodable {
        var kernelspec: Kernelspec
        var language_info: LanguageInfo
        var title: String
        var medr1: String
    }

    struct Kernelspec: Encodable {
        var display_name: String
        var language: String
        var name: String
    }

    struct LanguageInfo: Encodable {
        var name: String
        var file_extension: String
        var mimetype: String
        var version: String
    }

    struct Cell: Encodable {
        var cell_type: String
        var id: String
        var source: [String]
        var execution_count: Int?
        var outputs: [Output]?

        init(id: String, markdown: String) {
            cell_type = "markdown"
            self.id = id
            source = Ipynb.lines(markdown)
        }

        init(id: String, code: String, count: Int, outputs: [Output]) {
            cell_type = "code"
            self.id = id
            source = Ipynb.lines(code)
            execution_count = count
            self.outputs = outputs
        }

        enum CodingKeys: String, CodingKey { case cell_type, id, source, metadata, execution_count, outputs }

        // A code cell always has `execution_count` and `outputs`; a markdown cell has neither.
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(cell_type, forKey: .cell_type)
            try c.encode(id, forKey: .id)
            try c.encode(source, forKey: .source)
            try c.encode([String: String](), forKey: .metadata)
            if let outputs {
                try c.encode(execution_count, forKey: .execution_count)
                try c.encode(outputs, forKey: .outputs)
            }
        }
    }

    /// One output; fields a kind does not have stay nil and are left out.
    struct Output: Encodable {
        var output_type: String
        var name: String?
        var text: [String]?
        var data: [String: [String]]?
        var metadata: [String: String]?
        var ename: String?
        var evalue: String?
        var traceback: [String]?
    }

    /// Jupyter's multi-line string: the lines, each but the last with its newline.
    static func lines(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ch == "\n" || ch == "\r\n" { out.append(current); current = "" }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
