// List, record, statistics and file builtins.

import Foundation
import MedR1Lib

extension Builtins {
    static func registerLists(_ add: Register) {
        add("map") { a, ctx in
            try a.expect(2...2, "map(xs, f)")
            let xs = try a.list(0, "xs")
            let ys = try xs.map {
                try Interrupt.check("map")
                return try ctx.call(a.positional[1], [$0])
            }
            return try Value.nestedList(ys, in: a.callee)
        }
        add("filter") { a, ctx in
            try a.expect(2...2, "filter(xs, f)")
            let xs = try a.list(0, "xs")
            return .list(try xs.filter {
                try Interrupt.check("filter")
                return try ctx.call(a.positional[1], [$0]).isTruthy
            })
        }
        add("reduce") { a, ctx in
            try a.expect(3...3, "reduce(xs, initial, f)")
            let xs = try a.list(0, "xs")
            var acc = a.positional[1]
            for x in xs {
                try Interrupt.check("reduce")
                acc = try ctx.call(a.positional[2], [acc, x])
            }
            return acc
        }
        add("any") { a, ctx in
            try a.expect(1...2, "any(xs, f)")
            let xs = try a.list(0, "xs")
            for x in xs {
                try Interrupt.check("any")
                if (a.count > 1 ? try ctx.call(a.positional[1], [x]) : x).isTruthy { return .bool(true) }
            }
            return .bool(false)
        }
        add("all") { a, ctx in
            try a.expect(1...2, "all(xs, f)")
            let xs = try a.list(0, "xs")
            for x in xs {
                try Interrupt.check("all")
                if !(a.count > 1 ? try ctx.call(a.positional[1], [x]) : x).isTruthy { return .bool(false) }
            }
            return .bool(true)
        }
        add("sum") { a, _ in try a.expect(1...1, "sum(xs)"); return .number(try a.numbers(0, "xs").reduce(0, +)) }
        add("mean") { a, _ in
            try a.expect(1...1, "mean(xs)")
            let xs = try a.numbers(0, "xs")
            guard !xs.isEmpty else { throw a.error("the mean of an empty list is undefined") }
            return .number(Statistics.mean(xs))
        }
        add("std", options: ["population"]) { a, _ in
            try a.expect(1...1, "std(xs) or std(xs, population: true)")
            let xs = try a.numbers(0, "xs")
            guard !xs.isEmpty else { throw a.error("the standard deviation of an empty list is undefined") }
            return .number(Statistics.std(xs, population: try a.namedBool("population") ?? false))
        }
        add("sort", options: ["by", "descending"]) { a, ctx in
            try a.expect(1...1, "sort(xs, by: f, descending: false)")
            let xs = try a.list(0, "xs")
            let keys: [Value] = try a.namedValue("by").map { f in try xs.map {
                try Interrupt.check("sort")
                return try ctx.call(f, [$0])
            } } ?? xs
            var order = Array(xs.indices)
            var failure: Error?
            order.sort { i, j in
                // After Ctrl-C every comparison is trivial, so the sort ends fast.
                if failure is InterruptedError { return i < j }
                if Interrupt.isRequested { failure = InterruptedError("sort"); return i < j }
                switch (keys[i], keys[j]) {
                case (.number(let x), .number(let y)):
                    // NaN is unordered under <, so it gets a place: after every number, in input order.
                    if x.isNaN || y.isNaN { return y.isNaN && (!x.isNaN || i < j) }
                    return x < y || (x == y && i < j)
                case (.string(let x), .string(let y)): return x < y || (x == y && i < j)
                default:
                    failure = a.error("can only sort numbers or strings (all of one kind), got \(keys[i].typeName) and \(keys[j].typeName); pass by: fn(x) => ... to pick a key")
                    return i < j
                }
            }
            if let f = failure { throw f }
            if try a.namedBool("descending") == true {
                // Stable descending: reverse runs of equal keys back to input order.
                // NaN keys stay last, in input order.
                let nanCount = order.reversed().prefix { if case .number(let x) = keys[$0] { x.isNaN } else { false } }.count
                let nans = order.suffix(nanCount)
                order = order.dropLast(nanCount).reversed()
                var out: [Int] = []
                var k = 0
                while k < order.count {
                    var e = k
                    while e + 1 < order.count, keys[order[e + 1]] == keys[order[k]] { e += 1 }
                    out += order[k...e].reversed()
                    k = e + 1
                }
                order = out + nans
            }
            return .list(order.map { xs[$0] })
        }
        add("zip") { a, _ in
            try a.expect(2...8, "zip(xs, ys)")
            let lists = try (0..<a.count).map { try a.list($0, "list \($0 + 1)") }
            let n = lists.map(\.count).min() ?? 0
            return try Value.nestedList((0..<n).map { i in try Value.nestedList(lists.map { $0[i] }, in: a.callee) }, in: a.callee)
        }
        add("range") { a, _ in
            try a.expect(1...3, "range(n) or range(start, end, step)")
            let start = a.count > 1 ? try a.number(0, "start") : 0
            let end = a.count > 1 ? try a.number(1, "end") : try a.number(0, "n")
            let step = a.count > 2 ? try a.number(2, "step") : 1
            guard step != 0 else { throw a.error("step must not be 0") }
            guard abs((end - start) / step) <= 10_000_000 else { throw a.error("range too long (over 10 million elements)") }
            var out: [Value] = []
            var x = start
            while step > 0 ? x < end : x > end {
                if out.count & 0xFFFF == 0 { try Interrupt.check("range") }
                out.append(.number(x))
                x += step
            }
            return .list(out)
        }
        add("take") { a, _ in
            try a.expect(2...2, "take(xs, n)")
            let n = try a.int(1, "n")
            guard n >= 0 else { throw a.error("n must be 0 or more, got \(n)") }
            if case .string(let s) = a.positional[0] { return .string(String(s.prefix(n))) }
            return .list(Array(try a.list(0, "xs").prefix(n)))
        }
        add("append") { a, _ in
            try a.expect(2...2, "append(xs, x)")
            try a.positional[1].checkNesting(in: a.callee)
            return .list(try a.list(0, "xs") + [a.positional[1]])
        }
        add("reverse") { a, _ in
            try a.expect(1...1, "reverse(xs)")
            if case .string(let s) = a.positional[0] { return .string(String(s.reversed())) }
            return .list(try a.list(0, "xs").reversed())
        }
        add("keys") { a, _ in try a.expect(1...1, "keys(r)"); return .list(try a.record(0, "r").keys.map(Value.string)) }
        add("values") { a, _ in try a.expect(1...1, "values(r)"); return .list(try a.record(0, "r").values) }
        add("has") { a, _ in
            try a.expect(2...2, "has(r, key)")
            let key = try a.string(1, "key")
            if case .host(let h) = a.positional[0] { return .bool(h.fieldNames.contains(key)) }
            return .bool(try a.record(0, "r")[key] != nil)
        }
    }

