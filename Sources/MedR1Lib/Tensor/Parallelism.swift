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
        region {
            withoutActuallyEscaping(body) { body in
                let box = UncheckedSendable(body)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let lo = n * w / workers, hi = n * (w + 1) / workers
                    for i in lo..<hi { box.value(w, i) }
                }
            }
        }
    }

    /// Runs `body` (which starts and joins the workers) as a parallel region:
    /// kernels called by the workers stay single-threaded, OpenBLAS too.
    private static func region(_ body: () -> Void) {
        if !splitProducts { openblas_set_num_threads(1) }
        inParallelRegion = true
        body()
        inParallelRegion = false
        if !splitProducts { openblas_set_num_threads(Int32(current)) }
    }

    /// How many workers `parallelFor` uses for `n` items: one inside a
    /// parallel region (the caller already runs on one of the workers).
    static func workers(_ n: Int) -> Int { inParallelRegion ? 1 : max(1, min(current, n)) }

    /// Runs `body(range)` over `n` items split into chunks of at least
    /// `minChunk` items (so tiny problems stay on one thread); one chunk
    /// inside a parallel region.
    static func parallelRanges(_ n: Int, minChunk: Int = 64, _ body: (Range<Int>) -> Void) {
        let t = inParallelRegion ? 1 : current
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

extension Parallelism {
    /// Runs `body(worker, item)` for item in 0..<n inside one parallel
    /// region: item i runs on worker `owner(i) % workers` (workers =
    /// min(threads, distinct owners)), and each worker takes its items in
    /// increasing order. Everything the body calls runs single-threaded
    /// (products, norms, attention), so an item computes the same numbers
    /// whatever the thread count. With one worker the items run in order on
    /// the calling thread.
    ///
    /// Worker 0 is the calling thread and every other worker a thread of its
    /// own, so all workers run at once whatever else is running: bodies may
    /// wait for each other (TurnGate), which Dispatch's concurrentPerform
    /// does not allow (it may run two iterations one after the other on one
    /// thread when its pool is busy).
    ///
    /// When the system refuses a thread (a process limit), the items run on the
    /// workers that did start: the same numbers, as on that many threads.
    static func parallelItems(_ n: Int, owners: Int, owner: (Int) -> Int,
                              _ body: (_ worker: Int, _ item: Int) -> Void) {
        let wanted = itemWorkers(n, owners: owners)
        if wanted <= 1 {
            for i in 0..<n { body(0, i) }
            return
        }
        region {
            withoutActuallyEscaping(body) { body in
                withoutActuallyEscaping(owner) { owner in
                    let box = UncheckedSendable((body, owner))
                    // Workers wait until every thread that could start has, then share
                    // the items among that many.
                    let started = StartCount()
                    let run: @Sendable (Int) -> Void = { w in
                        let workers = started.wait()
                        for i in 0..<n where box.value.1(i) % workers == w { box.value.0(w, i) }
                    }
                    // Joined before the block ends, so nothing keeps the closures.
                    var threads: [pthread_t] = []
                    for w in 1..<wanted {
                        guard threads.count < threadStartLimit, let t = startThread({ run(w) }) else { break }
                        threads.append(t)
                    }
                    started.open(threads.count + 1)
                    run(0)
                    for t in threads { pthread_join(t, nil) }
                }
            }
        }
    }

    /// At most this many extra threads per parallel pass (tests lower it to act out a
    /// system that refuses threads).
    nonisolated(unsafe) static var threadStartLimit = Int.max
}

/// The number of workers of a pass, known once its threads have started.
private final class StartCount: @unchecked Sendable {
    private let condition = NSCondition()
    private var count = 0

    func open(_ n: Int) {
        condition.lock(); count = n; condition.broadcast(); condition.unlock()
    }

    func wait() -> Int {
        condition.lock(); defer { condition.unlock() }
        while count == 0 { condition.wait() }
        return count
    }
}

/// What a thread of `startThread` runs.
private final class ThreadStart {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a thread (8 MiB of stack) that runs `body` once and ends; join it with pthread_join.
/// Nil when the system refuses the thread.
private func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
    let context = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setstacksize(&attributes, 8 << 20)
    defer { pthread_attr_destroy(&attributes) }
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { context in
        let start = Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue()
        start.body()
        return nil
    }, context)
    guard rc == 0 else {
        Unmanaged<ThreadStart>.fromOpaque(context).release()
        return nil
    }
    return thread
}

extension Parallelism {
    /// The workers of `parallelItems(n, owners:)`.
    static func itemWorkers(_ n: Int, owners: Int) -> Int {
        inParallelRegion ? 1 : max(1, min(current, owners, n))
    }
}

/// Calls made from parallel workers in a fixed order: `run(turn)` waits until
/// every earlier turn has run (or been skipped), so a non-thread-safe
/// callback sees its calls one at a time, in turn order, on any thread count.
final class TurnGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var next = 0

    /// Runs `body` as turn `turn` (0, 1, 2, ... each exactly once).
    func run<T>(_ turn: Int, _ body: () throws -> T) rethrows -> T {
        condition.lock()
        while next != turn { condition.wait() }
        condition.unlock()
        defer {
            condition.lock()
            next += 1
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}

/// Carries a non-Sendable closure into concurrentPerform. Safe here because
/// each worker writes only its own outputs and the call waits for all workers.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
