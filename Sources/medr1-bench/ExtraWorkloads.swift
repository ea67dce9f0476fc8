// Workloads added by other parts (e.g. W1, W2, W6 by the RL part). Append
// `Workload` values here; medr1-bench runs them after core's peak/W3/W4.
nonisolated(unsafe) let extraWorkloads: [Workload] = rlWorkloads
