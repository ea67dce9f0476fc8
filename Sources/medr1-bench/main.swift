// medr1-bench: the fixed workloads of docs/benchmarks.md, printed as JSON
// lines (id, value, unit, threads, utilisation, commit, date).
//
//   medr1-bench [--threads 1,2] [--reps 5] [--commit HASH] [ID ...]
//
// IDs default to every registered workload. A workload is a `Workload` value;
// CoreWorkloads.swift holds peak, W3 and W4; further workloads are listed in
// `extraWorkloads` (ExtraWorkloads.swift).
import Foundation
import MedR1Lib

/// One benchmark workload. `prepare` builds its inputs once per thread
/// count and returns the timed closure; `figure` turns the median seconds
/// into the reported value.
struct Workload {
    let id: String
    let unit: String
    /// Model FLOPs of one repetition (docs/benchmarks.md's count), nil if undefined.
    let flops: Double?
    let prepare: () throws -> () throws -> Void
    let figure: (_ seconds: Double) -> Double
}

struct Options {
    var threads = [1, 2]
    var reps = 5
    var commit = "unknown"
    var ids: [String] = []
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    while let a = args.popFirst() {
        switch a {
        case "--threads": o.threads = (args.popFirst() ?? "1").split(separator: ",").compactMap { Int($0) }
        case "--reps": o.reps = max(1, Int(args.popFirst() ?? "5") ?? 5)
        case "--commit": o.commit = args.popFirst() ?? "unknown"
        case "-h", "--help":
            writeLine("usage: medr1-bench [--threads 1,2] [--reps 5] [--commit HASH] [ID ...]")
            exit(0)
        default: o.ids.append(a)
        }
    }
    return o
}

/// Median wall seconds of `reps` runs after one warm-up.
func medianSeconds(reps: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<reps {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    times.sort()
    return times[times.count / 2]
}

func jsonLine(_ fields: [(String, Any?)]) -> String {
    let parts = fields.map { key, value -> String in
        let v: String
        switch value {
        case let s as String: v = "\"\(s)\""
        case let d as Double: v = d.isFinite ? String(format: "%.6g", d) : "null"
        case let i as Int: v = "\(i)"
        default: v = "null"
        }
        return "\"\(key)\":\(v)"
    }
    return "{" + parts.joined(separator: ",") + "}"
}

ignoreFileSizeSignal()
if CommandLine.arguments.dropFirst().first == "learn-check" {
    exit(runLearnCheck(Array(CommandLine.arguments.dropFirst(2))))
}
if CommandLine.arguments.dropFirst().first == "sft-sweep" {
    exit(runSFTSweep(Array(CommandLine.arguments.dropFirst(2))))
}
let options = parseOptions()
let workloads = coreWorkloads + extraWorkloads
// W6 (peak memory of a process running W1) only means something in a process of its
// own: it runs when named, and scripts/bench names it in a separate run.
let selected = options.ids.isEmpty ? workloads.filter { $0.id != "W6" } : workloads.filter { options.ids.contains($0.id) }
let date = ISO8601DateFormatter().string(from: Date())
do {
    for t in options.threads {
        Parallelism.setThreads(t)
        var peak: Double? = nil
        for w in selected {
            let run = try w.prepare()
            let secs = try medianSeconds(reps: options.reps, run)
            if w.id == "peak" { peak = w.figure(secs) }
            let util: Double? = w.id == "peak" ? 1 : (w.flops.flatMap { f in peak.map { f / (secs * $0) } })
            let line = jsonLine([("id", w.id), ("value", w.figure(secs)), ("unit", w.unit), ("threads", t),
                            ("utilisation", util), ("commit", options.commit), ("date", date),
                            ("seconds", secs), ("kernels", SIMDLevel.name)])
            writeLine(line)
            if w.id == "W1" && !w1Parts.isEmpty {
                // Where a W1 step's time goes: the median of each part over the runs (warm-up included).
                func med(_ f: ((sample: Double, reference: Double, policy: Double, update: Double)) -> Double) -> Double {
                    let v = w1Parts.map(f).sorted(); return v[v.count / 2]
                }
                let parts = jsonLine([("id", "W1.parts"), ("sample", med { $0.sample }), ("reference", med { $0.reference }),
                                      ("policy", med { $0.policy }), ("update", med { $0.update }), ("unit", "s"),
                                      ("threads", t), ("commit", options.commit), ("date", date)])
                writeLine(parts)
                w1Parts = []
            }
        }
    }
} catch {
    writeError("medr1-bench: \(error)")
    exit(1)
}