    static func registerFiles(_ add: Register) {
        add("print") { a, ctx in
            ctx.emit(.text(a.positional.map(\.description).joined(separator: " ")))
            return .null
        }
        add("read_text") { a, ctx in
            try a.expect(1...1, "read_text(path)")
            return .string(try Files.readText(ctx.resolve(try a.string(0, "path")), a))
        }
        add("write_text") { a, ctx in
            try a.expect(2...2, "write_text(path, text)")
            let url = ctx.resolve(try a.string(0, "path"))
            try Files.write(a.positional[1].description, to: url, callee: a.callee)
            return .null
        }
        add("read_json") { a, ctx in
            try a.expect(1...1, "read_json(path)")
            let url = ctx.resolve(try a.string(0, "path"))
            return try JSONValue.parse(try Files.readText(url, a), source: url.path)
        }
        add("write_json") { a, ctx in
            try a.expect(2...2, "write_json(path, value)")
            let url = ctx.resolve(try a.string(0, "path"))
            let text: String
            do { text = try JSONValue.serialize(a.positional[1], pretty: true) } catch let e as RuntimeError {
                throw a.error(e.message)
            }
            try Files.write(text + "\n", to: url, callee: a.callee)
            return .null
        }
    }
}

enum Statistics {
    static func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }
    /// Standard deviation with the n - 1 denominator (torch.std's, and the one GRPO divides a
    /// group's advantages by; 0 for one value), or with n when `population`.
    static func std(_ xs: [Double], population: Bool = false) -> Double {
        if !population { return RLStats.meanStd(xs).std }
        let m = mean(xs)
        return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count)).squareRoot()
    }
}

enum Files {
    /// Largest file read_text and read_json read (a file from disk is hostile).
    static let maxReadBytes = 64 << 20

    /// A regular UTF-8 file of at most `maxReadBytes`, checked before reading.
    static func readText(_ url: URL, _ a: Arguments) throws -> String {
        let data: Data
        do { data = try FileInput.read(url, limit: maxReadBytes, what: "a file read by \(a.callee)") } catch let e as FileInputError {
            throw a.error("cannot read \(url.path): \(e.missing ? "no such file" : e.message)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw a.error("cannot read \(url.path): not UTF-8 text")
        }
        return text
    }

    /// Why a file operation failed, in words ("no space left on the device").
    static func reason(_ error: Error) -> String { FileIO.reason(error) }

    /// Write atomically (a flushed temporary renamed over the file), creating parent directories.
    static func write(_ text: String, to url: URL, callee: String) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileIO.writeAtomically(Data(text.utf8), to: url)
        } catch {
            throw RuntimeError("\(callee): cannot write \(url.path): \(reason(error))")
        }
    }
}
