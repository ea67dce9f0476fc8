import Foundation

/// Buffers of decodes that are gone, kept for the next ones: suffix keys
/// and values (KVSuffix) and the packed decode weights (PackedWeights). A
/// sampling call writes megabytes of them (W2: 16 MiB of suffix, 3.3 MiB of
/// weights); fresh buffers page-fault on every first write, inside the decode
/// loop for the suffix, recycled ones are already mapped. Holds at most
/// `maxFloats` floats; contents are stale (a suffix zeroes each key tile as
/// it starts it and writes every value before reading it; the weights are
/// packed whole).
enum DecodeBufferPool {
    /// 32 MiB: a W1/W2-sized suffix (64 rows x 64 tokens x 4 layers, keys
    /// and values, 16 MiB) and the packed weights, with room to spare.
    static let maxFloats = 8 << 20
    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [FloatBuffer] = []

    /// The smallest pooled buffer that holds `count` floats and is not more
    /// than twice that (a prefill's one-token suffix must not take the
    /// megabytes the sampler's suffix is about to ask for), or a new one.
    static func take(_ count: Int) -> FloatBuffer {
        lock.lock(); defer { lock.unlock() }
        var best: Int? = nil
        for (i, b) in free.enumerated() where b.capacity >= count && b.capacity <= 2 * max(count, 1) {
            if best == nil || b.capacity < free[best!].capacity { best = i }
        }
        if let i = best { return free.remove(at: i) }
        return FloatBuffer(count: count, zeroed: false)
    }

    /// Lets every pooled buffer go.
    static func drain() {
        lock.lock(); defer { lock.unlock() }
        free = []
    }

    /// Floats held by the pool.
    static var heldFloats: Int {
        lock.lock(); defer { lock.unlock() }
        return free.reduce(0) { $0 + $1.capacity }
    }

    /// Returns buffers to the pool; past `maxFloats` the smallest are let go.
    static func give(_ buffers: [FloatBuffer]) {
        lock.lock(); defer { lock.unlock() }
        free += buffers
        free.sort { $0.capacity > $1.capacity }
        var total = 0, keep = 0
        while keep < free.count && total + free[keep].capacity <= maxFloats { total += free[keep].capacity; keep += 1 }
        free.removeSubrange(keep...)
    }
}
