// `plot`: metric series against step (raw and smoothed), a list of numbers,
// or a table as a heatmap; to the terminal (dumb), a notebook (PNG bytes) or
// a file (`to: "r.png"` / `"r.svg"`).

import Foundation

extension Bindings {
    static func registerPlot(_ add: Builtins.Register) {
        add("plot", options: ["to", "title", "smooth", "width", "height", "band"]) { a, ctx in
            try a.expect(1...2, "plot(xs) or plot(t.metrics, [\"reward\", \"kl\"], to: \"r.png\")")
            let keys = try a.value(1).map { _ in try a.list(1, "keys").map { v -> String in
                guard case .string(let s) = v else { throw a.error("keys must be strings, got \(v.typeName)") }
                return s
            } }
            let smooth = try a.namedInt("smooth")
            if let smooth, !Plotter.smoothRange.contains(smooth) {
                throw a.error("smooth must be in \(Plotter.smoothRange.lowerBound)...\(Plotter.smoothRange.upperBound) points "
                              + "(1 for no smoothing), got \(smooth)")
            }
            let band = try a.namedBool("band") ?? false
            let spec: PlotSpec
            if let runs = runs(a.positional[0]) {
                spec = try runsPlotSpec(runs, keys: keys, title: try a.namedString("title"), smooth: smooth, band: band, a)
            } else {
                if band { throw a.error("band: needs several runs: a list or record of histories (trainers or t.history)") }
                spec = try plotSpec(a.positional[0], keys: keys, title: try a.namedString("title"), smooth: smooth, a)
            }
            let interp = ctx as? Interpreter
            // Sizes in pixels for an image, in characters for a plot in the terminal.
            let toFile = a.has("to") || interp?.session?.plotToPNG == true
            func size(_ name: String) throws -> Int? {
                guard let x = try a.namedInt(name) else { return nil }
                let r = toFile ? 16...10_000 : 10...500
                guard r.contains(x) else {
                    throw a.error("\(name) must be in \(r.lowerBound)...\(r.upperBound) \(toFile ? "pixels" : "characters") for \(toFile ? "an image" : "a plot in the terminal"), got \(x)")
                }
                return x
            }
            let w = try size("width"), h = try size("height")
            do {
                if let path = try a.namedString("to") {
                    let url = ctx.resolve(path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    if url.pathExtension.lowercased() == "svg" {
                        _ = try Plotter.render(spec, to: .svgFile(url, width: w ?? 800, height: h ?? 500))
                        ctx.emit(.plot(title: spec.title, png: nil, text: nil, file: url.path))
                    } else {
                        let r = try Plotter.render(spec, to: .pngFile(url, width: w ?? 800, height: h ?? 500))
                        ctx.emit(.plot(title: spec.title, png: r.png, text: nil, file: url.path))
                    }
                } else if interp?.session?.plotToPNG == true {
                    let r = try Plotter.render(spec, to: .pngData(width: w ?? 800, height: h ?? 500))
                    ctx.emit(.plot(title: spec.title, png: r.png, text: nil, file: nil))
                } else {
                    var target = Plotter.dumbTarget()
                    if let w, let h { target = .dumb(width: w, height: h) }
                    let r = try Plotter.render(spec, to: target)
                    ctx.emit(.plot(title: spec.title, png: nil, text: r.text, file: nil))
                }
            } catch let e as PlotError {
                throw a.error(e.description)
            }
            return .null
        }
    }

    /// Turn a value into a plot: numbers; records of number lists; a list of
    /// metric records (by `step` when present); a table (heatmap of its numeric columns).
    static func plotSpec(_ v: Value, keys: [String]?, title: String?, smooth: Int?, _ a: Arguments) throws -> PlotSpec {
        func nums(_ xs: [Value], _ what: String) throws -> [Double] {
            try xs.map { x in
                switch x {
                case .number(let d): return d
                case .null: return .nan
                default: throw a.error("\(what) must hold numbers, got \(x.typeName)")
                }
            }
        }
        func lines(_ series: [PlotSeries], _ t: String, xlabel: String) -> PlotSpec {
            let n = series.map(\.y.count).max() ?? 0
            return PlotSpec(title: title ?? t, xlabel: xlabel, ylabel: "", kind: .lines(series, smooth: smooth ?? Plotter.defaultWindow(points: n)))
        }
        if case .host(let e as EvalObject) = v {
            return try plotSpec(.host(e.plotTable), keys: keys, title: title, smooth: smooth, a)
        }
        if case .host(let st as StudyObject) = v {
            guard keys == nil || keys! == ["accuracy"] || keys! == ["change"] else {
                throw a.error("a study plots [\"accuracy\"] (the default) or [\"change\"]")
            }
            return st.plotSpec(change: keys == ["change"], title: title)
        }
        if case .host(let t as TrainerObject) = v, let h = try t.field("history") {
            return try plotSpec(h, keys: keys ?? [t.mode == "grpo" ? "reward" : "loss"], title: title, smooth: smooth, a)
        }
        if case .host(let t as TableValue) = v {
            let cols = t.columns.indices.dropFirst().filter { j in
                t.rows.allSatisfy { j < $0.count && ({ if case .number = $0 { return true }; if case .null = $0 { return true }; return false })($0[j]) }
            }.filter { keys == nil || keys!.contains(t.columns[$0]) }
            let rows = t.rows.filter { if case .string(let s) = $0[0] { return s != "total" && s != "all" } else { return true } }
            return PlotSpec(title: title ?? t.title ?? "table", kind: .heatmap(
                rows: rows.map { $0[0].description }, columns: cols.map { t.columns[$0] },
                values: rows.map { r in cols.map { j in r[j].asNumber } }))
        }
        if case .record(let r) = v {
            let ks = keys ?? r.keys
            return lines(try ks.map { k in
                guard let xs = r[k]?.asList else { throw a.error("no list named '\(k)' to plot; it has: \(r.keys.joined(separator: ", "))") }
                let y = try nums(xs, "'\(k)'")
                return PlotSeries(name: k, x: y.indices.map(Double.init), y: y)
            }, ks.joined(separator: ", "), xlabel: "index")
        }
        guard let xs = v.asList else { throw a.error("cannot plot a \(v.typeName); plot a list of numbers, a list of metric records, or a table") }
        if xs.allSatisfy({ if case .record = $0 { return true } else { return false } }), !xs.isEmpty {
            let recs = xs.map { if case .record(let r) = $0 { return r } else { return Record() } }
            let ks = keys ?? recs[0].keys.filter { $0 != "step" && $0 != "mode" }.prefix(1).map { $0 }
            let x: [Double] = recs.enumerated().map { i, r in r["step"]?.asNumber ?? Double(i + 1) }
            return lines(try ks.map { key in
                // "rewards/accuracy" names the mean TRL logs as "rewards/accuracy/mean".
                let k = recs.contains(where: { $0[key] != nil }) || !recs.contains(where: { $0[key + "/mean"] != nil }) ? key : key + "/mean"
                guard recs.contains(where: { $0[k] != nil }) else {
                    throw a.error("no metric '\(k)'; metrics: \(recs[0].keys.joined(separator: ", "))")
                }
                return PlotSeries(name: key, x: x, y: try nums(recs.map { $0[k] ?? .null }, "'\(key)'"))
            }, ks.joined(separator: ", "), xlabel: "step")
        }
        if case .host(let h) = v, let hxs = h.elements {
            return try plotSpec(.list(hxs), keys: keys, title: title, smooth: smooth, a)
        }
        let y = try nums(xs, "the list")
        return lines([PlotSeries(name: "value", x: y.indices.map(Double.init), y: y)], "values", xlabel: "index")
    }
}
