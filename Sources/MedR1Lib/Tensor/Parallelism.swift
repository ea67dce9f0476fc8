import CBLAS
import Dispatch
import Foundation

/// The thread count of the whole library: the threads of large matrix
/// products, and the width of the project's own parallel loops (attention per
/// (sequence, head), row-wise norms and activations).
///
/// By default OpenBLAS itself stays single-threaded and `BLAS.gemm` splits a
/// large product's rows (or columns) over the project's own workers: after a
/// threaded call OpenBLAS's workers keep spinning for a while, and would
/// compete with the project's next parallel loop for the two cores. With
/// MEDR1_OPENBLAS_THREADING=1 in the environment, OpenBLAS threads the
/// products instead (set to one thread inside `parallelFor` bodies), for
/// comparison. Either way two levels of threads never run at once.
/// Results are deterministic for a given thread count: work is split into
/// chunks that depend only on the problem size and `threads`, each chunk
/// writes disjoint outputs, and reductions add chunk partials in a fixed order.
public enum Parallelism {
    nonisolated(unsafe) private static var current: Int = {
        let n = max(1, ProcessInfo.processInfo.activeProcessorCount)
        openblas_set_num_threads(splitProducts ? 1 : Int32(n))
        return n
    }()

    /// Whether `BLAS.gemm` splits products over the project's workers (true)
    /// or leaves threading to OpenBLAS (MEDR1_OPENBLAS_THREADING=1).
    static let splitProducts = ProcessInfo.processInfo.environment["MEDR1_OPENBLAS_THREADING"] != "1"

    /// True while `parallelFor` workers run (products inside stay on one thread).
    nonisolated(unsafe) static var inParallelRegion = false

    /// The number of threads in use (default: the number of cores).
    public static var threads: Int { current }

    /// Sets OpenBLAS's thread count and the width of the project's own loops.
    /// Values below 1 are treated as 1.
    public static func setThreads(_ n: Int) {
        let n = max(1, n)
        current = n
        openblas_set_num_threads(splitProducts ? 1 : Int32(n))
    }

    /// Runs `body(i)` for i in 0..<n, spread over `threads` workers in
    /// contiguous chunks. Each body call must write only its own outputs.
    /// BLAS calls inside the body run single-threaded.
    static func parallelFor(_ n: Int, _ body: (Int) -> Void) {
        parallelFor(n) { (_: Int, i: Int) in body(i) }
    }

    /// Like `parallelFor`, also passing the worker index (0..<workers(n)) so
    /// bodies can use per-worker scratch memory.
    static func parallelFor(_ n: Int, _ body: (_ worker: Int, _ i: Int) -> Void) {
        let workers = workers(n)
        if workers <= 1 {
            for i in 0..<n { body(0, i) }
            return
        }
        if !splitProducts { openblas_set_num_threads(1) }
        inParallelRegion = true
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = n * w / workers, hi = n * (w + 1) / workers
                for i in lo..<hi { box.value(w, i) }
            }
        }
        inParallelRegion = false
        if !splitProducts { openblas_set_num_threads(Int32(current)) }
    }

    /// How many workers `parallelFor` uses for `n` items.
    static func workers(_ n: Int) -> Int { max(1, min(current, n)) }

    /// Runs `body(range)` over `n` items split into chunks of at least
    /// `minChunk` items (so tiny problems stay on one thread).
    static func parallelRanges(_ n: Int, minChunk: Int = 64, _ body: (Range<Int>) -> Void) {
        let t = current
        let chunks = max(1, min(t, n / max(1, minChunk)))
        if chunks == 1 { body(0..<n); return }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                box.value((n * c / chunks)..<(n * (c + 1) / chunks))
            }
        }
    }
}

/// Carries a non-Sendable closure into concurrentPerform. Safe here because
/// each worker writes only its own outputs and the call waits for all workers.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
