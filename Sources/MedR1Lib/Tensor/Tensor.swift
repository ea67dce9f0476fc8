// Storage for float32 tensors: an owned, grow-only buffer for the model's
// parameters and activations, and the named parameter views into it.
//
// Hot paths work on raw pointers with explicit dimensions (as llm.c does): the
// shapes are written in `///` comments where buffers appear, and no op
// allocates per element or per call once its workspace has grown to size.

import Foundation

/// An owned, 64-byte aligned float buffer that only grows. Activation
/// workspaces are made of these so repeated calls reuse memory.
///
/// A zeroed buffer comes from `calloc`: for large sizes the C library maps
/// fresh zero pages and skips the memset, so pages that are never written
/// (e.g. a reference model's gradients) never become resident.
public final class FloatBuffer: @unchecked Sendable {
    public private(set) var capacity: Int
    public private(set) var pointer: UnsafeMutablePointer<Float>
    /// The block from malloc/calloc (`pointer` is it rounded up to 64 bytes).
    private var block: UnsafeMutableRawPointer

    public init(count: Int = 0, zeroed: Bool = true) {
        capacity = Swift.max(count, 1)
        (block, pointer) = FloatBuffer.allocate(capacity, zeroed: zeroed)
    }

    deinit { free(block) }

    private static func allocate(_ n: Int, zeroed: Bool) -> (UnsafeMutableRawPointer, UnsafeMutablePointer<Float>) {
        let bytes = n * MemoryLayout<Float>.stride + 64
        guard let block = zeroed ? calloc(bytes, 1) : malloc(bytes) else {
            fatalError("FloatBuffer: out of memory allocating \(bytes) bytes")
        }
        let aligned = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: block) + 63) & ~63)!
        return (block, aligned.bindMemory(to: Float.self, capacity: n))
    }

    /// Makes room for `count` floats, discarding the old contents if it has to
    /// reallocate; returns the (possibly new) pointer.
    @discardableResult
    public func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            free(block)
            capacity = count
            (block, pointer) = FloatBuffer.allocate(count, zeroed: false)
        }
        return pointer
    }

    /// Sets the first `count` floats to zero.
    public func zero(_ count: Int) {
        precondition(count <= capacity)
        pointer.update(repeating: 0, count: count)
    }

    /// A copy of the first `count` floats.
    public func array(_ count: Int, from offset: Int = 0) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer + offset, count: count))
    }
}

/// One named parameter of a model: a view into the model's flat value and
/// gradient buffers (all parameters live in one allocation, so the optimiser,
/// gradient clipping and `copy()` run over a single contiguous array).
public struct Parameter: @unchecked Sendable {
    /// The safetensors name, e.g. `text.blocks.0.attn.q.weight`.
    public let name: String
    /// `[out, in]` for matrices, `[n]` for vectors.
    public let shape: [Int]
    /// Offset of the first value in the flat buffers.
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    let values: FloatBuffer
    let grads: FloatBuffer

    /// The parameter's values (row-major), writable in place.
    public var value: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: values.pointer + offset, count: count)
    }
    /// The accumulated gradient, same layout as `value`.
    public var grad: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: grads.pointer + offset, count: count)
    }
}

/// Entry check of the kernels that index a raw pointer with ids taken from
/// data (token ids, targets): every one of ids[0..<count] lies in 0..<limit,
/// so a bad id stops the program (a trap) instead of reading memory.
/// The cost is one comparison per row against the row's O(vocab) or O(d) work.
@inline(__always)
func precondition(ids: UnsafePointer<Int>, count: Int, below limit: Int, _ kernel: StaticString) {
    for r in 0..<count where ids[r] < 0 || ids[r] >= limit {
        preconditionFailure("\(kernel): id \(ids[r]) at row \(r) outside 0..<\(limit)")
    }
}
