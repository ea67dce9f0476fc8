// The training workloads (docs/benchmarks.md): W1 one GRPO step, W2 sampling alone,
// W6 peak resident memory of a process running W1. The workloads themselves live
// in MedR1Lib (RLBench.Workload) so tests and the REPL can run them too.
//
// W6 is only meaningful in a process that ran nothing else: scripts/bench runs it
// in its own process (`medr1-bench --threads 2 --reps 1 W6`).
import MedR1Lib

/// Seconds of each part of every W1 step run (sampling, reference log-probs,
/// policy forward + backward, clip + AdamW); main prints their medians as `W1.parts`.
nonisolated(unsafe) var w1Parts: [(sample: Double, reference: Double, policy: Double, update: Double)] = []

nonisolated(unsafe) let rlWorkloads: [Workload] = [
    // One GRPO step: 8 prompts x G 8, 64 tokens each (EOS ignored), reference log-probs,
    // policy forward + backward of the grpo loss (beta 0.04), AdamW lr 1e-5, format reward.
    Workload(id: "W1", unit: "s/step", flops: RLBench.w1FLOPs / 1e9, prepare: {
        let w = try RLBench.Workload(seed: 1)
        w1Parts = []
        return { w1Parts.append(try w.grpoStep()) }
    }, figure: { $0 }),

    // Sampling alone: 8 prompts (image + 48 tokens) x 8 completions x 64 new tokens, KV cache,
    // shared prefix, temperature 1 (draws and log-probs included).
    Workload(id: "W2", unit: "tokens/s", flops: nil, prepare: {
        let w = try RLBench.Workload(seed: 1)
        return { _ = try w.sample() }
    }, figure: { 8 * 8 * 64 / $0 }),

    // Peak RSS of the process after running W1 (run alone: see the header).
    Workload(id: "W6", unit: "MiB", flops: nil, prepare: {
        let w = try RLBench.Workload(seed: 1)
        return { try w.grpoStep() }
    }, figure: { _ in RLBench.peakRSSMiB() ?? .nan }),
]
