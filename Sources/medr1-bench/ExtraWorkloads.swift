// Workloads beyond CoreWorkloads.swift (W1, W2, W6 from RLWorkloads.swift). Append
// `Workload` values here; medr1-bench runs them after peak, W3 and W4.
nonisolated(unsafe) let extraWorkloads: [Workload] = rlWorkloads
