// A table: the printed form of counts, accuracy tables, groups of
// completions and metrics. A host object with `columns` and `rows`, and
// `t.column("name")` to pull one column out as a list.

import Foundation

public final class TableValue: HostObject {
    public var title: String?
    public var columns: [String]
    public var rows: [[Value]]

    public init(title: String? = nil, columns: [String], rows: [[Value]]) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }

    public var typeName: String { "table" }
    public var summary: String { "table\(title.map { " '\($0)'" } ?? "") \(rows.count) x \(columns.count): \(columns.joined(separator: ", "))" }
    public var display: String { render() }
    public var fieldNames: [String] { ["columns", "rows", "title"] }
    public var methodNames: [String] { ["column"] }
    public var elements: [Value]? { rows.map { row in .record(Record(Array(zip(columns, row)))) } }

    public func field(_ name: String) throws -> Value? {
        switch name {
        case "columns": return .list(columns.map(Value.string))
        case "rows": return .list(rows.map { .list($0) })
        case "title": return title.map(Value.string) ?? .null
        default: return nil
        }
    }

    public func index(_ i: Value) throws -> Value? {
        guard case .number(let x) = i else { return nil }
        guard let k = indexPosition(x, count: rows.count) else {
            throw RuntimeError("row \(formatNumber(x)) out of range: the table has \(rows.count) rows")
        }
        return elements![k]
    }

    public func callMethod(_ name: String, _ args: Arguments, _ ctx: CallContext) throws -> Value {
        guard name == "column" else { throw RuntimeError("table has no method '\(name)'; methods: column") }
        try args.expect(1...1, "table.column(name)")
        let c = try args.string(0, "name")
        guard let j = columns.firstIndex(of: c) else {
            throw RuntimeError("table has no column '\(c)'; columns: \(columns.joined(separator: ", "))")
        }
        return .list(rows.map { $0[j] })
    }

    /// Cell text: numbers with at most 4 decimals, strings bare.
    public static func cell(_ v: Value) -> String {
        switch v {
        case .number(let x):
            if x == x.rounded() || !x.isFinite { return formatNumber(x) }
            return String(format: "%.4f", x).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
        case .null: return "-"
        default: return v.description
        }
    }

    public var stringRows: [[String]] { rows.map { $0.map(TableValue.cell) } }

    /// Aligned columns; numbers right-aligned, text left-aligned. Control
    /// characters in names and cells (newlines and tabs too, which would break
    /// the layout) are shown as escapes before the widths are measured, so a
    /// cell with `\u{1B}` in it is as wide as it prints. Widths are terminal
    /// columns (`DisplayWidth`): a CJK character or an emoji takes two, a
    /// combining accent none.
    public func render() -> String {
        let shown = { (s: String) in Escaping.visibleControls(s) }
        let cells = stringRows.map { $0.map(shown) }
        let columns = self.columns.map(shown)
        var widths = columns.map(DisplayWidth.of)
        for r in cells { for (j, c) in r.enumerated() where j < widths.count { widths[j] = max(widths[j], DisplayWidth.of(c)) } }
        func pad(_ s: String, _ w: Int, right: Bool) -> String {
            let fill = String(repeating: " ", count: max(0, w - DisplayWidth.of(s)))
            return right ? fill + s : s + fill
        }
        // A column of numbers (nil allowed) is right-aligned, header included.
        let numeric = columns.indices.map { j in
            !rows.isEmpty && rows.allSatisfy { r in
                guard j < r.count else { return true }
                switch r[j] { case .number, .null: return true; default: return false }
            }
        }
        var lines: [String] = []
        if let t = title { lines.append(shown(t)) }
        lines.append(columns.indices.map { pad(columns[$0], widths[$0], right: numeric[$0]) }.joined(separator: "  ")
            .replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression))
        lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for (i, r) in cells.enumerated() {
            lines.append(r.enumerated().map { j, c in
                pad(c, j < widths.count ? widths[j] : 0, right: j < numeric.count && numeric[j])
            }.joined(separator: "  ").replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression))
        }
        return lines.joined(separator: "\n")
    }

    public var event: OutputEvent {
        .table(title: title, columns: columns, rows: stringRows, text: render())
    }
}
